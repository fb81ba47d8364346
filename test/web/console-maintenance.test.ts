/**
 * The console's maintenance page in headless Chromium against a real installed box (the run
 * command's supervisor started from an install root, its four processes): the version and
 * build time are shown; a file that is no release package is refused in words by the file
 * field; a release package is uploaded (confirmed: "the box installs the upgrade and
 * restarts"), followed through the restart of the services to "Installed: vcbox 99.0.0 … runs
 * now" with the version shown updated; a reboot (on a dev machine, a restart of the services;
 * confirmed) is waited for until the box is back; the page reads in Chinese at a tablet's
 * width; a full factory reset is confirmed with its consequence and answered with where the new
 * first password is. Screenshots go to the artefacts; no console errors but the refusal provoked
 * on purpose and the requests that find the box away while it restarts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BUILD_INFO } from '../../server/core/version.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { readEntries, resign, setVersion, startInstalledBox } from '../helpers/release-package.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-maintenance-'));
const { box, built, release, dataDir } = await startInstalledBox(work);
t.teardown(() => box.interrupt(10_000));
const packageFile = path.join(work, 'vcbox-99.0.0.tar.gz');
writeFileSync(packageFile, resign(readEntries(readFileSync(built.package)), (m, f) => setVersion(m, f, '99.0.0')));
const bogus = path.join(work, 'notes.tar.gz');
writeFileSync(bogus, 'this is not a release\n');
const first = new ConsoleClient(box.baseUrl);
await first.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const chief = await first.call('POST', '/api/v1/admins', { username: 'chief', password: 'Chief2026', role: 'admin' });
if (chief.status !== 201) throw new Error(`could not create the administrator: ${JSON.stringify(chief.body)}`);
// An administrator made by another one chooses a password of their own at the first login.
const chiefClient = new ConsoleClient(box.baseUrl);
await chiefClient.login('chief', 'Chief2026');
await chiefClient.call('PUT', '/api/v1/session/password', { currentPassword: 'Chief2026', newPassword: 'Chief2027', confirmPassword: 'Chief2027' });

const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('version, upgrade through the restart, reboot, Chinese, factory reset', async (t) => {
  const p = await openPage(browser, `${box.baseUrl}/#maintenance`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 900 });
  await logInToConsole(page, 'chief', 'Chief2027');
  await page.waitForSelector('#maintenance-page');
  t.match(await page.textContent('#version-text'), new RegExp(`^vcbox ${BUILD_INFO.version.replace(/\./g, '\\.')}, built .+\\d`), 'the version and build time');
  t.equal(await page.textContent('#release-text'), `Installed release: ${release}`);
  t.match(await page.textContent('#reboot-help'), /On this development machine a reboot restarts the services/);
  t.equal(await page.getAttribute('#upgrade-file', 'aria-describedby'), 'upgrade-file-error upgrade-help', 'the file field is labelled and described');

  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  // Every text the upgrade's outcome shows, in order.
  await page.evaluate(`(() => {
    const seen = (window.outcomes = []);
    const box = document.getElementById('upgrade-outcome');
    new MutationObserver(() => {
      const text = box.textContent ?? '';
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(box, { childList: true, subtree: true, characterData: true });
  })()`);

  // Nothing chosen, then a file that is no release: refused by the field, in words.
  await page.click('#upgrade-start');
  t.equal(await page.textContent('#upgrade-file-error'), 'Choose the release package first.');
  await page.setInputFiles('#upgrade-file', bogus);
  await page.click('#upgrade-start');
  t.match(dialogs.at(-1), /^Install the release in notes\.tar\.gz\?\n\nThe box installs the upgrade and restarts/, 'the upgrade is confirmed with what it does');
  // The old refusal is cleared when the upload starts; wait for the server's answer, not just that.
  await page.waitForFunction("(document.getElementById('upgrade-file-error')?.textContent ?? '').startsWith('The file')");
  t.match(await page.textContent('#upgrade-file-error'), /^The file is not a vcbox release package: it is not gzip-compressed .*Nothing was changed\./, 'refused in words by the field');
  t.equal(await page.getAttribute('#upgrade-file', 'aria-invalid'), 'true');

  // The real package: verified, installed, the services restarted, the new version running.
  await page.setInputFiles('#upgrade-file', packageFile);
  await page.click('#upgrade-start');
  t.match(dialogs.at(-1), /^Install the release in vcbox-99\.0\.0\.tar\.gz\?\n\nThe box installs the upgrade and restarts: calls and meetings in progress end.*goes back to vcbox/s);
  await page.waitForSelector('#upgrade-outcome.ok', { timeout: 180_000 });
  t.match(await page.textContent('#upgrade-outcome'), /^Installed: vcbox 99\.0\.0 \(built .+\) runs now\.$/, 'the outcome in words');
  t.equal(await page.textContent('#upgrade-file-error'), '', 'the earlier refusal is gone');
  await page.waitForFunction("document.getElementById('version-text')?.textContent?.startsWith('vcbox 99.0.0')");
  t.match(await page.textContent('#release-text'), /^Installed release: 99\.0\.0-\d{14}$/, 'the version shown is the new one');
  const outcomes = (await page.evaluate('window.outcomes')) as string[];
  t.ok(outcomes.some((text) => /^(Unpacking|Checking|Restarting|Waiting for|The box is restarting)/.test(text)), `the steps were shown on the way: ${outcomes.join(' | ')}`);
  t.match((await fetch(`${box.baseUrl}/api/v1/health`).then((r) => r.json())) as object, { version: '99.0.0' }, 'and the box runs it');
  await page.screenshot({ path: path.join(artifacts, 'console-maintenance.png'), fullPage: true });

  // Reboot: confirmed, then waited for.
  await page.click('#reboot-start');
  t.match(dialogs.at(-1), /^Reboot the box\?\n\nCalls and meetings in progress end/, 'the reboot is confirmed');
  await page.waitForSelector('#reboot-outcome.ok', { timeout: 120_000 });
  t.equal(await page.textContent('#reboot-outcome'), 'The box is back: vcbox 99.0.0 runs.');

  // In Chinese, at a tablet's width.
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '系统维护'");
  t.match(await page.textContent('#version-text'), /^vcbox 99\.0\.0，打包时间 /, 'the page in Chinese');
  t.match(await page.textContent('#upgrade-outcome'), /^上次升级（.+）：已安装：vcbox 99\.0\.0/, 'the last upgrade in words');
  t.equal(await page.textContent('label[for="reset-all"]'), ' 清空所有用户数据', 'the manual\'s two choices');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-maintenance-zh-768.png'), fullPage: true });

  // A full factory reset: the consequence spelled out before, the way back in after.
  await page.check('#reset-all');
  await page.click('#reset-start');
  t.match(dialogs.at(-1), /^确定将设备完全恢复出厂设置？\n\n全部数据.*仅保留授权。此操作无法撤销/s, 'confirmed with its consequence');
  await page.waitForSelector('#reset-outcome.ok');
  t.match(await page.textContent('#reset-outcome'), /^设备已恢复出厂设置（删除 \d+ 行）。请用 .*initial-admin-password 中的初始密码以 admin 登录。服务正在重启。$/, 'where the new first password is');

  const provoked = /status of 422 .*\/api\/v1\/system\/upgrade$/;
  const away = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|status of 50[23]/;
  t.same(
    p.errors.filter((e) => !provoked.test(e) && !away.test(e)),
    [],
    'no other console errors on the page',
  );
});
