/**
 * A room system in a meeting with content, for the content tests: sipp does the signaling
 * (test/sipp/content-join.xml) with an SDP offering audio, people video, an H.264 content line
 * (`a=content:slides`) and a BFCP line, pointing at the test's own sockets; the box's whole
 * answer (and, after a re-INVITE, the next one) comes back through a file. The terminal's
 * presentation is ffmpeg's H.264 (`startSlides`); its content port, a socket counting what the
 * box sends there and handing it to an ffmpeg decoder (`contentReceiver`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSdp } from '../../media/sdp/sip-sdp.ts';
import { BfcpClient, overallStatus } from './bfcp-client.ts';
import { waitFor } from './meeting-terminal.ts';
import { freePort } from './ports.ts';
import { Screen } from './video-peer.ts';
import { type SippResult, scenarioWith, startSipp } from './sipp.ts';

/**
 * Audio PCMU, people video VP8 and, when `content`, an H.264 content line (payload type
 * `contentPt`, label 3) and a BFCP line on `bfcp`. With `srtpKey` the content line is RTP/SAVP
 * with that SDES key (AES_CM_128_HMAC_SHA1_80) and rtcp-mux.
 */
export function contentOffer(ports: { audio: number; video: number; content?: number }, bfcp?: 'TCP/BFCP' | 'UDP/BFCP' | 'TCP/TLS/BFCP', contentPt = 98, srtpKey?: string): string {
  const lines = [
    `m=audio ${ports.audio} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    `m=video ${ports.video} RTP/AVP 97`,
    'a=rtpmap:97 VP8/90000',
    'a=content:main',
    'a=label:1',
  ];
  if (ports.content !== undefined) {
    lines.push(
      `m=video ${ports.content} ${srtpKey ? 'RTP/SAVP' : 'RTP/AVP'} ${contentPt}`,
      `a=rtpmap:${contentPt} H264/90000`,
      `a=fmtp:${contentPt} profile-level-id=42e01f;packetization-mode=1`,
      `a=rtcp-fb:${contentPt} nack pli`,
      ...(srtpKey ? ['a=rtcp-mux', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${srtpKey}`] : []),
      'a=content:slides',
      'a=label:3',
    );
  }
  if (bfcp) {
    lines.push(`m=application ${bfcp === 'UDP/BFCP' ? 40999 : 9} ${bfcp} *`, 'a=floorctrl:c-only', 'a=confid:1', 'a=userid:1', 'a=floorid:1 mstrm:3');
    if (bfcp !== 'UDP/BFCP') lines.push('a=setup:active', 'a=connection:new');
  }
  return lines.join('\n');
}

export interface ContentTerminal {
  /** The box's answer to the INVITE. */
  readonly answer: string;
  /** The box's answer to the re-INVITE (sent `pause` ms after the ACK). */
  answer2(timeoutMs: number): Promise<string>;
  readonly result: Promise<SippResult>;
}

/**
 * A terminal that joins `dial` at `target` with `media`, re-INVITEs with `media2` after `pause`
 * ms — or, with `infoStreamId`, asks for a key frame by SIP INFO naming that stream then
 * (test/sipp/content-join-info.xml) — and stays until the box hangs it up.
 */
export async function joinWithContent(target: string, dial: string, name: string, media: string, options: { media2?: string; pause?: number; infoStreamId?: string } = {}): Promise<ContentTerminal> {
  const sdpFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-content-')), 'answer.sdp');
  const scenario = scenarioWith(options.infoStreamId === undefined ? 'content-join.xml' : 'content-join-info.xml', {
    streamId: options.infoStreamId ?? '',
    dial,
    name,
    from: name.toLowerCase(),
    media,
    media2: options.media2 ?? media,
    pause: String(options.pause ?? 60_000),
    hold: '120000',
    sdpFile,
  });
  const { result } = await startSipp({ scenario, target, transport: 'u1', timeoutSeconds: 200, extraArgs: ['-aa'] });
  const ended = result.then((r): never => {
    throw new Error(`sipp ended early: ${r.errors}\n${r.messages.slice(-2000)}`);
  });
  ended.catch(() => undefined);
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') || undefined : undefined);
  const answer = await Promise.race([waitFor('the answer', 10_000, () => read(sdpFile)), ended]);
  return { answer, answer2: (timeoutMs) => Promise.race([waitFor('the re-INVITE answer', timeoutMs, () => read(`${sdpFile}.2`)), ended]), result };
}

/** The BFCP attributes of an answer: the application line's port and proto, confid, userid, floorid. */
export function bfcpOf(answer: string) {
  const line = parseSdp(answer).media.find((m) => m.kind === 'application');
  const value = (name: string) => new RegExp(`\\r?\\na=${name}:([^\\r\\n]+)`).exec(answer)?.[1];
  return {
    port: line?.port ?? 0,
    proto: line?.proto,
    floorctrl: line?.floorctrl,
    conferenceId: Number(value('confid')),
    userId: Number(value('userid')),
    floorid: value('floorid'),
    setup: value('setup'),
    connection: value('connection'),
  };
}

/**
 * The terminal whose answer is `answer` takes the floor: libre's BFCP client over TCP with the
 * answer's IDs sends FloorRequest and waits for Granted; closed at the test's end.
 */
export async function takeFloor(t: { teardown(fn: () => unknown): void }, answer: string): Promise<BfcpClient> {
  const ids = bfcpOf(answer);
  const client = await BfcpClient.start({ transport: 'tcp', port: ids.port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  const grant = client.nextNotification((e) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted', 'Granted');
  await client.request('request', 'FloorRequest');
  await grant;
  return client;
}

/**
 * Slides: `colour` at 640×360 (or a moving test pattern when `colour` is 'moving'), 5 frames a
 * second, H.264 (a key frame a second) as payload type 109, from `fromPort` to `toPort`. With
 * `srtpKey`, SRTP encrypted with that SDES key (AES_CM_128_HMAC_SHA1_80), RTCP on the same port.
 * To the box at `host` (default 127.0.0.1). With `mode0`, packetization mode 0 (slices small
 * enough for one packet each); `keyFrameEvery` frames between key frames (default 5) and `kbps`
 * (default 200) shape the stream.
 */
export function startSlides(
  t: { teardown(fn: () => unknown): void },
  colour: string,
  fromPort: number,
  toPort: number,
  seconds = 60,
  options: { srtpKey?: string; host?: string; mode0?: boolean; keyFrameEvery?: number; kbps?: number } = {},
): ChildProcess {
  const host = options.host ?? '127.0.0.1';
  const source = colour === 'moving' ? 'testsrc2=size=640x360:rate=5' : `color=c=${colour}:size=640x360:rate=5`;
  const out = options.srtpKey
    ? ['-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', options.srtpKey, `srtp://${host}:${toPort}?localrtpport=${fromPort}&rtcpport=${toPort}&pkt_size=1200`]
    : [`rtp://${host}:${toPort}?localrtpport=${fromPort}&pkt_size=1200`];
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', source, '-t', String(seconds),
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(options.keyFrameEvery ?? 5), '-b:v', `${options.kbps ?? 200}k`,
      ...(options.mode0 ? ['-x264-params', 'slice-max-size=1100', '-rtpflags', 'h264_mode0'] : []),
      '-payload_type', '109', '-f', 'rtp', ...out],
    { stdio: 'ignore' },
  );
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

/**
 * A terminal's content port: counts the RTP the box sends there and hands it on to a Screen
 * (ffmpeg decoding H.264 payload type 109 on another port). With `rtcp`, the port after it (the
 * line's RTCP port: the offer has no rtcp-mux) hears the box's reports, and `screen.restart()`
 * starts decoding afresh asking for key frames there (PLI) until one is decoded, as a terminal
 * does when a stream starts mid-way (a browser's H.264 has a key frame only on request).
 */
export async function contentReceiver(t: { teardown(fn: () => unknown): void }, seconds = 90, options: { rtcp?: boolean; sizes?: boolean } = {}): Promise<{ port: number; packets: () => number; screen: Screen }> {
  const screenPort = await freePort();
  let packets = 0;
  let socket: dgram.Socket | undefined;
  for (let attempt = 0; attempt < 20 && !socket; attempt++) {
    const candidate = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => candidate.bind(0, '127.0.0.1', resolve));
    const next = candidate.address().port + 1;
    const free = !options.rtcp || (await new Promise<boolean>((resolve) => {
      const probe = dgram.createSocket('udp4');
      probe.once('error', () => resolve(false));
      probe.bind(next, '127.0.0.1', () => probe.close(() => resolve(true)));
    }));
    if (free) socket = candidate;
    else candidate.close();
  }
  if (!socket) throw new Error('no UDP port pair free for a content receiver');
  const bound = socket;
  const port = bound.address().port;
  const screen = new Screen(t, screenPort, 'H264', seconds, options.rtcp ? port + 1 : undefined, { sizes: options.sizes ?? false });
  bound.on('message', (packet) => {
    if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return;
    const pt = packet.readUInt8(1) & 0x7f;
    if (pt >= 72 && pt <= 76) return; // RTCP
    packets++;
    bound.send(packet, screenPort, '127.0.0.1');
  });
  t.teardown(() => bound.close());
  return { port, packets: () => packets, screen };
}
