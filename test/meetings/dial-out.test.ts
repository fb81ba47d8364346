/**
 * Inviting a registered account into a live meeting from the console (dial-out): the box
 * calls the account's terminal (sipp registered with digest, then waiting as a UAS) with an
 * INVITE without SDP, the terminal's 200 OK carries its offer and the box's ACK the answer; the
 * invited terminal is then a participant and hears the meeting (a tone from the terminal
 * already in it). Removing it sends the BYE. An account with no registered terminal, and a
 * busy terminal, are refused in words (the busy one's call record says busy); each invitation
 * is in the operation log.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { afterSilence, dominantFrequency } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Invite room', number: '880017', hostPin: '1122', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
await new AdminStore(box.db).ensureInitialAdmin(secrets);
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  live: box.app.live,
  ...(box.mediaClient ? { media: box.mediaClient.media } : {}),
  dialOut: (number, account) => box.app.dialOut(number, account),
  keepDb: true,
});
const client = new ConsoleClient(base);
await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim());

/** Registers `account` with its Contact at `port` (where a sipp UAS then waits). */
async function register(account: string, port: number): Promise<void> {
  box.app.accounts.create({ number: account, name: `Room ${account}`, password: `secret-${account}` }, box.realm);
  const result = await runSipp({ scenario: 'register.xml', target, transport: 'u1', auth: [account, `secret-${account}`], keys: { account, contact_port: String(port), expires: '300', device: 'desk' } });
  if (!result.ok) throw new Error(`registration of ${account} failed:\n${result.errors}`);
}

t.test('the console invites a registered terminal: it joins and hears the meeting', async (t) => {
  const { inside, invited } = await openTerminals(t, 'inside', 'invited');
  const first = await joinMeeting(target, { dial: room.number, name: 'Inside', media: pcmuMedia(inside.port), hold: 12_000 });

  const contactPort = await freePort();
  await register('2501', contactPort);
  const terminal = await startSipp({ scenario: scenarioWith('uas-invited.xml', { port: String(invited.port) }), transport: 'u1', localPort: contactPort, timeoutSeconds: 20 });

  const answer = await client.call('POST', `/api/v1/live-meetings/${room.number}/invite`, { account: '2501' });
  t.equal(answer.status, 200, `the invitation succeeded ${JSON.stringify(answer.body).slice(0, 200)}`);
  const joined = answer.body.participants.find((p: { displayName: string }) => p.displayName === 'Room 2501');
  t.match(joined, { type: 'sip', role: 'guest', audioCodec: 'PCMU' }, 'the invited terminal is in the meeting');

  // The terminal already inside talks; the invited one hears it (its mix, at its offered port).
  await inside.send(first.answeredPort, await g711Tone('mulaw', 523, 2), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  await waitFor('the mix at the invited terminal', 3000, () => invited.payloadOf(0).length > 8000 || undefined).catch(() => undefined);
  const heard = afterSilence(await decodeG711('mulaw', invited.payloadOf(0)), 8000, 1);
  t.ok(Math.abs(dominantFrequency(heard, 8000) - 523) < 40, `the invited terminal hears the meeting (${Math.round(dominantFrequency(heard, 8000))} Hz)`);

  t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${joined.id}`)).status, 204, 'removed by the console');
  const result = await terminal.result;
  t.ok(result.ok, `the terminal took the INVITE without SDP, answered with its offer, got the answer in the ACK and the BYE ${result.errors}`);
  await first.result;
});

t.test('an account with no registered terminal, and a busy terminal, are refused in words', async (t) => {
  const { inside } = await openTerminals(t, 'inside');
  const first = await joinMeeting(target, { dial: room.number, name: 'Inside', media: pcmuMedia(inside.port), hold: 6000 });
  box.app.accounts.create({ number: '2502', name: 'Offline room', password: 'secret-2502' }, box.realm);
  const offline = await client.call('POST', `/api/v1/live-meetings/${room.number}/invite`, { account: '2502' });
  t.equal(offline.status, 409, 'not registered: 409');
  t.match(offline.body.message, /no registered terminal/, `says why: ${offline.body.message}`);

  const busyPort = await freePort();
  await register('2503', busyPort);
  const busy = await startSipp({ scenario: 'uas-busy.xml', transport: 'u1', localPort: busyPort, timeoutSeconds: 10 });
  const refused = await client.call('POST', `/api/v1/live-meetings/${room.number}/invite`, { account: '2503' });
  t.equal(refused.status, 502, 'busy: 502');
  t.match(refused.body.message, /486/, `says what the terminal answered: ${refused.body.message}`);
  t.ok((await busy.result).ok, 'the busy terminal got its ACK');
  t.match(box.db.prepare("SELECT caller, callee, answered_at, ended_at, outcome FROM call_records WHERE callee = '2503'").all(), [{ caller: room.number, answered_at: null, ended_at: String, outcome: 'busy' }], "the busy terminal's call record: ended, busy");
  await first.result;
  const audit = box.db.prepare("SELECT detail FROM audit_log WHERE action = 'meeting.invite' ORDER BY id").all() as { detail: string }[];
  t.equal(audit.length, 3, 'every invitation is in the operation log, failed ones with their result');
});
