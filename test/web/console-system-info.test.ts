/**
 * The console's system information page in headless Chromium against the real API: the host
 * (kernel as `uname -r` says) and a panel per network interface; an interface the test makes
 * (a veth pair, root only) shows its address, MTU and state, and — once the settings name it
 * the WAN port — the role and the configured WAN address beside the real one, after the page's
 * own 10-second refresh (the browser's clock run forward). In Chinese at a tablet's width;
 * screenshots; no console errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
const state = freshState();
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const base = await startConsoleApi(t, { state, webRoot: path.join(PROJECT_ROOT, 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

const link = `vsw${(process.pid % 100_000).toString(36)}a`;
let ownLink = false;
try {
  ip('link', 'add', link, 'type', 'veth', 'peer', 'name', link.replace(/a$/, 'b'));
  t.teardown(() => {
    try {
      ip('link', 'del', link);
    } catch {}
  });
  ip('link', 'set', link, 'mtu', '1400');
  ip('addr', 'add', '10.254.72.1/24', 'dev', link);
  ip('link', 'set', link, 'up');
  ip('link', 'set', link.replace(/a$/, 'b'), 'up');
  ownLink = true;
} catch {
  // not root: the host's interfaces only
}

t.test('system information per network interface', async (t) => {
  const p = await openPage(browser, `${base}/#system`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.clock.install();
  await page.reload();
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#system-facts');
  t.match(await page.textContent('#system-facts dd[data-fact="kernel"]'), execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), 'the kernel');
  const nics = await page.$$eval('section.nic', (panels) => panels.map((panel) => panel.getAttribute('data-nic')));
  t.ok(nics.length > 0, `a panel per interface: ${nics.join(', ')}`);
  t.notOk(nics.includes('lo'), 'loopback left out');

  if (ownLink) {
    const panel = `section.nic[data-nic="${link}"]`;
    await page.waitForSelector(panel);
    t.equal(await page.textContent(`${panel} dd[data-fact="ipv4"]`), '10.254.72.1/24', 'its address and prefix');
    t.equal(await page.textContent(`${panel} dd[data-fact="mtu"]`), '1400', 'its MTU');
    t.equal(await page.textContent(`${panel} dd[data-fact="state"]`), 'up', 'its state');
    t.match(await page.textContent(`${panel} h3`), /not used by the settings/, 'no role yet');
    state.settings.update({ 'network.wan.interface': link }, { actor: 'test' });
    await page.clock.fastForward(10_500);
    await page.waitForSelector(`${panel} dd[data-fact="configured"]`);
    t.match(await page.textContent(`${panel} h3`), /WAN port/, 'the WAN port after the refresh');
    t.equal(await page.textContent(`${panel} dd[data-fact="configured"]`), 'static 192.168.88.88/255.255.255.0', 'with the configured address beside the real one');
  }
  await page.screenshot({ path: path.join(artifacts, 'console-system-info.png'), fullPage: true });

  await page.click('#system-settings-link');
  await page.waitForSelector('#settings-network');
  t.pass('the settings link opens the network settings');
  await page.goBack();
  await page.waitForSelector('#system-facts');
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '系统信息'");
  if (ownLink) t.match(await page.textContent(`section.nic[data-nic="${link}"] h3`), /WAN 口/, 'in Chinese');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-system-info-zh-768.png'), fullPage: true });
  t.same(p.errors, [], 'no console errors');
});
