/**
 * The short soak (#18): the whole box from its run command under five minutes of churn
 * (test/helpers/soak.ts — terminals re-registering, callers joining a VMR and hanging up,
 * browsers joining and leaving over the join socket, a console user working), every process
 * sampled every 10 s. Then: no process restarted, nothing refused or lost on the way, no error
 * in the logs, every call record complete, and no leak the run can see — open descriptors back
 * to where they were after the warm-up, resident memory and the WAL bounded. The hour-long
 * run with the slopes is the benchmark scripts/bench/soak.ts. `VCBOX_SOAK_SECONDS` shortens or
 * lengthens it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { pidsOf, runSoak, trends } from '../helpers/soak.ts';

const SECONDS = Number(process.env.VCBOX_SOAK_SECONDS ?? 300);
const WARMUP_SECONDS = Math.min(60, Math.round(SECONDS / 5));
const ROOM = '880277';

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
type Json = any;

// The file outlives the suite's 300 s per-file limit: tell the runner (start-up and checks ~1 min).
t.setTimeout((SECONDS + 240) * 1000);

t.test(`${SECONDS} s of churn: nothing lost, nothing restarted, no leak`, { timeout: (SECONDS + 240) * 1000 }, async (t) => {
  const box = await startAppliance();
  t.teardown(() => box.interrupt(10_000));
  const admin = new ConsoleClient(box.baseUrl);
  await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
  const set = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0 });
  t.equal(set.status, 200, 'settings');
  t.equal((await admin.call('POST', '/api/v1/vmrs', { name: 'Soak room', number: ROOM, guestPin: '', hostPin: '2727' })).status, 201, 'the VMR');
  const token = (await admin.call('POST', '/api/v1/settings/metrics-token')).body.token as string;
  const names = ['control-plane', 'signaling', 'media', 'turn'];
  const pidsBefore = Object.fromEntries(names.map((name) => [name, pidsOf(box, name)]));

  const result = await runSoak(box, admin, token, {
    seconds: SECONDS,
    room: ROOM,
    onSample: (s) => t.comment(`${s.atSeconds} s: ${Object.entries(s.processes).map(([n, p]) => `${n} ${p.rssMiB} MiB ${p.fds} fds`).join(', ')}; WAL ${s.walMiB} MiB; loop p99 ${JSON.stringify(s.loopDelayP99Ms)}`),
  });
  const figures = trends(result.samples, WARMUP_SECONDS);
  if (process.env.VCBOX_TEST_ARTIFACTS) {
    mkdirSync(process.env.VCBOX_TEST_ARTIFACTS, { recursive: true });
    writeFileSync(path.join(process.env.VCBOX_TEST_ARTIFACTS, 'soak.json'), JSON.stringify({ seconds: SECONDS, counts: result.counts, trends: figures, samples: result.samples }, null, 1));
  }
  t.comment(`counts ${JSON.stringify(result.counts)}`);
  t.comment(`trends after ${WARMUP_SECONDS} s ${JSON.stringify(figures)}`);

  t.same(result.failures, [], 'nothing refused or lost on the way');
  t.ok(result.counts.registrations > 0 && result.counts.calls > 0 && result.counts.browserJoins > 0 && result.counts.consoleRequests > 0, 'every kind of churn ran');
  t.same(Object.fromEntries(names.map((name) => [name, pidsOf(box, name)])), pidsBefore, 'no process was restarted');
  t.ok(result.samples.every((s) => ['control-plane', 'signaling', 'media'].every((name) => typeof s.loopDelayP99Ms[name] === 'number')), 'every sample has each Node process\'s event-loop delay');

  // The last callers and browsers have left: the meeting ends, every record is complete.
  await waitFor('the meeting to end', 30_000, async () => !((await admin.call('GET', '/api/v1/live-meetings')).body as Json[]).some((m) => m.number === ROOM) || undefined);
  const records = (await admin.call('GET', '/api/v1/call-records?period=all&pageSize=500')).body.items as Json[];
  t.ok(records.length >= result.counts.calls, `a call record for every call (${records.length} records, ${result.counts.calls} calls)`);
  const open = records.filter((r) => !r.ended_at || r.end_reason === null);
  t.same(open, [], 'every call record has its end and the reason');

  const errors = box
    .output()
    .split('\n')
    .filter((line) => /"level":(50|60)/.test(line));
  t.same(errors.slice(0, 5), [], 'no error in the logs');

  for (const name of ['control-plane', 'signaling', 'media']) {
    const trend = figures[name];
    t.ok(trend, `${name} was sampled`);
    if (!trend) continue;
    t.ok(trend.fdsLast <= trend.fdsFirst + 16, `${name}: open descriptors back where they were (${trend.fdsFirst} after the warm-up, ${trend.fdsLast} at the end)`);
    t.ok(trend.rssLast <= trend.rssFirst * 1.5 + 64, `${name}: resident memory bounded (${trend.rssFirst} MiB after the warm-up, ${trend.rssLast} MiB at the end; ${trend.rssMiBPerHour} MiB/h)`);
  }
  const walMax = Math.max(...result.samples.map((s) => s.walMiB));
  t.ok(walMax < 64, `the WAL stays bounded (at most ${walMax} MiB)`);
});
