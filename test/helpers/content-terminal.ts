/**
 * A room system in a meeting with content, for the content tests: sipp does the signaling
 * (test/sipp/content-join.xml) with an SDP offering audio, people video, an H.264 content line
 * (`a=content:slides`) and a BFCP line, pointing at the test's own sockets; the box's whole
 * answer (and, after a re-INVITE, the next one) comes back through a file.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSdp } from '../../media/sdp/sip-sdp.ts';
import { waitFor } from './meeting-terminal.ts';
import { type SippResult, scenarioWith, startSipp } from './sipp.ts';

/** Audio PCMU, people video VP8 and, when `content`, an H.264 content line (payload type `contentPt`, label 3) and a BFCP line on `bfcp`. */
export function contentOffer(ports: { audio: number; video: number; content?: number }, bfcp?: 'TCP/BFCP' | 'UDP/BFCP' | 'TCP/TLS/BFCP', contentPt = 98): string {
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
      `m=video ${ports.content} RTP/AVP ${contentPt}`,
      `a=rtpmap:${contentPt} H264/90000`,
      `a=fmtp:${contentPt} profile-level-id=42e01f;packetization-mode=1`,
      `a=rtcp-fb:${contentPt} nack pli`,
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

/** A terminal that joins `dial` at `target` with `media`, re-INVITEs with `media2` after `pause` ms and stays until the box hangs it up. */
export async function joinWithContent(target: string, dial: string, name: string, media: string, options: { media2?: string; pause?: number } = {}): Promise<ContentTerminal> {
  const sdpFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-content-')), 'answer.sdp');
  const scenario = scenarioWith('content-join.xml', {
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
