/**
 * A presenter as an attacker against content transcoding (issue #19): whoever holds the floor
 * feeds the content probe (which reads sizes from its key frames' parameter sets) and the
 * ffmpeg transcoder that re-encodes its content for content lines that cannot take it as sent.
 * Here the presenter's content line is H.264 packetization-mode 0 and the receiver's mode 1, so
 * the box must transcode. The presenter sends garbage dressed as H.264 — random single NAL
 * units, STAP-As, FU-As and sequence parameter sets of random bytes, sequence numbers and
 * timestamps jumping — then real slides: the media service and both calls go on, the garbage
 * gives no size and reaches nobody as forwarded content, and the real slides (mode 0) reach the
 * receiver transcoded to mode 1, decoded blue.
 */
import dgram from 'node:dgram';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, contentReceiver, joinWithContent, startSlides, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { sendH264Garbage } from '../helpers/h264-garbage.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { participantIdOf, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Garbage transcode room', number: '880196', hostPin: '4499', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;


t.test('garbage H.264 from the floor holder does not harm the probe, the transcoder or the calls; real slides after it are transcoded', async (t) => {
  const audio = await openTerminals(t, 'attacker', 'receiver');
  const contentFrom = await freePort();
  const mode0 = contentOffer({ audio: audio.attacker.port, video: await freePort(), content: contentFrom }, 'TCP/BFCP', 109).replace('packetization-mode=1', 'packetization-mode=0');
  const attacker = await joinWithContent(target, room.number, 'Attacker', mode0);
  const receiver = await contentReceiver(t, 120, { rtcp: true });
  const receiving = await joinWithContent(target, room.number, 'Receiver', contentOffer({ audio: audio.receiver.port, video: await freePort(), content: receiver.port }, 'TCP/BFCP', 109));
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const receiverId = await participantIdOf(box, room.number, 'Receiver');
  t.match(parseSdp(attacker.answer).media[2]?.codecs[0]?.fmtp, /packetization-mode=0/, "the attacker's content line is answered in mode 0");

  await takeFloor(t, attacker.answer);
  await waitFor('the receiver routed', 15_000, () => box.media?.contentState(room.number).routes[receiverId] === 'transcoded').catch(() => undefined);
  t.equal(box.media?.contentState(room.number).routes[receiverId], 'transcoded', 'the mode-1 line is sent the mode-0 content through a transcoder');

  // Garbage on the content line: 1 500 packets over about 8 s.
  const contentPort = contentLine(parseSdp(attacker.answer).media)?.port ?? 0;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(contentFrom, '127.0.0.1', resolve));
  await sendH264Garbage(socket, contentPort, 1500, { nalTypes: [7, 7, 7, 7, 1, 5, 8, 24, 28, 28, 6, 9, 0, 31], parameterSetTraps: true });
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  const state = box.media?.contentState(room.number);
  t.ok(idOf('Attacker') && idOf('Receiver'), 'both calls go on');
  t.equal(state?.presenter, idOf('Attacker'), 'the attacker still presents');
  const size = state?.source?.shape?.size;
  t.ok(size === undefined || (size.width <= 16_384 && size.height <= 16_384), `the probe read no size, or a bounded one, from the garbage (${JSON.stringify(size)})`);

  // Real slides after the garbage, H.264 mode 0 (slices small enough for one packet each).
  startSlides(t, 'blue', contentFrom, contentPort, 90, { mode0: true });
  await waitFor('content at the receiver', 20_000, () => receiver.packets() > 0).catch(() => undefined);
  await receiver.screen.restart();
  await waitFor('blue slides at the receiver', 40_000, () => receiver.screen.nameAt(0.5, 0.5) === 'blue').catch(() => undefined);
  t.equal(receiver.screen.nameAt(0.5, 0.5), 'blue', `the real slides reach the receiver transcoded (${receiver.screen.frames} frames, ${receiver.packets()} packets; content ${JSON.stringify(box.media?.contentState(room.number))})`);
  t.match(box.media?.contentState(room.number).transcoders, [{ mimeType: 'video/H264', packetizationMode: 1, receivers: [receiverId] }], 'through one mode-1 transcoder');
  t.match(box.media?.contentState(room.number).source?.shape?.size, { width: 640, height: 360 }, "the probe reads the real slides' size");

  for (const name of ['Attacker', 'Receiver']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([attacker.result, receiving.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
