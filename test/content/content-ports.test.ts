/**
 * The media ports a call really takes, counted by the operating system, against the manual's
 * rule the box accounts with (server/meetings/media-ports.ts: 6 ports a call, 8 with content;
 * issue #19). The box's media listens on its own loopback address here, so the sockets of the
 * calls (bound there, inside the MCU range) stand apart from the box's internal loopback
 * transports (mixer, compositor, transcoders: 127.0.0.1). The mediasoup workers' sockets are
 * read from /proc (their descriptors → socket inodes → /proc/net/udp and tcp). Real terminals
 * (sipp) whose offers have no rtcp-mux, so each stream takes an RTP and an RTCP port, and a
 * browser's join socket: an audio call takes 2, audio and video 4, with a content line 6, a
 * browser 4 (two WebRTC transports, UDP and TCP each) — each within its accounted 6 or 8, and the
 * whole never more than the accounting says — and a presentation in progress (slides forwarded,
 * the content layout composed for a terminal without a content line) takes no port of the
 * range, neither on the box's address nor for the internal transports it starts
 * (media/rtp/internal-ports.ts keeps them out of the call ranges).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { liveCalls, PORTS_PER_CALL, PORTS_PER_CONTENT_CALL, portsInUse } from '../../server/meetings/media-ports.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { contentOffer, joinWithContent, startSlides } from '../helpers/content-terminal.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { joinMeeting, pcmuMedia, pcmuVp8Media, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const ADDRESS = '127.0.0.231';
const RANGE = { min: 40000, max: 49999 };
const box = await startSipBox({ media: {}, bfcp: true, listen: ADDRESS });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Ports', number: '880199', hostPin: '4502', guestPin: '', capacity: 10 });
const target = `${ADDRESS}:${box.port}`;
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });

/** An IPv4 address as /proc/net writes it (hex, in the machine's byte order: little-endian here). */
const procAddress = (ip: string) =>
  ip
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');

/** The media workers' sockets in the MCU range: on the box's address (calls) and on 127.0.0.1 (internal). */
async function mediaPorts(): Promise<{ calls: number; internal: number }> {
  const pids = (await box.media?.stats())?.workers.map((w) => w.pid) ?? [];
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode) inodes.add(inode);
    }
  }
  const ports = { calls: new Set<string>(), internal: new Set<string>() };
  for (const table of ['udp', 'tcp']) {
    for (const line of readFileSync(`/proc/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, portHex] = (fields[1] ?? '').split(':');
      if (!portHex || !inodes.has(fields[9] ?? '')) continue;
      if (table === 'tcp' && fields[3] !== '0A') continue; // a TCP port is taken by its listener
      const port = Number.parseInt(portHex, 16);
      if (port < RANGE.min || port > RANGE.max) continue;
      if (address === procAddress(ADDRESS)) ports.calls.add(`${table}/${port}`);
      else if (address === procAddress('127.0.0.1')) ports.internal.add(`${table}/${port}`);
    }
  }
  return { calls: ports.calls.size, internal: ports.internal.size };
}

/** What the box accounts for the live calls (the dashboard's and the admission's figure). */
const accounted = () => {
  const floors = box.app.floors;
  return portsInUse(liveCalls(box.app.live.list(), floors && ((meeting, id) => floors.canPresent(meeting, id))));
};

t.test('each call takes the ports it should, within the 6/8 rule; a presentation takes none of the range', async (t) => {
  const audio = await openTerminals(t, 'phone', 'room', 'presenter');
  const counts: Record<string, number> = {};
  let before = (await mediaPorts()).calls;
  t.equal(before, 0, 'no call, no port of the range on the media address');
  const step = async (name: string, expected: number, accountedFor: number) => {
    const now = (await mediaPorts()).calls;
    counts[name] = now - before;
    t.equal(now - before, expected, `${name}: ${expected} ports (RTP and RTCP of each stream)`);
    t.ok(now - before <= accountedFor, `${name}: within the ${accountedFor} the rule accounts`);
    t.ok(now <= accounted(), `all calls together: ${now} ports, the box accounts ${accounted()}`);
    before = now;
  };

  const phone = await joinMeeting(target, { dial: room.number, name: 'Phone', media: pcmuMedia(audio.phone.port), hold: 120_000 });
  await step('an audio call', 2, PORTS_PER_CALL);
  const roomCall = await joinMeeting(target, { dial: room.number, name: 'Room', media: pcmuVp8Media(audio.room.port, await freePort()), hold: 120_000 });
  await step('an audio and video call', 4, PORTS_PER_CALL);
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Presenter', contentOffer({ audio: audio.presenter.port, video: await freePort(), content: slidesFrom }, 'TCP/BFCP', 109));
  await step('a call with a content line', 6, PORTS_PER_CONTENT_CALL);
  const browser = await JoinSocket.connect(base, { localAddress: '127.0.0.232' });
  t.teardown(() => browser.close());
  const joined = await browser.request('join', { number: room.number, name: 'Browser' });
  t.ok(joined.result, `the browser joins ${JSON.stringify(joined.error ?? {})}`);
  await step('a browser', 4, PORTS_PER_CALL);

  // The presenter presents: its slides forwarded to the browser, composed for the terminal without a content line.
  const presenterId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Presenter')?.id ?? '';
  t.ok(box.app.floors?.giveFloor(room.number, presenterId), 'the floor given to the presenter');
  startSlides(t, 'green', slidesFrom, contentLine(parseSdp(presenter.answer).media)?.port ?? 0, 60, { host: ADDRESS });
  const roomId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Room')?.id ?? '';
  const layoutOn = await waitFor('the content layout for the room', 30_000, () => box.media?.pictureState(room.number, roomId)?.content || undefined).catch(() => false);
  t.ok(layoutOn, 'the terminal without a content line is shown the content layout');
  const presenting = await mediaPorts();
  t.equal(presenting.calls, before, 'presenting takes no further port of the range on the media address');
  t.equal(presenting.internal, 0, 'the internal loopback transports (mixer, compositor) take no port of the range either');
  t.comment(`ports per call: ${JSON.stringify(counts)}; all calls ${presenting.calls} of ${accounted()} accounted; internal loopback transports in the range while presenting: ${presenting.internal}`);

  hangUpEveryone(box, room.number);
  await Promise.all([phone.result, roomCall.result, presenter.result]);
  await waitFor('every port given back', 10_000, async () => (await mediaPorts()).calls === 0 || undefined).catch(() => undefined);
  t.equal((await mediaPorts()).calls, 0, 'every port of the calls is closed once they end');
});
