/**
 * Terminal firmware files over the real control plane, as an administrator sees them: a .rom
 * upload per model becomes the model's latest (its version read from the file name, or given),
 * is stored whole (same SHA-256 on disk) and audited; the next upload takes over as latest, an
 * older one can be made the latest again; a file that is not the latest can be replaced and
 * deleted, the latest cannot; refused uploads — not a .rom, empty, no version, a version already
 * there, larger than the upload limit (declared or streamed without a length), beyond the
 * firmware quota (the disk setting, counted here in MiB instead of GB) — say why in words (en and
 * zh) and leave no file and no row behind; operators and requests without the CSRF header may
 * not change firmware; leftovers of an interrupted upload are swept at start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { openState } from '../../server/process/open-state.ts';
import { LocationService } from '../../server/sip-app/registrar/location-service.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const MiB = 1024 * 1024;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-firmware-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_FIRMWARE_MAX_UPLOAD_MB: '1' });
const paths = dataPaths(config);
const state = openState(config);
await new AdminStore(state.db).ensureInitialAdmin(paths.secrets);
const initial = readFileSync(path.join(paths.secrets, 'initial-admin-password'), 'utf8').trim();
// The quota setting is whole GB; counted in MiB here so that filling it takes megabytes, not gigabytes.
const store = new FirmwareStore(state.db, { dir: paths.firmware, settings: state.settings, maxUploadBytes: config.firmware.maxUploadBytes, gigabyte: MiB });
const location = new LocationService();
const rollout = new FirmwareRollout({ db: state.db, store, location, checkSync: async () => ({ error: 'no SIP in this test' }) });
t.teardown(() => {
  rollout.close();
  location.close();
});
const base = await startConsoleApi(t, { state, firmware: { store, rollout } });
const admin = new ConsoleClient(base);
await admin.login('admin', initial);

const MODEL = 'Yealink SIP-VC800';

/** Uploads `data` as a firmware file (the body), as the console does; `chunked`: no Content-Length. */
async function upload(client: ConsoleClient, query: Record<string, string>, data: Buffer, options: { chunked?: boolean; method?: string; path?: string; language?: string } = {}) {
  const url = `${base}${options.path ?? '/api/v1/firmware'}?${new URLSearchParams(query)}`;
  const body = options.chunked
    ? new ReadableStream({
        start(controller) {
          for (let i = 0; i < data.length; i += 64 * 1024) controller.enqueue(data.subarray(i, i + 64 * 1024));
          controller.close();
        },
      })
    : data;
  const response = await fetch(url, {
    method: options.method ?? 'POST',
    headers: { cookie: client.cookie, 'x-csrf-token': client.csrfToken, 'content-type': 'application/octet-stream', ...(options.language ? { 'accept-language': options.language } : {}) },
    body,
    ...(options.chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/** What is in the firmware folder and table: nothing may be left by a refusal. */
const stored = () => ({
  files: readdirSync(paths.firmware).sort(),
  rows: (state.db.prepare('SELECT id FROM firmware ORDER BY id').pluck().all() as number[]).map((id) => `${id}.rom`),
});

t.test('uploads become the latest of their model, stored whole and audited', async (t) => {
  const first = randomBytes(300 * 1024);
  const one = await upload(admin, { model: MODEL, fileName: 'VC800-63.345.0.10.rom' }, first);
  t.equal(one.status, 201, JSON.stringify(one.body));
  t.match(one.body, { model: MODEL, version: '63.345.0.10', fileName: 'VC800-63.345.0.10.rom', size: first.length, sha256: sha256(first), latest: true, uploadedBy: 'admin', missing: false });
  t.equal(sha256(readFileSync(path.join(paths.firmware, `${one.body.id}.rom`))), sha256(first), 'the file on disk is the one uploaded');

  const second = randomBytes(200 * 1024);
  const two = await upload(admin, { model: 'yealink  sip-vc800', fileName: 'firmware.rom', version: '63.345.0.20' }, second, { chunked: true });
  t.equal(two.status, 201, 'a streamed upload without a length is taken too');
  t.match(two.body, { version: '63.345.0.20', latest: true, size: second.length, sha256: sha256(second) });

  const list = await admin.call('GET', '/api/v1/firmware');
  t.same(
    list.body.files.map((f: { fileName: string; latest: boolean }) => [f.fileName, f.latest]),
    [
      ['firmware.rom', true],
      ['VC800-63.345.0.10.rom', false],
    ],
    'the newest upload is the latest (model case and spacing do not matter), listed first',
  );
  t.match(list.body, { usedBytes: first.length + second.length, quotaBytes: 5 * MiB, maxUploadBytes: MiB, provisioningPath: '/provisioning/' });
  const audit = state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'firmware.upload' ORDER BY id").all() as { actor: string; detail: string }[];
  t.same(
    audit.map((a) => [a.actor, JSON.parse(a.detail).version]),
    [
      ['admin', '63.345.0.10'],
      ['admin', '63.345.0.20'],
    ],
    'both uploads in the operation log',
  );

  // Back to the older file as the latest (the manual's "set as latest"), and forward again.
  const back = await admin.call('POST', `/api/v1/firmware/${one.body.id}/latest`);
  t.match(back.body, { id: one.body.id, latest: true });
  t.equal(store.latest(MODEL)?.id, one.body.id, 'the older file is the latest now');
  await admin.call('POST', `/api/v1/firmware/${two.body.id}/latest`);
  t.equal(store.latest(MODEL)?.id, two.body.id);
});

t.test('refused uploads say why and leave nothing behind', async (t) => {
  const before = stored();
  const refusals: [string, Record<string, string>, Buffer, { chunked?: boolean }, number, RegExp, string?][] = [
    ['not a .rom', { model: MODEL, fileName: 'VC800-63.345.0.30.bin' }, randomBytes(1000), {}, 400, /does not end in \.rom.*Upload the terminal vendor's firmware file, a \.rom file/, 'file'],
    ['empty', { model: MODEL, fileName: 'VC800-63.345.0.30.rom' }, Buffer.alloc(0), {}, 400, /the file is empty/, 'file'],
    ['no version', { model: MODEL, fileName: 'latest-build.rom' }, randomBytes(1000), {}, 400, /Say which software version.*cannot be read from the file name latest-build\.rom/, 'version'],
    ['a bad version', { model: MODEL, fileName: 'x.rom', version: '1 2' }, randomBytes(1000), {}, 400, /"1 2" is not a version/, 'version'],
    ['a version already there', { model: MODEL, fileName: 'again-63.345.0.10.rom' }, randomBytes(1000), {}, 409, /Version 63\.345\.0\.10 for Yealink SIP-VC800 is already uploaded \(file VC800-63\.345\.0\.10\.rom\)/, 'version'],
    ['no model', { model: ' ', fileName: 'VC800-63.345.0.30.rom' }, randomBytes(1000), {}, 400, /model.*Yealink SIP-VC800/, 'model'],
    ['too large (declared)', { model: MODEL, fileName: 'VC800-63.345.0.30.rom' }, randomBytes(MiB + 1), {}, 413, /larger than 1\.0 MB, the most one firmware upload may be\. Nothing was stored/, 'file'],
    ['too large (streamed)', { model: MODEL, fileName: 'VC800-63.345.0.30.rom' }, randomBytes(MiB + 100_000), { chunked: true }, 413, /larger than 1\.0 MB/, 'file'],
  ];
  for (const [what, query, data, options, status, message, field] of refusals) {
    const answer = await upload(admin, query, data, options);
    t.equal(answer.status, status, `${what}: ${status}`);
    t.match(answer.body?.message, message, `${what}: in words — ${answer.body?.message}`);
    if (field) t.equal(answer.body?.field, field, `${what}: by its field`);
    t.same(stored(), before, `${what}: no file, no row left`);
  }
  const zh = await upload(admin, { model: MODEL, fileName: 'VC800.zip' }, randomBytes(100), { language: 'zh-CN' });
  t.match(zh.body.message, /不以 \.rom 结尾.*请上传终端厂商提供的 \.rom 格式固件文件/, `in Chinese too: ${zh.body.message}`);
  const refusedAudit = state.db.prepare("SELECT COUNT(*) FROM audit_log WHERE action = 'firmware.upload.refused'").pluck().get() as number;
  t.ok(refusedAudit >= refusals.length, 'refused uploads are in the operation log');
});

t.test('the firmware quota (the disk setting) bounds all files together', async (t) => {
  // A quota is at least its default (5 GB; the disk rules of PATCH /settings): 6 "GB" here.
  const patched = await admin.call('PATCH', '/api/v1/settings', { 'disk.quota.firmwareGB': 6 });
  t.equal(patched.status, 200, JSON.stringify(patched.body));
  t.equal((await admin.call('GET', '/api/v1/firmware')).body.quotaBytes, 6 * MiB, 'the quota follows the setting at once');
  // 500 KB are stored; six files of 900 KB more fit under 6 "GB"; a seventh does not (declared, then streamed).
  for (let n = 0; n < 6; n++) t.equal((await upload(admin, { model: 'Yealink SIP-T54W', fileName: `T54W-96.85.0.${n}.rom` }, randomBytes(900 * 1024))).status, 201);
  const before = stored();
  for (const chunked of [false, true]) {
    const answer = await upload(admin, { model: 'Yealink SIP-T54W', fileName: 'T54W-96.85.0.6.rom' }, randomBytes(900 * 1024), { chunked });
    t.equal(answer.status, 507, `over the quota (${chunked ? 'streamed' : 'declared'})`);
    t.match(answer.body.message, /beyond their disk quota of 6\.0 MB \(5\.8 MB in use\)\. Delete firmware files that are not the latest, or raise the firmware quota/, answer.body.message);
    t.same(stored(), before, 'nothing left');
  }
  await admin.call('PATCH', '/api/v1/settings', { 'disk.quota.firmwareGB': 7 });
  t.equal((await upload(admin, { model: 'Yealink SIP-T54W', fileName: 'T54W-96.85.0.6.rom' }, randomBytes(900 * 1024))).status, 201, 'fits once the quota is raised');
});

t.test('replace and delete only what is not the latest', async (t) => {
  const latest = store.latest(MODEL);
  const older = store.list().find((f) => f.model === MODEL && !f.latest);
  if (!latest || !older) throw new Error('the first test made two files');
  const before = stored();

  const deleteLatest = await admin.call('DELETE', `/api/v1/firmware/${latest.id}`);
  t.equal(deleteLatest.status, 409);
  t.match(deleteLatest.body.message, /firmware\.rom is the latest firmware for Yealink SIP-VC800 and cannot be deleted\. Upload a newer file/);
  const replaceLatest = await upload(admin, { fileName: 'VC800-63.345.0.21.rom' }, randomBytes(1000), { method: 'PUT', path: `/api/v1/firmware/${latest.id}/file` });
  t.equal(replaceLatest.status, 409);
  t.match(replaceLatest.body.message, /only files that are not the latest can be replaced\. Upload the new file instead/);
  t.same(stored(), before, 'refusals changed nothing');

  const data = randomBytes(150 * 1024);
  const replaced = await upload(admin, { fileName: 'VC800-63.345.0.11.rom' }, data, { method: 'PUT', path: `/api/v1/firmware/${older.id}/file` });
  t.equal(replaced.status, 200, JSON.stringify(replaced.body));
  t.match(replaced.body, { id: older.id, model: MODEL, version: '63.345.0.11', fileName: 'VC800-63.345.0.11.rom', size: data.length, sha256: sha256(data), latest: false, replacedAt: String });
  t.equal(sha256(readFileSync(path.join(paths.firmware, `${older.id}.rom`))), sha256(data), 'the file on disk is the new one');
  t.same(stored(), before, 'same files and rows: replaced in place');

  t.equal((await admin.call('DELETE', `/api/v1/firmware/${older.id}`)).status, 204);
  t.notOk(stored().files.includes(`${older.id}.rom`), 'the file is gone');
  t.equal((await admin.call('DELETE', `/api/v1/firmware/${older.id}`)).status, 404, 'and so is its row');
  const actions = state.db.prepare("SELECT action FROM audit_log WHERE action IN ('firmware.replace', 'firmware.delete', 'firmware.latest') ORDER BY id").pluck().all();
  t.same(actions, ['firmware.latest', 'firmware.latest', 'firmware.replace', 'firmware.delete'], 'audited');
});

t.test('update now needs firmware for the model; operators and requests without CSRF may not change firmware', async (t) => {
  const none = await admin.call('POST', '/api/v1/firmware/update', { model: 'Polycom RealPresence Trio 8800' });
  t.equal(none.status, 404);
  t.match(none.body.message, /No firmware is uploaded for the model Polycom RealPresence Trio 8800/);
  const nobody = await admin.call('POST', '/api/v1/firmware/update', { model: MODEL });
  t.same(nobody.body.told, [], 'no terminal of the model is registered: nobody told');

  t.equal((await admin.call('POST', '/api/v1/admins', { username: 'watcher', password: 'watch-pw1', role: 'operator', email: 'w@example.com' })).status, 201);
  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'watch-pw1');
  t.equal((await operator.call('GET', '/api/v1/firmware')).status, 200, 'operators read');
  t.equal((await upload(operator, { model: MODEL, fileName: 'VC800-63.345.0.40.rom' }, randomBytes(100))).status, 403, 'operators may not upload');
  t.equal((await operator.call('POST', '/api/v1/firmware/update', { model: MODEL })).status, 403, 'nor update');
  t.equal((await admin.call('DELETE', '/api/v1/firmware/1', undefined, { csrf: false })).status, 403, 'no CSRF header, no change');
  t.equal((await new ConsoleClient(base).call('GET', '/api/v1/firmware')).status, 401, 'no session, nothing');
});

t.test('leftovers of an interrupted upload are swept', async (t) => {
  writeFileSync(path.join(paths.firmware, '.upload-abc.tmp'), 'half');
  writeFileSync(path.join(paths.firmware, '999.rom'), 'no row');
  const before = stored();
  store.sweep();
  t.same(stored().files, before.files.filter((f) => f !== '.upload-abc.tmp' && f !== '999.rom'), 'only files with rows remain');
  t.same(stored().files, stored().rows, 'one file per row');
});
