/**
 * The media process is sent its settings by the control plane, on the real appliance
 * (scripts/run.sh: the supervisor and its four processes): it opens no database (no file of
 * it among the media process's open files), yet a terminal's call is answered from the MCU port
 * range stored before the box started. Then the control plane is frozen (SIGSTOP: it can
 * neither notice nor send anything), another MCU port range is written to the database, and
 * the control plane is killed; the supervisor starts it again while the media process runs on
 * (same pid), and the next call is answered from the new range — the restarted control plane
 * sent the current settings when it connected. Last, remote syslog turned on in the console
 * reaches the media process the same way: a real rsyslogd receives the media process's
 * warning when the mediasoup workers under a live call are killed.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startRsyslog } from '../helpers/rsyslog.ts';

// Above Linux's ephemeral ports (32768-60999), apart from the IVR and TURN ranges.
const FIRST = { min: 61000, max: 61999 };
const SECOND = { min: 62000, max: 62999 };

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-media-restart-'));
const storeSettings = (settings: Parameters<ReturnType<typeof openState>['settings']['update']>[0]) => {
  const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
  try {
    state.settings.update(settings, { actor: 'test' });
  } finally {
    state.db.close();
  }
};
{
  const seeded = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
  seeded.settings.update({ 'media.mcuPorts': FIRST }, { actor: 'test' });
  new VmrStore(seeded.db).create({ name: 'Restart room', number: '880041', hostPin: '4141', guestPin: '', capacity: 10 });
  seeded.db.close();
}
const box = await startAppliance({ dataDir });
t.teardown(() => box.interrupt(10_000));

/** The pid of the box's process running `script` (see pidsOf), if any. */
function pidOf(script: string): number | undefined {
  return pidsOf(script)[0];
}

/**
 * The pids of the box's processes running `script`: in the process group of the run command or
 * of one of its supervisor's children (each runs in a group of its own, with what it starts).
 */
function pidsOf(script: string): number[] {
  const groups = new Set([box.process.pid, ...[...box.output().matchAll(/"pid":(\d+),"msg":"process started"/g)].map((m) => Number(m[1]))]);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (!groups.has(group)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (command.some((arg) => arg.endsWith(script)) && !stat.includes(') Z ')) pids.push(Number(entry));
    } catch {
      // A process that ended while we looked.
    }
  }
  return pids;
}

/** The files a process has open (their paths). */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

/** One call into the meeting: the audio port the box answered (the call then ends by itself). */
async function answeredPort(t: Test, name: string): Promise<number> {
  const terminals = await openTerminals(t, 'audio');
  const leg = await joinMeeting(`127.0.0.1:${box.sipPort}`, { dial: '880041', name, media: pcmuMedia(terminals.audio.port), hold: 1000 });
  const result = await leg.result;
  t.ok(result.ok, `${name}: the call ends normally ${result.errors}`);
  return leg.answeredPort;
}

t.test('the media process follows the settings the control plane sends, again after the control plane restarts', async (t) => {
  const mediaPid = await waitFor('the media process', 20_000, () => pidOf('media/main.ts'));
  const controlPid = await waitFor('the control plane', 20_000, () => pidOf('control-plane/main.ts'));
  t.same(
    openFiles(mediaPid).filter((file) => file.includes('vcbox.sqlite')),
    [],
    'the media process has no file of the database open',
  );
  const first = await answeredPort(t, 'Before');
  t.ok(first >= FIRST.min && first <= FIRST.max, `answered from the stored MCU range ${FIRST.min}-${FIRST.max} (port ${first})`);

  process.kill(controlPid, 'SIGSTOP');
  storeSettings({ 'media.mcuPorts': SECOND });
  process.kill(controlPid, 'SIGKILL');
  const restarted = await waitFor('the control plane started again', 30_000, () => {
    const pid = pidOf('control-plane/main.ts');
    return pid !== undefined && pid !== controlPid ? pid : undefined;
  });
  t.not(restarted, controlPid, 'the supervisor started a new control plane');
  await waitFor('the console answering again', 30_000, async () => (await fetch(`${box.baseUrl}/api/v1/health`).catch(() => undefined))?.ok || undefined);
  t.equal(pidOf('media/main.ts'), mediaPid, 'the media process ran on through the restart');

  // The restarted control plane sends the settings when it connects; the first call may come
  // before its SIP application is connected to the signaling service again: retried (bounded).
  let second = 0;
  for (let attempt = 0; attempt < 10 && second === 0; attempt++) {
    second = await answeredPort(t, `After ${attempt + 1}`).catch(async (error: Error) => {
      t.comment(`call ${attempt + 1} not answered yet: ${error.message.split('\n')[0]}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return 0;
    });
  }
  t.ok(second >= SECOND.min && second <= SECOND.max, `answered from the MCU range written while the control plane was down, ${SECOND.min}-${SECOND.max} (port ${second})`);
});

t.test('remote syslog turned on in the console: the media process sends its warnings there', async (t) => {
  const certificate = await ensureCertificate(path.join(dataDir, 'collector-certificate'));
  const collector = await startRsyslog({ keyFile: certificate.keyFile, certFile: certificate.certFile });
  t.teardown(() => collector.stop());
  const admin = new ConsoleClient(box.baseUrl);
  t.equal((await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim())).status, 200, 'logged in');
  const { status, body } = await admin.call('PATCH', '/api/v1/settings', { 'syslog.enabled': true, 'syslog.host': '127.0.0.1', 'syslog.port': collector.port, 'syslog.protocol': 'udp' });
  t.equal(status, 200, JSON.stringify(body));
  t.match(body, { live: { media: { state: 'applied' } } }, 'the media process took the settings');

  const terminals = await openTerminals(t, 'audio');
  const leg = await joinMeeting(`127.0.0.1:${box.sipPort}`, { dial: '880041', name: 'Syslog', media: pcmuMedia(terminals.audio.port), hold: 4000, scenario: 'meeting-join-heal.xml' });
  const workers = await waitFor('the mediasoup workers', 10_000, () => {
    const pids = pidsOf('mediasoup-worker');
    return pids.length > 0 ? pids : undefined;
  });
  for (const pid of workers) process.kill(pid, 'SIGKILL');
  const warning = await collector.waitFor((m) => m.msg.includes('meeting media lost with its worker'), 20_000);
  t.equal(warning.msgid, 'mcu', "the media process's log (MSGID mcu)");
  t.match(warning.sd, /process="media"/, 'sent by the media process');
  t.equal(warning.input, 'udp', 'over UDP, as the settings say');
  await leg.result;
});
