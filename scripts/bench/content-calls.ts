/**
 * What the content benchmarks share: a room system's call placed by a UDP SIP client (audio,
 * an H.264 content line on payload type 109 with label 3 and the fmtp given, a TCP/BFCP line),
 * counting the content the box sends it; a BFCP client over TCP with the IDs of a call's answer;
 * a process's CPU share from /proc.
 */
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseSdp } from '../../media/sdp/sip-sdp.ts';
import { type BfcpMessage, encodeMessage, findAttribute, Primitive } from '../../server/bfcp/bfcp-message.ts';
import { benchRequest, bindUdp } from './bench-stack.ts';
import { onBfcpStreamMessages } from './bfcp-stream.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ContentCall {
  readonly answer: string;
  readonly content: dgram.Socket;
  /** RTP packets the box sent to the call's content port. */
  packets: number;
  /** When the next content packet arrives (for the latency measure). */
  onContent?: () => void;
  bye(): void;
}

/** A call into the VMR with audio, an H.264 content line (payload type 109, label 3) and a TCP/BFCP line. */
export async function contentCall(box: { readonly sipPort: number; readonly number: string }, index: number, contentSocket?: dgram.Socket, contentFmtp = 'profile-level-id=42e01f;packetization-mode=1'): Promise<ContentCall> {
  const sip = await bindUdp();
  const audio = await bindUdp();
  const content = contentSocket ?? (await bindUdp());
  const callId = `content-bench-${index}-${randomBytes(4).toString('hex')}`;
  const sdp = [
    'v=0',
    'o=t 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${audio.address().port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtcp-mux',
    `m=video ${content.address().port} RTP/AVP 109`,
    'a=rtpmap:109 H264/90000',
    `a=fmtp:109 ${contentFmtp}`,
    'a=rtcp-mux',
    'a=content:slides',
    'a=label:3',
    'm=application 9 TCP/BFCP *',
    'a=floorctrl:c-only',
    'a=setup:active',
    'a=connection:new',
    '',
  ].join('\r\n');
  const local = `127.0.0.1:${sip.address().port}`;
  const number = box.number;
  const message = (method: string, cseq: number, toTag: string, body = '') =>
    benchRequest({ method, cseq, target: `${number}@127.0.0.1:${box.sipPort}`, local, user: `bench${index}`, fromTag: `b${index}`, number, callId, toTag, body });
  const answered = new Promise<{ toTag: string; body: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`call ${index}: no 200 within 10 s`)), 10_000);
    sip.on('message', (data) => {
      const text = data.toString();
      if (!text.includes(callId)) return;
      if (/^SIP\/2\.0 [3-6]\d\d/.test(text)) reject(new Error(`call ${index}: ${text.split('\r\n')[0]}`));
      if (!text.startsWith('SIP/2.0 200') || !/CSeq: 1 INVITE/i.test(text)) return;
      clearTimeout(timer);
      resolve({ toTag: /^To:.*;tag=([^;\r\n]+)/im.exec(text)?.[1] ?? '', body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
  sip.send(message('INVITE', 1, '', sdp), box.sipPort, '127.0.0.1');
  const { toTag, body } = await answered;
  sip.send(message('ACK', 1, toTag), box.sipPort, '127.0.0.1');
  // Audio a terminal keeps sending (PCMU silence, 10 packets a second), so the RTP timeout never hangs it up.
  const audioPort = parseSdp(body).media[0]?.port ?? 0;
  let sequence = 0;
  const keepAlive = setInterval(() => {
    const packet = Buffer.alloc(12 + 160, 0xff);
    packet.writeUInt8(0x80, 0);
    packet.writeUInt8(0, 1);
    packet.writeUInt16BE(sequence++ & 0xffff, 2);
    packet.writeUInt32BE((sequence * 160) >>> 0, 4);
    packet.writeUInt32BE(0x1000 + index, 8);
    audio.send(packet, audioPort, '127.0.0.1');
  }, 100);
  const made: ContentCall = {
    answer: body,
    content,
    packets: 0,
    bye() {
      clearInterval(keepAlive);
      sip.send(message('BYE', 2, toTag), box.sipPort, '127.0.0.1');
      setTimeout(() => {
        for (const socket of [sip, audio, content]) {
          try {
            socket.close();
          } catch {
            // closed already (the presenter's content port went to ffmpeg)
          }
        }
      }, 300);
    },
  };
  content.on('message', (packet) => {
    if (packet.length < 12 || (packet.readUInt8(1) & 0x7f) !== 109) return;
    made.packets++;
    made.onContent?.();
  });
  return made;
}

/** A BFCP client over TCP with the IDs of a call's answer. */
export async function bfcpClient(answer: string) {
  const port = parseSdp(answer).media.find((m) => m.kind === 'application')?.port ?? 0;
  const conferenceId = Number(/a=confid:(\d+)/.exec(answer)?.[1]);
  const userId = Number(/a=userid:(\d+)/.exec(answer)?.[1]);
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  let onMessage: (m: BfcpMessage) => void = () => {};
  onBfcpStreamMessages(socket, (m) => onMessage(m));
  let tid = 0;
  const send = (primitive: number, attributes: BfcpMessage['attributes']) => {
    tid = (tid % 0x7fff) + 1;
    socket.write(encodeMessage({ version: 1, responder: false, primitive, conferenceId, transactionId: tid, userId, attributes }));
  };
  const next = (match: (m: BfcpMessage) => boolean) =>
    new Promise<BfcpMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no BFCP answer within 5 s')), 5000);
      onMessage = (m) => {
        if (!match(m)) return;
        clearTimeout(timer);
        resolve(m);
      };
    });
  return {
    /** Sends FloorRequest; resolves with its floor request ID once answered. */
    async request(): Promise<number> {
      const answered = next((m) => m.responder && m.primitive === Primitive.FloorRequestStatus);
      send(Primitive.FloorRequest, [{ name: 'FLOOR-ID', id: 1 }]);
      return findAttribute((await answered).attributes, 'FLOOR-REQUEST-INFORMATION')?.id ?? 0;
    },
    async release(id: number): Promise<void> {
      const released = next((m) => m.responder && m.primitive === Primitive.FloorRequestStatus);
      send(Primitive.FloorRelease, [{ name: 'FLOOR-REQUEST-ID', id }]);
      const status = await released;
      const info = findAttribute(status.attributes, 'FLOOR-REQUEST-INFORMATION');
      if (!info || !('children' in info)) throw new Error('FloorRelease answered without request information');
    },
    close: () => socket.destroy(),
  };
}

/** The process's CPU time in seconds (utime + stime, /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function cpuShare(pid: number, seconds: number): Promise<number> {
  const before = cpuSeconds(pid);
  await sleep(seconds * 1000);
  return Math.round(((cpuSeconds(pid) - before) / seconds) * 1000) / 10;
}
