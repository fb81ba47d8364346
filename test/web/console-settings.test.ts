/**
 * The console's settings page in headless Chromium against the real settings API: an
 * administrator changes a call setting (applies at once, stored), the SIP port (the
 * confirmation says terminals must use the new port; declined nothing is saved, accepted it
 * applies at once — the moving listeners themselves are console-ports.test.ts), a NIC's DNS
 * server (the API's network warning is asked; the answer names the system file written under
 * the test's system root), values the server refuses (a rule and a cross-check) shown by their
 * field; sends a test mail through a real SMTP server on loopback (success in words, then a
 * port where nothing listens: the reason in words), saves the SMTP password (shown as "(set)"
 * afterwards and not sent again), and reads the page in Chinese, at 1280×800 and 768 px wide.
 * Screenshots go to the artefacts; no console errors but the refusals provoked on purpose.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { SystemConfigurator } from '../../server/system/system-configurator.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { freePort } from '../helpers/ports.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const state = freshState();
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const systemRoot = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-settings-root-'));
const base = await startConsoleApi(t, { state, system: new SystemConfigurator({ root: systemRoot, appliance: false }), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const smtp = await startSmtpSink();
t.teardown(() => smtp.close());
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const { settings } = state;

t.test('settings grouped as the spec groups them, saved per group with the answer in words', async (t) => {
  const p = await openPage(browser, `${base}/#settings`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#settings-call');
  const titles = await page.$$eval('.settings-group h2', (nodes) => nodes.map((n) => n.textContent));
  t.same(titles.slice(0, 5), ['Call settings', 'Network & services', 'Time', 'SMTP (outgoing mail)', 'Logs'], 'the groups of the spec');
  t.equal(await page.$eval('#setting-call-maxVideoResolution', (n) => n.tagName), 'SELECT', 'an enumeration is a select');
  t.same(
    await page.$$eval('#setting-call-maxVideoResolution option', (nodes) => nodes.map((n) => n.getAttribute('value'))),
    ['1080P/30', '720P/30', '360P/30', '4CIF', 'CIF'],
    'with the choices of its rule',
  );
  t.equal(await page.getAttribute('#setting-ssh-enabled', 'type'), 'checkbox', 'a true/false setting is a switch');
  t.equal(await page.getAttribute('#setting-sip-port', 'type'), 'number', 'a port is a number');
  t.match(await page.textContent('#setting-sip-port-help'), /a port number 1-65535 · Applies at once: the listener moves; connections and calls in progress stay\./, 'the rule and the effect as help');
  t.match(await page.textContent('#syslog-status'), /Not forwarding/, 'remote syslog status in words');

  // Every dialog is recorded; the test says whether to accept the next one.
  const dialogs: string[] = [];
  let acceptNext = true;
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void (acceptNext ? dialog.accept() : dialog.dismiss());
  });
  const outcome = async (group: string) => {
    await page.waitForFunction(`document.getElementById('settings-${group}-outcome')?.textContent !== ''`);
    return (await page.textContent(`#settings-${group}-outcome`)) ?? '';
  };

  // A call setting that applies at once: no question, stored.
  await page.selectOption('#setting-call-layout-equalSplitMax', '3x3');
  await page.click('#settings-call-save');
  t.match(await outcome('call'), /Saved\.Applied now: Equal split: max panes\./, 'the answer in words');
  t.equal(settings.get('call.layout.equalSplitMax'), '3x3', 'stored');
  t.same(dialogs, [], 'nothing to confirm for a change that applies now');

  // The SIP port: asked first; declined, nothing is saved.
  await page.fill('#setting-sip-port', '5070');
  acceptNext = false;
  await page.click('#settings-network-save');
  t.equal(dialogs.length, 1, 'a confirmation appears');
  t.match(dialogs[0], /Terminals must use the new SIP port from now on: SIP UDP\/TCP port\. Registered terminals stay registered/, `it says who must follow: ${dialogs[0]}`);
  t.equal(settings.get('sip.port'), 5060, 'declined: not saved');
  acceptNext = true;
  await page.click('#settings-network-save');
  t.match(await outcome('network'), /Saved\.Applied now: SIP UDP\/TCP port\./, 'the answer: applied at once');
  t.equal(settings.get('sip.port'), 5070, 'accepted: stored');
  t.equal(dialogs.length, 2);

  // A NIC: the API's network warning is the question; the answer names the rendered file.
  await page.fill('#setting-network-wan-dns1', '192.168.1.53');
  await page.click('#settings-network-save');
  t.match(dialogs[2], /This restarts the conferencing service: calls in progress are ended\. \(DNS 1\)/, `the network warning: ${dialogs[2]}`);
  const wanFile = path.join(systemRoot, 'etc/systemd/network/10-vcbox-wan.network');
  t.match(await outcome('network'), new RegExp(`Written to the system files: [^]*${wanFile.replace(/[.]/g, '\\.')}\\.Not applied: only an installed appliance applies system files\\.`), 'the rendered file in words');
  t.ok(existsSync(wanFile) && /DNS=192\.168\.1\.53/.test(readFileSync(wanFile, 'utf8')), 'and the file says so');
  await page.screenshot({ path: path.join(artifacts, 'console-settings.png'), fullPage: true });

  // Refusals, by their field: a value outside its rule, and a cross-check.
  await page.fill('#setting-call-polling-intervalSeconds', '3');
  await page.click('#settings-call-save');
  await page.waitForFunction("document.getElementById('setting-call-polling-intervalSeconds-error')?.textContent !== ''");
  t.match(await page.textContent('#setting-call-polling-intervalSeconds-error'), /from 5 to 300/, 'the rule broken, by the field');
  t.equal(await page.getAttribute('#setting-call-polling-intervalSeconds', 'aria-invalid'), 'true', 'the field is marked invalid');
  t.match(await outcome('call'), /Not saved/, 'the group says it was not saved');
  t.equal(settings.get('call.polling.intervalSeconds'), 10, 'nothing stored');
  await page.fill('#setting-sip-tlsPort', '5070');
  await page.click('#settings-network-save');
  await page.waitForFunction("document.getElementById('setting-sip-tlsPort-error')?.textContent !== ''");
  t.match(await page.textContent('#setting-sip-tlsPort-error'), /TLS port must differ from the UDP\/TCP port 5070/, 'a cross-check refusal by its field');
  t.equal(settings.get('sip.tlsPort'), 5061, 'nothing stored');
  await page.screenshot({ path: path.join(artifacts, 'console-settings-refused.png'), fullPage: true });
  await page.fill('#setting-sip-tlsPort', '5061');

  // SMTP: a test mail through a real server with the values typed (not saved yet).
  await page.fill('#setting-smtp-server', '127.0.0.1');
  await page.fill('#setting-smtp-port', String(smtp.port));
  await page.fill('#setting-smtp-sender', 'box@vcbox.local');
  await page.fill('#smtp-test-to', 'ops@example.com');
  const arrived = smtp.next();
  await page.click('#smtp-test');
  await page.waitForSelector('#smtp-test-outcome.ok');
  t.equal(await page.textContent('#smtp-test-outcome'), `The SMTP server 127.0.0.1:${smtp.port} (none) accepted the test mail to ops@example.com; check that it arrives.`, 'success in words');
  t.same((await arrived).to, ['ops@example.com'], 'and the mail arrived');
  const closed = await freePort();
  await page.fill('#setting-smtp-port', String(closed));
  await page.click('#smtp-test');
  await page.waitForSelector('#smtp-test-outcome.failed');
  t.match(await page.textContent('#smtp-test-outcome'), new RegExp(`Cannot reach the SMTP server 127\\.0\\.0\\.1:${closed}: .+ Check the server name and port`), 'a wrong port: the reason in words');

  // Saved with a password: afterwards shown only as "(set)" and not sent again.
  await page.fill('#setting-smtp-port', String(smtp.port));
  await page.fill('#setting-smtp-password', 'mail-secret');
  await page.click('#settings-smtp-save');
  t.match(await outcome('smtp'), /Applied now: SMTP server, Port, Sender address, Password\./, 'saved, applies now');
  t.equal(settings.get('smtp.password'), 'mail-secret', 'the password stored');
  t.equal(await page.getAttribute('#setting-smtp-password', 'placeholder'), '(set)', 'shown as (set)');
  t.equal(await page.inputValue('#setting-smtp-password'), '', 'never its value');
  await page.fill('#setting-smtp-user', 'mailer');
  await page.click('#settings-smtp-save');
  t.match(await outcome('smtp'), /Applied now: User name\./, 'only the changed key is sent');
  t.equal(settings.get('smtp.password'), 'mail-secret', 'the password kept');

  // Chinese, and a tablet's width.
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '系统设置'");
  t.equal(await page.textContent('#settings-call-title'), '通话设置', 'the page in Chinese');
  t.match(await page.textContent('#setting-sip-port-help'), /端口号 1-65535 · 立即生效：监听端口随即更换/, 'its help too');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-settings-zh-768.png'), fullPage: true });

  // Chromium logs every refused request; only the refusals provoked above are allowed.
  const provoked = [/status of 400 .*\/api\/v1\/settings$/, /status of 502 .*\/api\/v1\/settings\/smtp\/test$/];
  t.same(
    p.errors.filter((e) => !provoked.some((r) => r.test(e))),
    [],
    'no other console errors on the page',
  );
  t.equal(p.errors.filter((e) => provoked[0]?.test(e)).length, 2, 'the two refusals asked for');
});
