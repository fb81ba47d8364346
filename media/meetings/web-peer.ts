/**
 * One browser in a meeting (SFU), as mediasoup models it. The peer owns its two
 * WebRtcTransports (send, receive), the producers of its microphone and camera, the consumers
 * of what it receives, and the mixer's consumers of its microphone (SIP terminals hear browsers
 * through the mix). A step that fails closes what it made; `close()` closes everything once and
 * takes the peer out of the mixer, whatever state it is in.
 */
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { codecByMimeType } from '../audio-mixer/audio-codec.ts';
import type { MediaNetwork, MeetingParts, WebConsumerInfo, WebTransportInfo } from './meeting-types.ts';

const log = getLogger('web-peer');

export class WebPeer {
  readonly id: string;
  readonly displayName: string;
  readonly joinedAt = new Date();
  readonly send: types.WebRtcTransport;
  readonly recv: types.WebRtcTransport;
  readonly #meeting: MeetingParts;
  readonly #producers = new Map<string, types.Producer>();
  readonly #consumers = new Map<string, types.Consumer>();
  /** The shared screen (content), while the browser shares one. */
  #content: types.Producer | undefined;
  /** The mixer's consumers of this peer's audio. */
  readonly #mixerConsumers: types.Consumer[] = [];
  #closed = false;

  /**
   * The peer's two transports, on the network given (static NAT: the public IP for a browser
   * outside the LAN). `onLost` runs when either transport's DTLS fails or closes.
   */
  static async create(meeting: MeetingParts, participantId: string, displayName: string, network: MediaNetwork, onLost: () => void): Promise<WebPeer> {
    const listenInfos: types.TransportListenInfo[] = [
      { protocol: 'udp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
      { protocol: 'tcp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
    ];
    const send = await meeting.router.createWebRtcTransport({ listenInfos, appData: { participantId, direction: 'send' } });
    const recv = await meeting.router.createWebRtcTransport({ listenInfos, appData: { participantId, direction: 'recv' } }).catch((error: unknown) => {
      send.close();
      throw error;
    });
    const peer = new WebPeer(meeting, participantId, displayName, send, recv);
    for (const transport of [send, recv]) {
      transport.on('dtlsstatechange', (state) => {
        if ((state === 'failed' || state === 'closed') && !peer.closed) onLost();
      });
    }
    return peer;
  }

  private constructor(meeting: MeetingParts, id: string, displayName: string, send: types.WebRtcTransport, recv: types.WebRtcTransport) {
    this.#meeting = meeting;
    this.id = id;
    this.displayName = displayName;
    this.send = send;
    this.recv = recv;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** What the browser needs to connect a transport. */
  static transportInfo(transport: types.WebRtcTransport): WebTransportInfo {
    return { id: transport.id, iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters };
  }

  /** The peer's producers (microphone, camera). */
  get producers(): types.Producer[] {
    return [...this.#producers.values()];
  }

  /** The peer's consumers still open. */
  get consumers(): types.Consumer[] {
    return [...this.#consumers.values()];
  }

  /** The peer's camera, while it sends one. */
  get camera(): types.Producer | undefined {
    return this.producers.find((p) => p.kind === 'video' && !p.closed);
  }

  /** The shared screen, while the browser shares one. */
  get content(): types.Producer | undefined {
    return this.#content && !this.#content.closed ? this.#content : undefined;
  }

  /**
   * The browser shares its screen: the content producer (one at a time; a previous one is
   * closed). Its parameters must name video codecs only (mediasoup would take an audio codec
   * under kind video); what mediasoup refuses is refused in words (VCBOX_ERR_MEDIA_SDP).
   */
  async produceContent(rtpParameters: types.RtpParameters): Promise<types.Producer> {
    if (this.#closed) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: this.id, meeting: this.#meeting.key });
    if (!namesOnly(rtpParameters, 'video')) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'a shared screen is sent in video codecs only (H.264 or VP8); its RTP parameters name none or another kind' });
    }
    this.closeContent();
    let producer: types.Producer;
    try {
      producer = await this.send.produce({ kind: 'video', rtpParameters, appData: { participantId: this.id, content: true } });
    } catch (error) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `the shared screen's RTP parameters are refused (${String((error as Error).message).slice(0, 200)})` });
    }
    if (this.#closed) {
      producer.close();
      throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: this.id, meeting: this.#meeting.key });
    }
    this.#content = producer;
    return producer;
  }

  /** The browser stopped sharing (or lost the floor): the content producer is closed; true when there was one. */
  closeContent(): boolean {
    const producer = this.#content;
    this.#content = undefined;
    if (!producer || producer.closed) return false;
    producer.close();
    return true;
  }

  async connect(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.send.id === transportId ? this.send : this.recv.id === transportId ? this.recv : undefined;
    if (!transport) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `unknown transport ${transportId}` });
    await transport.connect({ dtlsParameters });
  }

  /**
   * The browser sends a track. A microphone is also consumed by the mixer (SIP legs hear it),
   * paused when the participant is muted; if that fails, the producer is closed again.
   */
  async produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters, muted: () => boolean): Promise<types.Producer> {
    if (this.#closed) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: this.id, meeting: this.#meeting.key });
    // mediasoup takes any codec of the router under either kind: an audio codec sent as "video"
    // would reach the compositor's decoder, a video codec sent as "audio" the mixer's.
    if (!namesOnly(rtpParameters, kind)) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `a ${kind} track is sent in ${kind} codecs only; its RTP parameters name none or another kind` });
    }
    let producer: types.Producer;
    try {
      producer = await this.send.produce({ kind, rtpParameters, appData: { participantId: this.id } });
    } catch (error) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `the ${kind} track's RTP parameters are refused (${String((error as Error).message).slice(0, 200)})` });
    }
    try {
      if (kind === 'audio') {
        const consumer = await this.#meeting.mixerTransport.consume({ producerId: producer.id, rtpCapabilities: this.#meeting.router.rtpCapabilities });
        this.#mixerConsumers.push(consumer);
        const codec = codecByMimeType(consumer.rtpParameters.codecs[0]?.mimeType ?? '');
        if (codec) this.#meeting.mixer.addInput(consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0, this.id, codec.name);
        if (muted()) await producer.pause();
      }
      if (this.#closed) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: this.id, meeting: this.#meeting.key });
    } catch (error) {
      producer.close();
      throw error;
    }
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    return producer;
  }

  /** The browser receives a producer of the meeting router, paused until it says it is ready. */
  async consume(producerId: string, rtpCapabilities: types.RtpCapabilities, appData: Record<string, unknown> = {}): Promise<WebConsumerInfo> {
    const consumer = await this.recv.consume({ producerId, rtpCapabilities, paused: true, appData });
    this.#consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.#consumers.delete(consumer.id));
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  consumer(consumerId: string): types.Consumer {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `unknown consumer ${consumerId}` });
    return consumer;
  }

  /** Closes consumers, producers (content too; and the mixer's consumers of them) and both transports; once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#meeting.mixer.removeParticipant(this.id);
    const owned = [...this.#consumers.values(), ...this.#mixerConsumers, ...this.#producers.values(), ...(this.#content ? [this.#content] : []), this.recv, this.send];
    for (const entity of owned) {
      if (entity.closed) continue;
      try {
        entity.close();
      } catch (error) {
        log.warn({ meeting: this.#meeting.key, participant: this.id, err: (error as Error).message }, 'closing a browser part failed');
      }
    }
    this.#consumers.clear();
    this.#mixerConsumers.length = 0;
    this.#content = undefined;
  }
}

/** True when `rtpParameters` name at least one codec and every codec is of `kind` (RTX included: video/rtx). */
function namesOnly(rtpParameters: types.RtpParameters, kind: 'audio' | 'video'): boolean {
  const codecs: unknown = rtpParameters?.codecs;
  return Array.isArray(codecs) && codecs.length > 0 && codecs.every((c) => typeof c?.mimeType === 'string' && c.mimeType.toLowerCase().startsWith(`${kind}/`));
}
