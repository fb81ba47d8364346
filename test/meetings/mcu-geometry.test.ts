/**
 * The MCU's layout geometry and pane assignment (pure logic): every layout's panes tile the
 * canvas without overlap, with the spec's pane counts; a meeting's choice is capped by the
 * admin's maxima and `auto` grows with the meeting; the big pane goes to the pinned, else the
 * speaker, else the first to join; polling rotates the rest (round-robin, longest-unseen) and
 * always keeps the speaker in view; the content layout (content big, the people small) while
 * someone presents.
 */
import t from 'tap';
import { contentLayout, effectiveLayout, type Layout, paneCount, panes } from '../../media/mcu/layouts.ts';
import { PaneAssignment } from '../../media/mcu/pane-assignment.ts';

const ALL: Layout[] = ['single', '2x2', '3x3', '4x4', '5x5', '6x6', '7x7', '1+5', '1+7', '1+9'];

t.test('every layout tiles a 1280×720 canvas exactly, big pane first', async (t) => {
  for (const layout of ALL) {
    const rects = panes(layout, 1280, 720);
    t.equal(rects.length, paneCount(layout), `${layout}: ${paneCount(layout)} panes`);
    const area = rects.reduce((sum, r) => sum + r.width * r.height, 0);
    t.equal(area, 1280 * 720, `${layout}: the panes cover the canvas`);
    const overlap = rects.some((a, i) => rects.some((b, j) => i < j && a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height));
    t.notOk(overlap, `${layout}: no two panes overlap`);
    t.ok(rects.every((r) => r.x % 2 === 0 && r.y % 2 === 0 && r.width % 2 === 0 && r.height % 2 === 0), `${layout}: even pixel geometry`);
    if (layout.includes('+') || layout === 'single') t.ok(rects[0]?.big && rects.slice(1).every((r) => !r.big && r.width < (rects[0]?.width ?? 0)), `${layout}: one big pane, first`);
  }
  t.same(panes('1+5', 1200, 600)[0], { x: 0, y: 0, width: 800, height: 400, big: true }, '1+5: the big pane is 2/3 × 2/3');
  t.same(panes('1+9', 1000, 500)[0], { x: 0, y: 0, width: 800, height: 400, big: true }, '1+9: the big pane is 4/5 × 4/5');
});

t.test('the layout shown: choice capped by the maxima; auto grows', async (t) => {
  const limits = { equalSplitMax: '4x4', onePlusNMax: '1+7' } as const;
  t.equal(effectiveLayout('auto', 1, limits), 'single');
  t.equal(effectiveLayout('auto', 2, limits), '2x2');
  t.equal(effectiveLayout('auto', 5, limits), '3x3');
  t.equal(effectiveLayout('auto', 10, limits), '4x4');
  t.equal(effectiveLayout('auto', 40, limits), '4x4', 'beyond the maximum: polling, not a bigger grid');
  t.equal(effectiveLayout('7x7', 3, limits), '4x4', 'a meeting cannot exceed the equal-split maximum');
  t.equal(effectiveLayout('1+9', 3, limits), '1+7', 'nor the 1+N maximum');
  t.equal(effectiveLayout('1+5', 3, limits), '1+5');
  t.equal(effectiveLayout('single', 9, limits), 'single');
});

t.test('big pane: pinned, else speaker, else first; others in join order', async (t) => {
  const assign = new PaneAssignment('round-robin');
  const order = ['a', 'b', 'c', 'd'];
  t.same(assign.assign('1+5', order), ['a', 'b', 'c', 'd']);
  t.same(assign.assign('1+5', order, 'c'), ['c', 'a', 'b', 'd'], 'the speaker takes the big pane');
  t.same(assign.assign('1+5', order, 'c', 'd'), ['d', 'a', 'b', 'c'], 'the pinned participant holds it whoever speaks');
  t.same(assign.assign('2x2', order, 'c', 'd'), ['d', 'a', 'b', 'c'], 'equal split: the pinned participant comes first');
  t.same(assign.assign('single', order, 'b'), ['b']);
  t.same(assign.assign('1+5', order, 'gone', 'left'), ['a', 'b', 'c', 'd'], 'a pinned or speaking participant who left is ignored');
});

t.test('polling: round-robin advances the window; the speaker stays in view', async (t) => {
  const assign = new PaneAssignment('round-robin');
  const order = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  t.same(assign.assign('2x2', order), ['a', 'b', 'c', 'd']);
  assign.poll();
  t.same(assign.assign('2x2', order), ['a', 'e', 'f', 'g'], 'the next four in join order (wrapping)');
  assign.poll();
  t.same(assign.assign('2x2', order, 'b'), ['b', 'c', 'd', 'e'], 'window b…e already includes the speaker');
  t.same(assign.assign('2x2', order, 'g'), ['b', 'c', 'd', 'g'], 'a speaker outside the window replaces its last pane');
  t.same(assign.assign('1+5', order, 'a'), ['a', 'b', 'c', 'd', 'f', 'g'], '1+N: the speaker is big, the other five rotate');
});

t.test('polling: longest-unseen brings in those not shown for longest', async (t) => {
  const assign = new PaneAssignment('longest-unseen');
  const order = ['a', 'b', 'c', 'd', 'e', 'f'];
  t.same(assign.assign('2x2', order), ['a', 'b', 'c', 'd'], 'at first: join order');
  t.same(assign.assign('2x2', order), ['a', 'b', 'c', 'd'], 'stable until the next poll');
  assign.poll();
  t.same(assign.assign('2x2', order), ['a', 'b', 'e', 'f'], 'the never-shown come in, the longest-shown go');
  assign.poll();
  t.same(assign.assign('2x2', order), ['a', 'b', 'c', 'd'], 'then c and d, unseen since the first round, come back');
});

t.test('content layout: content in the big pane of the 1+N that holds the meeting’s people, capped by the 1+N maximum', async (t) => {
  const limits = { equalSplitMax: '4x4', onePlusNMax: '1+9' } as const;
  t.equal(contentLayout('2x2', 2, limits), '1+5', 'two people: 1+5 (the smallest)');
  t.equal(contentLayout('2x2', 4, limits), '1+5', 'a 2×2 meeting: its four people beside the content');
  t.equal(contentLayout('3x3', 6, limits), '1+7', 'six people: 1+7');
  t.equal(contentLayout('3x3', 9, limits), '1+9', 'nine people: 1+9');
  t.equal(contentLayout('4x4', 16, limits), '1+9', 'more than nine: 1+9, the rest polled');
  t.equal(contentLayout('2x2', 12, limits), '1+5', "the meeting's layout capacity (2×2 shows four) sets N, not the head count");
  t.equal(contentLayout('single', 5, limits), '1+5', 'a single-view meeting: its one speaker beside the content');
  t.equal(contentLayout('1+5', 6, limits), '1+7', 'a 1+5 meeting shows six people: beside the content they need 1+7');
  t.equal(contentLayout('4x4', 16, { equalSplitMax: '4x4', onePlusNMax: '1+5' }), '1+5', 'never above the admin’s 1+N maximum');
  t.equal(contentLayout('2x2', 0, limits), '1+5', 'nobody yet: still a content layout');
  // The content's pane is the 1+N big pane: first, and as wide as tall as the canvas's aspect.
  const [big, ...small] = panes(contentLayout('2x2', 3, limits), 1280, 720);
  t.match(big, { x: 0, y: 0, big: true }, 'the content takes the big pane, top left');
  t.ok(big && Math.abs(big.width / big.height - 16 / 9) < 0.02, 'a 16:9 big pane on a 16:9 canvas (16:9 content fills it)');
  t.equal(small.length, 5, 'five small panes for the people');
});

t.test('content layout: the people fill the small panes; the speaker stays in view when they do not all fit', async (t) => {
  const assign = new PaneAssignment('round-robin');
  t.same(assign.assignBeside(5, ['a', 'b', 'c']), ['a', 'b', 'c'], 'everyone beside the content, in join order');
  t.same(assign.assignBeside(5, ['a', 'b', 'c'], 'c'), ['a', 'b', 'c'], 'the speaker does not take a big pane (the content has it)');
  t.same(assign.assignBeside(5, ['a', 'b', 'c'], 'b', 'c'), ['c', 'a', 'b'], 'the pinned participant first');
  const many = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const shown = assign.assignBeside(5, many, 'h');
  t.equal(shown.length, 5, 'five of eight shown');
  t.ok(shown.includes('h'), 'the speaker among them');
});
