/**
 * Security finding 3, "root via the maintenance job": the request file and the folders the root
 * job reads and writes belong to the vcbox user, who is assumed hostile here. The real job
 * (server/maintenance/main.ts) runs as root over a temporary box (test/helpers/maintenance-job.ts)
 * with requests and folders a compromised vcbox user could plant:
 *
 *  - job ids that leave their folder (`../`, absolute, NUL, very long): refused in words, the
 *    request removed, nothing outside the box's folders touched;
 *  - request.json as a link to a file elsewhere: refused, the file elsewhere not read as a job
 *    and not removed; as a hard link to a file elsewhere, or a FIFO (which would hold the job
 *    forever): refused;
 *  - the maintenance folder replaced by a link to a folder elsewhere: nothing written there;
 *  - the job's log file replaced by a link to a file elsewhere: the job logs to the journal
 *    (stdout) only and never appends to it.
 *
 * And a valid restart request is still done (systemctl stop, start).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { maintenanceBox, requestOf } from '../helpers/maintenance-job.ts';

const localDate = (at: Date) => `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;

t.test('job ids that leave their folder are refused, and nothing outside is touched', async (t) => {
  const hostile: [string, string][] = [
    ['../ to a folder outside', 'x/../../../../outside/dir'],
    ['an absolute path', '/etc/vcbox-owned'],
    ['a NUL byte', 'mabc1234-0123abcd\u0000/../../outside'],
    ['a very long id', `mabc1234-${'a'.repeat(5000)}`],
    ['dots only', '..'],
  ];
  for (const [what, id] of hostile) {
    const box = maintenanceBox();
    const before = box.outsideState();
    writeFileSync(path.join(box.maintenanceDir, 'request.json'), JSON.stringify(requestOf(box, { id })));
    const { code, stderr, stdout } = await box.runJob();
    t.not(code, 0, `${what}: the job says it failed`);
    t.match(stderr, /was refused and removed, nothing was done: its id ".*" is not a job id/, `${what}: refused in words`);
    t.match(stdout, /VCBOX_ERR_MAINTENANCE_REFUSED/, `${what}: the refusal is in the journal (stdout)`);
    t.same(box.outsideState(), before, `${what}: nothing outside changed`);
    t.notOk(existsSync(path.join(box.maintenanceDir, 'request.json')), `${what}: the request is removed (the path unit does not fire again)`);
    t.notOk(existsSync(path.join(box.maintenanceDir, 'upgrade-status.json')), `${what}: no status was written for it`);
    t.same(box.systemctlCalls(), [], `${what}: no service was stopped`);
  }
});

t.test('other hostile fields are refused as a whole', async (t) => {
  const box = maintenanceBox();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a package elsewhere', { package: path.join(box.outside, 'sentinel') }, /its package .* is not the job's package file/],
    ['a health URL off the box', { health: 'http://192.0.2.1:80/api/v1/health' }, /its health URL .* is not the control plane's on loopback/],
    ['an unknown kind', { kind: 'shell' }, /its kind "shell" is none of upgrade, restart, reboot/],
    ['extra fields', { command: 'rm -rf /' }, /it has fields a request does not have \("command"\)/],
  ];
  for (const [what, fields, reason] of cases) {
    const before = box.outsideState();
    writeFileSync(path.join(box.maintenanceDir, 'request.json'), JSON.stringify(requestOf(box, fields)));
    const { code, stderr } = await box.runJob();
    t.not(code, 0, what);
    t.match(stderr, reason, `${what}: refused, saying which field`);
    t.same(box.outsideState(), before, `${what}: nothing outside changed`);
    t.same(box.systemctlCalls(), [], `${what}: nothing was stopped`);
  }
  writeFileSync(path.join(box.maintenanceDir, 'request.json'), 'x'.repeat(200 * 1024));
  const { stderr } = await box.runJob();
  t.match(stderr, /holds 204800 bytes, more than the 65536 expected/, 'a request file too large to be one is refused unread');
});

t.test('request.json as a link to a file elsewhere is refused, and that file stays', async (t) => {
  const box = maintenanceBox();
  // A valid restart request, but in a file outside: a link to it makes root read (and remove) it.
  const elsewhere = path.join(box.outside, 'planted.json');
  writeFileSync(elsewhere, JSON.stringify(requestOf(box, { kind: 'restart', package: undefined })));
  const before = box.outsideState();
  symlinkSync(elsewhere, path.join(box.maintenanceDir, 'request.json'));
  const { code, stderr } = await box.runJob();
  t.not(code, 0);
  t.match(stderr, /request\.json is a symbolic link; refusing to follow it/, 'refused in words');
  t.same(box.systemctlCalls(), [], 'the job it points to was not done');
  t.same(box.outsideState(), before, 'the file it pointed to is still there, unchanged');
  t.notOk(existsSync(path.join(box.maintenanceDir, 'request.json')), 'the link itself is removed');
});

t.test('request.json as a hard link to a file elsewhere, or as a FIFO, is refused', async (t) => {
  const box = maintenanceBox();
  const elsewhere = path.join(box.outside, 'planted.json');
  writeFileSync(elsewhere, JSON.stringify(requestOf(box, { kind: 'restart', package: undefined })));
  linkSync(elsewhere, path.join(box.maintenanceDir, 'request.json'));
  let { code, stderr } = await box.runJob();
  t.not(code, 0);
  t.match(stderr, /request\.json has 2 hard links \(a link to a file elsewhere\?\); refusing it/, 'a hard link: refused in words');
  t.same(box.systemctlCalls(), [], 'the job it names was not done');
  t.equal(readFileSync(elsewhere, 'utf8').length > 0, true, 'the file elsewhere is still there');
  execFileSync('mkfifo', [path.join(box.maintenanceDir, 'request.json')]);
  ({ code, stderr } = await box.runJob());
  t.not(code, 0);
  t.match(stderr, /request\.json is not a regular file/, 'a FIFO: refused at once, not waited on');
  t.notOk(existsSync(path.join(box.maintenanceDir, 'request.json')), 'and removed');
});

t.test('the maintenance folder replaced by a link to a folder elsewhere: nothing is written there', async (t) => {
  const box = maintenanceBox();
  // The vcbox user owns the data folder: it can move its maintenance folder away and put a link there.
  const target = path.join(box.outside, 'dir');
  writeFileSync(path.join(box.maintenanceDir, 'request.json'), JSON.stringify(requestOf(box, { kind: 'restart', package: undefined })));
  renameSync(box.maintenanceDir, path.join(box.dataDir, 'maintenance.moved'));
  renameSync(path.join(box.dataDir, 'maintenance.moved', 'request.json'), path.join(target, 'request.json'));
  symlinkSync(target, box.maintenanceDir);
  const before = box.outsideState();
  const { code, stderr } = await box.runJob();
  t.not(code, 0);
  t.match(stderr, /maintenance is not a folder \(it is a link or a file\); refusing to work in it/, 'refused in words');
  t.same(box.outsideState(), before, 'nothing written, removed or changed in the folder the link points to');
  t.same(box.systemctlCalls(), []);
});

t.test('the job logs to the journal, never through a log file replaced by a link', async (t) => {
  const box = maintenanceBox();
  const victim = path.join(box.outside, 'sentinel');
  // Today's (and, should the date change meanwhile, tomorrow's) file of the job as the old job named it.
  for (const day of [new Date(), new Date(Date.now() + 86_400_000)]) {
    symlinkSync(victim, path.join(box.logDir, 'web', `${localDate(day)}.maintenance.log`));
  }
  writeFileSync(path.join(box.maintenanceDir, 'request.json'), JSON.stringify(requestOf(box, { kind: 'restart', package: undefined })));
  const before = box.outsideState();
  const { code, stdout, stderr } = await box.runJob();
  t.equal(code, 0, `a valid restart is done (${stderr.trim()})`);
  t.same(box.systemctlCalls(), ['stop vcbox.target vcbox-control.service vcbox-signaling.service vcbox-media.service vcbox-turn.service', 'start vcbox.target'], 'the services were stopped and started');
  t.same(box.outsideState(), before, 'the file the log link points to is unchanged');
  t.equal(readFileSync(victim, 'utf8'), 'root-owned file outside the box folders\n');
  t.match(stdout, /"msg":"maintenance job taken"/, 'the job logged to stdout (the journal under systemd)');
});
