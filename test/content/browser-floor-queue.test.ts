/**
 * The floor policy for a second presenter (issue #19, `call.contentFloor`), with two headless
 * Chromium pages in one meeting. Under `queue` a page that shares while another presents waits:
 * its share is answered "pending", the page says it waits (and how to give up), the current
 * presentation stays in its view, and the floor stays with the presenter; when the presenter
 * stops, the waiting page presents and the other page shows its screen. Switched back to
 * `take-over` (the default, followed live), the next share takes the floor at once and the page
 * that presented is told in words.
 */
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, openPage, slidesScreen, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Floor queue', number: '880199', hostPin: '4512', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');

interface View {
  shown: boolean;
  presenter: string | null;
  sharing: boolean;
  waiting: boolean;
  notice: string;
  frames: number;
}

async function joinPage(name: string): Promise<{ p: WatchedPage; id: string }> {
  const p = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(() => p.page.context().close());
  await p.page.fill('#name', name);
  await p.page.click('#join');
  await p.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  await slidesScreen(p, 1280, 720, 5);
  return { p, id: (await p.page.evaluate('window.vcboxJoin.state.participantId')) as string };
}
const view = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.contentView()') as Promise<View>;

t.test('under the queue policy a second share waits its turn, in words, and presents when the first ends', async (t) => {
  box.settings.update({ 'call.contentFloor': 'queue' }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'call.contentFloor': 'take-over' }, { actor: 'test' }));
  const first = await joinPage('First');
  const second = await joinPage('Second');

  await first.p.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  t.equal(floors.presenterOf(room.number), first.id, 'the first page presents');
  await waitFor("the first page's screen at the second", 20_000, async () => (await view(second.p)).frames > 0).catch(() => undefined);

  await second.p.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  t.equal(await second.p.page.evaluate('window.vcboxJoin.state.sharing.floor'), 'pending', 'the second share is answered: pending');
  t.equal(floors.presenterOf(room.number), first.id, 'the floor stays with the first');
  const waiting = await view(second.p);
  t.match(waiting, { sharing: true, waiting: true, notice: /Waiting for your turn.*"Stop sharing" gives up the wait/, presenter: first.id, shown: true }, 'the waiting page says so and still shows the current presentation');
  t.ok(waiting.frames > 0, `…decoding it (${waiting.frames} frames)`);
  t.equal(await second.p.page.isVisible('#stop-share'), true, '"Stop sharing" is offered to give up the wait');

  await first.p.page.click('#stop-share');
  await waitFor('the second page to present', 10_000, () => floors.presenterOf(room.number) === second.id).catch(() => undefined);
  t.equal(floors.presenterOf(room.number), second.id, 'the floor passes to the waiting page when the first stops');
  await second.p.page.waitForFunction('!window.vcboxJoin.contentView().waiting', undefined, { timeout: 10_000 }).catch(() => undefined);
  t.match(await view(second.p), { sharing: true, waiting: false, presenter: second.id, notice: '' }, 'the second page presents now: no waiting notice');
  await waitFor("the second page's screen at the first", 20_000, async () => {
    const v = await view(first.p);
    return v.presenter === second.id && v.frames > 0;
  }).catch(() => undefined);
  t.match(await view(first.p), { sharing: false, presenter: second.id, shown: true }, "the first page shows the second's screen");

  // Back to take-over (the default), followed at the next request: the first takes the floor at once.
  box.settings.update({ 'call.contentFloor': 'take-over' }, { actor: 'test' });
  await first.p.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  t.equal(await first.p.page.evaluate('window.vcboxJoin.state.sharing.floor'), 'granted', 'under take-over the share is granted at once');
  t.equal(floors.presenterOf(room.number), first.id, 'and the first presents again');
  await second.p.page.waitForFunction('!window.vcboxJoin.contentView().sharing', undefined, { timeout: 10_000 }).catch(() => undefined);
  t.match(await view(second.p), { sharing: false, notice: /someone else is presenting now/ }, 'the second page is told in words that its share stopped');
  t.same([...first.p.errors, ...second.p.errors], [], 'no errors on the pages');

  await first.p.page.click('#leave');
  await second.p.page.click('#leave');
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
