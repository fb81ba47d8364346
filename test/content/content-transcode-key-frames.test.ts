/**
 * Key frames on request for transcoded content (issue #19): a room system that receives the
 * presentation through a transcoder asks for a key frame — RTCP PLI, RTCP FIR (RFC 5104), SIP
 * INFO picture_fast_update naming its content stream (RFC 5168) — and the transcoder's encoder
 * makes one at once, as the MCU's outputs do, instead of at its next periodic key frame. The
 * presenter's content line is H.264 packetization mode 0 and the receiver's mode 1, so the box
 * transcodes (content-routing.ts, video-transcoder.ts). The box's periodic interval is made 60 s
 * here: each requested key frame must come after its request and before the next periodic one
 * would be due, and between requests the stream must go a while without one (so the check can
 * fail). Real sipp terminals, ffmpeg slides; the receiver's content port is the test's own
 * socket pair (RTP read for key frames, RTCP to ask).
 */
import dgram from 'node:dgram';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, joinWithContent, startSlides, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { participantIdOf, startSipBox } from '../helpers/sip-box.ts';

const PERIOD_MS = 60_000;
const box = await startSipBox({ media: { contentKeyFrameSeconds: PERIOD_MS / 1000 }, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Transcoded key frames', number: '880197', hostPin: '4533', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether an H.264 RTP payload (packetization mode 1) starts or carries an IDR picture: a single NAL unit, a STAP-A, an FU-A's first fragment. */
function startsKeyFrame(payload: Buffer): boolean {
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === 5) return true;
  if (type === 28) return ((payload[1] ?? 0) & 0x80) !== 0 && ((payload[1] ?? 0) & 0x1f) === 5;
  if (type === 24) {
    for (let offset = 1; offset + 2 < payload.length; offset += 2 + payload.readUInt16BE(offset)) if (((payload[offset + 2] ?? 0) & 0x1f) === 5) return true;
  }
  return false;
}

/**
 * The receiver's content port: RTP on `port` (the key frames' arrival times, one per picture),
 * RTCP on the port after it (the box's sender reports say where to send PLI and FIR).
 */
async function keyFrameWatcher(t: { teardown(fn: () => unknown): void }) {
  let rtp: dgram.Socket | undefined;
  let rtcp: dgram.Socket | undefined;
  for (let attempt = 0; attempt < 20 && !rtcp; attempt++) {
    const candidate = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => candidate.bind(0, '127.0.0.1', resolve));
    const next = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.bind(candidate.address().port + 1, '127.0.0.1', () => resolve(true));
    });
    if (ok) [rtp, rtcp] = [candidate, next];
    else candidate.close();
  }
  if (!rtp || !rtcp) throw new Error('no UDP port pair free for the receiver');
  const [rtpSocket, rtcpSocket] = [rtp, rtcp];
  const keyFrames: number[] = [];
  let packets = 0;
  let lastKeyTimestamp: number | undefined;
  let sender: { ssrc: number; port: number } | undefined;
  rtpSocket.on('message', (packet) => {
    if (packet.length < 13 || packet.readUInt8(0) >> 6 !== 2) return;
    packets++;
    const csrcs = packet.readUInt8(0) & 0x0f;
    const extension = (packet.readUInt8(0) & 0x10) !== 0;
    let offset = 12 + 4 * csrcs;
    if (extension) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
    const timestamp = packet.readUInt32BE(4);
    if (startsKeyFrame(packet.subarray(offset)) && timestamp !== lastKeyTimestamp) {
      lastKeyTimestamp = timestamp;
      keyFrames.push(Date.now());
    }
  });
  rtcpSocket.on('message', (packet, from) => {
    for (let offset = 0; offset + 8 <= packet.length; offset += (packet.readUInt16BE(offset + 2) + 1) * 4) {
      if (packet[offset + 1] === 200) sender = { ssrc: packet.readUInt32BE(offset + 4), port: from.port };
    }
  });
  t.teardown(() => {
    rtpSocket.close();
    rtcpSocket.close();
  });
  let firSeq = 0;
  /** PSFB (RFC 4585 / 5104) from the receiver's RTCP port to where the box's reports come from. */
  const feedback = (kind: 'PLI' | 'FIR') => {
    if (!sender) throw new Error('no sender report from the box yet');
    const message = Buffer.alloc(kind === 'PLI' ? 12 : 20);
    message.writeUInt8(kind === 'PLI' ? 0x81 : 0x84, 0); // V=2, FMT 1 (PLI) or 4 (FIR)
    message.writeUInt8(206, 1);
    message.writeUInt16BE(message.length / 4 - 1, 2);
    message.writeUInt32BE(0x1234_5678, 4); // the receiver's own SSRC (any)
    if (kind === 'PLI') message.writeUInt32BE(sender.ssrc, 8);
    else {
      message.writeUInt32BE(0, 8); // FIR: media source 0, the stream named in the FCI
      message.writeUInt32BE(sender.ssrc, 12);
      message.writeUInt8(++firSeq & 0xff, 16);
    }
    rtcpSocket.send(message, sender.port, '127.0.0.1');
  };
  return { port: rtpSocket.address().port, keyFrames, packets: () => packets, hasSender: () => sender !== undefined, feedback };
}

t.test('a receiver of transcoded content gets a key frame when it asks by RTCP PLI, RTCP FIR or SIP INFO', async (t) => {
  const audio = await openTerminals(t, 'presenter', 'receiver');
  const slidesFrom = await freePort();
  const mode0 = contentOffer({ audio: audio.presenter.port, video: await freePort(), content: slidesFrom }, 'TCP/BFCP', 109).replace('packetization-mode=1', 'packetization-mode=0');
  const presenter = await joinWithContent(target, room.number, 'Presenter', mode0);
  const receiver = await keyFrameWatcher(t);
  // The receiver also asks by SIP INFO naming its content line (label 3), 30 s after its answer.
  const receiving = await joinWithContent(target, room.number, 'Receiver', contentOffer({ audio: audio.receiver.port, video: await freePort(), content: receiver.port }, 'TCP/BFCP', 109), {
    infoStreamId: '3',
    pause: 30_000,
  });
  const joinedAt = Date.now();
  const receiverId = await participantIdOf(box, room.number, 'Receiver');

  // Slides in mode 0 with a key frame every frame: the source is never what holds a key frame back.
  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  startSlides(t, 'moving', slidesFrom, contentPort, 90, { mode0: true, keyFrameEvery: 1, kbps: 300 });
  await takeFloor(t, presenter.answer);
  await waitFor('the receiver sent transcoded content', 20_000, () => box.media?.contentState(room.number).routes[receiverId] === 'transcoded' && receiver.keyFrames.length > 0 && receiver.hasSender()).catch(() => undefined);
  t.equal(box.media?.contentState(room.number).routes[receiverId], 'transcoded', 'the mode-1 line is sent the mode-0 slides through a transcoder');
  t.ok(receiver.keyFrames.length > 0, `the transcoded stream starts at a key frame (${receiver.packets()} packets)`);

  /** Waits (bounded) until 1.5 s have passed without a key frame; the last one's time. */
  const quiet = async (): Promise<number> => {
    for (let i = 0; i < 40; i++) {
      const last = receiver.keyFrames.at(-1) ?? 0;
      if (Date.now() - last >= 1500) return last;
      await sleep(250);
    }
    return Number.NaN;
  };
  /** Asks in `ask`'s way and returns the first key frame after it (waiting at most 10 s) and the last one before. */
  const requested = async (ask: () => void) => {
    const before = await quiet();
    const askedAt = Date.now();
    ask();
    await waitFor('a key frame after the request', 10_000, () => receiver.keyFrames.some((at) => at >= askedAt)).catch(() => undefined);
    return { before, askedAt, after: receiver.keyFrames.find((at) => at >= askedAt) };
  };

  for (const kind of ['PLI', 'FIR'] as const) {
    const { before, askedAt, after } = await requested(() => receiver.feedback(kind));
    t.ok(Number.isFinite(before), `the stream went 1.5 s without a key frame before the ${kind} (key frames are not every frame)`);
    t.ok(after !== undefined, `a key frame came after the ${kind}`);
    t.ok(after !== undefined && after < before + PERIOD_MS, `before the next periodic one would be due (asked ${askedAt - before} ms after the last key frame, ${after === undefined ? 'none after' : `answered ${after - askedAt} ms after`})`);
  }

  // SIP INFO: sipp sends it 30 s after the answer; the stream is quiet by then.
  const infoDue = joinedAt + 30_000;
  const lastBeforeInfo = await (async () => {
    while (Date.now() < infoDue - 2000) await sleep(250);
    return receiver.keyFrames.at(-1) ?? 0;
  })();
  await waitFor('a key frame after the INFO', 15_000, () => receiver.keyFrames.some((at) => at > lastBeforeInfo && at >= infoDue - 2000)).catch(() => undefined);
  const afterInfo = receiver.keyFrames.find((at) => at > lastBeforeInfo && at >= infoDue - 2000);

  for (const name of ['Presenter', 'Receiver']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  const [, receiverLog] = await Promise.all([presenter.result, receiving.result]);
  t.ok(receiverLog.ok, `the receiver's INFO was answered 200 and its call ended normally ${receiverLog.errors}`);
  const infoSent = (() => {
    const match = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\d*\s+UDP message sent[^\n]*\n\s*INFO sip:/.exec(receiverLog.messages);
    return match ? new Date(`${match[1]}T${match[2]}`).getTime() : undefined;
  })();
  t.ok(infoSent !== undefined, 'the receiver sent its SIP INFO');
  t.ok(lastBeforeInfo < (infoSent ?? 0), 'the last key frame before it came earlier');
  t.ok(afterInfo !== undefined && afterInfo >= (infoSent ?? Number.POSITIVE_INFINITY) - 5, `a key frame came after the SIP INFO (${afterInfo === undefined ? 'none' : `${afterInfo - (infoSent ?? 0)} ms after`})`);
  t.ok(afterInfo !== undefined && afterInfo < lastBeforeInfo + PERIOD_MS, 'before the next periodic one would be due');
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
