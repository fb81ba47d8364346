/**
 * A composed picture whose compositor process dies (kill -9) is started again by itself: the
 * terminals keep their calls (no renegotiation) and get the picture back — a red camera and a
 * viewer whose video port is an ffmpeg screen. Garbage on the compositor's command channel is
 * answered with an error, not a crash.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { COMPOSITOR_BINARY } from '../../media/mcu/compositor-process.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, pcmuVp8Media, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30' }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Heal', number: '880013', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

t.test('a killed compositor comes back and the terminals see the picture again', async (t) => {
  const audio = await openTerminals(t, 'camera', 'viewer');
  const cameraPort = await freePort();
  const camera = await joinMeeting(target, { dial: room.number, name: 'Red', media: pcmuVp8Media(audio.camera.port, cameraPort), hold: 15_000 });
  startCamera(t, 'red', cameraPort, camera.answeredVideoPort);
  const screenPort = await freePort();
  const screen = new Screen(t, screenPort);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, screenPort), hold: 15_000 });
  await waitFor('red on the screen', 10_000, () => screen.nameAt(0.25, 0.25) === 'red').catch(() => undefined);
  t.equal(screen.nameAt(0.25, 0.25), 'red', 'the viewer sees the red camera');
  const pid = box.media?.pictureState(room.number)?.pid ?? 0;
  t.ok(pid > 0, `the compositor runs (pid ${pid})`);

  process.kill(pid, 'SIGKILL');
  await waitFor('a new compositor', 5000, () => {
    const next = box.media?.pictureState(room.number)?.pid;
    return next !== undefined && next !== pid ? next : undefined;
  }).catch(() => undefined);
  const next = box.media?.pictureState(room.number)?.pid;
  t.ok(next !== undefined && next !== pid, `a new compositor took over (pid ${next})`);
  const before = screen.frames;
  await waitFor('the picture again', 10_000, () => screen.frames > before + 15 && screen.nameAt(0.25, 0.25) === 'red').catch(() => undefined);
  t.ok(screen.frames > before + 15, `frames arrive again (${screen.frames - before} since the restart)`);
  t.equal(screen.nameAt(0.25, 0.25), 'red', 'with the red camera in its pane');
  const results = await Promise.all([camera.result, viewer.result]);
  t.ok(results.every((r) => r.ok), 'both calls went on and ended normally');
  t.ok(results.every((r) => (r.messages.match(/^INVITE sip:/gm) ?? []).length === 1), 'no re-INVITE was needed');
});

t.test('garbage on the command channel gets errors; the compositor keeps working', async (t) => {
  const child = spawn(COMPOSITOR_BINARY, [], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdin.write('pane\tx\t1\t1\t1\t1\t1\n'); // before the canvas
  child.stdin.write('canvas\t320\t180\t15\n');
  await waitFor('ready', 5000, () => lines.includes('ready'));
  const garbage = [
    '', '\t\t\t', 'pane', 'pane\tx\ty', 'output\ta', 'canvas\tfoo\tbar\tbaz', 'frobnicate\t1',
    'input\tbad\tVP8\tnot-a-number\tName', 'placeholder\tp\tPlaceholder', 'pane\tp\t-50\t-50\t100000\t3\t-7',
    'keyframe\tnone', 'remove\tnobody', 'drop-output\tnone', 'highlight\tp', `name\tp\t${'x'.repeat(100_000)}`,
  ];
  for (const line of garbage) child.stdin.write(`${line}\n`);
  child.stdin.write(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a])); // not UTF-8
  child.stdin.write('input\tok\tVP8\t96\tOk\n');
  const answered = await Promise.race([waitFor('an input port after the garbage', 5000, () => lines.find((l) => l.startsWith('input-port\tok\t'))), exited.then(() => undefined)]);
  t.ok(answered, `the compositor still answers (${answered})`);
  t.ok(lines.some((l) => l.startsWith('error\t')), 'bad commands are answered with errors');
  t.equal(child.exitCode, null, 'and it is still running');
});
