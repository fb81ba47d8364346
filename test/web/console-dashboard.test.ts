/**
 * The console's dashboard in headless Chromium: it shows
 * the version, the counts, the licence (a trial started through the API), the three services running (control plane, SIP signaling with its
 * application connected, media answering its ping), the CPU/memory/network/disk cards from
 * the system sampler, and a click on the CPU card draws its chart from the history; in
 * Chinese too; a screenshot; no console errors.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { openLicense } from '../../server/license/open-license.ts';
import type { MediaClient } from '../../server/media-client/media-client.ts';
import { ServiceHealth } from '../../server/observability/service-health.ts';
import { SystemSampler } from '../../server/observability/system-sampler.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSipBox } from '../helpers/sip-box.ts';

// No licence yet: the test starts the trial through the API and the licence card shows it.
const box = await startSipBox({ media: {}, license: (db, dir) => openLicense({ db, identityDir: path.join(dir, 'identity') }) });
t.teardown(() => box.close());
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const sampler = new SystemSampler({ dataDir: os.tmpdir(), intervalMs: 200, capacity: 100 }).start();
t.teardown(() => sampler.close());
const health = new ServiceHealth({ signaling: () => box.app.connectedSince, media: box.mediaClient as MediaClient });
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  license: box.license,
  live: box.app.live,
  online: () => box.app.location.online(),
  sampler,
  health,
  keepDb: true,
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('the dashboard: counts, services, licence, system cards and a chart', async (t) => {
  // The 14-day trial, started through the API: the licence card shows it.
  const api = new ConsoleClient(base);
  t.equal((await api.login('chief', 'Chief2026')).status, 200);
  t.equal((await api.call('POST', '/api/v1/license/trial')).status, 200, 'trial started');
  const p = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#services');
  t.equal(await page.textContent('#content h1'), 'Dashboard', 'the dashboard');
  for (const service of ['control-plane', 'signaling', 'media']) {
    t.equal(await page.getAttribute(`#services tr[data-service="${service}"]`, 'data-status'), 'up', `${service} is running`);
  }
  t.match(await page.textContent('.cards'), /Online users\s*0.*Live meetings\s*0/s, 'no users and no meetings yet');
  t.match(await page.textContent('.cards'), /Licence\s*trial: 0 of 16 ports in use, until .+ \(1[34] days left\)/, 'the licence: trial, ports in use, expiry');
  t.match(await page.textContent('button[data-metric="cpu"]'), /CPU\s*\d+ %/, 'the CPU card has a figure from the sampler');
  t.match(await page.textContent('button[data-metric="memory"]'), /\d+ % \(/, 'and memory');

  await page.click('button[data-metric="cpu"]');
  await page.waitForSelector('#chart-panel[data-metric="cpu"]');
  const points = Number(await page.getAttribute('#chart-panel', 'data-points'));
  t.ok(points > 0, `the CPU chart is drawn from the history (${points} points)`);
  t.equal(await page.locator('#chart-panel svg polyline').count(), 1, 'as a line');
  await page.screenshot({ path: path.join(artifacts, 'console-dashboard.png'), fullPage: true });

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '仪表盘'");
  t.match(await page.textContent('#services'), /SIP 信令\s*运行中/, 'the services in Chinese');
  t.same(p.errors, [], 'no console errors on the page');
});
