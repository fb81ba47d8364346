/**
 * The transaction layer (server/signaling/transactions/transaction-layer.ts), driven directly
 * over loopback UDP: a "box" socket whose sends go through the layer and a peer socket. A client
 * transaction retransmits until answered and matches its response by branch; Timer B ends an
 * unanswered INVITE with 408, Timer C cancels one that rings too long; a server transaction
 * repeats its final response to a retransmitted request, matches the ACK and the CANCEL of its
 * INVITE, and a completed non-INVITE one over UDP still answers retransmissions (Timer J cache).
 * The timers are shortened (setTimerBase) so the test does not wait 32 s.
 */
import dgram from 'node:dgram';
import t from 'tap';
import { createResponse, parseMessage, type SipMessage, type SipRequest, type SipResponse } from '../../server/signaling/sip/sip-message.ts';
import type { ClientTransaction } from '../../server/signaling/transactions/client-transaction.ts';
import { setTimerBase, TIMERS } from '../../server/signaling/transactions/timers.ts';
import { responseDestination, TransactionLayer } from '../../server/signaling/transactions/transaction-layer.ts';
import type { MessageSource } from '../../server/signaling/transports/sip-transport.ts';

const box = dgram.createSocket('udp4');
const peer = dgram.createSocket('udp4');
/** What the peer received, as text, in order. */
const atPeer: string[] = [];
/** What the box received, parsed. */
const atBox: SipMessage[] = [];
let layer: TransactionLayer;
let peerAt: MessageSource;
const original = { T1: TIMERS.T1, T2: TIMERS.T2, T4: TIMERS.T4, timerD: TIMERS.timerD, timerC: TIMERS.timerC };

t.before(async () => {
  setTimerBase(20);
  await new Promise<void>((resolve) => box.bind(0, '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', () => resolve()));
  peer.on('message', (data) => atPeer.push(data.toString('latin1')));
  box.on('message', (data) => atBox.push(parseMessage(data)));
  peerAt = { protocol: 'udp', address: '127.0.0.1', port: peer.address().port };
  layer = new TransactionLayer({
    send: (destination, data) => {
      box.send(data, destination.port, destination.address);
      return true;
    },
  });
});
t.teardown(() => {
  layer?.close();
  box.close();
  peer.close();
  setTimerBase(original.T1, original.T2, original.T4, original.timerD);
  TIMERS.timerC = original.timerC;
});

async function eventually(predicate: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return predicate();
}

function countAtPeer(pattern: RegExp): number {
  return atPeer.filter((m) => pattern.test(m)).length;
}

/** A request the box sends, with its Via branch. */
function outgoing(method: string, id: string): SipRequest {
  const message = parseMessage(
    Buffer.from(
      [
        `${method} sip:peer@127.0.0.1:${peerAt.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${box.address().port};branch=z9hG4bK${id};rport`,
        `From: <sip:box@127.0.0.1>;tag=box-${id}`,
        `To: <sip:peer@127.0.0.1>`,
        `Call-ID: ${id}`,
        `CSeq: 1 ${method}`,
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  );
  if (message.type !== 'request') throw new Error('not a request');
  return message;
}

/** The peer sends a request to the box; resolves with it as the box parsed it. */
async function fromPeer(lines: string[]): Promise<SipRequest> {
  const before = atBox.length;
  peer.send([...lines, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n'), box.address().port, '127.0.0.1');
  if (!(await eventually(() => atBox.length > before))) throw new Error('the box received nothing');
  const message = atBox[atBox.length - 1] as SipMessage;
  if (message.type !== 'request') throw new Error('not a request');
  return message;
}

function startClient(request: SipRequest): { transaction: ClientTransaction; responses: number[]; failures: number[] } {
  const responses: number[] = [];
  const failures: number[] = [];
  const transaction = layer.startClient(request, peerAt, `z9hG4bK${request.callId}`, {
    response: (response) => responses.push(response.status),
    failed: (status) => failures.push(status),
  });
  return { transaction, responses, failures };
}

t.test('a client transaction retransmits over UDP until answered, and matches the answer by branch', async (t) => {
  const request = outgoing('OPTIONS', 'client-1');
  const { transaction, responses } = startClient(request);
  t.ok(await eventually(() => countAtPeer(/branch=z9hG4bKclient-1/) >= 3), 'sent and retransmitted');
  t.equal(layer.client(transaction.id), transaction, 'known by id');

  // The peer's 200 comes back to the box with the same top Via.
  const before = atBox.length;
  const answer = createResponse(parseMessage(Buffer.from(atPeer.find((m) => m.includes('client-1')) as string)) as SipRequest, 200, 'OK', 'peer-tag');
  peer.send(answer.toBuffer(), box.address().port, '127.0.0.1');
  t.ok(await eventually(() => atBox.length > before));
  const response = atBox[atBox.length - 1] as SipResponse;
  const matched = layer.matchResponse(response);
  t.equal(matched, transaction, 'the response matches its transaction');
  matched?.onResponse(response);
  t.same(responses, [200], 'passed up once');
  const other = createResponse(outgoing('OPTIONS', 'no-such-branch'), 200, 'OK');
  t.equal(layer.matchResponse(other), undefined, 'a response with another branch matches nothing');
});

t.test('Timer B: an INVITE nobody answers ends with 408', async (t) => {
  const { failures } = startClient(outgoing('INVITE', 'client-timer-b'));
  t.ok(await eventually(() => failures.length > 0), 'failed');
  t.same(failures, [408]);
  t.ok(countAtPeer(/branch=z9hG4bKclient-timer-b/) >= 2, 'retransmitted (Timer A) before giving up');
});

t.test('Timer C: an INVITE that rings too long is cancelled and ends with 408', async (t) => {
  TIMERS.timerC = 200;
  t.teardown(() => {
    TIMERS.timerC = original.timerC;
  });
  const request = outgoing('INVITE', 'client-timer-c');
  const { transaction, responses, failures } = startClient(request);
  t.ok(await eventually(() => countAtPeer(/INVITE sip:.*\r\n(?:.*\r\n)*?Call-ID: client-timer-c/) >= 1));
  const ringing = createResponse(request, 180, 'Ringing', 'peer-tag');
  transaction.onResponse(ringing);
  t.same(responses, [180]);
  t.ok(await eventually(() => failures.length > 0), 'ended');
  t.same(failures, [408]);
  t.ok(await eventually(() => countAtPeer(/^CANCEL [^\r]*\r\n(?:.*\r\n)*?Call-ID: client-timer-c/m) === 1), 'the peer got a CANCEL');
});

t.test('a server transaction repeats its final response, and matches the ACK and the CANCEL of its INVITE', async (t) => {
  const inviteLines = [
    `INVITE sip:box@127.0.0.1:${box.address().port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerAt.port};branch=z9hG4bKserver-1;rport`,
    'From: <sip:peer@127.0.0.1>;tag=peer-1',
    'To: <sip:box@127.0.0.1>',
    'Call-ID: server-1',
    'CSeq: 5 INVITE',
  ];
  const invite = await fromPeer(inviteLines);
  t.notOk(layer.absorbRetransmission(invite), 'a new request is not a retransmission');
  const source = { ...peerAt };
  const transaction = layer.createServer(invite, source);
  t.equal(layer.server(transaction.id), transaction);
  t.ok(transaction.respond(createResponse(invite, 486, 'Busy Here', transaction.toTag)));
  t.ok(await eventually(() => countAtPeer(/^SIP\/2\.0 486[\s\S]*Call-ID: server-1/) >= 1), 'the peer got the 486');

  const again = await fromPeer(inviteLines);
  const before = countAtPeer(/^SIP\/2\.0 486[\s\S]*Call-ID: server-1/);
  t.ok(layer.absorbRetransmission(again), 'the retransmitted INVITE is absorbed');
  t.ok(await eventually(() => countAtPeer(/^SIP\/2\.0 486[\s\S]*Call-ID: server-1/) > before), 'and answered again with the 486');

  const cancel = await fromPeer([
    `CANCEL sip:box@127.0.0.1:${box.address().port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerAt.port};branch=z9hG4bKserver-1;rport`,
    'From: <sip:peer@127.0.0.1>;tag=peer-1',
    'To: <sip:box@127.0.0.1>',
    'Call-ID: server-1',
    'CSeq: 5 CANCEL',
  ]);
  t.equal(layer.matchServer(cancel, 'INVITE'), transaction, 'the CANCEL matches its INVITE');
  t.equal(layer.matchServer(cancel), undefined, 'and has no transaction of its own yet');
  const ack = await fromPeer([
    `ACK sip:box@127.0.0.1:${box.address().port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerAt.port};branch=z9hG4bKserver-1;rport`,
    'From: <sip:peer@127.0.0.1>;tag=peer-1',
    `To: <sip:box@127.0.0.1>;tag=${transaction.toTag}`,
    'Call-ID: server-1',
    'CSeq: 5 ACK',
  ]);
  t.equal(layer.matchServer(ack, 'INVITE'), transaction, 'the ACK matches its INVITE');
  const stray = await fromPeer([
    `ACK sip:box@127.0.0.1:${box.address().port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerAt.port};branch=z9hG4bKother;rport`,
    'From: <sip:peer@127.0.0.1>;tag=peer-1',
    'To: <sip:box@127.0.0.1>;tag=x',
    'Call-ID: server-1',
    'CSeq: 5 ACK',
  ]);
  t.equal(layer.matchServer(stray, 'INVITE'), undefined, 'an ACK with another branch does not');
});

t.test('a completed non-INVITE transaction over UDP still answers retransmissions (Timer J)', async (t) => {
  const lines = [
    `OPTIONS sip:box@127.0.0.1:${box.address().port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerAt.port};branch=z9hG4bKserver-2;rport`,
    'From: <sip:peer@127.0.0.1>;tag=peer-2',
    'To: <sip:box@127.0.0.1>',
    'Call-ID: server-2',
    'CSeq: 1 OPTIONS',
  ];
  const options = await fromPeer(lines);
  const transaction = layer.createServer(options, { ...peerAt });
  const open = layer.serverCount;
  transaction.respond(createResponse(options, 200, 'OK', transaction.toTag));
  t.ok(await eventually(() => countAtPeer(/^SIP\/2\.0 200[\s\S]*Call-ID: server-2/) === 1), 'answered');
  t.equal(layer.serverCount, open - 1, 'the transaction itself is gone (only its response is kept)');
  const again = await fromPeer(lines);
  t.ok(layer.absorbRetransmission(again), 'the retransmission is absorbed');
  t.ok(await eventually(() => countAtPeer(/^SIP\/2\.0 200[\s\S]*Call-ID: server-2/) === 2), 'and answered from the cache');
  layer.sweep(Date.now() + TIMERS.transactionTimeout + 1);
  t.notOk(layer.absorbRetransmission(again), 'past Timer J it is forgotten');
});

t.test('responses go to the Via sent-by port, or the source port with rport', async (t) => {
  const source: MessageSource = { protocol: 'udp', address: '127.0.0.1', port: 40000 };
  const withRport = outgoing('OPTIONS', 'dest-1');
  t.equal(responseDestination(withRport, source).port, 40000);
  const without = parseMessage(Buffer.from(withRport.toBuffer().toString('latin1').replace(';rport', ''))) as SipRequest;
  t.equal(responseDestination(without, source).port, box.address().port);
});
