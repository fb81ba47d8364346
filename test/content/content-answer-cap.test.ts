/**
 * A room system presenting is asked to keep within the content cap (issue #19: the content
 * layout and every receiver decode what a presenter sends, so the box's answer to a content
 * line says what it takes). Real SIP terminals (sipp) offer content lines; the box's answers are
 * read: under the default cap (1080P/5 in a 2M call) an H.264 line offered at level 5.0 is
 * answered at 4.0 and one at 4.0 as offered, with `b=AS` the content bitrate (936 kbit/s) on
 * the content line only; the cap lowered to 720P/5 answers level 3.1; a re-INVITE is answered
 * with the cap of the moment.
 */
import t from 'tap';
import { contentLine, mainVideoLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, joinWithContent } from '../helpers/content-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Answer cap', number: '880198', hostPin: '4501', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

/** The answer's content line: its fmtp and its `b=AS`, and whether the people line has a `b=` of its own. */
function contentAnswer(answer: string): { fmtp: string | undefined; bandwidth: string | undefined; peopleBandwidth: boolean } {
  const sections = answer.split(/\r?\n(?=m=)/);
  const label = contentLine(parseSdp(answer).media)?.port;
  const content = sections.find((s) => s.startsWith(`m=video ${label} `)) ?? '';
  const people = sections.find((s) => s.startsWith(`m=video ${mainVideoLine(parseSdp(answer).media)?.port} `)) ?? '';
  return { fmtp: /^a=fmtp:\d+ (.*)$/m.exec(content)?.[1]?.trim(), bandwidth: /^b=AS:(\d+)$/m.exec(content)?.[1], peopleBandwidth: /^b=/m.test(people) };
}

/** An H.264 content offer at `profile` (profile-level-id). */
async function offer(audioPort: number, codec: { h264: string }): Promise<string> {
  const base = contentOffer({ audio: audioPort, video: await freePort(), content: await freePort() }, 'TCP/BFCP', 109);
  return base.replace('profile-level-id=42e01f', `profile-level-id=${codec.h264}`);
}

t.test('the content line is answered within the cap, and follows it', async (t) => {
  t.teardown(() => box.settings.update({ 'call.maxContentResolution': '1080P/5' }, { actor: 'test' }));
  const audio = await openTerminals(t, 'high', 'full', 'small', 'later');

  const high = await joinWithContent(target, room.number, 'High', await offer(audio.high.port, { h264: '42e032' }));
  t.match(contentAnswer(high.answer), { fmtp: /profile-level-id=42e028/, bandwidth: '936', peopleBandwidth: false }, 'level 5.0 offered: answered 4.0 (1080p), b=AS 936 on the content line only');
  const full = await joinWithContent(target, room.number, 'Full', await offer(audio.full.port, { h264: '42e028' }));
  t.match(contentAnswer(full.answer), { fmtp: /profile-level-id=42e028/ }, 'level 4.0 offered: answered as offered');

  box.settings.update({ 'call.maxContentResolution': '720P/5' }, { actor: 'test' });
  const small = await joinWithContent(target, room.number, 'Small', await offer(audio.small.port, { h264: '42e028' }));
  t.match(contentAnswer(small.answer), { fmtp: /profile-level-id=42e01f/ }, 'under 720P/5, level 4.0 offered: answered 3.1 (720p)');
  t.match(contentAnswer(small.answer).fmtp, /packetization-mode=1/, 'the rest of the offer kept');

  // A re-INVITE is answered with the cap of its moment.
  const first = await offer(audio.later.port, { h264: '42e028' });
  const later = await joinWithContent(target, room.number, 'Later', first, { media2: first, pause: 1500 });
  t.match(contentAnswer(later.answer), { fmtp: /profile-level-id=42e01f/ }, 'answered 3.1 under 720P/5');
  box.settings.update({ 'call.maxContentResolution': '1080P/15' }, { actor: 'test' });
  t.match(contentAnswer(await later.answer2(15_000)), { fmtp: /profile-level-id=42e028/ }, 'its re-INVITE under 1080P/15: answered 4.0');

  hangUpEveryone(box, room.number);
  await Promise.all([high, full, small, later].map((call) => call.result));
});
