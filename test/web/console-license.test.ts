/**
 * The console's licence page in headless Chromium against the real licence store (licences
 * signed with the project's TEST key, trusted because the box's configuration names it): a new
 * box shows "not licensed" with its box ID; garbage, another box's licence and an expired one
 * are refused in words under the text with nothing changed; the 14-day trial is started from
 * the page (confirmed) and cannot be offered again; a licence is activated (serial, ports,
 * validity and days left shown) and renewed with a perpetual one; the box's clock moved past a
 * term licence's end shows it expired with what that means; a revoked serial is refused; the
 * page in Chinese at a tablet's width. Screenshots; no console errors but the refusals asked for.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { boxIdFromMachineId } from '../../server/license/box-identity.ts';
import { issueLicense, type LicensePayload } from '../../server/license/license-format.ts';
import { openLicense } from '../../server/license/open-license.ts';
import { openState } from '../../server/process/open-state.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';

const testKey = createPrivateKey(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/license/test-private.pem'), 'utf8'));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-license-'));
const machineIdFile = path.join(dataDir, 'machine-id');
const machineId = randomBytes(16).toString('hex');
writeFileSync(machineIdFile, `${machineId}\n`);
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
// The box's clock is the test's: the real time (so Chromium's dates agree) to the second, as licences give it.
let now = new Date(Math.floor(Date.now() / 1000) * 1000);
const license = openLicense({
  db: state.db,
  identityDir: path.join(dataDir, 'identity'),
  testPublicKeyFile: path.join(PROJECT_ROOT, 'test/fixtures/license/test-public.pem'),
  machineIdFile,
  clock: () => now,
});
const base = await startConsoleApi(t, { state, license, webRoot: path.join(PROJECT_ROOT, 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const boxId = boxIdFromMachineId(machineId);
const DAY = 86_400_000;
const iso = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');
const licenseFor = (overrides: Partial<LicensePayload> = {}) =>
  issueLicense({ v: 1, serial: 'VCB-TEST-0042', boxId, ports: 3, validFrom: iso(new Date(now.getTime() - DAY)), validUntil: iso(new Date(now.getTime() + 30 * DAY)), issuedAt: iso(now), ...overrides }, testKey);
const activations = () => state.db.prepare('SELECT count(*) FROM license_activations').pluck().get() as number;

t.test('the licence seen, the trial started, a licence activated, renewed and expiring, from the console', async (t) => {
  const p = await openPage(browser, `${base}/#license`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#license-facts');
  const fact = async (key: string) => (await page.textContent(`#license-facts dd[data-fact="${key}"]`))?.trim() ?? '';
  t.equal(await fact('status'), 'not licensed', 'a new box is not licensed');
  t.match(await fact('box-id'), new RegExp(`^${boxId} Send this ID to the vendor`), 'its box ID, for the vendor');
  t.match(await page.textContent('#license-info'), /No licence yet: new accounts are refused and meetings are audio only until the 14-day trial is started or a licence is activated/, 'and what that means: what is refused');

  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  const refusal = async (text: string) => {
    await page.fill('#license-text', text);
    await page.click('#license-activate');
    await page.waitForSelector('#license-text[aria-invalid="true"]');
    return (await page.textContent('#license-text-error')) ?? '';
  };

  // Empty, garbage, another box's, an expired one: each refused under the text, nothing changed.
  await page.click('#license-activate');
  t.equal(await page.textContent('#license-text-error'), 'Paste the licence text first.', 'nothing pasted: said so');
  t.match(await refusal('my serial is 1234'), /^This is not a vcbox licence: .+ Nothing was changed\.$/, 'garbage refused in words');
  t.match(await refusal(licenseFor({ boxId: 'AAAA-BBBB-CCCC-DDDD' })), new RegExp(`issued for the box AAAA-BBBB-CCCC-DDDD, not for this box \\(${boxId}\\)\\. Send this box's ID`), "another box's licence refused");
  t.match(
    await refusal(licenseFor({ validFrom: iso(new Date(now.getTime() - 40 * DAY)), validUntil: iso(new Date(now.getTime() - DAY)) })),
    /^Licence VCB-TEST-0042 expired on .+ Ask the vendor for a renewal/,
    'an expired licence refused',
  );
  t.match(await refusal(licenseFor({ serial: 'VCB-TEST-REVOKED' })), /revoked by the vendor/, 'a revoked serial refused');
  t.equal(activations(), 0, 'nothing was activated');
  t.equal(await fact('status'), 'not licensed', 'the page still says so');

  // The trial, once.
  await page.click('#license-trial-start');
  t.match(dialogs.at(-1), /^Start the 14-day trial now\? .+only once on this box\.$/, 'starting the trial is confirmed');
  await page.waitForSelector('#license-outcome.ok');
  t.match(await page.textContent('#license-outcome'), /^The trial started: it ends on .+\.$/, 'the outcome in words');
  t.equal(await fact('status'), 'trial', 'the box is on trial');
  t.equal(await fact('ports'), '16', 'with 16 participants');
  t.equal(await fact('days-left'), '14 days', '14 days left');
  t.equal(await page.locator('#license-trial-start').count(), 0, 'the trial is not offered again');
  t.match(await page.textContent('#license-trial'), /The trial was used from .+ to .+; it is available once per box\./, 'what became of it instead');
  t.equal(state.db.prepare('SELECT count(*) FROM license_trial').pluck().get(), 1, 'the trial is recorded on the box');

  // A licence from the vendor, then a perpetual renewal.
  await page.fill('#license-text', licenseFor());
  await page.click('#license-activate');
  await page.waitForSelector('#license-outcome.ok >> text=/VCB-TEST-0042/');
  t.match(await page.textContent('#license-outcome'), /^Licence VCB-TEST-0042 is active: 3 concurrent participants, valid until .+\.$/, 'activated, in words');
  t.equal(await fact('status'), 'active', 'active');
  t.equal(await fact('serial'), 'VCB-TEST-0042', 'its serial');
  t.equal(await fact('type'), 'for a term', 'its type');
  t.equal(await fact('days-left'), '30 days', 'the days left');
  t.match(await fact('allows'), /^new accounts, video, at most 3 participants at once$/, 'what it allows');
  t.match(await page.textContent('#license-activation h2'), /Renew or change the licence/, 'the form now renews');
  t.match(await page.textContent('#license-info'), /test key: for development and tests only/, 'a test-key licence says so');
  await page.screenshot({ path: path.join(artifacts, 'console-license.png'), fullPage: true });

  await page.fill('#license-text', licenseFor({ serial: 'VCB-TEST-0043', ports: 50, validUntil: null }));
  await page.click('#license-activate');
  await page.waitForSelector('#license-outcome.ok >> text=/VCB-TEST-0043/');
  t.equal(await fact('valid-until'), 'no end date', 'perpetual: no end date');
  t.equal(await fact('type'), 'perpetual', 'its type');
  t.equal(await fact('ports'), '50', 'its ports');
  t.equal(license.store.facts().serial, 'VCB-TEST-0043', 'the renewal is the box\'s licence');

  // A term licence whose end the box's clock passes: expired, and what that means.
  await page.fill('#license-text', licenseFor({ serial: 'VCB-TEST-0044', validUntil: iso(new Date(now.getTime() + 2 * DAY)) }));
  await page.click('#license-activate');
  await page.waitForSelector('#license-outcome.ok >> text=/VCB-TEST-0044/');
  now = new Date(now.getTime() + 3 * DAY);
  await page.reload();
  await page.waitForSelector('#license-facts');
  t.equal(await fact('status'), 'expired', 'past its end the licence is expired');
  t.ok(await page.$('#license-facts dd.license-status.expired'), 'shown as a problem');
  t.match(await page.textContent('#license-info'), /no accounts can be created and meetings are audio only/, 'with what that means');
  t.match(await fact('allows'), /^no new accounts, meetings audio only/, 'what it allows now');
  t.equal(await fact('days-left'), 'none: it has ended', 'no days left');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '授权'");
  t.equal(await fact('status'), '已过期', 'the page in Chinese');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-license-zh-768.png'), fullPage: true });

  // Chromium logs every refused request: only the refusals provoked above.
  const provoked = /status of (400|422) .*\/api\/v1\/license\/activate$/;
  t.same(
    p.errors.filter((e) => !provoked.test(e)),
    [],
    'no other console errors on the page',
  );
});
