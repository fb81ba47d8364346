/**
 * SDP (RFC 4566 / 3264) as SIP terminals speak it: parsing an offer into what the media side
 * needs (per m-line: address, ports, payload types with rtpmap/fmtp, RTCP-mux or a=rtcp,
 * SDES a=crypto, direction, ptime; a=content (RFC 4796) and a=label (RFC 4574) that mark a
 * content video line; a BFCP application line's floor control attributes, RFC 8856) and writing
 * the box's answer. Only what a plain RTP/SRTP endpoint uses; ICE and DTLS (browsers) go
 * through mediasoup-client instead.
 */
import { createError } from '../../server/core/errors.ts';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpCodec {
  readonly payloadType: number;
  /** Encoding name as written (case kept), e.g. PCMU, opus, telephone-event, H264. */
  readonly name: string;
  readonly clockRate: number;
  readonly channels?: number;
  readonly fmtp?: string;
}

export interface SdpCrypto {
  readonly tag: number;
  readonly suite: string;
  /** base64 key||salt, without lifetime or MKI. */
  readonly keyBase64: string;
}

export interface SdpMedia {
  readonly kind: string;
  readonly port: number;
  readonly proto: string;
  readonly address: string;
  /** The c= line's address type: IP4, IP6 (as written, upper-cased; '' when there is no c=). */
  readonly addressType: string;
  readonly codecs: readonly SdpCodec[];
  readonly rtcpMux: boolean;
  readonly rtcpPort?: number;
  readonly crypto: readonly SdpCrypto[];
  readonly direction: Direction;
  readonly ptime?: number;
  /** a=content values (RFC 4796), e.g. ['slides'] for a content line, ['main'] for people. */
  readonly content: readonly string[];
  /** a=label (RFC 4574): the name a BFCP a=floorid's mstrm: points at. */
  readonly label?: string;
  /** The m-line's formats as written (a BFCP line's is `*`). */
  readonly formats: readonly string[];
  /** a=floorctrl values of a BFCP line (RFC 8856): c-only, s-only, c-s. */
  readonly floorctrl: readonly string[];
}

export interface SdpOffer {
  readonly origin: { readonly sessionId: string; readonly version: number };
  readonly media: readonly SdpMedia[];
}

/** Static payload types of RFC 3551 that terminals often list without a=rtpmap. */
const STATIC: Record<number, Pick<SdpCodec, 'name' | 'clockRate' | 'channels'>> = {
  0: { name: 'PCMU', clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', clockRate: 8000, channels: 1 },
  9: { name: 'G722', clockRate: 8000, channels: 1 },
  18: { name: 'G729', clockRate: 8000, channels: 1 },
  34: { name: 'H263', clockRate: 90000 },
};

const MAX_SDP_BYTES = 32 * 1024;

function bad(reason: string): Error {
  return createError('VCBOX_ERR_MEDIA_SDP', { reason });
}

export function parseSdp(text: string): SdpOffer {
  if (text.length > MAX_SDP_BYTES) throw bad(`the SDP is larger than ${MAX_SDP_BYTES} bytes`);
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (!lines[0]?.startsWith('v=0')) throw bad('the body is not SDP (it must start with v=0)');
  let sessionAddress = '';
  let sessionAddressType = '';
  let sessionDirection: Direction = 'sendrecv';
  const origin = { sessionId: '0', version: 0 };
  interface Building {
    kind: string;
    port: number;
    proto: string;
    address: string;
    addressType: string;
    pts: number[];
    rtpmap: Map<number, { name: string; clockRate: number; channels?: number }>;
    fmtp: Map<number, string>;
    rtcpMux: boolean;
    rtcpPort?: number;
    crypto: SdpCrypto[];
    direction?: Direction;
    ptime?: number;
    content: string[];
    label?: string;
    formats: string[];
    floorctrl: string[];
  }
  const media: Building[] = [];
  for (const line of lines) {
    const type = line[0];
    const value = line.slice(2).trim();
    const current = media.at(-1);
    if (type === 'o') {
      const parts = value.split(/\s+/);
      origin.sessionId = parts[1] ?? '0';
      origin.version = Number(parts[2] ?? 0) || 0;
    } else if (type === 'c') {
      const [, addressType = '', address = ''] = value.split(/\s+/);
      if (current) {
        current.address = address;
        current.addressType = addressType.toUpperCase();
      } else {
        sessionAddress = address;
        sessionAddressType = addressType.toUpperCase();
      }
    } else if (type === 'm') {
      const [kind = '', portText = '', proto = '', ...formats] = value.split(/\s+/);
      const port = Number(portText.split('/')[0]);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad(`m=${kind} has an invalid port "${portText}"`);
      media.push({
        kind,
        port,
        proto,
        address: '',
        addressType: '',
        pts: formats.map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128),
        rtpmap: new Map(),
        fmtp: new Map(),
        rtcpMux: false,
        crypto: [],
        content: [],
        formats: formats.slice(0, 64),
        floorctrl: [],
      });
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      const name = colon < 0 ? value : value.slice(0, colon);
      const rest = colon < 0 ? '' : value.slice(colon + 1);
      if (name === 'sendrecv' || name === 'sendonly' || name === 'recvonly' || name === 'inactive') {
        if (current) current.direction = name;
        else sessionDirection = name;
      }
      if (!current) continue;
      if (name === 'rtpmap') {
        const match = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(rest);
        if (match) {
          current.rtpmap.set(Number(match[1]), {
            name: match[2] ?? '',
            clockRate: Number(match[3]),
            ...(match[4] ? { channels: Number(match[4]) } : {}),
          });
        }
      } else if (name === 'fmtp') {
        const match = /^(\d+)\s(.*)$/.exec(rest); // trimmed below (`\s+(.*)` was quadratic)
        if (match) current.fmtp.set(Number(match[1]), (match[2] ?? '').trim());
      } else if (name === 'rtcp-mux') {
        current.rtcpMux = true;
      } else if (name === 'rtcp') {
        const port = Number(rest.split(/\s+/)[0]);
        if (Number.isInteger(port) && port > 0 && port < 65536) current.rtcpPort = port;
      } else if (name === 'ptime') {
        const ptime = Number(rest);
        if (Number.isFinite(ptime) && ptime > 0) current.ptime = ptime;
      } else if (name === 'crypto') {
        const match = /^(\d+)\s+(\S+)\s+inline:([A-Za-z0-9+/=]+)/.exec(rest);
        if (match) current.crypto.push({ tag: Number(match[1]), suite: match[2] ?? '', keyBase64: match[3] ?? '' });
      } else if (name === 'content') {
        current.content = rest.split(',').map((v) => v.trim().toLowerCase()).filter((v) => v.length > 0).slice(0, 8);
      } else if (name === 'label') {
        if (/^[\x21-\x7e]{1,64}$/.test(rest.trim())) current.label = rest.trim();
      } else if (name === 'floorctrl') {
        current.floorctrl = rest.split(/\s+/).map((v) => v.toLowerCase()).filter((v) => v.length > 0).slice(0, 3);
      }
    }
  }
  return {
    origin,
    media: media.map((m) => ({
      kind: m.kind,
      port: m.port,
      proto: m.proto,
      address: m.address || sessionAddress,
      addressType: m.address ? m.addressType : sessionAddressType,
      codecs: m.pts.flatMap((pt) => {
        const map = m.rtpmap.get(pt) ?? STATIC[pt];
        if (!map) return [];
        const fmtp = m.fmtp.get(pt);
        return [{ payloadType: pt, ...map, ...(fmtp !== undefined ? { fmtp } : {}) }];
      }),
      rtcpMux: m.rtcpMux,
      ...(m.rtcpPort !== undefined ? { rtcpPort: m.rtcpPort } : {}),
      crypto: m.crypto,
      direction: m.direction ?? sessionDirection,
      ...(m.ptime !== undefined ? { ptime: m.ptime } : {}),
      content: m.content,
      ...(m.label !== undefined ? { label: m.label } : {}),
      formats: m.formats,
      floorctrl: m.floorctrl,
    })),
  };
}

/** A content (presentation) video line: `a=content:slides` (RFC 4796). */
export function isContentLine(m: SdpMedia): boolean {
  return m.kind === 'video' && m.content.includes('slides');
}

/** The people video line the box serves: the first video line with a port that is not content. */
export function mainVideoLine(media: readonly SdpMedia[]): SdpMedia | undefined {
  return media.find((m) => m.kind === 'video' && m.port > 0 && !isContentLine(m));
}

/** The content video line the box serves: the first `a=content:slides` line with a port. */
export function contentLine(media: readonly SdpMedia[]): SdpMedia | undefined {
  return media.find((m) => m.port > 0 && isContentLine(m));
}

/** The transport of a BFCP application line (RFC 8856), or undefined for any other line. */
export function bfcpTransport(m: SdpMedia): 'tcp' | 'udp' | 'tls' | undefined {
  if (m.kind !== 'application') return undefined;
  const proto = m.proto.toUpperCase();
  if (proto === 'TCP/BFCP') return 'tcp';
  if (proto === 'UDP/BFCP') return 'udp';
  if (proto === 'TCP/TLS/BFCP') return 'tls';
  return undefined;
}

/**
 * The offer with its content video lines and BFCP lines declined (port 0): for a call that
 * takes no content (the IVR's move into a meeting, a box without floor control), so the media
 * service answers them with port 0.
 */
export function declineContent(sdp: string): string {
  const sections = splitSections(sdp);
  return sections
    .map((section, i) => {
      if (i === 0) return section;
      const lines = section.split(/\r?\n/);
      const first = lines[0] ?? '';
      const isBfcp = /^m=application \d+ (?:TCP|UDP|TCP\/TLS)\/BFCP\b/i.test(first);
      // (Read as the parser reads a=content: comma-separated values.)
      const isContent =
        first.startsWith('m=video ') &&
        lines.some((line) => line.startsWith('a=content:') && line.slice('a=content:'.length).split(',').some((v) => v.trim().toLowerCase() === 'slides'));
      return isBfcp || isContent ? section.replace(/^m=(\S+) \d+/, 'm=$1 0') : section;
    })
    .join('');
}

/** The SDP text cut before each m= line: [session part, media section 1, …] (line ends kept). */
export function splitSections(sdp: string): string[] {
  const sections: string[] = [];
  let start = 0;
  for (const match of sdp.matchAll(/^m=/gm)) {
    sections.push(sdp.slice(start, match.index));
    start = match.index;
  }
  sections.push(sdp.slice(start));
  return sections;
}

/** The SDP with media section `index` (0-based, in m-line order) replaced by `lines`. */
export function replaceMediaSection(sdp: string, index: number, lines: readonly string[]): string {
  const sections = splitSections(sdp);
  if (index + 1 >= sections.length) throw new RangeError(`the SDP has no media section ${index}`);
  sections[index + 1] = `${lines.join('\r\n')}\r\n`;
  return sections.join('');
}

/**
 * SIP Warning codes (RFC 3261 §20.43) a 488 carries with the reason in words: 301 the offered
 * address family is not served, 302 the transport profile (e.g. DTLS-SRTP's UDP/TLS/RTP/SAVPF)
 * is not available, 305 no offered media format is supported, 399 anything else.
 */
export type SdpWarning = 301 | 302 | 305 | 399;

function refuse(reason: string, warning: SdpWarning): Error {
  return createError('VCBOX_ERR_MEDIA_SDP', { reason, warning });
}

/**
 * Throws the clear refusal for an offered audio m-line the box's plain RTP/SRTP media cannot
 * serve, before any media is set up: a media address of another family than the one the box's
 * media listens on (`listenIp`; IPv4 on a default box — an answer would leave the terminal
 * sending to nowhere), or DTLS-SRTP / ICE-only transport profiles (a WebRTC offer; browsers
 * join from the join page instead).
 */
export function assertServable(audio: SdpMedia, where: 'meeting' | 'access number', listenIp: string): void {
  const served = listenIp.includes(':') ? 'IP6' : 'IP4';
  if (audio.addressType !== '' && audio.addressType !== served) {
    const family = audio.addressType === 'IP6' ? 'IPv6' : audio.addressType === 'IP4' ? 'IPv4' : audio.addressType;
    throw refuse(
      `the offer's media address is ${family} (${audio.address}) and this box serves media over ${served === 'IP4' ? 'IPv4' : 'IPv6'} only; set the terminal to ${served === 'IP4' ? 'IPv4' : 'IPv6'} (or dual stack with ${served === 'IP4' ? 'IPv4' : 'IPv6'} media)`,
      301,
    );
  }
  if (/\bTLS\b|DTLS/i.test(audio.proto)) {
    throw refuse(
      `DTLS-SRTP (${audio.proto}) is not available for SIP calls to the ${where}; use SDES SRTP (RTP/SAVP with a=crypto) or plain RTP, or join from the browser join page`,
      302,
    );
  }
  if (!/^RTP\/S?AVPF?$/i.test(audio.proto)) throw refuse(`the audio transport ${audio.proto} is not RTP/AVP, RTP/AVPF, RTP/SAVP or RTP/SAVPF`, 302);
}

/** The direction an answer takes to an offered one (RFC 3264 §6.1). */
export function answerDirection(offered: Direction): Direction {
  if (offered === 'sendonly') return 'recvonly';
  if (offered === 'recvonly') return 'sendonly';
  return offered;
}

export interface AnswerMedia {
  readonly kind: string;
  /** 0 rejects the m-line. */
  readonly port: number;
  readonly proto: string;
  readonly codecs: readonly SdpCodec[];
  readonly rtcpMux?: boolean;
  readonly rtcpPort?: number;
  readonly crypto?: SdpCrypto;
  readonly direction?: Direction;
  readonly ptime?: number;
  /** Further attribute lines, written as given (e.g. a=rtcp-fb). */
  readonly extra?: readonly string[];
  /** The m-line's formats when they are not payload types (a declined BFCP line's `*`). */
  readonly formats?: readonly string[];
  /** The most the box takes on this line, in kbit/s (`b=AS`, RFC 4566 §5.8). */
  readonly bandwidthKbps?: number;
}

export function writeSdp(options: { address: string; sessionId: string; version: number; media: readonly AnswerMedia[] }): string {
  const ipVersion = options.address.includes(':') ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=vcbox ${options.sessionId} ${options.version} IN ${ipVersion} ${options.address}`,
    's=vcbox',
    `c=IN ${ipVersion} ${options.address}`,
    't=0 0',
  ];
  for (const m of options.media) {
    const pts = m.formats && m.formats.length > 0 ? m.formats : m.codecs.length > 0 ? m.codecs.map((c) => c.payloadType) : [0];
    lines.push(`m=${m.kind} ${m.port} ${m.proto} ${pts.join(' ')}`);
    if (m.port === 0) continue;
    if (m.bandwidthKbps !== undefined) lines.push(`b=AS:${Math.max(1, Math.round(m.bandwidthKbps))}`);
    for (const codec of m.codecs) {
      lines.push(`a=rtpmap:${codec.payloadType} ${codec.name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`);
      if (codec.fmtp) lines.push(`a=fmtp:${codec.payloadType} ${codec.fmtp}`);
    }
    if (m.extra) lines.push(...m.extra);
    if (m.ptime) lines.push(`a=ptime:${m.ptime}`);
    if (m.rtcpMux) lines.push('a=rtcp-mux');
    else if (m.rtcpPort) lines.push(`a=rtcp:${m.rtcpPort}`);
    if (m.crypto) lines.push(`a=crypto:${m.crypto.tag} ${m.crypto.suite} inline:${m.crypto.keyBase64}`);
    lines.push(`a=${m.direction ?? 'sendrecv'}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** An fmtp line's parameters (names in lower case). */
export function fmtpParameters(fmtp: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (fmtp ?? '').split(';')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (key) out[key.toLowerCase()] = value ?? '';
  }
  return out;
}
