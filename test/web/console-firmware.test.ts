/**
 * The console's firmware page in headless Chromium against the real firmware API, registrar and
 * provisioning URL: sipp terminals of a Yealink model are registered (one waiting as UAS for the
 * NOTIFY); the administrator sees where terminals fetch and the registered model without
 * firmware, has a .bin file and a file over the upload limit refused by the file field in words,
 * uploads two .rom files (the upload's progress is shown; the newer is marked latest and has no
 * delete), replaces and deletes the older one (confirmed), makes it latest again, presses
 * "update now" (confirmed; the terminal gets the check-sync NOTIFY), watches the progress table
 * turn to "downloaded" by itself when curl fetches the file as that terminal, and to "updated"
 * after it registers with the new version; then reads the page and a refusal in Chinese.
 * Checked in the page and on the box; screenshots at 1280 and 768 px go to the artefacts; no
 * console errors but the refusals provoked on purpose.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { curl } from '../helpers/curl.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const MODEL = 'Yealink SIP-VC800';
const box = await startSipBox();
const { db, settings } = box;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-firmware-'));
await new AdminStore(db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
for (const account of ['2101', '2103']) box.app.accounts.create({ number: account, name: `Room ${account}`, password: `secret-${account}` }, box.realm);
const store = new FirmwareStore(db, { dir: path.join(dataDir, 'firmware'), settings, maxUploadBytes: 1024 * 1024 });
const rollout = new FirmwareRollout({ db, store, location: box.app.location, checkSync: (binding) => box.app.checkSync(binding) });
const base = await startConsoleApi(t, {
  state: { db, settings },
  keepDb: true,
  online: () => box.app.location.online(),
  firmware: { store, rollout, lockout: box.app.lockout },
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(async () => {
  await browser.close();
  rollout.close();
  await box.close();
});
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const target = `127.0.0.1:${box.port}`;

const register = async (account: string, version: string, contactPort: number) => {
  const result = await runSipp({
    scenario: 'terminal-register.xml',
    target,
    transport: 'u1',
    auth: [account, `secret-${account}`],
    keys: { account, model: MODEL, version, expires: '600', contact_port: String(contactPort) },
  });
  if (!result.ok) throw new Error(`${account} did not register: ${result.errors}`);
};
// 2101 waits for the NOTIFY on its contact; 2103 is already on the version uploaded last.
const contact2101 = await freePort();
const waiting = await startSipp({ scenario: scenarioWith('uas-check-sync.xml', { status: '200 OK', account: '2101' }), transport: 'u1', localPort: contact2101, timeoutSeconds: 90 });
await new Promise((resolve) => setTimeout(resolve, 300));
await register('2101', '63.345.0.10', contact2101);
await register('2103', '63.345.0.20', await freePort());

const file = (name: string, bytes: number) => {
  const where = path.join(dataDir, name);
  writeFileSync(where, randomBytes(bytes));
  return where;
};

t.test('firmware uploaded, replaced, deleted and pushed from the console; progress followed', async (t) => {
  const p = await openPage(browser, `${base}/#firmware`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#firmware-upload');
  t.match(await page.textContent('#firmware-how'), new RegExp(`provisioning server to ${base.replace(/[.]/g, '\\.')}/provisioning/ with its account number and SIP password`), 'where terminals fetch');
  t.match(await page.textContent('#firmware-storage'), /Firmware files use 0 B of 5\.0 GB; one file at most 1\.0 MB\./, 'the storage and limits');
  t.match(await page.textContent('#firmware-none'), /No firmware uploaded yet/);
  t.match(await page.textContent('#firmware-without'), /Registered models without firmware here: Yealink SIP-VC800\./, 'the registered model is known');

  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  const outcome = async () => {
    await page.waitForSelector('#firmware-outcome.ok, #firmware-outcome.failed');
    return (await page.textContent('#firmware-outcome')) ?? '';
  };
  const fieldError = async (id: string) => {
    await page.waitForFunction(`document.getElementById('${id}-error')?.textContent !== ''`);
    return (await page.textContent(`#${id}-error`)) ?? '';
  };

  // Refused by the file field, in words; nothing stored.
  await page.fill('#firmware-model', MODEL);
  await page.setInputFiles('#firmware-file', file('VC800-63.345.0.10.bin', 2000));
  await page.click('#firmware-upload button[type="submit"]');
  t.match(await fieldError('firmware-file'), /its name "VC800-63\.345\.0\.10\.bin" does not end in \.rom/, 'a .bin file is refused by its field');
  t.equal(await page.getAttribute('#firmware-file', 'aria-invalid'), 'true');
  await page.setInputFiles('#firmware-file', file('VC800-63.345.0.10.rom', 1200 * 1024));
  await page.click('#firmware-upload button[type="submit"]');
  t.match(await fieldError('firmware-file'), /larger than 1\.0 MB, the most one firmware upload may be/, 'a file over the limit too');
  t.same(store.list(), [], 'nothing stored');

  // Two uploads, the upload's progress shown as it goes.
  await page.evaluate(`(() => {
    window.seen = [];
    new MutationObserver(() => window.seen.push(document.getElementById('firmware-form-error').textContent)).observe(document.getElementById('firmware-form-error'), { childList: true, characterData: true, subtree: true });
  })()`);
  await page.setInputFiles('#firmware-file', file('VC800-63.345.0.10.rom', 600 * 1024));
  await page.click('#firmware-upload button[type="submit"]');
  t.match(await outcome(), /^VC800-63\.345\.0\.10\.rom uploaded for Yealink SIP-VC800 \(version 63\.345\.0\.10, 600\.0 KB\); it is the latest now\.$/, 'uploaded, in words');
  const seen = (await page.evaluate('window.seen')) as string[];
  t.ok(seen.some((text) => /^Uploading… \d+ %$/.test(text)), `the upload's progress was shown: ${seen.join(' | ')}`);
  t.equal(await page.inputValue('#firmware-model'), MODEL, 'the model stays for the next upload');
  await page.setInputFiles('#firmware-file', file('VC800-63.345.0.20.rom', 500 * 1024));
  await page.click('#firmware-upload button[type="submit"]');
  t.match(await outcome(), /VC800-63\.345\.0\.20\.rom uploaded .* it is the latest now/);
  const section = `section[data-model="${MODEL}"]`;
  t.match(await page.textContent(`${section} tr[data-firmware="VC800-63.345.0.20.rom"]`), /63\.345\.0\.20latest/, 'the newest is marked latest');
  t.equal(await page.$(`${section} tr[data-firmware="VC800-63.345.0.20.rom"] button.delete`), null, 'the latest cannot be deleted: no button');
  t.match(await page.textContent(`${section} p.terminals`), /Terminals registered now: 2 \(63\.345\.0\.10 × 1, 63\.345\.0\.20 × 1\)\./, 'the model\'s terminals and their versions');
  await page.screenshot({ path: path.join(artifacts, 'console-firmware.png'), fullPage: true });

  // The older file: replaced (confirmed), made latest and back, deleted (confirmed).
  const older = store.list().find((f) => f.version === '63.345.0.10');
  await page.setInputFiles(`#firmware-replace-${older?.id}`, file('VC800-63.345.0.11.rom', 100 * 1024));
  t.match(dialogs.at(-1), /^Replace VC800-63\.345\.0\.10\.rom \(version 63\.345\.0\.10\) by VC800-63\.345\.0\.11\.rom\?$/, 'replacing is confirmed');
  t.match(await outcome(), /VC800-63\.345\.0\.10\.rom replaced by VC800-63\.345\.0\.11\.rom \(version 63\.345\.0\.11\)\./);
  await page.click(`${section} tr[data-firmware="VC800-63.345.0.11.rom"] button.make-latest`);
  t.match(await outcome(), /VC800-63\.345\.0\.11\.rom \(version 63\.345\.0\.11\) is the latest for Yealink SIP-VC800 now\./);
  await page.click(`${section} tr[data-firmware="VC800-63.345.0.20.rom"] button.make-latest`);
  await page.waitForSelector(`${section} tr.latest[data-firmware="VC800-63.345.0.20.rom"]`);
  await page.focus(`${section} tr[data-firmware="VC800-63.345.0.11.rom"] button.delete`);
  await page.keyboard.press('Enter');
  t.match(dialogs.at(-1), /^Delete VC800-63\.345\.0\.11\.rom \(version 63\.345\.0\.11\)\? It can no longer be given to terminals\.$/, 'deleting (from the keyboard) is confirmed');
  t.match(await outcome(), /VC800-63\.345\.0\.11\.rom deleted\./);
  t.same(store.list().map((f) => f.fileName), ['VC800-63.345.0.20.rom'], 'on the box: only the latest is left');

  // Update now: 2101 is told; 2103 has the version already.
  await page.click(`${section} button.update-now`);
  t.match(dialogs.at(-1), /^Tell the registered Yealink SIP-VC800 terminals whose version is not 63\.345\.0\.20 to upgrade now\?/, 'update now is confirmed');
  t.match(await outcome(), /^Yealink SIP-VC800: told to upgrade to 63\.345\.0\.20: 1; already on it: 1\.$/);
  const notify = await waiting.result;
  t.ok(notify.ok, `the terminal got the check-sync NOTIFY: ${notify.errors}`);
  t.match(await page.textContent('#firmware-progress tr[data-account="2101"]'), /2101 Room 2101.*127\.0\.0\.1.*Yealink SIP-VC800.*63\.345\.0\.10 → 63\.345\.0\.20.*told \(NOTIFY answered 200\)/s, 'its progress: told');

  // The terminal fetches the file (curl, its Digest login): the table turns by itself.
  const config = await curl(`${base}/provisioning/y000000000000.cfg`, { digest: ['2101', 'secret-2101'], userAgent: `${MODEL} 63.345.0.10` });
  const url = /^firmware\.url = (.+)$/m.exec(config.body.toString())?.[1] ?? '';
  t.equal((await curl(url, { digest: ['2101', 'secret-2101'] })).status, 200, 'downloaded');
  await page.waitForSelector('#firmware-progress tr[data-account="2101"][data-state="downloaded"]', { timeout: 8000 });
  t.pass('the progress table showed "downloaded" without a reload');
  await register('2101', '63.345.0.20', contact2101);
  await page.click('#firmware-progress-refresh');
  await page.waitForSelector('#firmware-progress tr[data-account="2101"][data-state="updated"]');
  t.match(await page.textContent('#firmware-progress tr[data-account="2101"] td.state'), /^updated$/, 'updated once it registered with the new version');
  await page.screenshot({ path: path.join(artifacts, 'console-firmware-progress.png'), fullPage: true });

  // In Chinese, a refusal too; at a tablet's width.
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '终端固件'");
  t.match(await page.textContent('#firmware-progress tr[data-account="2101"] td.state'), /^已更新$/, 'the progress in Chinese');
  t.match(await page.textContent(`${section} tr.latest`), /最新版本/);
  await page.fill('#firmware-model', MODEL);
  await page.setInputFiles('#firmware-file', file('VC800.zip', 100));
  await page.click('#firmware-upload button[type="submit"]');
  t.match(await fieldError('firmware-file'), /该固件文件无法使用：文件名“VC800\.zip”不以 \.rom 结尾/, 'a refusal in Chinese');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet (tables scroll in their own box)');
  await page.screenshot({ path: path.join(artifacts, 'console-firmware-zh-768.png'), fullPage: true });

  // Chromium logs every refused request; only the refused uploads are allowed.
  const provoked = /status of (400|413) .*\/api\/v1\/firmware\?/;
  t.same(
    p.errors.filter((e) => !provoked.test(e)),
    [],
    'no other console errors on the page',
  );
});
