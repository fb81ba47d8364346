/**
 * The dialog table (server/signaling/dialogs/dialog-table.ts), driven directly with parsed SIP
 * messages (it has no sockets): a dialog the box answers as UAS and one it creates as UAC are
 * each matched by Call-ID and tags from either side's in-dialog requests, and by nothing with a
 * wrong tag or Call-ID; an early dialog ends with a failure response, a confirmed one stays;
 * requests built inside a dialog carry its route set, tags and a rising CSeq; an application
 * that goes away leaves none of its dialogs behind; the dialog snapshot a restarted signaling
 * service reads back keeps only whole, confirmed calls.
 */
import t from 'tap';
import { dialogIdOf } from '../../server/signaling/dialogs/dialog.ts';
import { DialogTable, tagOf } from '../../server/signaling/dialogs/dialog-table.ts';
import { parseMessage, type SipRequest, type SipResponse } from '../../server/signaling/sip/sip-message.ts';
import type { MessageSource } from '../../server/signaling/transports/sip-transport.ts';

const peer: MessageSource = { protocol: 'udp', address: '127.0.0.1', port: 5062 };

function request(lines: string[]): SipRequest {
  const message = parseMessage(Buffer.from(`${[...lines, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n')}`));
  if (message.type !== 'request') throw new Error('not a request');
  return message;
}

function response(lines: string[]): SipResponse {
  const [status = '', ...rest] = lines;
  const message = parseMessage(Buffer.from(`${[status, 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKresp', ...rest, 'Content-Length: 0', '', ''].join('\r\n')}`));
  if (message.type !== 'response') throw new Error('not a response');
  return message;
}

function invite(callId: string, fromTag: string): SipRequest {
  return request([
    'INVITE sip:1234@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${callId}`,
    `From: <sip:2001@127.0.0.1>;tag=${fromTag}`,
    'To: <sip:1234@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 7 INVITE',
    'Contact: <sip:2001@127.0.0.1:5062>',
    'Record-Route: <sip:proxy.example;lr>',
  ]);
}

t.test('a UAS dialog is matched by Call-ID and tags of the peer’s in-dialog requests', async (t) => {
  const table = new DialogTable();
  const owner = { name: 'app' };
  const req = invite('uas-call', 'peer-tag');
  let acknowledged = 0;
  const transaction = { request: req, source: peer, isInvite: true, dialogId: dialogIdOf('uas-call', 'peer-tag'), acknowledged2xx: () => acknowledged++ };
  const ringing = response(['SIP/2.0 180 Ringing', 'To: <sip:1234@127.0.0.1>;tag=box-tag', 'From: <sip:2001@127.0.0.1>;tag=peer-tag', 'Call-ID: uas-call', 'CSeq: 7 INVITE']);
  table.upsertUas(transaction, ringing, owner);
  t.equal(table.size, 1);
  const dialog = table.get(transaction.dialogId);
  t.equal(dialog?.state, 'early');
  t.equal(dialog?.role, 'uas');
  t.equal(dialog?.remoteTarget, 'sip:2001@127.0.0.1:5062', 'the Contact is the remote target');

  const ok = response(['SIP/2.0 200 OK', 'To: <sip:1234@127.0.0.1>;tag=box-tag', 'From: <sip:2001@127.0.0.1>;tag=peer-tag', 'Call-ID: uas-call', 'CSeq: 7 INVITE']);
  table.upsertUas(transaction, ok, owner);
  t.equal(dialog?.state, 'confirmed');
  t.equal(dialog?.pendingAck, transaction, 'the 2xx waits for its ACK');

  const bye = request(['BYE sip:1234@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKbye', 'From: <sip:2001@127.0.0.1>;tag=peer-tag', 'To: <sip:1234@127.0.0.1>;tag=box-tag', 'Call-ID: uas-call', 'CSeq: 8 BYE']);
  t.equal(table.match(bye), dialog, 'the BYE matches');
  t.equal(table.find('uas-call', 'other-tag', 'box-tag'), undefined, 'another From tag does not');
  t.equal(table.find('other-call', 'peer-tag', 'box-tag'), undefined, 'another Call-ID does not');
  t.equal(table.find('uas-call', 'box-tag', 'peer-tag'), undefined, 'nor the tags swapped (the To tag must be ours)');
  t.equal(table.find('uas-call', 'peer-tag', 'guessed-tag'), undefined, 'nor the Call-ID and the peer tag with a guessed To tag');
  t.equal(table.find('uas-call', 'peer-tag', ''), undefined, 'nor without a To tag');

  // A failure after a 2xx does not end a confirmed dialog; removeIfEarly only ends early ones.
  table.removeIfEarly(transaction.dialogId);
  t.equal(table.size, 1, 'confirmed dialog kept');
  table.removeOwnedBy({ name: 'another app' });
  t.equal(table.size, 1, 'another application’s going does not end it');
  table.removeOwnedBy(owner);
  t.equal(table.size, 0, 'its application’s going does');
});

t.test('a UAC dialog is created by a tagged 1xx, matched from the peer’s side, ended early by a failure', async (t) => {
  const table = new DialogTable();
  const owner = { name: 'app' };
  const req = request([
    'INVITE sip:2002@127.0.0.1:5064 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKout',
    'From: <sip:1234@127.0.0.1>;tag=our-tag',
    'To: <sip:2002@127.0.0.1>',
    'Call-ID: uac-call',
    'CSeq: 3 INVITE',
  ]);
  const sent = { request: req, dialogId: dialogIdOf('uac-call', 'our-tag') };
  const trying = response(['SIP/2.0 100 Trying', 'From: <sip:1234@127.0.0.1>;tag=our-tag', 'To: <sip:2002@127.0.0.1>', 'Call-ID: uac-call', 'CSeq: 3 INVITE']);
  table.onUacResponse(sent, trying, peer, owner);
  t.equal(table.size, 0, 'a 100 creates no dialog');
  const ringing = response([
    'SIP/2.0 180 Ringing',
    'From: <sip:1234@127.0.0.1>;tag=our-tag',
    'To: <sip:2002@127.0.0.1>;tag=their-tag',
    'Call-ID: uac-call',
    'CSeq: 3 INVITE',
    'Contact: <sip:2002@127.0.0.1:5064>',
    'Record-Route: <sip:a.example;lr>',
    'Record-Route: <sip:b.example;lr>',
  ]);
  table.onUacResponse(sent, ringing, peer, owner);
  const dialog = table.get(sent.dialogId);
  t.equal(dialog?.role, 'uac');
  t.equal(dialog?.state, 'early');
  t.equal(tagOf(dialog?.remote), 'their-tag');
  t.same(dialog?.routeSet, ['<sip:b.example;lr>', '<sip:a.example;lr>'], 'route set reversed for a UAC');

  // The peer's in-dialog request: its From tag is theirs, its To tag ours.
  const update = request(['UPDATE sip:1234@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bKupd', 'From: <sip:2002@127.0.0.1>;tag=their-tag', 'To: <sip:1234@127.0.0.1>;tag=our-tag', 'Call-ID: uac-call', 'CSeq: 1 UPDATE']);
  t.equal(table.match(update), dialog, 'matched by To tag');
  t.equal(table.find('uac-call', 'their-tag', 'not-ours'), undefined, 'not with a To tag that is not ours');

  const busy = response(['SIP/2.0 486 Busy Here', 'From: <sip:1234@127.0.0.1>;tag=our-tag', 'To: <sip:2002@127.0.0.1>;tag=their-tag', 'Call-ID: uac-call', 'CSeq: 3 INVITE']);
  table.onUacResponse(sent, busy, peer, owner);
  t.equal(table.size, 0, 'the failure ended the early dialog');
});

t.test('a request built inside a dialog carries its route set, tags, remote target and a rising CSeq', async (t) => {
  const table = new DialogTable();
  const req = invite('build-call', 'peer-tag');
  const transaction = { request: req, source: peer, isInvite: true, dialogId: dialogIdOf('build-call', 'peer-tag'), acknowledged2xx: () => {} };
  const ok = response(['SIP/2.0 200 OK', 'To: <sip:1234@127.0.0.1>;tag=box-tag', 'From: <sip:2001@127.0.0.1>;tag=peer-tag', 'Call-ID: build-call', 'CSeq: 7 INVITE']);
  table.upsertUas(transaction, ok, {});
  const dialog = table.get(transaction.dialogId);
  if (!dialog) throw new Error('no dialog');
  const first = table.buildRequest(dialog, 'INFO', undefined);
  const second = table.buildRequest(dialog, 'BYE', undefined);
  t.equal(first.uri, 'sip:2001@127.0.0.1:5062');
  t.same(first.getAll('route'), ['<sip:proxy.example;lr>']);
  t.equal(tagOf(first.get('from')), 'box-tag');
  t.equal(tagOf(first.get('to')), 'peer-tag');
  t.equal(first.callId, 'build-call');
  t.equal(second.cseq.seq, first.cseq.seq + 1, 'CSeq rises');
  t.equal(second.cseq.method, 'BYE');

  // The dialog table tells which dialogs still use a connection (a draining UDP port).
  t.notOk(table.uses('udp-5060'));
  table.keepUdpPeersOn('udp-5060');
  t.ok(table.uses('udp-5060'), 'a UDP dialog stays on the former port');
});

t.test('the dialog snapshot: confirmed calls written and read back as owner-less dialogs; a bad file gives none', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { DialogSnapshot } = await import('../../server/signaling/dialogs/dialog-snapshot.ts');
  const { newDialog } = await import('../../server/signaling/dialogs/dialog.ts');
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-dialogs-')), 'signaling-dialogs.json');
  const base = {
    role: 'uas' as const,
    local: '<sip:880181@127.0.0.1>;tag=box',
    remote: '<sip:ann@127.0.0.1>;tag=ann',
    localTag: 'box',
    remoteTag: 'ann',
    localSeq: 5,
    remoteSeq: 3,
    remoteTarget: 'sip:ann@127.0.0.1:5062',
    routeSet: [],
    peer: { ...peer, connectionId: 'gone' },
    owner: 'app',
    method: 'INVITE',
    inviteSeq: 3,
  };
  const confirmed = newDialog({ ...base, id: dialogIdOf('call-1', 'ann'), callId: 'call-1', state: 'confirmed' });
  const early = newDialog({ ...base, id: dialogIdOf('call-2', 'ann'), callId: 'call-2', state: 'early' });
  new DialogSnapshot(file).write([confirmed, early]);
  const [back, ...rest] = new DialogSnapshot(file).read();
  t.same(rest, [], 'only the confirmed call is kept');
  t.match(back, { id: confirmed.id, callId: 'call-1', localTag: 'box', remoteTag: 'ann', remoteSeq: 3, state: 'confirmed', owner: undefined }, 'read back without an owner');
  t.equal(back?.localSeq, 1005, 'our CSeq raised: a request sent after the restart is above any the peer saw');
  t.equal(back?.peer.connectionId, undefined, 'a stream connection does not outlive the process');
  writeFileSync(file, '{not json');
  t.same(new DialogSnapshot(file).read(), [], 'an unreadable file gives no dialog');
  writeFileSync(file, JSON.stringify([{ ...base, id: 'x', callId: 'x', localTag: '', peer: { protocol: 'sctp', address: 'x', port: 1 } }, { id: 1 }]));
  t.same(new DialogSnapshot(file).read(), [], 'rows that are not whole dialogs are left out');
});

t.test('the dialog snapshot says its age on the monotonic clock: not fooled by the wall clock or a long quiet call', async (t) => {
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { DialogSnapshot, SNAPSHOT_HEARTBEAT_MS } = await import('../../server/signaling/dialogs/dialog-snapshot.ts');
  const { newDialog } = await import('../../server/signaling/dialogs/dialog.ts');
  const { monotonicMs } = await import('../../server/core/clock.ts');
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-dialogs-')), 'signaling-dialogs.json');
  const call = newDialog({
    id: dialogIdOf('call-q', 'ann'),
    callId: 'call-q',
    role: 'uas',
    local: '<sip:880181@127.0.0.1>;tag=box',
    remote: '<sip:ann@127.0.0.1>;tag=ann',
    localTag: 'box',
    remoteTag: 'ann',
    localSeq: 1,
    remoteSeq: 1,
    remoteTarget: 'sip:ann@127.0.0.1:5062',
    routeSet: [],
    peer,
    owner: 'app',
    method: 'INVITE',
    state: 'confirmed',
    inviteSeq: 1,
  });
  const writer = new DialogSnapshot(file);
  const t0 = monotonicMs();
  writer.write([call], t0);
  const written = () => JSON.parse(readFileSync(file, 'utf8')) as { boot: string; writtenAtMs: number };
  t.equal(written().writtenAtMs, t0, 'written with its monotonic time and boot');
  writer.write([call], t0 + 1000);
  t.equal(written().writtenAtMs, t0, 'nothing changed: not written again at once');
  writer.write([call], t0 + SNAPSHOT_HEARTBEAT_MS);
  t.equal(written().writtenAtMs, t0 + SNAPSHOT_HEARTBEAT_MS, 'written again after the heartbeat, unchanged: a long quiet call stays readable');
  t.equal(new DialogSnapshot(file).read(t0 + SNAPSHOT_HEARTBEAT_MS + 9 * 60_000).length, 1, 'read 9 minutes after its last write');
  t.same(new DialogSnapshot(file).read(t0 + SNAPSHOT_HEARTBEAT_MS + 11 * 60_000), [], 'not read 11 minutes after it (the box was off)');
  // The wall clock plays no part: a file with an old modification time is still read when its writer wrote it just now.
  const { utimesSync } = await import('node:fs');
  utimesSync(file, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  t.equal(new DialogSnapshot(file).read(t0 + SNAPSHOT_HEARTBEAT_MS + 1000).length, 1, 'a wall clock an hour off does not make it old');
  writeFileSync(file, JSON.stringify({ ...written(), boot: 'another-boot' }));
  t.same(new DialogSnapshot(file).read(), [], 'a file from before a reboot is not read');
});
