/**
 * Content key frames the SIP way (issue #19, RFC 5168): a room system presents slides whose
 * encoder makes a key frame only every 4 s and ignores RTCP PLI (ffmpeg), as some room systems
 * do. The box asks it by SIP INFO (picture_fast_update naming its content stream:
 * `<stream_id>` = its content line's a=label) when it needs a key frame of the presentation:
 * while it learns the content's size and when a receiver starts. A receiving room system whose
 * content decoder wants a key frame asks by SIP INFO naming its own content line's label: the
 * box answers 200 and asks the presenter for one by SIP INFO again. Real sipp terminals on both
 * sides; the INFOs are read from their message logs.
 */
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, contentReceiver, joinWithContent, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { spawn } from 'node:child_process';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Content key frames', number: '880199', hostPin: '4522', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

/** The SIP messages of a sipp message log, each with when it went or came and which way. */
function messagesOf(log: string): { at: number; way: 'sent' | 'received'; text: string }[] {
  const out: { at: number; way: 'sent' | 'received'; text: string }[] = [];
  const header = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\d*\s+UDP message (sent|received)[^\n]*\n/g;
  const heads = [...log.matchAll(header)];
  for (const [i, head] of heads.entries()) {
    const start = (head.index ?? 0) + head[0].length;
    const end = heads[i + 1]?.index ?? log.length;
    out.push({ at: new Date(`${head[1]}T${head[2]}`).getTime(), way: head[3] as 'sent' | 'received', text: log.slice(start, end).trim() });
  }
  return out;
}
const contentInfo = (text: string, label: string) => /^INFO sip:/.test(text) && /<picture_fast_update\s*\/>/.test(text) && text.includes(`<stream_id>${label}</stream_id>`);

t.test('SIP INFO picture_fast_update for content: the presenter is asked naming its content stream; a receiver asking is served', async (t) => {
  const audio = await openTerminals(t, 'presenter', 'receiver');
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Presenter', contentOffer({ audio: audio.presenter.port, video: await freePort(), content: slidesFrom }, 'TCP/BFCP', 109));
  const receiver = await contentReceiver(t, 120);
  // The receiver asks for a content key frame by INFO 20 s after its call is answered.
  const receiving = await joinWithContent(target, room.number, 'Receiver', contentOffer({ audio: audio.receiver.port, video: await freePort(), content: receiver.port }, 'TCP/BFCP', 109), {
    infoStreamId: '3',
    pause: 20_000,
  });
  t.equal(contentLine(parseSdp(presenter.answer).media)?.label, '3', "the presenter's content line is labelled 3 (its stream_id)");

  // Slides with a key frame every 4 s; ffmpeg does not answer PLI.
  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  const slides = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=blue:size=640x360:rate=5', '-t', '90',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '20', '-b:v', '200k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${contentPort}?localrtpport=${slidesFrom}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => slides.kill('SIGKILL'));
  await takeFloor(t, presenter.answer);
  const receiverId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Receiver')?.id ?? '';
  await waitFor('the content forwarded to the receiver', 20_000, () => box.media?.contentState(room.number).routes[receiverId] === 'forwarded' && receiver.packets() > 0).catch(() => undefined);
  t.equal(box.media?.contentState(room.number).routes[receiverId], 'forwarded', 'the slides are forwarded to the receiver');

  // Wait for the receiver's INFO (20 s after its answer) and a little after, then end the calls.
  const receiverResult = receiving.result;
  await new Promise((resolve) => setTimeout(resolve, 25_000));
  for (const name of ['Presenter', 'Receiver']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  const [presenterLog, receiverLog] = await Promise.all([presenter.result, receiverResult]);
  t.ok(receiverLog.ok, `the receiver's INFO was answered 200 and its call ended normally ${receiverLog.errors}`);

  const toPresenter = messagesOf(presenterLog.messages).filter((m) => m.way === 'received' && contentInfo(m.text, '3'));
  t.ok(toPresenter.length >= 1, `the presenter was asked for content key frames by SIP INFO naming stream 3 (${toPresenter.length})`);
  t.ok(toPresenter.length <= 40, 'at most about one a second');
  t.match(toPresenter[0]?.text, /Content-Type: application\/media_control\+xml/, 'as application/media_control+xml');
  const asked = messagesOf(receiverLog.messages).find((m) => m.way === 'sent' && contentInfo(m.text, '3'));
  t.ok(asked, "the receiver's INFO named its content stream");
  const after = toPresenter.filter((m) => asked && m.at >= asked.at);
  t.ok(after.length >= 1, `after the receiver asked, the presenter was asked again (${after.length} INFO)`);
  t.notOk(messagesOf(receiverLog.messages).some((m) => m.way === 'received' && contentInfo(m.text, '3')), 'the receiver is never asked for content (it does not present)');
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
