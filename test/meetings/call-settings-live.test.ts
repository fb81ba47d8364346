/**
 * Call settings changed while a meeting runs, from an administrator's and a terminal's side,
 * on the real appliance (the media process follows the settings by itself): five participants
 * in a 2×2 composed picture (one SIP terminal with video receiving it, four audio-only "no
 * video" panes). With polling at 300 s the panes stay put; set to 5 s in the settings, the
 * running picture rotates at the next turn. Max video resolution CIF → 360P/30: the running
 * picture restarts at the new size (its output is 360 lines high) and the terminal receives
 * the new picture on the same call, without any renegotiation (its sipp scenario would fail on
 * a re-INVITE).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, type MeetingTerminal, pcmuMedia, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-call-settings-'));
const seeded = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
seeded.settings.update({ 'call.maxVideoResolution': 'CIF', 'call.polling.intervalSeconds': 300, 'call.polling.rule': 'round-robin' }, { actor: 'test' });
seeded.db.close();
const box = await startAppliance({ dataDir });
t.teardown(() => box.interrupt(10_000));
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const vmr = await admin.call('POST', '/api/v1/vmrs', { name: 'Live settings', number: '880031', guestPin: '', hostPin: '3131', layout: '2x2' });
if (vmr.status !== 201) throw new Error(`could not create the VMR: ${JSON.stringify(vmr.body)}`);

interface Picture {
  layout: string;
  panes: { participantId: string }[];
  outputs: string[];
}
const picture = async (): Promise<Picture | null> => (await admin.call('GET', '/api/v1/live-meetings/880031')).body?.picture ?? null;

t.test('polling and resolution changed in the settings reach the running picture', async (t) => {
  const terminals = await openTerminals(t, 'viewer', 'video', 'a', 'b', 'c', 'd');
  const target = `127.0.0.1:${box.sipPort}`;
  const legs: MeetingTerminal[] = [];
  legs.push(await joinMeeting(target, { dial: '880031', name: 'Viewer', media: `${pcmuMedia(terminals.viewer.port)}\nm=video ${terminals.video.port} RTP/AVP 97\na=rtpmap:97 VP8/90000`, ...UNTIL_HUNG_UP }));
  for (const key of ['a', 'b', 'c', 'd'] as const) legs.push(await joinMeeting(target, { dial: '880031', name: `Phone ${key}`, media: pcmuMedia(terminals[key].port), ...UNTIL_HUNG_UP }));

  const shown = async () => ((await picture())?.panes ?? []).map((p) => p.participantId).join(',');
  const until = async (what: string, ms: number, probe: () => Promise<boolean>) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await probe()) return true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    t.fail(`timed out after ${ms} ms waiting for ${what}`);
    return false;
  };
  await until('four panes at CIF', 8000, async () => (await picture())?.panes.length === 4 && (await picture())?.outputs.includes('VP8-1-288') === true);
  t.same((await picture())?.outputs, ['VP8-1-288'], 'the picture is CIF (288 lines) as the settings say');
  const first = await shown();
  await new Promise((resolve) => setTimeout(resolve, 6000));
  t.equal(await shown(), first, 'with polling at 300 s the panes stay put');

  const polling = await admin.call('PATCH', '/api/v1/settings', { 'call.polling.intervalSeconds': 5 });
  t.match(polling.body, { appliedNow: ['call.polling.intervalSeconds'] });
  await until('the first turn after the change', 9000, async () => (await shown()) !== first);
  t.not(await shown(), first, 'the running picture rotates at the new interval');

  const before = new Set(terminals.video.received.map((p) => p.ssrc));
  t.ok(before.size >= 1, 'the terminal receives the composed picture');
  const resolution = await admin.call('PATCH', '/api/v1/settings', { 'call.maxVideoResolution': '360P/30' });
  t.match(resolution.body, { appliedNow: ['call.maxVideoResolution'], live: { media: { state: 'applied' } }, message: 'Saved. Composed pictures in progress follow the new video settings now.' });
  await until('the picture at 360 lines', 8000, async () => (await picture())?.outputs.includes('VP8-1-360') === true);
  t.same((await picture())?.outputs, ['VP8-1-360'], 'the running picture restarted at 360P');
  const seen = terminals.video.received.length;
  await waitFor('the new picture at the terminal', 8000, () => terminals.video.received.slice(seen).some((p) => !before.has(p.ssrc)) || undefined).catch(() => undefined);
  t.ok(terminals.video.received.slice(seen).some((p) => !before.has(p.ssrc)), 'the terminal receives the new picture on the same call');

  // The administrator removes everyone (the box hangs up each call).
  for (const participant of (await admin.call('GET', '/api/v1/live-meetings/880031')).body.participants as { id: string }[]) {
    t.equal((await admin.call('DELETE', `/api/v1/live-meetings/880031/participants/${participant.id}`)).status, 204, 'removed at the end');
  }
  const results = await Promise.all(legs.map((leg) => leg.result));
  t.ok(results.every((r) => r.ok), `every call ends normally, none renegotiated\n${results.map((r) => r.errors).join('\n')}`);
});
