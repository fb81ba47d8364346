/**
 * Content sharing as the console sees and steers it (issue #19, "Console and API"), end to
 * end: two room systems (sipp signaling with a content and a TCP/BFCP line, ffmpeg slides, the
 * real libre BFCP client) and a terminal without content in one VMR; the control-plane API on a
 * real socket, logged in as an administrator and as an operator.
 *
 * The live meeting reports the presenter (participant, name, SIP, since, seconds) and which
 * participants can present; the dashboard counts media ports by the manual's rule (6 a call, 8
 * with content). An operator may not stop the presentation (403), nor anyone without the CSRF
 * token; the administrator's stop revokes the floor — the presenter's BFCP client is told
 * Revoked, the other one (subscribed by FloorQuery) gets FloorStatus with the floor free — and
 * the slides stop reaching the other terminal's content line; it is audited. Refusals in
 * words (no presentation, unknown participant, a participant without content stream, in
 * English and Chinese); giving the floor back grants it to the terminal (its client told
 * Granted) and the slides flow again. The meeting's record says content was shared and the
 * statistics count it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { BfcpClient, type BfcpClientEvent, findAttributes, overallStatus } from '../helpers/bfcp-client.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { bfcpOf, contentOffer, contentReceiver, joinWithContent, startSlides, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { participantIdOf, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Console content room', number: '880191', hostPin: '4455', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';
const revoked = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Revoked';
const floorFree = (e: BfcpClientEvent) => e.prim === 'FloorStatus' && findAttributes(e.attrs, 'FLOOR-REQUEST-INFORMATION').length === 0;

t.test('the console sees the presenter, stops the presentation and gives the floor back', async (t) => {
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  const admins = new AdminStore(box.db);
  await admins.ensureInitialAdmin(secrets);
  await admins.create({ username: 'watcher', password: 'Watcher-pass-1', role: 'operator' });
  const base = await startConsoleApi(t, {
    state: { db: box.db, settings: box.settings },
    live: box.app.live,
    ...(box.mediaClient ? { media: box.mediaClient.media } : {}),
    floors: () => box.app.floors,
    keepDb: true,
  });
  const admin = new ConsoleClient(base);
  t.equal((await admin.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim())).status, 200, 'the administrator logs in');
  const operator = new ConsoleClient(base);
  t.equal((await operator.login('watcher', 'Watcher-pass-1')).status, 200, 'the operator logs in');
  const meetingPath = `/api/v1/live-meetings/${room.number}`;

  // Two room systems with content and a phone without.
  const a = await openTerminals(t, 'audio', 'video');
  const b = await openTerminals(t, 'audio', 'video');
  const c = await openTerminals(t, 'audio', 'video');
  const slidesFrom = await freePort();
  const receiver = await contentReceiver(t);
  const presenter = await joinWithContent(target, room.number, 'Slides', contentOffer({ audio: a.audio.port, video: a.video.port, content: slidesFrom }, 'TCP/BFCP', 109));
  const viewer = await joinWithContent(target, room.number, 'Viewer', contentOffer({ audio: b.audio.port, video: b.video.port, content: receiver.port }, 'TCP/BFCP', 109));
  const plain = await joinWithContent(target, room.number, 'Plain', contentOffer({ audio: c.audio.port, video: c.video.port }));
  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  t.ok(contentPort > 0, 'the presenter has a content port');
  startSlides(t, 'red', slidesFrom, contentPort, 120);

  const slidesId = await participantIdOf(box, room.number, 'Slides');
  const viewerId = await participantIdOf(box, room.number, 'Viewer');
  const plainId = await participantIdOf(box, room.number, 'Plain');
  t.ok(slidesId && viewerId && plainId, 'all three are in the meeting');

  const before = await admin.call('GET', meetingPath);
  t.equal(before.status, 200);
  t.equal(before.body.presenter, null, 'nobody presents yet');
  t.equal(before.body.contentShared, false, 'no content shared yet');
  const canPresent = Object.fromEntries(before.body.participants.map((p: { displayName: string; canPresent: boolean }) => [p.displayName, p.canPresent]));
  t.same(canPresent, { Slides: true, Viewer: true, Plain: false }, 'the room systems can present, the phone cannot');
  const dashboard = await operator.call('GET', '/api/v1/dashboard');
  t.match(dashboard.body.mediaPorts, { inUse: 8 + 8 + 6, contentCalls: 2, range: 10_000 }, 'media ports: 8 for each call with content, 6 for the other');

  // The viewer's client subscribes to the floor; the presenter's takes it.
  const viewerIds = bfcpOf(viewer.answer);
  const viewerClient = await BfcpClient.start({ transport: 'tcp', port: viewerIds.port, conferenceId: viewerIds.conferenceId, userId: viewerIds.userId });
  t.teardown(() => viewerClient.close());
  const query = await viewerClient.request('query', 'FloorQuery');
  t.equal(query.prim, 'FloorStatus', 'the viewer subscribes to the floor');
  const client = await takeFloor(t, presenter.answer);
  await waitFor('red slides on the viewer', 20_000, () => receiver.screen.nameAt(0.5, 0.5) === 'red').catch(() => undefined);
  t.equal(receiver.screen.nameAt(0.5, 0.5), 'red', `the viewer's content line shows the slides (${receiver.packets()} packets)`);

  const during = await operator.call('GET', meetingPath);
  t.match(during.body.presenter, { participantId: slidesId, displayName: 'Slides', kind: 'sip' }, 'the API reports the presenter, a SIP terminal');
  const since = Date.parse(during.body.presenter.since);
  t.ok(Number.isFinite(since) && since <= Date.now(), `since when (${during.body.presenter.since})`);
  t.ok(Number.isInteger(during.body.presenter.seconds) && during.body.presenter.seconds >= 0, `and for how long (${during.body.presenter.seconds} s)`);
  t.equal(during.body.contentShared, true, 'content has been shared in the meeting');
  const list = await operator.call('GET', '/api/v1/live-meetings');
  t.equal(list.body.find((m: { number: string }) => m.number === room.number)?.presenter?.participantId, slidesId, 'the list of live meetings says so too');

  // Who may stop it: not an operator, not without the CSRF token.
  const refused = await operator.call('POST', `${meetingPath}/presentation/stop`);
  t.equal(refused.status, 403, 'an operator may not stop the presentation');
  t.equal(refused.body.code, 'VCBOX_ERR_FORBIDDEN_ROLE');
  const forged = await admin.call('POST', `${meetingPath}/presentation/stop`, undefined, { csrf: false });
  t.equal(forged.status, 403, 'nor a request without the CSRF token');
  const refusedGive = await operator.call('POST', `${meetingPath}/presentation/give`, { participantId: viewerId });
  t.equal(refusedGive.status, 403, 'nor give the floor');
  t.equal(box.app.floors?.presenterOf(room.number), slidesId, 'the presenter still presents');

  // The administrator stops it.
  const toldRevoked = client.nextNotification(revoked, 'Revoked by the chair');
  const viewerToldFree = viewerClient.nextNotification(floorFree, 'FloorStatus: the floor is free');
  const stop = await admin.call('POST', `${meetingPath}/presentation/stop`);
  t.equal(stop.status, 200, 'the administrator stops the presentation');
  t.equal(stop.body.presenter, null, 'nobody presents now');
  t.equal(overallStatus(await toldRevoked), 'Revoked', "the presenter's BFCP client is told Revoked");
  t.ok(await viewerToldFree, "the other terminal's client gets FloorStatus with the floor free");
  let last = receiver.packets();
  let lastChange = Date.now();
  await waitFor('the forwarding to stop', 10_000, () => {
    if (receiver.packets() !== last) {
      last = receiver.packets();
      lastChange = Date.now();
    }
    return Date.now() - lastChange > 1000;
  });
  const stoppedAt = receiver.packets();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.equal(receiver.packets(), stoppedAt, 'the slides no longer reach the other content line');
  const audit = box.db.prepare("SELECT actor, action, detail FROM audit_log WHERE action = 'meeting.presentation.stop'").all() as { actor: string; action: string; detail: string }[];
  t.equal(audit.length, 1, 'one audit row for the stop');
  t.equal(audit[0]?.actor, 'admin', 'by the administrator');
  t.match(JSON.parse(audit[0]?.detail ?? '{}'), { number: room.number, participant: slidesId, name: 'Slides' }, 'naming the meeting and the presenter');

  // Refusals in words.
  const again = await admin.call('POST', `${meetingPath}/presentation/stop`);
  t.equal(again.status, 409, 'stopping again is refused');
  t.equal(again.body.code, 'VCBOX_ERR_NO_PRESENTATION');
  t.match(again.body.message, /Nobody presents content in meeting 880191/);
  const zh = await fetch(`${base}${meetingPath}/presentation/stop`, { method: 'POST', headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'accept-language': 'zh-CN' } });
  t.match(((await zh.json()) as { message: string }).message, /当前没有人在共享内容/, 'in Chinese for a Chinese console');
  const unknown = await admin.call('POST', `${meetingPath}/presentation/give`, { participantId: 'nobody-here' });
  t.equal(unknown.status, 404, 'an unknown participant is refused');
  t.equal(unknown.body.code, 'VCBOX_ERR_PARTICIPANT_NOT_FOUND');
  const phone = await admin.call('POST', `${meetingPath}/presentation/give`, { participantId: plainId });
  t.equal(phone.status, 409, 'a participant without content stream cannot be given the floor');
  t.equal(phone.body.code, 'VCBOX_ERR_PARTICIPANT_CANNOT_PRESENT');
  t.match(phone.body.message, /Plain cannot present/);

  // Giving the floor back.
  const grantedAgain = client.nextNotification(granted, 'Granted by the chair');
  const give = await admin.call('POST', `${meetingPath}/presentation/give`, { participantId: slidesId });
  t.equal(give.status, 200, 'the administrator gives the floor to the room system');
  t.equal(give.body.presenter?.participantId, slidesId, 'it presents again');
  await grantedAgain;
  await waitFor('slides again', 15_000, () => receiver.packets() > stoppedAt + 20);
  t.ok(receiver.packets() > stoppedAt + 20, 'its slides reach the other terminal again');
  t.equal((box.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'meeting.presentation.give'").get() as { n: number }).n, 1, 'giving the floor is audited');

  for (const id of [slidesId, viewerId, plainId]) box.app.live.get(room.number)?.participants.get(id)?.hangUp('test over');
  await Promise.all([presenter.result, viewer.result, plain.result]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  const record = box.db.prepare('SELECT content_shared FROM meeting_records WHERE number = ? ORDER BY id DESC LIMIT 1').get(room.number) as { content_shared: number };
  t.equal(record.content_shared, 1, "the meeting's record says content was shared");
  const statistics = await operator.call('GET', '/api/v1/statistics?period=1m');
  t.equal(statistics.body.meetings.withContent, 1, 'the statistics count the meeting with content');
});
