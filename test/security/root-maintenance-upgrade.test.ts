/**
 * Security finding 3, "root via the maintenance job", the upgrade's side: the real root job
 * (server/maintenance/main.ts, as root) runs upgrades over a temporary box
 * (test/helpers/maintenance-job.ts) whose vcbox-owned folders were prepared by a hostile vcbox
 * user, or whose package was made to escape its folder:
 *
 *  - the database file replaced by a link to a root-only file elsewhere: the job refuses to copy
 *    it (before, its content ended up in the vcbox user's data folder after the roll-back);
 *  - the releases folder replaced by a link to a folder elsewhere: nothing is unpacked there;
 *  - the database copy's folder pre-created as a link to a folder elsewhere: not used;
 *  - a validly signed package with a `../` entry, or a symbolic-link entry: refused, nothing
 *    written outside the release's own staging folder.
 *
 * After each: nothing outside the box's folders changed, the running release is still
 * `current`, no new release or staging folder is left, and the status says why, in words.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { BLOCK, encodeHeader } from '../../server/backup/tar-format.ts';
import { buildRelease, type Entry, readEntries, resign, TEST_RELEASE_PUBLIC_KEY, writeEntries } from '../helpers/release-package.ts';
import { type MaintenanceBox, maintenanceBox, RUNNING_RELEASE, requestOf } from '../helpers/maintenance-job.ts';

const dist = maintenanceBox();
const built = await buildRelease({ version: '99.0.0', out: path.join(dist.work, 'dist') });
const good = readFileSync(built.package);
const ID = 'mabc1234-0123abcd';

/** Puts `archive` where the control plane would and the request for it; runs the job; returns the status it wrote. */
// biome-ignore lint/suspicious/noExplicitAny: the status file's JSON as written
async function upgrade(box: MaintenanceBox, archive: Buffer): Promise<{ code: number; stderr: string; status: any }> {
  writeFileSync(path.join(box.maintenanceDir, `package-${ID}.tar.gz`), archive);
  writeFileSync(path.join(box.maintenanceDir, 'request.json'), JSON.stringify(requestOf(box, { id: ID })));
  const { code, stderr } = await box.runJob();
  const statusFile = path.join(box.maintenanceDir, 'upgrade-status.json');
  return { code, stderr, status: existsSync(statusFile) ? JSON.parse(readFileSync(statusFile, 'utf8')) : undefined };
}

function assertInstallRootAsBefore(t: Test, box: MaintenanceBox): void {
  t.equal(readlinkSync(path.join(box.installRoot, 'current')), path.join('releases', RUNNING_RELEASE), 'the running release is still current');
  t.same(readdirSync(path.join(box.installRoot, 'releases')), [RUNNING_RELEASE], 'no new release and no staging folder left');
}

t.test('the database file as a link to a root-only file elsewhere is not copied', async (t) => {
  const box = maintenanceBox({ restarts: 5, releaseTestKeyFile: TEST_RELEASE_PUBLIC_KEY });
  const secret = path.join(box.outside, 'sentinel');
  renameSync(path.join(box.dataDir, 'vcbox.sqlite'), path.join(box.dataDir, 'vcbox.sqlite.moved'));
  symlinkSync(secret, path.join(box.dataDir, 'vcbox.sqlite'));
  const before = box.outsideState();
  const { status } = await upgrade(box, good);
  t.equal(status?.state, 'failed', 'the upgrade failed');
  t.equal(status?.outcome?.code, 'VCBOX_ERR_MAINTENANCE_UNSAFE');
  t.match(status?.outcome?.params?.reason, /vcbox\.sqlite is a symbolic link; refusing to follow it/, 'saying why');
  t.ok(lstatSync(path.join(box.dataDir, 'vcbox.sqlite')).isSymbolicLink(), 'the link is left as it was');
  const copies = readdirSync(box.maintenanceDir).filter((name) => name.startsWith('database-'));
  for (const copy of copies) t.same(readdirSync(path.join(box.maintenanceDir, copy)), [], `${copy} holds no copy of the file`);
  t.same(box.outsideState(), before, 'nothing outside changed');
  assertInstallRootAsBefore(t, box);
  t.equal(box.systemctlCalls().at(-1), 'start vcbox.target', 'the services were started again');
});

t.test('the releases folder as a link to a folder elsewhere: nothing is unpacked there', async (t) => {
  const box = maintenanceBox({ releaseTestKeyFile: TEST_RELEASE_PUBLIC_KEY });
  const elsewhere = path.join(box.outside, 'dir', 'releases');
  renameSync(path.join(box.installRoot, 'releases'), elsewhere);
  symlinkSync(elsewhere, path.join(box.installRoot, 'releases'));
  const before = box.outsideState();
  const { status } = await upgrade(box, good);
  t.equal(status?.outcome?.code, 'VCBOX_ERR_MAINTENANCE_UNSAFE', 'refused');
  t.match(status?.outcome?.params?.reason, /releases is a symbolic link, not a folder of the install root/, 'saying why');
  t.same(box.outsideState(), before, 'nothing unpacked, written or removed elsewhere');
  t.same(box.systemctlCalls(), [], 'no service was stopped');
});

t.test('the database copy folder pre-created as a link to a folder elsewhere is not used', async (t) => {
  const box = maintenanceBox({ restarts: 5, releaseTestKeyFile: TEST_RELEASE_PUBLIC_KEY });
  symlinkSync(path.join(box.outside, 'dir'), path.join(box.maintenanceDir, `database-${ID}`));
  const before = box.outsideState();
  const { status } = await upgrade(box, good);
  t.equal(status?.state, 'failed');
  t.match(status?.outcome?.params?.reason, new RegExp(`database-${ID} exists already \\(something put it there\\); refusing to use it`), 'refused in words');
  t.same(box.outsideState(), before, 'nothing written into the folder the link points to');
  t.equal(readFileSync(path.join(box.dataDir, 'vcbox.sqlite'), 'utf8'), 'the box database\n', 'the database is as it was');
  assertInstallRootAsBefore(t, box);
});

/** A tar header for a symbolic link entry (type 2) named `name`, pointing to `target`. */
function symlinkHeader(name: string, target: string): Buffer {
  const block = encodeHeader(name, 0, new Date(), 0o777);
  block.write('2', 156, 1, 'ascii');
  block.write(target, 157, 100, 'utf8');
  block.write('        ', 148, 8, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

t.test('validly signed packages with entries that leave the release are refused', async (t) => {
  const entries = readEntries(good);
  const escaping = 'server/../../../../../outside/escaped';
  const withDotDot = resign(entries, (manifest, files) => {
    files.set(escaping, Buffer.from('written by the package\n'));
    manifest.files = [...manifest.files, { path: escaping, size: 0, sha256: '', executable: true }];
  });
  // A symbolic-link entry listed as an (empty) file, then a file written through it.
  const linkEntries: Entry[] = readEntries(resign(entries, (manifest, files) => {
    files.set('server/link', Buffer.alloc(0));
    files.set('server/link/escaped', Buffer.from('written through the link\n'));
    manifest.files = [...manifest.files, { path: 'server/link', size: 0, sha256: '', executable: false }, { path: 'server/link/escaped', size: 0, sha256: '', executable: false }];
  }));
  const plain = writeEntries(linkEntries);
  // Swap the regular header of app/server/link for a symlink header to the outside folder.
  const tar = gunzipSync(plain);
  for (let at = 0; at + BLOCK <= tar.length; at += BLOCK) {
    if (tar.toString('utf8', at, at + 15) === 'app/server/link' && tar[at + 15] === 0) {
      symlinkHeader('app/server/link', '../../../../../outside/dir').copy(tar, at);
      break;
    }
  }
  const withSymlink = gzipSync(tar, { level: 1 });

  for (const [what, archive, reason] of [
    ['a `../` entry', withDotDot, /names a file a release may not hold/],
    ['a symbolic-link entry', withSymlink, /entry type "2" \(only regular files are allowed\)/],
  ] as const) {
    const box = maintenanceBox({ releaseTestKeyFile: TEST_RELEASE_PUBLIC_KEY });
    const before = box.outsideState();
    const { status } = await upgrade(box, archive);
    t.equal(status?.state, 'rolled-back', `${what}: refused`);
    t.equal(status?.outcome?.code, 'VCBOX_ERR_UPGRADE_INVALID', what);
    t.match(status?.outcome?.params?.reason, reason, `${what}: saying why`);
    t.same(box.outsideState(), before, `${what}: nothing outside changed`);
    t.same(readdirSync(box.installRoot).sort(), ['current', 'releases'], `${what}: nothing written beside the releases either`);
    t.notOk(existsSync(path.join(box.work, 'outside', 'escaped')), `${what}: no escaped file`);
    t.same(readdirSync(path.join(box.installRoot, 'releases')), [RUNNING_RELEASE], `${what}: no staging folder left`);
    t.same(box.systemctlCalls(), [], `${what}: no service was stopped`);
  }
});
