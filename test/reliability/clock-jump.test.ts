/**
 * A wall-clock jump under live calls (#18, faults: "clock jump"), without root: the whole box
 * from its run command with libfaketime preloaded into every process (LD_PRELOAD; the monotonic
 * clock left real with DONT_FAKE_MONOTONIC=1, as an NTP step or an administrator setting the
 * time leaves it), its offset read from a file the test rewrites (at most a second late).
 * Two terminals talk in a meeting (RTP timeout 30 s) and a third is registered (600 s):
 * - the clock jumps 2 hours forward while one terminal is silent for 15 s (as with silence
 *   suppression): nobody is hung up, the registration stays, both go on hearing each other;
 * - it jumps 4 hours back (2 hours behind the real time): the same;
 * - the RTP timeout still works afterwards (a terminal whose RTP stops is hung up, saying why),
 *   a BYE ends the other with 200, and both call records are complete, with their real
 *   durations (measured on the monotonic clock, not the wall clock's difference).
 * Console sessions are wall-clock (docs/operations.md): after the forward jump the test logs in
 * again.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { DialogTerminal } from '../helpers/dialog-terminal.ts';
import { pcmaMedia, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { runSipp } from '../helpers/sipp.ts';
import { hearEachOther, talking } from '../helpers/talking-terminals.ts';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
if (existsSync(FAKETIME)) await run();
else t.plan(0, `libfaketime is not installed (${FAKETIME}; Debian package libfaketime, which scripts/setup.sh test installs)`);

async function run(): Promise<void> {
  const offsetFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-faketime-')), 'offset');
  writeFileSync(offsetFile, '+0\n');
  const box = await startAppliance({
    env: { LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_CACHE_DURATION: '1', DONT_FAKE_MONOTONIC: '1' },
  });
  t.teardown(() => box.interrupt(20_000));
  const password = readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
  const admin = new ConsoleClient(box.baseUrl);
  await admin.login('admin', password);
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
  type Json = any;
  /** A console call; logs in again when the session ended (a forward jump past the idle timeout ends it). */
  async function api(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }> {
    let answer = await admin.call(method, url, body);
    if (answer.status === 401) {
      await admin.login('admin', password);
      answer = await admin.call(method, url, body);
    }
    return answer;
  }
  const set = await api('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0, 'call.rtpTimeoutSeconds': 30 });
  if (set.status !== 200) throw new Error(`settings: ${set.status} ${JSON.stringify(set.body)}`);
  const ROOM = '880161';
  if ((await api('POST', '/api/v1/vmrs', { name: 'Clock room', number: ROOM, guestPin: '', hostPin: '1616' })).status !== 201) throw new Error('VMR');
  if ((await api('POST', '/api/v1/accounts', { number: '3101', name: 'Registered Room', password: 'secret-3101' })).status !== 201) throw new Error('account');

  const participants = async (): Promise<string[]> => ((await api('GET', '/api/v1/live-meetings')).body as Json[]).find((m) => m.number === ROOM)?.participants.map((p: Json) => p.displayName).sort() ?? [];
  const online = async (): Promise<string[]> => ((await api('GET', '/api/v1/online-users')).body as Json[]).map((row) => row.account);
  /** The box's wall clock as its console says it (the HTTP Date header), minus the real time: the offset in hours. */
  async function boxOffsetHours(): Promise<number> {
    const response = await fetch(`${box.baseUrl}/api/v1/health`);
    return Math.round((Date.parse(response.headers.get('date') ?? '') - Date.now()) / 3_600_000);
  }
  /** Moves the box's wall clock to `hours` from the real time; resolves once the console's clock shows it. */
  async function jumpTo(hours: number): Promise<void> {
    writeFileSync(offsetFile, `${hours >= 0 ? '+' : ''}${hours}h\n`);
    await waitFor(`the box's clock at ${hours} h`, 15_000, async () => (await boxOffsetHours()) === hours);
  }

  t.test('calls and registrations go on across wall-clock jumps forward and back', async (t) => {
    const registered = await runSipp({
      scenario: 'register.xml',
      target: `127.0.0.1:${box.sipPort}`,
      transport: 'u1',
      auth: ['3101', 'secret-3101'],
      keys: { account: '3101', contact_port: String(await freePort()), expires: '600', device: 'room' },
    });
    t.ok(registered.ok, `3101 registered for 600 s ${registered.errors}`);
    t.same(await online(), ['3101'], 'online');

    const { a, b } = await openTerminals(t, 'a', 'b');
    const ta = await DialogTerminal.open('AnnT');
    const tb = await DialogTerminal.open('BobT');
    t.teardown(() => {
      a.stop();
      b.stop();
      ta.close();
      tb.close();
    });
    await ta.join(box.sipPort, ROOM, pcmuMedia(a.port));
    await tb.join(box.sipPort, ROOM, pcmaMedia(b.port));
    let bobSilent = false;
    const [toneA, toneB] = await Promise.all([g711Tone('mulaw', 440, 200), g711Tone('alaw', 1000, 200)]);
    const sendingA = a.send(0, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160, to: () => ta.answeredPort });
    void b.send(0, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160, to: () => tb.answeredPort, lose: () => bobSilent });
    await waitFor('both in the meeting', 10_000, async () => (await participants()).length === 2);
    const call = { a, b, ta, tb };
    let heard = await hearEachOther(call);
    for (let attempt = 1; attempt < 3 && !talking(heard); attempt++) heard = await hearEachOther(call);
    t.ok(talking(heard), `they hear each other (${JSON.stringify(heard)})`);

    // Forward 2 h while Bob is silent for 15 s: the media process checks for RTP every 5 s, so it
    // has seen his last packets before the jump (6 s into the silence) and looks again after it
    // while nothing came — 15 s of silence, not 2 hours.
    bobSilent = true;
    const silence = new Promise((resolve) => setTimeout(resolve, 15_000));
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await jumpTo(2);
    await silence;
    bobSilent = false;
    t.pass('the box’s wall clock is 2 hours ahead');
    await new Promise((resolve) => setTimeout(resolve, 6000));
    t.same(await participants(), ['AnnT', 'BobT'], 'nobody was hung up: a silence of 15 s is not 2 hours without RTP');
    t.same([...ta.requests, ...tb.requests].filter((r) => r.startsWith('BYE')), [], 'no BYE reached either terminal');
    t.same(await online(), ['3101'], 'the registration of 600 s is still live 2 hours later by the wall clock');
    heard = await hearEachOther(call);
    t.ok(talking(heard), `they go on hearing each other (${JSON.stringify(heard)})`);

    // Back 4 h: 2 h behind the real time.
    await jumpTo(-2);
    t.pass('the box’s wall clock is 2 hours behind');
    await new Promise((resolve) => setTimeout(resolve, 8000));
    t.same(await participants(), ['AnnT', 'BobT'], 'nobody was hung up');
    t.same(await online(), ['3101'], 'the registration is still live');
    heard = await hearEachOther(call);
    t.ok(talking(heard), `they go on hearing each other (${JSON.stringify(heard)})`);

    // Timers still work: Ann's RTP stops (her terminal vanished) — hung up after the 30 s timeout.
    a.stop();
    await sendingA;
    const bye = await ta.byeFromBox(90_000);
    t.match(bye, /^Reason: SIP;cause=200;text="no media received \(RTP timeout\)"/m, 'the RTP timeout still ends a silent call after the jumps');
    t.equal((await tb.inDialog('BYE')).status, 200, "Bob's BYE is answered 200");
    const records = await waitFor('both records to end', 15_000, async () => {
      const items = ((await api('GET', '/api/v1/call-records?period=all&pageSize=500')).body.items as Json[]).filter((r) => r.caller === 'annt' || r.caller === 'bobt');
      return items.length === 2 && items.every((r) => r.ended_at) ? items : undefined;
    });
    t.same(records.map((r) => r.end_reason).sort(), ['hangup', 'no media received (RTP timeout)'], 'each record says why it ended');
    // About two minutes of real time passed: not 2 hours more, nor 4 hours less.
    t.ok(records.every((r) => r.duration_s > 30 && r.duration_s < 600), `their durations are the real ones (${records.map((r) => r.duration_s).join(', ')} s)`);
  });
}
