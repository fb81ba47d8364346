/**
 * The entry of a child process that runs the SIP side of the box (startSipBox: the signaling
 * service and the SIP application, no media) for tests whose attack could stall an event loop:
 * the test's own loop stays free to notice. Options come as one JSON argument (accounts to
 * create, TCP/TLS limits); it prints `ready {"port":…,"tlsPort":…,"realm":…}` once listening
 * and runs until it is killed. Started by ./sip-box-process.ts.
 */
import { type SipBoxOptions, startSipBox } from './sip-box.ts';

interface ProcessOptions {
  readonly accounts?: { number: string; name: string; password: string }[];
  readonly streamLimits?: SipBoxOptions['streamLimits'];
}

const options = JSON.parse(process.argv[2] ?? '{}') as ProcessOptions;
const box = await startSipBox(options.streamLimits ? { streamLimits: options.streamLimits } : {});
for (const account of options.accounts ?? []) box.app.accounts.create(account, box.realm);
process.stdout.write(`ready ${JSON.stringify({ port: box.port, tlsPort: box.tlsPort, realm: box.realm })}\n`);
process.on('SIGTERM', () => void box.close().finally(() => process.exit(0)));
