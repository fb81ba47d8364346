/**
 * The calls the signaling service keeps when its application goes away (orphans, #18), tried
 * as a LAN attacker would: a signaling service on loopback with a real drachtio-srf application
 * answering INVITEs, UDP terminals written out by hand. With the application gone:
 * - more calls than the bound: the oldest are ended with a BYE saying why, the rest kept;
 * - a BYE that guessed the Call-ID and the caller's tag (both travel in clear) but not the box's
 *   To tag matches no call (481), and the call is still kept; one without a To tag is no
 *   in-dialog request at all;
 * - a flood of in-dialog requests into one kept call: a few are held, the rest refused at once
 *   (500 with Retry-After) — nothing piles up; held ones are answered when their time is up;
 * - a kept call ends after its time with a BYE; a giant line on the control channel is refused
 *   and the channel keeps serving.
 */
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SignalingControlClient, SignalingControlServer } from '../../server/signaling/signaling-control.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { signalingWithApp } from '../helpers/signaling-app.ts';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';

/** A terminal on a UDP socket: what it received, and requests it sends. */
class Terminal {
  readonly socket = dgram.createSocket('udp4');
  readonly inbox: string[] = [];
  constructor() {
    this.socket.on('message', (m) => this.inbox.push(m.toString('latin1')));
  }
  async open(): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this;
  }
  get port(): number {
    return this.socket.address().port;
  }
  send(port: number, text: string): void {
    this.socket.send(text, port, '127.0.0.1');
  }
  /** The first message received matching `pattern` within `ms`, taken out of the inbox. */
  async next(pattern: RegExp, ms = 5000): Promise<string | undefined> {
    const found = await waitFor(`a message matching ${pattern}`, ms, () => this.inbox.find((m) => pattern.test(m))).catch(() => undefined);
    if (found) this.inbox.splice(this.inbox.indexOf(found), 1);
    return found;
  }
  close(): void {
    this.socket.close();
  }
}

const header = (message: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(message)?.[1]?.trim() ?? '';

interface Call {
  readonly callId: string;
  readonly fromTag: string;
  readonly to: string;
  cseq: number;
}

let branches = 0;
function request(method: string, terminal: Terminal, call: Call, to: string, cseq = call.cseq): string {
  return [
    `${method} sip:880181@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${terminal.port};rport;branch=z9hG4bK-orphan-${++branches}`,
    'Max-Forwards: 70',
    `From: <sip:caller@127.0.0.1>;tag=${call.fromTag}`,
    `To: ${to}`,
    `Call-ID: ${call.callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:caller@127.0.0.1:${terminal.port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const { service, port, disconnect } = await signalingWithApp(t, { orphans: { maxOrphans: 3, holdMs: 1500, ttlMs: 9000 } }, (on) =>
  on('invite', (_req, res) => res.send(200, { body: SDP, headers: { 'Content-Type': 'application/sdp' } })),
);
const terminal = await new Terminal().open();
t.teardown(() => terminal.close());

// Five answered, acknowledged calls.
const calls: Call[] = [];
for (let n = 0; n < 5; n++) {
  const call = { callId: `orphan-call-${n}@attacker`, fromTag: `caller${n}`, to: '<sip:880181@127.0.0.1>', cseq: 1 };
  const invite = request('INVITE', terminal, call, call.to).replace('Content-Length: 0', `Content-Type: application/sdp\r\nContent-Length: ${SDP.length}`) + SDP;
  terminal.send(port, invite);
  const ok = await terminal.next(new RegExp(`^SIP/2.0 200 [\\s\\S]*${call.callId}`));
  if (!ok) throw new Error(`call ${n} not answered`);
  const answered = { ...call, to: header(ok, 'To') };
  terminal.send(port, request('ACK', terminal, answered, answered.to));
  calls.push(answered);
}
await waitFor('five dialogs', 5000, () => service.stats().dialogs === 5);

t.test('the application goes away: at most the bound of calls is kept, the oldest ended with a BYE', async (t) => {
  disconnect();
  await waitFor('the calls to be kept', 5000, () => service.stats().applications === 0 && service.stats().orphanDialogs === 3);
  const kept = service.orphans().orphans.map((o) => o.callId).sort();
  t.same(kept, calls.slice(2).map((c) => c.callId), 'the three newest are kept');
  for (const call of calls.slice(0, 2)) {
    const bye = await terminal.next(new RegExp(`^BYE [\\s\\S]*${call.callId}`));
    t.match(bye, /Reason: SIP ;cause=200 ;text="too many calls waiting for the SIP application"/, `${call.callId}: ended with a BYE saying why`);
    if (bye) terminal.send(port, `SIP/2.0 200 OK\r\n${bye.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
  }
});

t.test('a BYE that guessed the Call-ID and the caller tag but not the box tag ends nothing', async (t) => {
  const target = calls[4] as Call;
  terminal.send(port, request('BYE', terminal, target, '<sip:880181@127.0.0.1>;tag=guessed', 9));
  t.match(await terminal.next(new RegExp(`^SIP/2.0 481 [\\s\\S]*${target.callId}`)), /^SIP\/2.0 481/, 'a wrong To tag: 481, no such call');
  terminal.send(port, request('BYE', terminal, target, '<sip:880181@127.0.0.1>', 10));
  const untagged = await terminal.next(/^SIP\/2.0 [3-6]\d\d [\s\S]*CSeq: 10 BYE/);
  t.ok(untagged, `no To tag: refused as no call (${untagged?.split('\r\n')[0]})`);
  t.ok(service.orphans().orphans.some((o) => o.callId === target.callId), 'the call is still kept');
});

t.test('a flood of in-dialog requests into a kept call: a few held, the rest refused at once', async (t) => {
  const target = calls[3] as Call;
  for (let n = 0; n < 10; n++) terminal.send(port, request('INFO', terminal, target, target.to, 20 + n));
  const refused = [];
  for (let n = 0; n < 6; n++) refused.push(await terminal.next(new RegExp(`^SIP/2.0 500 [\\s\\S]*${target.callId}`), 3000));
  t.ok(refused.every((r) => r && /Retry-After: 5/i.test(r)), 'six of ten refused at once with 500 and Retry-After');
  const answeredLater = [];
  for (let n = 0; n < 4; n++) answeredLater.push(await terminal.next(new RegExp(`^SIP/2.0 500 [\\s\\S]*${target.callId}`), 5000));
  t.ok(answeredLater.every(Boolean), 'the four held are answered when their hold ends (no application came)');
  terminal.send(port, request('OPTIONS', terminal, target, target.to, 40));
  t.match(await terminal.next(/^SIP\/2.0 \d+ [\s\S]*CSeq: 40 OPTIONS/), /^SIP\/2.0 200/, 'an in-dialog OPTIONS (keep-alive) is answered 200 at once');
  terminal.send(port, request('BYE', terminal, target, target.to, 41));
  t.match(await terminal.next(/^SIP\/2.0 \d+ [\s\S]*CSeq: 41 BYE/, 5000), /^SIP\/2.0 200/, 'a BYE held past its time is answered 200: the terminal is free');
  t.ok(service.orphans().ended.some((e) => e.callId === target.callId), 'and the next application will learn that call ended');
});

t.test('kept calls end after their time, with a BYE', async (t) => {
  const bye = await terminal.next(new RegExp(`^BYE [\\s\\S]*${(calls[2] as Call).callId}`), 10_000);
  t.match(bye, /text="no SIP application took the call over after a restart"/, 'a BYE saying why');
  await waitFor('no call kept', 10_000, () => service.stats().orphanDialogs === 0);
});

t.test('a giant line on the signaling control channel is refused; the channel keeps serving', async (t) => {
  const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-orphan-control-')), 'signaling.sock');
  const server = new SignalingControlServer(
    {
      status: () => ({}) as never,
      apply: async () => ({}) as never,
      orphans: () => service.orphans(),
      adopt: (ids) => service.adopt(ids),
      release: (id, reason) => service.release(id, reason),
    },
    socketPath,
  );
  await server.listen();
  t.teardown(() => server.close());
  const giant = net.createConnection(socketPath);
  let answer = '';
  const ended = new Promise<void>((resolve) => {
    giant.on('end', () => resolve());
    giant.on('close', () => resolve());
  });
  giant.on('data', (data) => {
    answer += data.toString();
  });
  giant.on('error', () => undefined);
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  for (let n = 0; n < 6; n++) giant.write(chunk);
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  t.match(answer, /VCBOX_ERR_BAD_REQUEST.*longer than 4194304 bytes/, 'a line past 4 MiB is refused, in words');
  t.ok(giant.readableEnded || giant.destroyed, 'and that connection is closed');
  giant.destroy();
  const client = new SignalingControlClient(socketPath, { timeoutMs: 5000 });
  t.teardown(() => client.close());
  t.same(await client.orphans(), { orphans: [], ended: service.orphans().ended }, 'another connection is served');
  await t.rejects(client.adopt(['x']), { code: 'VCBOX_ERR_SIGNALING_UNAVAILABLE' }, 'adopting with no application connected is refused in words');
});
