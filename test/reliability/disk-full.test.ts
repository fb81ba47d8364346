/**
 * Disk full on the data folder (#18), the whole box from its run command on a data folder that
 * is a small file system of the test's own (a tmpfs, root only; skipped elsewhere). With two
 * terminals talking in a VMR, a file fills the disk to the last byte. Then: a console change
 * (creating an account) is refused with 507 VCBOX_ERR_DISK_FULL saying what is full and what to
 * do, and nothing of it is stored; reads still answer; the call goes on (both still hear each
 * other); the database stays whole (integrity_check). The filler deleted, the same change is
 * taken at once — same processes, no restart — and the call's end is written to its record.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { smallFilesystem } from '../helpers/small-filesystem.ts';
import { hearEachOther, talking, twoTalking } from '../helpers/talking-terminals.ts';

const dataDir = smallFilesystem(t, '128m');
if (!dataDir) {
  t.test('needs a file system of its own', { skip: 'mounting a tmpfs needs root' }, () => {});
} else {
  const box = await startAppliance({ dataDir });
  t.teardown(() => box.interrupt(10_000));
  const admin = new ConsoleClient(box.baseUrl);
  await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
  const set = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0 });
  if (set.status !== 200) throw new Error(`settings: ${set.status} ${JSON.stringify(set.body)}`);
  const vmr = await admin.call('POST', '/api/v1/vmrs', { name: 'Full disk room', number: '880182', guestPin: '', hostPin: '1828' });
  if (vmr.status !== 201) throw new Error(`VMR: ${vmr.status} ${JSON.stringify(vmr.body)}`);
  const filler = path.join(dataDir, 'filler.bin');
  t.teardown(() => rmSync(filler, { force: true }));
  // The processes as started: "no restart" is the same pids at the end.
  const started = () => [...box.output().matchAll(/"msg":"process started"/g)].length;

  /** Writes 1 MiB blocks until the file system says ENOSPC (bounded: the disk is 128 MiB); returns the MiB written. */
  function fillDisk(): number {
    const fd = openSync(filler, 'a');
    const block = Buffer.alloc(1024 * 1024, 7);
    let written = 0;
    try {
      for (let i = 0; i < 256; i++) {
        try {
          writeSync(fd, block);
          written++;
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOSPC') throw error;
          // The last partial block: fill what is left byte-exactly.
          for (let size = 512 * 1024; size >= 1; size = Math.floor(size / 2)) {
            try {
              writeSync(fd, block.subarray(0, size));
            } catch {}
          }
          return written;
        }
      }
      throw new Error('the disk did not fill within 256 MiB');
    } finally {
      closeSync(fd);
    }
  }
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
  const accountNumbers = async () => ((await admin.call('GET', '/api/v1/accounts?pageSize=500')).body.items as any[]).map((a) => a.number);

  t.test('a full data disk: changes refused in words, calls go on, nothing half-written, back without a restart', async (t) => {
    const call = await twoTalking(t, box.sipPort, '880182', 'D');
    const heard = await hearEachOther(call);
    t.ok(talking(heard), `they hear each other (${JSON.stringify(heard)})`);
    const processes = started();

    const mib = fillDisk();
    t.comment(`filled the data disk with ${mib} MiB`);
    const refused = await admin.call('POST', '/api/v1/accounts', { number: '3101', name: 'Full Disk', password: 'secret-3101' });
    t.equal(refused.status, 507, 'creating an account is refused: 507 Insufficient Storage');
    t.equal(refused.body.code, 'VCBOX_ERR_DISK_FULL');
    t.match(refused.body.message, /disk .*is full.*not saved.*Free space/s, `the refusal says what is full and what to do: "${refused.body.message}"`);
    const settings = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 30 });
    t.equal(settings.status, 507, 'a settings change too');
    t.notOk((await accountNumbers()).includes('3101'), 'reads still answer, and the refused account is not stored');

    const full = await hearEachOther(call);
    t.ok(talking(full), `the call goes on while the disk is full (${JSON.stringify(full)})`);
    const db = new Database(path.join(dataDir, 'vcbox.sqlite'), { readonly: true, fileMustExist: true });
    try {
      t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is whole');
    } finally {
      db.close();
    }

    rmSync(filler);
    const created = await waitFor('the account to be taken', 10_000, async () => {
      const answer = await admin.call('POST', '/api/v1/accounts', { number: '3101', name: 'Full Disk', password: 'secret-3101' });
      return answer.status === 507 ? undefined : answer;
    });
    t.equal(created.status, 201, 'with space back the same change is taken');
    t.ok((await accountNumbers()).includes('3101'));
    t.equal(started(), processes, 'without a restart of any process');

    t.equal((await call.ta.inDialog('BYE')).status, 200, 'a terminal hangs up');
    t.equal((await call.tb.inDialog('BYE')).status, 200);
    const records = await waitFor('both call records to end', 10_000, async () => {
      // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
      const items = (await admin.call('GET', '/api/v1/call-records?period=all')).body.items as any[];
      const mine = items.filter((r) => /^(annd|bobd)$/i.test(r.caller));
      return mine.length === 2 && mine.every((r) => r.ended_at) ? mine : undefined;
    });
    t.same(records.map((r) => r.outcome), ['answered', 'answered'], 'their records are complete');
  });
}
