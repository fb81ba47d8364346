/**
 * A meeting's media entities own what they make (issue #17), checked on real mediasoup workers
 * through mediasoup's own dumps (routers per worker, transports, producers and consumers per
 * router): a SIP leg whose join fails part-way — its video transport finds no free port in the
 * media port range, after the audio transport, the terminal's producer and the mixer's
 * producer and consumer were made — leaves nothing behind, on the meeting's worker and when
 * the meeting is spread to another worker; a leg or browser that leaves takes everything with
 * it; a leg whose own router dies is reported lost and closes cleanly; closing the meeting
 * closes every router it or its legs made; closing twice is harmless.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import t from 'tap';
import { MeetingMedia } from '../../media/meetings/meeting-media.ts';
import type { MediaNetwork } from '../../media/meetings/meeting-types.ts';
import { freePort } from '../helpers/ports.ts';

const worker = await mediasoup.createWorker({ logLevel: 'error' });
t.teardown(() => worker.close());

/**
 * A terminal's offer: PCMU (numbered as the meeting router numbers it) with RTCP multiplexed
 * (one port) and, optionally, VP8 under 96 (a router of the leg's own: the meeting numbers VP8
 * otherwise).
 */
function offer(withVideo: boolean): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 40000 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=rtcp-mux',
    'a=sendrecv',
    ...(withVideo ? ['m=video 40002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=sendrecv'] : []),
    '',
  ].join('\r\n');
}

/** Transports, producers and consumers left in a router (the mixer's transport is the meeting's own). */
async function contents(router: types.Router): Promise<{ transports: number; producers: number; consumers: number }> {
  const dump = await router.dump();
  return {
    transports: dump.transportIds.length,
    producers: dump.mapProducerIdConsumerIds.length,
    consumers: dump.mapConsumerIdProducerId.length,
  };
}

/** Counts what is made in a router from now on (transports, and producers and consumers on them). */
function countMade(router: types.Router): { transports: number; producers: number; consumers: number } {
  const made = { transports: 0, producers: 0, consumers: 0 };
  router.observer.on('newtransport', (transport) => {
    made.transports++;
    transport.observer.on('newproducer', () => made.producers++);
    transport.observer.on('newconsumer', () => made.consumers++);
  });
  return made;
}

async function routersOn(w: types.Worker): Promise<number> {
  return (await w.dump()).routerIds.length;
}

async function meetingWith(network: MediaNetwork, spreadTo?: types.Worker): Promise<MeetingMedia> {
  return MeetingMedia.create(`m${Math.floor(Math.random() * 1e6)}`, worker, {
    network: () => network,
    rtpTimeoutMs: () => 60_000,
    ...(spreadTo ? { legsPerWorker: 0, placeLeg: () => spreadTo } : {}),
  });
}

/** A port range of one free port: the audio transport takes it, so the video transport fails. */
async function onePortNetwork(): Promise<MediaNetwork> {
  const port = await freePort();
  return { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portRange: { min: port, max: port } };
}

const wideNetwork: MediaNetwork = { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portRange: { min: 40000, max: 49999 } };

t.test('a SIP leg that fails after the mixer producer leaves nothing in the meeting router', async (t) => {
  const meeting = await meetingWith(await onePortNetwork());
  t.teardown(() => meeting.close());
  const empty = await contents(meeting.router);
  t.same(empty, { transports: 1, producers: 0, consumers: 0 }, 'a new meeting has the mixer transport only');
  const routersBefore = await routersOn(worker);
  const made = countMade(meeting.router);
  await t.rejects(meeting.addSipLeg({ participantId: 'p1', displayName: 'One', offer: offer(true), srtp: 'optional' }), /no more available ports/, 'the video transport finds no free port');
  t.equal(made.transports, 1, 'the audio transport was made before the failure');
  t.equal(made.producers, 1, "the terminal's audio producer was made before the failure");
  t.equal(made.consumers, 1, "the leg's consumer of its mix producer was made (after the mix producer) before the failure");
  t.same(await contents(meeting.router), empty, 'no transport, producer (the mix producer included) or consumer is left');
  t.equal(await routersOn(worker), routersBefore, "the video m-line's own router is closed");
  t.equal(meeting.size, 0);
  t.equal(meeting.has('p1'), false);
  // The participant can try again once a port is free: the failed attempt left no trace.
  const retry = await meetingWith(wideNetwork);
  t.teardown(() => retry.close());
  const answer = await retry.addSipLeg({ participantId: 'p1', displayName: 'One', offer: offer(true), srtp: 'optional' });
  t.match(answer.sdp, /m=video [1-9]\d* RTP\/AVP 96/, 'with ports free the same offer joins with video');
});

t.test('a spread SIP leg that fails part-way leaves nothing on either worker', async (t) => {
  const other = await mediasoup.createWorker({ logLevel: 'error' });
  t.teardown(() => other.close());
  const meeting = await meetingWith(await onePortNetwork(), other);
  t.teardown(() => meeting.close());
  const empty = await contents(meeting.router);
  const made = countMade(meeting.router);
  await t.rejects(meeting.addSipLeg({ participantId: 'p1', displayName: 'One', offer: offer(true), srtp: 'optional' }), /no more available ports/);
  t.equal(made.transports, 1, 'the pipe transport from the leg router into the meeting router was made before the failure');
  t.equal(made.producers, 1, "the pipe producer of the terminal's audio was made in the meeting router before the failure");
  t.same(await contents(meeting.router), empty, 'the pipe transports and pipe producers in the meeting router are gone');
  t.equal(await routersOn(other), 0, "the leg's routers on the other worker are closed");
});

t.test('a SIP leg and a browser that leave take everything they made with them', async (t) => {
  const other = await mediasoup.createWorker({ logLevel: 'error' });
  t.teardown(() => other.close());
  const meeting = await meetingWith(wideNetwork, other);
  t.teardown(() => meeting.close());
  const empty = await contents(meeting.router);
  await meeting.addSipLeg({ participantId: 'sip', displayName: 'Room', offer: offer(true), srtp: 'optional' });
  await meeting.addWebPeer('web', 'Browser');
  const full = await contents(meeting.router);
  t.ok(full.transports > empty.transports + 2, `the leg's pipe transports and the browser's two transports are in the meeting router (${full.transports})`);
  t.ok(full.producers >= 2, 'the mix producer and the pipe producers of the leg are there');
  t.ok((await routersOn(other)) >= 1, 'the spread leg has its routers on the other worker');
  t.equal(meeting.removeParticipant('sip', 'hangup', true), true);
  t.equal(meeting.removeParticipant('sip', 'hangup', true), false, 'leaving twice does nothing the second time');
  t.equal(await routersOn(other), 0, "the leg's routers are closed");
  t.equal(meeting.removeParticipant('web', 'hangup', true), true);
  t.same(await contents(meeting.router), empty, 'the meeting router is as it was');
});

t.test("a leg whose own router dies is reported lost, and leaves nothing", async (t) => {
  const other = await mediasoup.createWorker({ logLevel: 'error' });
  const meeting = await meetingWith(wideNetwork, other);
  t.teardown(() => meeting.close());
  const empty = await contents(meeting.router);
  await meeting.addSipLeg({ participantId: 'sip', displayName: 'Room', offer: offer(false), srtp: 'optional' });
  const lost = new Promise<string>((resolve) => meeting.once('participantclosed', (_id, reason) => resolve(reason)));
  other.close();
  t.equal(await lost, 'media-restart', 'the control plane is told to re-attach the leg');
  t.equal(meeting.size, 0);
  t.same(await contents(meeting.router), empty, 'its pipe transport in the meeting router closed with the other side');
  t.equal(meeting.removeParticipant('sip', 'hangup', true), false, 'a hang-up afterwards finds nothing to close');
});

t.test('closing the meeting closes every router it and its legs made; twice is harmless', async (t) => {
  const other = await mediasoup.createWorker({ logLevel: 'error' });
  t.teardown(() => other.close());
  const routersBefore = await routersOn(worker);
  const meeting = await meetingWith(wideNetwork, other);
  await meeting.addSipLeg({ participantId: 'a', displayName: 'A', offer: offer(true), srtp: 'optional' });
  await meeting.addSipLeg({ participantId: 'b', displayName: 'B', offer: offer(false), srtp: 'optional' });
  await meeting.addWebPeer('w', 'W');
  let closedEvents = 0;
  meeting.on('close', () => closedEvents++);
  meeting.close();
  meeting.close();
  t.equal(closedEvents, 1, 'one close event');
  t.equal(meeting.router.closed, true);
  t.equal(await routersOn(worker), routersBefore, "the meeting's router is gone from its worker");
  t.equal(await routersOn(other), 0, "the legs' routers are gone from the other worker");
  await t.rejects(meeting.addWebPeer('late', 'Late'), { code: 'VCBOX_ERR_MEETING_NOT_LIVE' }, 'a closed meeting takes no one');
});

t.test('a second join with the same participant id is refused while the first is being built', async (t) => {
  const meeting = await meetingWith(wideNetwork);
  t.teardown(() => meeting.close());
  const first = meeting.addSipLeg({ participantId: 'p', displayName: 'P', offer: offer(true), srtp: 'optional' });
  await t.rejects(meeting.addWebPeer('p', 'P again'), { code: 'VCBOX_ERR_MEDIA_SDP' }, 'refused at once, not built twice');
  await first;
  t.equal(meeting.size, 1);
});
