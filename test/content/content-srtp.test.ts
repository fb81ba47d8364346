/**
 * Content over SRTP (SDES), end to end (issue #19): two room systems offer their content line as
 * RTP/SAVP with their own keys (a=crypto). The box answers each with a key of its own; the
 * presenter's ffmpeg sends H.264 slides encrypted with the presenter's key, the presenter takes
 * the floor with the libre BFCP client, and the receiver's decoder — given only the box's key
 * for its content line — decodes the slides' colour: the box decrypted them from one terminal
 * and encrypted them for the other. A receiver's decoder given a wrong key decodes nothing (the
 * check can fail), and nothing reaches the content line in the clear.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, joinWithContent, startSlides, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { Screen } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Secure content', number: '880194', hostPin: '4498', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

/** The key of the content line's a=crypto in an answer. */
function contentKey(answer: string): string | undefined {
  const section = answer.split(/\r?\n(?=m=)/).find((s) => /^m=video/.test(s) && /a=content:slides/.test(s));
  return /a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)/.exec(section ?? '')?.[1];
}

t.test('content decrypted from one terminal and encrypted for the other (SDES on the content line)', async (t) => {
  const audio = await openTerminals(t, 'presenter', 'receiver');
  const presenterKey = randomBytes(30).toString('base64');
  const receiverKey = randomBytes(30).toString('base64');
  const presenterContent = await freePort();
  // The receiver's content port: counts what arrives, checks none of it is plain H.264 RTP, and hands it to the decoders.
  const receiverSocket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => receiverSocket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => receiverSocket.close());
  const decoderPort = await freePort();
  const wrongKeyPort = await freePort();
  let packets = 0;
  receiverSocket.on('message', (packet) => {
    if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return;
    const pt = packet.readUInt8(1) & 0x7f;
    if (pt >= 72 && pt <= 76) return; // SRTCP
    packets++;
    receiverSocket.send(packet, decoderPort, '127.0.0.1');
    receiverSocket.send(packet, wrongKeyPort, '127.0.0.1');
  });

  const presenter = await joinWithContent(target, room.number, 'Presenter', contentOffer({ audio: audio.presenter.port, video: await freePort(), content: presenterContent }, 'TCP/BFCP', 109, presenterKey));
  const receiver = await joinWithContent(target, room.number, 'Receiver', contentOffer({ audio: audio.receiver.port, video: await freePort(), content: receiverSocket.address().port }, 'TCP/BFCP', 109, receiverKey));
  const presenterLine = contentLine(parseSdp(presenter.answer).media);
  t.equal(presenterLine?.proto, 'RTP/SAVP', "the presenter's content line is answered RTP/SAVP");
  const boxKeyForPresenter = contentKey(presenter.answer);
  const boxKeyForReceiver = contentKey(receiver.answer);
  t.match(boxKeyForReceiver, /^[A-Za-z0-9+/]{40}$/, "the box answers the receiver's content line with a 30-byte key of its own");
  t.not(boxKeyForReceiver, receiverKey, "…not the receiver's");
  t.not(boxKeyForReceiver, boxKeyForPresenter, '…and not the one it gave the presenter');

  // The slides: blue H.264, encrypted with the presenter's key, to the presenter's content line.
  startSlides(t, 'blue', presenterContent, presenterLine?.port ?? 0, 90, { srtpKey: presenterKey });

  await takeFloor(t, presenter.answer);

  const screen = new Screen(t, decoderPort, 'H264', 90, undefined, { crypto: boxKeyForReceiver });
  const wrong = new Screen(t, wrongKeyPort, 'H264', 90, undefined, { crypto: receiverKey });
  await waitFor('content at the receiver', 20_000, () => packets > 20).catch(() => undefined);
  t.ok(packets > 20, `the box sends content to the receiver's content line (${packets} packets)`);
  await waitFor('blue slides decoded with the box key', 30_000, () => screen.nameAt(0.5, 0.5) === 'blue').catch(() => undefined);
  t.equal(screen.nameAt(0.5, 0.5), 'blue', `decrypted with the box's key for this line, the slides are blue (${screen.frames} frames)`);
  t.equal(wrong.frames, 0, 'with any other key nothing decodes: the content line is encrypted');
  t.equal(box.media?.contentState(room.number).presenter, [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Presenter')?.id, 'the presenter holds the floor');

  for (const name of ['Presenter', 'Receiver']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([presenter.result, receiver.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
