/**
 * Regular-expression denial of service through SIP (finding 10), from an attacker's side: the
 * SIP side of the box runs in its own process; REGISTERs carrying 60 KB runs of blanks in the
 * display name and the User-Agent, and recheck's attack shape for the former User-Agent pattern
 * (which kept that process busy for hours), go to it over UDP and TCP. The 60 KB ones are
 * refused (513: header too long); the attack shape under the 8 KiB header cap is registered,
 * read by the rewritten linear parser. An INVITE with 12 000 blanks in From is answered. Through all of it the box still answers an OPTIONS (the signaling service) and a
 * REGISTER challenge (the SIP application) from another socket.
 */
import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { type SipBoxProcess, startSipBoxProcess } from '../helpers/sip-box-process.ts';
import { connectTcp, digestAnswer, headerValues, optionsRequest, registerRequest, streamExchange, udpExchange } from '../helpers/sip-socket.ts';

const ACCOUNT = { number: '1001', name: 'Room East', password: 'secret-1001' };
const BLANKS = ' '.repeat(30_000);

let box: SipBoxProcess;
t.before(async () => {
  box = await startSipBoxProcess({ accounts: [ACCOUNT] });
});
t.teardown(() => box?.close());

/** One request over UDP (from its own socket) or a new TCP connection; the first answer, or '' after a bounded wait. */
async function exchange(transport: 'UDP' | 'TCP', text: string, timeoutMs = 5000): Promise<string> {
  if (transport === 'UDP') return (await udpExchange(box.port, text, timeoutMs)) ?? '';
  const socket = await connectTcp(box.port);
  try {
    return (await streamExchange(socket, text, /\r\n\r\n/, timeoutMs)).received;
  } finally {
    socket.destroy();
  }
}

let sequence = 0;
function register(transport: 'UDP' | 'TCP', change: (text: string) => string = (text) => text, authorization?: string): string {
  const callId = `redos-${transport}-${++sequence}`;
  const text = registerRequest({
    transport,
    account: ACCOUNT.number,
    domain: box.realm,
    callId,
    cseq: 1,
    contact: `sip:${ACCOUNT.number}@127.0.0.1:5099`,
    expires: 300,
    ...(authorization ? { authorization } : {}),
  });
  return change(text);
}

/** A REGISTER answered with credentials: the User-Agent of an authenticated terminal reaches the registrar. */
async function authenticatedRegister(transport: 'UDP' | 'TCP', change: (text: string) => string): Promise<string> {
  const challenge = headerValues(await exchange(transport, register(transport)), 'WWW-Authenticate')[0] ?? '';
  const authorization = digestAnswer(challenge, ACCOUNT.number, ACCOUNT.password, 'REGISTER', `sip:${box.realm}`);
  return exchange(transport, register(transport, change, authorization));
}

/** The box still serves, asked from other sockets: the signaling service and the SIP application. */
async function stillServes(t: Test, transport: 'UDP' | 'TCP', after: string): Promise<void> {
  const options = await exchange(transport, optionsRequest({ transport, port: box.port }));
  t.match(options, /^SIP\/2\.0 200 OK\r\n/, `${after}: OPTIONS over ${transport} still answered`);
  const challenge = await exchange(transport, register(transport));
  t.match(challenge, /^SIP\/2\.0 401 /, `${after}: a REGISTER over ${transport} still challenged by the SIP application`);
}

const userAgent = (value: string) => (text: string) => text.replace('User-Agent: vcbox-test-terminal/1.0', `User-Agent: ${value}`);

for (const transport of ['UDP', 'TCP'] as const) {
  t.test(`hostile User-Agent and display names over ${transport}`, async (t) => {
    const blankAgent = await authenticatedRegister(transport, userAgent(`Room${BLANKS}x`));
    t.match(blankAgent, /^SIP\/2\.0 513 Message Too Large\r\n[\s\S]*Warning: 399 vcbox "header User-Agent longer than 8192 bytes/, '60 KB of blanks in User-Agent: 513 with the reason');
    await stillServes(t, transport, 'User-Agent with 60 KB of blanks');

    // recheck's attack shape for the former User-Agent pattern (blanks, a version, digits,
    // open parentheses, no match at the end): 4th degree — at 400 of each, 27 s; at these sizes, hours.
    const shaped = (n: number) => `x${' '.repeat(n)}0.0${'0'.repeat(n)}${'('.repeat(n)})x0.0 y`;
    const shapedAgent = await authenticatedRegister(transport, userAgent(shaped(20_000)));
    t.match(shapedAgent, /^SIP\/2\.0 513 /, '60 KB attack-shaped User-Agent: 513');
    await stillServes(t, transport, 'a 60 KB attack-shaped User-Agent');

    // Under the header cap the registrar's own parser gets it (the rewritten one is linear).
    const underCap = await authenticatedRegister(transport, userAgent(shaped(2000)));
    t.match(underCap, /^SIP\/2\.0 200 OK\r\n/, '6 KB attack-shaped User-Agent (under the cap): registered');
    await stillServes(t, transport, 'a 6 KB attack-shaped User-Agent');

    const from = (value: string) => (text: string) => text.replace(/^From: .*$/m, `From: ${value};tag=f${sequence}`);
    const display = await exchange(transport, register(transport, from(`"${BLANKS}x" ${BLANKS}<sip:${ACCOUNT.number}@${box.realm}>`)));
    t.match(display, /^SIP\/2\.0 513 /, 'display name with 60 KB of blanks: 513');
    // No closing bracket: the shape that makes drachtio-srf's name-addr pattern backtrack (4th degree).
    const open = await exchange(transport, register(transport, from(`${BLANKS}<${BLANKS}sip:${ACCOUNT.number}@${box.realm}`)));
    t.match(open, /^SIP\/2\.0 513 /, 'From with 60 KB of blanks around an unclosed "<": 513');
    await stillServes(t, transport, 'hostile display names');
  });
}

t.test('under the header cap, blank runs are one space by the time anything parses them', async (t) => {
  // 4 000 blanks around an unclosed "<" (under the cap): the service makes the run one space
  // (RFC 3261 LWS), so drachtio-srf and the SIP application see a short value.
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  const invite = [
    `INVITE sip:9999@${box.realm} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKinvite-blank;rport',
    `From: ${' '.repeat(4000)}"x${' '.repeat(4000)}<${' '.repeat(4000)}sip:1001@${box.realm};tag=blank`,
    `To: <sip:9999@${box.realm}>`,
    'Call-ID: invite-blank',
    'CSeq: 1 INVITE',
    'Max-Forwards: 70',
    'Contact: <sip:1001@127.0.0.1:9>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const answer = await udpExchange(box.port, invite, 5000);
  t.ok(answer !== undefined, `the INVITE is answered (${answer?.split('\r\n')[0]})`);
  await stillServes(t, 'UDP', 'an INVITE with 12 000 blanks in From');
});
