/**
 * The console's dashboard in headless Chromium: it shows
 * the version, the counts, the licence (a trial started through the API), the media ports, the three services running (control plane, SIP signaling with its
 * application connected, media answering its ping), the CPU/memory/network/disk cards from
 * the system sampler (the real one, sampling every 200 ms), and a click on a card draws its
 * chart with uPlot from the sampled history: time and value axes with units (%, bytes/s), a
 * legend with the value under the cursor, 1 h / 6 h / 24 h each asking the history again,
 * network as received and sent; the 10 s refresh keeps the open chart; in Chinese too;
 * screenshots; no console errors.
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
  t.match(await page.textContent('#dashboard-media-ports'), /Media ports\s*0 of 10000 in use: 1666 more calls fit, 1250 with content/, "the media ports by the manual's rule (6 a call, 8 with content)");
  t.match(await page.textContent('button[data-metric="cpu"]'), /CPU\s*\d+ %/, 'the CPU card has a figure from the sampler');
  t.match(await page.textContent('button[data-metric="memory"]'), /\d+ % \(/, 'and memory');

  await page.click('button[data-metric="cpu"]');
  await page.waitForSelector('#chart-panel[data-metric="cpu"] .uplot canvas');
  const points = Number(await page.getAttribute('#chart-panel', 'data-points'));
  t.ok(points > 0, `the CPU chart is drawn by uPlot from the sampler's history (${points} points)`);
  t.equal(await page.getAttribute('#chart-panel', 'data-minutes'), '60', 'over the last hour first');
  t.equal(await page.textContent('#chart-panel h2'), 'CPU over the last hour', 'its title');
  // (uPlot draws the axes on its canvas; the chart notes the labels it drew on its box.)
  const axes = async () => [(await page.getAttribute('#chart-panel .chart-body', 'data-x-ticks')) ?? '', (await page.getAttribute('#chart-panel .chart-body', 'data-y-ticks')) ?? ''];
  const [timeAxis, valueAxis] = await axes();
  t.match(timeAxis, /\d{2}:\d{2}/, `the time axis is labelled with times (${timeAxis})`);
  t.match(valueAxis, /0 %.*100 %/s, `the value axis is in per cent from 0 to 100 (${valueAxis})`);
  t.match(await page.textContent('#chart-panel .u-legend'), /Time.*CPU \(%\)/s, 'a legend names the series');
  // The cursor over the plot: the legend shows the value under it, with its unit.
  const plotArea = page.locator('#chart-panel .u-over');
  const over = await plotArea.boundingBox();
  await plotArea.hover({ position: { x: (over?.width ?? 10) - 2, y: (over?.height ?? 10) / 2 } });
  const cursorValue = page.locator('#chart-panel .u-legend .u-series').nth(1).locator('.u-value');
  // (uPlot updates the legend on the next animation frame.)
  await page.waitForFunction("document.querySelectorAll('#chart-panel .u-legend .u-series')[1]?.querySelector('.u-value')?.textContent?.endsWith('%')", undefined, { timeout: 5000 }).catch(() => undefined);
  t.match(await cursorValue.textContent(), /^\d+(?:\.\d)? %$/, 'the legend shows the CPU % under the cursor');
  await page.screenshot({ path: path.join(artifacts, 'console-dashboard.png'), fullPage: true });

  // 24 hours: the history is asked again, for 1440 minutes.
  const asked24 = page.waitForRequest((request) => request.url().includes('/api/v1/dashboard/history?metric=cpu&minutes=1440'));
  await page.click('#chart-range-h24');
  await asked24;
  await page.waitForSelector('#chart-panel[data-minutes="1440"] .uplot canvas');
  t.equal(await page.getAttribute('#chart-range-h24', 'aria-pressed'), 'true', 'the 24 h button is marked pressed');
  t.equal(await page.textContent('#chart-panel h2'), 'CPU over the last 24 hours', 'the title follows the range');
  t.match((await axes())[0], /\d+\/\d+/, 'the 24 h time axis shows the day too');
  const asked1 = page.waitForRequest((request) => request.url().includes('/api/v1/dashboard/history?metric=cpu&minutes=60'));
  await page.click('#chart-range-h1');
  await asked1;
  await page.waitForSelector('#chart-panel[data-minutes="60"]');

  // Network: received and sent as two series, the axis in bytes per second.
  await page.click('button[data-metric="network"]');
  await page.waitForSelector('#chart-panel[data-metric="network"] .uplot canvas');
  t.match(await page.textContent('#chart-panel .u-legend'), /Received \(bytes\/s\).*Sent \(bytes\/s\)/s, 'network: received and sent');
  t.match((await axes())[1], /\d+(?:\.\d)? (?:B|kB|MB|GB)\/s/, 'the network axis has a bytes/s unit');
  t.equal(await page.locator('#chart-panel').count(), 1, 'one chart open at a time');
  // The 10 s refresh keeps the open chart (same panel, same range).
  await page.click('#chart-range-h6');
  await page.waitForSelector('#chart-panel[data-minutes="360"]');
  await page.evaluate("document.getElementById('chart-panel').dataset.kept = 'yes'");
  await page.waitForRequest((request) => request.url().endsWith('/api/v1/dashboard'), { timeout: 15_000 });
  await page.waitForRequest((request) => request.url().includes('/api/v1/dashboard/history?metric=network&minutes=360'), { timeout: 5000 });
  t.equal(await page.getAttribute('#chart-panel', 'data-kept'), 'yes', 'the refresh redraws in the same panel, the range kept');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '仪表盘'");
  t.match(await page.textContent('#services'), /SIP 信令\s*运行中/, 'the services in Chinese');
  t.match(await page.textContent('#dashboard-media-ports'), /媒体端口\s*已用 0 \/ 10000：还可接入 1666 路呼叫，带辅流 1250 路/, 'the media ports in Chinese');
  await page.waitForFunction("document.querySelector('#chart-panel h2')?.textContent === '最近6 小时的网络'");
  await page.waitForSelector('#chart-panel .uplot canvas');
  t.match(await page.textContent('#chart-panel .u-legend'), /时间.*接收（字节\/秒）.*发送（字节\/秒）/s, 'the chart in Chinese: legend');
  t.equal(await page.textContent('#chart-range-h24'), '24 小时', 'and its range buttons');
  await page.click('button[data-metric="memory"]');
  await page.waitForSelector('#chart-panel[data-metric="memory"] .uplot canvas');
  t.match((await axes())[1], /100 %/, 'memory in per cent');
  await page.screenshot({ path: path.join(artifacts, 'console-dashboard-zh.png'), fullPage: true });
  t.same(p.errors, [], 'no console errors on the page');
});
