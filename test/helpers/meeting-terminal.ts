/**
 * A SIP terminal joining a meeting, for the meeting tests: sipp does the signaling (scenarios
 * test/sipp/meeting-join*.xml) with an SDP that points at the test's own RTP socket, and hands
 * the answered audio port (and, after a re-INVITE, the new one) back through a file.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type SippResult, scenarioWith, startSipp } from './sipp.ts';

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * joinMeeting options for a terminal that stays until the box hangs it up (answering its BYE;
 * hangUpEveryone in sip-box.ts), however long a loaded machine takes over the test's checks —
 * a fixed hold can run out before the last check.
 */
export const UNTIL_HUNG_UP = { scenario: 'meeting-join-remote-bye.xml', hold: 150_000 } as const;

/** SDP media lines: PCMU with telephone-event at the given RTP port. */
export function pcmuMedia(port: number): string {
  return `m=audio ${port} RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:20`;
}

/** PCMU audio and VP8 video (PT 97, NACK and PLI; its RTCP on `videoRtcpPort` when given), as the MCU tests' SIP terminals offer it. */
export function pcmuVp8Media(audioPort: number, videoPort: number, videoRtcpPort?: number): string {
  return `m=audio ${audioPort} RTP/AVP 0\na=rtpmap:0 PCMU/8000\nm=video ${videoPort} RTP/AVP 97\na=rtpmap:97 VP8/90000\na=rtcp-fb:97 nack pli${videoRtcpPort ? `\na=rtcp:${videoRtcpPort}` : ''}`;
}

/** SDP media lines: PCMA only. */
export function pcmaMedia(port: number): string {
  return `m=audio ${port} RTP/AVP 8\na=rtpmap:8 PCMA/8000`;
}

function readPort(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8').trim();
  return text ? Number(text) : undefined;
}

export interface MeetingTerminal {
  readonly answeredPort: number;
  /** The SRTP key (base64) of the box's a=crypto line, when it answered SRTP. */
  readonly answeredKey: string;
  /** The answered video port (0 when the box rejected or was not offered video). */
  readonly answeredVideoPort: number;
  readonly result: Promise<SippResult>;
  /** The audio port a re-INVITE from the box moved the call to (meeting-join-heal.xml). */
  movedPort(timeoutMs: number): Promise<number>;
  /** That re-INVITE's whole SDP (meeting-join-heal.xml), once it came. */
  movedSdp(): string;
}

/** Starts a sipp terminal that joins `dial` at `target`; resolves once the call is answered. */
export async function joinMeeting(
  target: string,
  options: {
    dial: string;
    name: string;
    media: string;
    hold: number;
    scenario?: string;
    transport?: 'u1' | 't1';
    headers?: string[];
    /** ivr-keys.xml: the key steps (pcap play or INFO requests), and steps once in the meeting. */
    dtmf?: string;
    inMeeting?: string;
    /** meeting-join-reinvite.xml: the re-INVITE's media lines and when it is sent. */
    media2?: string;
    pause?: number;
    /** Where the terminal is: its address, and a network namespace the test created. */
    localIp?: string;
    netns?: string;
  },
): Promise<MeetingTerminal> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-port-'));
  const portFile = path.join(dir, 'port');
  const portFile2 = path.join(dir, 'port2');
  const scenario = scenarioWith(options.scenario ?? 'meeting-join.xml', {
    dial: options.dial,
    name: options.name,
    from: options.name.toLowerCase(),
    media: options.media,
    hold: String(options.hold),
    portFile,
    portFile2,
    media2: options.media2 ?? options.media,
    pause: String(options.pause ?? 1000),
    dtmf: options.dtmf ?? '',
    inMeeting: options.inMeeting ?? '',
    // Extra INVITE headers go after Max-Forwards, each on its own line.
    headers: (options.headers ?? []).map((h) => `\n      ${h}`).join(''),
  });
  // -aa: answer INFO/NOTIFY/OPTIONS/UPDATE with 200 whenever they come (key frame requests).
  const { result } = await startSipp({
    scenario,
    target,
    transport: options.transport ?? 'u1',
    timeoutSeconds: Math.ceil(options.hold / 1000) + 45,
    extraArgs: ['-aa'],
    ...(options.localIp ? { localIp: options.localIp } : {}),
    ...(options.netns ? { netns: options.netns } : {}),
  });
  const ended = result.then((r): never => {
    throw new Error(`sipp ended early: ${r.errors}\n${r.messages.slice(-2000)}`);
  });
  ended.catch(() => undefined);
  const answeredPort = await Promise.race([waitFor('the answered port', 10_000, () => readPort(portFile)), ended]);
  const answeredKey = existsSync(`${portFile}.key`) ? readFileSync(`${portFile}.key`, 'utf8').trim() : '';
  const answeredVideoPort = Number((existsSync(`${portFile}.video`) ? readFileSync(`${portFile}.video`, 'utf8').trim() : '') || 0);
  return {
    answeredPort,
    answeredKey,
    answeredVideoPort,
    result,
    movedPort: (timeoutMs) => Promise.race([waitFor('the re-INVITE with the new port', timeoutMs, () => readPort(portFile2)), ended]),
    movedSdp: () => (existsSync(`${portFile2}.sdp`) ? readFileSync(`${portFile2}.sdp`, 'utf8') : ''),
  };
}
