/**
 * The console's rooms and VMR pages in headless Chromium against the real console API: an
 * administrator adds a normal room and a video room (refused by its field until it is bound to
 * an account; then listed with the bound terminal's model from its registration), renames one,
 * searches, deletes both (confirmed); adds VMRs (a guest PIN equal to the host PIN and a
 * 4-digit number are refused by their fields, in words; a VMR with everything generated),
 * picks a layout, changes the capacity, deletes (confirmed), and reads both pages in Chinese —
 * a refusal too. Checked in the page and in the database; screenshots at 1280×800 and 768 px
 * wide go to the artefacts; no console errors but the refusals asked for.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { RoomStore } from '../../server/rooms/room-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp } from '../helpers/sipp.ts';

// A real registrar: the bound account's terminal (sipp, a Yealink User-Agent) registers, and the
// rooms list reads its model from the location service as the control plane does.
const box = await startSipBox();
t.teardown(() => box.close());
const { db, settings } = box;
await new AdminStore(db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
box.app.accounts.create({ number: '2101', name: 'Board room terminal', password: 'secret-2101' }, box.realm);
const registered = await runSipp({
  scenario: 'register.xml',
  target: `127.0.0.1:${box.port}`,
  transport: 'u1',
  auth: ['2101', 'secret-2101'],
  keys: { account: '2101', contact_port: String(await freePort()), expires: '300', device: 'board' },
});
if (!registered.ok) throw new Error(`the terminal of 2101 did not register: ${registered.errors}`);
const devices = (account: string) => {
  const binding = box.app.location.lookup(account).at(-1);
  return binding ? { model: binding.model, version: binding.version } : undefined;
};
const base = await startConsoleApi(t, { state: { db, settings }, devices, keepDb: true, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const rooms = new RoomStore(db);
const vmrs = new VmrStore(db);

async function login(page: Page): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
}

async function screenshots(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: path.join(artifacts, `${name}-768.png`), fullPage: true });
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  t.equal(overflow, 0, `${name}: nothing wider than a 768 px tablet (tables scroll in their own box)`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

t.test('rooms: added, refused by field, bound to a terminal, renamed, searched, deleted', async (t) => {
  const p = await openPage(browser, `${base}/#rooms`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await login(page);
  await page.waitForSelector('#rooms-table');
  t.match(await page.textContent('#rooms-table caption'), /0 rooms/, 'no rooms yet');

  await page.fill('#room-name', 'Board room');
  await page.click('#room-form button[type="submit"]');
  await page.waitForSelector('tr[data-room="Board room"]');
  t.match(await page.textContent('tr[data-room="Board room"]'), /Normal/, 'a normal room');

  // A video room must be bound to an account: refused by that field, in words.
  await page.fill('#room-name', 'Studio');
  await page.selectOption('#room-type', 'video');
  await page.click('#room-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('room-account-error').textContent !== ''");
  t.match(await page.textContent('#room-account-error'), /bound to the account of its terminal/, `refused by the account field: ${await page.textContent('#room-account-error')}`);
  t.equal(await page.getAttribute('#room-account', 'aria-invalid'), 'true', 'the field is marked invalid');
  t.equal(await page.evaluate<string>('document.activeElement?.id'), 'room-account', 'and has the focus');
  await page.fill('#room-account', '2101');
  await page.click('#room-form button[type="submit"]');
  await page.waitForSelector('tr[data-room="Studio"]');
  t.match(await page.textContent('tr[data-room="Studio"]'), /Video.*2101.*Yealink SIP-VC800 63\.345\.0\.10/s, 'the video room with its terminal model and version');
  await screenshots(page, 'console-rooms');

  // Rename with the keyboard: the change button is reachable and the form takes the room.
  await page.focus('tr[data-room="Board room"] button.edit');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#room-form button[type="submit"] >> text=Save changes');
  t.equal(await page.evaluate<string>('document.activeElement?.id'), 'room-name', 'the form has the focus');
  await page.fill('#room-name', 'Board room 2');
  await page.click('#room-form button[type="submit"]');
  await page.waitForSelector('tr[data-room="Board room 2"]');
  t.same(
    rooms.list().map((r) => [r.name, r.type, r.account]),
    [
      ['Board room 2', 'normal', null],
      ['Studio', 'video', '2101'],
    ],
    'both rooms in the database',
  );

  await page.fill('#room-search', '2101');
  await page.press('#room-search', 'Enter');
  await page.waitForFunction("document.querySelectorAll('#rooms-table tbody tr').length === 1");
  t.equal(await page.getAttribute('#rooms-table tbody tr', 'data-room'), 'Studio', 'search by account');
  await page.fill('#room-search', '');
  await page.press('#room-search', 'Enter');
  await page.waitForFunction("document.querySelectorAll('#rooms-table tbody tr').length === 2");

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '会议室'");
  t.match(await page.textContent('#rooms-table caption'), /共 2 个会议室/, 'the page in Chinese');
  t.match(await page.textContent('tr[data-room="Studio"]'), /视频会议室/, 'the room type too');
  await page.screenshot({ path: path.join(artifacts, 'console-rooms-zh.png'), fullPage: true });
  await page.selectOption('#lang', 'en');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === 'Rooms'");

  await page.check('tr[data-room="Studio"] input[type="checkbox"]');
  await page.check('tr[data-room="Board room 2"] input[type="checkbox"]');
  let question = '';
  page.once('dialog', (dialog) => {
    question = dialog.message();
    void dialog.accept();
  });
  await page.click('#rooms-delete-selected');
  await page.waitForFunction("document.querySelectorAll('#rooms-table tbody tr').length === 0");
  t.match(question, /Delete 2 rooms\?/, 'the bulk delete asked first');
  t.same(rooms.list(), [], 'both are gone from the database');

  const refused = p.errors.filter((e) => /status of 400 .*\/api\/v1\/rooms$/.test(e));
  t.equal(refused.length, 1, 'the one refusal asked for');
  t.same(
    p.errors.filter((e) => !refused.includes(e)),
    [],
    'no other console errors',
  );
});

t.test('VMRs: refused values by their fields, generated numbers and PINs, layout, change, delete, Chinese', async (t) => {
  const p = await openPage(browser, `${base}/#vmrs`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await login(page);
  await page.waitForSelector('#vmrs-table');
  t.equal(await page.locator('#vmr-layout option').count(), 11, 'every layout to choose from');

  // The same PIN for hosts and guests: refused by the guest PIN field.
  await page.fill('#vmr-number', '88001');
  await page.fill('#vmr-name', 'Town hall');
  await page.fill('#vmr-owner', '2101');
  await page.fill('#vmr-host-pin', '1111');
  await page.fill('#vmr-guest-pin', '1111');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('vmr-guest-pin-error').textContent !== ''");
  t.match(await page.textContent('#vmr-guest-pin-error'), /must differ from the host PIN/, `refused by the guest PIN: ${await page.textContent('#vmr-guest-pin-error')}`);

  // A 4-digit number is an account's: refused by the number field with the rule in words.
  await page.fill('#vmr-guest-pin', '2222');
  await page.fill('#vmr-number', '1234');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('vmr-number-error').textContent !== ''");
  t.match(await page.textContent('#vmr-number-error'), /must be a VMR number of 5 to 12 digits/, `refused by the number: ${await page.textContent('#vmr-number-error')}`);
  t.equal(await page.textContent('#vmr-guest-pin-error'), '', 'the earlier refusal is gone');

  await page.fill('#vmr-number', '88001');
  await page.selectOption('#vmr-layout', '1+5');
  t.equal(await page.locator('.layout-preview svg.layout-picture rect.big').count(), 1, 'the 1+5 picture: one big pane');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForSelector('tr[data-vmr="88001"]');
  t.match(vmrs.byNumber('88001'), { name: 'Town hall', owner: '2101', hostPin: '1111', guestPin: '2222', capacity: 16, layout: '1+5' }, 'the VMR in the database');
  t.match(await page.textContent('tr[data-vmr="88001"]'), /88001.*Town hall.*2101.*1111.*2222.*16.*1\+5/s, 'and in the list');

  // Everything but the name generated.
  await page.fill('#vmr-name', 'Generated');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#vmrs-table tbody tr').length === 2");
  const generated = vmrs.list('Generated')[0];
  t.match(generated, { number: /^\d{6}$/, hostPin: /^\d{6}$/, guestPin: /^\d{4}$/ }, 'number and PINs generated');
  await screenshots(page, 'console-vmrs');

  // Change the capacity: too many refused by its field, then a good one.
  await page.click('tr[data-vmr="88001"] button.edit');
  await page.waitForSelector('#vmr-form button[type="submit"] >> text=Save changes');
  t.equal(await page.inputValue('#vmr-number'), '88001', 'the form holds the VMR');
  await page.fill('#vmr-capacity', '1000');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('vmr-capacity-error').textContent !== ''");
  t.match(await page.textContent('#vmr-capacity-error'), /2 to 500 participants/, 'the capacity is refused by its field');
  await page.fill('#vmr-capacity', '50');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForSelector('#vmr-form button[type="submit"] >> text=Add VMR');
  t.equal(vmrs.byNumber('88001')?.capacity, 50, 'the capacity changed in the database');
  t.equal(vmrs.byNumber('88001')?.guestPin, '2222', 'the rest kept');

  // In Chinese, a refusal comes back in Chinese.
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '虚拟会议室'");
  await page.fill('#vmr-name', '重复');
  await page.fill('#vmr-number', '88001');
  await page.click('#vmr-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('vmr-number-error').textContent !== ''");
  t.match(await page.textContent('#vmr-number-error'), /号码 88001 已被 .* 使用/, `a number in use is refused in Chinese by the number field: ${await page.textContent('#vmr-number-error')}`);
  await page.screenshot({ path: path.join(artifacts, 'console-vmrs-zh.png'), fullPage: true });
  await page.selectOption('#lang', 'en');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === 'Virtual meeting rooms'");

  // Delete one from its row, then the other by selection.
  page.once('dialog', (dialog) => void dialog.accept());
  await page.click(`tr[data-vmr="${generated?.number}"] button.delete`);
  await page.waitForFunction("document.querySelectorAll('#vmrs-table tbody tr').length === 1");
  page.once('dialog', (dialog) => void dialog.dismiss());
  await page.check('tr[data-vmr="88001"] input[type="checkbox"]');
  await page.click('#vmrs-delete-selected');
  t.ok(vmrs.byNumber('88001'), 'a dismissed confirmation deletes nothing');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.click('#vmrs-delete-selected');
  await page.waitForFunction("document.querySelectorAll('#vmrs-table tbody tr').length === 0");
  t.same(vmrs.list(), [], 'both are gone from the database');

  const refused = p.errors.filter((e) => /status of (400|409) .*\/api\/v1\/vmrs(\/\d+)?$/.test(e));
  t.equal(refused.length, 4, 'the four refusals asked for (equal PINs, 4-digit number, capacity, number in use)');
  t.same(
    p.errors.filter((e) => !refused.includes(e)),
    [],
    'no other console errors',
  );
});
