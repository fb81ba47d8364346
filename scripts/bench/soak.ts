/**
 * Soak benchmark (#18): the whole box from its run command under churn for an hour (by
 * default) — terminals re-registering, callers joining a VMR and hanging up, browsers joining
 * and leaving over the join socket, a console user working (test/helpers/soak.ts, the same
 * churn as the five-minute test/reliability/soak.test.ts). Every 10 s it prints each
 * process's resident memory and open descriptors, the WAL's size and each Node process's
 * event-loop delay p99; at the end, per process, the slope of memory and descriptors after the
 * warm-up (a leak shows as a steady positive slope), what was refused or lost, and whether
 * every call record is complete. Last line: JSON.
 *
 * Usage: node scripts/bench/soak.ts [--seconds 3600] [--terminals 40] [--callers 3] [--browsers 2]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startAppliance } from '../../test/helpers/appliance.ts';
import { ConsoleClient } from '../../test/helpers/console-client.ts';
import { pidsOf, runSoak, trends } from '../../test/helpers/soak.ts';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const SECONDS = Number(option('--seconds', '3600'));
const ROOM = '880277';

const box = await startAppliance();
try {
  const admin = new ConsoleClient(box.baseUrl);
  await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
  await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0 });
  await admin.call('POST', '/api/v1/vmrs', { name: 'Soak room', number: ROOM, guestPin: '', hostPin: '2727' });
  const token = (await admin.call('POST', '/api/v1/settings/metrics-token')).body.token as string;
  const names = ['control-plane', 'signaling', 'media', 'turn'];
  const pidsBefore = JSON.stringify(names.map((name) => pidsOf(box, name)));
  console.log(`soak: ${SECONDS} s of churn against the box on 127.0.0.1:${box.sipPort} (SIP) and ${box.baseUrl}`);
  const result = await runSoak(box, admin, token, {
    seconds: SECONDS,
    room: ROOM,
    terminals: Number(option('--terminals', '40')),
    callers: Number(option('--callers', '3')),
    browsers: Number(option('--browsers', '2')),
    onSample: (s) =>
      console.log(`${String(s.atSeconds).padStart(5)} s  ${Object.entries(s.processes).map(([n, p]) => `${n} ${p.rssMiB} MiB/${p.fds} fd`).join('  ')}  WAL ${s.walMiB} MiB  loop p99 ${Object.entries(s.loopDelayP99Ms).map(([n, v]) => `${n} ${v} ms`).join(', ')}`),
  });
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const records = (await admin.call('GET', '/api/v1/call-records?period=all&pageSize=500')).body.items as { ended_at: string | null; end_reason: string | null }[];
  const warmup = Math.min(300, Math.round(SECONDS / 5));
  const figures = trends(result.samples, warmup);
  const loopP99Max = Object.fromEntries(['control-plane', 'signaling', 'media'].map((n) => [n, Math.max(...result.samples.map((s) => s.loopDelayP99Ms[n] ?? 0))]));
  const errors = box.output().split('\n').filter((line) => /"level":(50|60)/.test(line)).length;
  for (const failure of result.failures) console.log(`refused or lost: ${failure}`);
  for (const [name, trend] of Object.entries(figures)) console.log(`${name}: memory ${trend.rssFirst} → ${trend.rssLast} MiB (${trend.rssMiBPerHour} MiB/h), descriptors ${trend.fdsFirst} → ${trend.fdsLast} (${trend.fdsPerHour}/h)`);
  console.log(
    JSON.stringify({
      seconds: SECONDS,
      warmupSeconds: warmup,
      counts: result.counts,
      failures: result.failures.length,
      restarted: JSON.stringify(names.map((name) => pidsOf(box, name))) !== pidsBefore,
      errorLogLines: errors,
      openCallRecords: records.filter((r) => !r.ended_at || r.end_reason === null).length,
      walMaxMiB: Math.max(...result.samples.map((s) => s.walMiB)),
      loopDelayP99MaxMs: loopP99Max,
      trends: figures,
    }),
  );
} finally {
  await box.interrupt(10_000);
}
