/**
 * The browser join page: enter meeting ID, PIN and name; join with camera and microphone
 * through mediasoup-client over the control plane's WebSocket (/api/v1/join/ws); see and hear
 * everyone (SIP terminals' audio and other browsers' audio and video, SFU; the camera is sent
 * as simulcast) — or, with "composed view", the MCU's one composed picture instead of every
 * camera, for a weak computer; mute; share the screen (getDisplayMedia → a second producer
 * marked as content, H.264 when the browser can: SIP room systems take content in H.264 —, kept
 * within the box's content cap so they take it as sent — the box gives this page the meeting's
 * one floor, taken from whoever presented); content someone
 * presents in its own large view beside the people; leave. Bundled by scripts/build-web.sh into web/join/join.js.
 * `window.vcboxJoin` exposes the state and a stats summary for tests and support.
 */
import { Device, type types } from 'mediasoup-client';

const STRINGS = {
  en: {
    title: 'Join a meeting',
    language: 'Language',
    meetingId: 'Meeting ID',
    pin: 'PIN (if the meeting has one)',
    name: 'Your name',
    join: 'Join',
    mute: 'Mute',
    unmute: 'Unmute',
    leave: 'Leave',
    joining: 'Joining…',
    joined: 'In the meeting',
    left: 'You left the meeting.',
    removed: 'You were removed from the meeting',
    reconnecting: 'The media service restarted; reconnecting…',
    noDevices: 'No camera or microphone could be opened; joining to watch and listen only.',
    badId: 'The meeting ID is 5 to 12 digits.',
    badName: 'Enter your name.',
    lost: 'The connection to the meeting server was lost.',
    you: 'You',
    composed: 'Composed view: one video stream (for slower computers)',
    composedTile: 'Meeting',
    share: 'Share screen',
    stopShare: 'Stop sharing',
    youPresent: 'You are sharing your screen',
    presenting: 'is presenting',
    takenOver: 'Your screen sharing stopped: someone else is presenting now.',
    waitingFloor: 'Waiting for your turn: your screen is shown when the current presentation ends. "Stop sharing" gives up the wait.',
    noSipContent: 'Your browser shares the screen in a format room systems (SIP) cannot show; only browsers see it.',
    shareFailed: 'The screen could not be shared',
  },
  'zh-CN': {
    title: '加入会议',
    language: '语言',
    meetingId: '会议号',
    pin: '会议密码（如有）',
    name: '您的名字',
    join: '加入',
    mute: '静音',
    unmute: '取消静音',
    leave: '离开',
    joining: '正在加入…',
    joined: '会议中',
    left: '您已离开会议。',
    removed: '您已被移出会议',
    reconnecting: '媒体服务已重启，正在重新连接…',
    noDevices: '无法打开摄像头或麦克风，将以仅观看/收听方式加入。',
    badId: '会议号为 5 到 12 位数字。',
    badName: '请输入您的名字。',
    lost: '与会议服务器的连接已断开。',
    you: '我',
    composed: '合成画面：只接收一路视频（适合性能较低的电脑）',
    composedTile: '会议画面',
    share: '共享屏幕',
    stopShare: '停止共享',
    youPresent: '您正在共享屏幕',
    presenting: '正在演示',
    takenOver: '您的屏幕共享已停止：其他人正在演示。',
    waitingFloor: '正在排队等待演示：当前演示结束后将显示您的屏幕。点击“停止共享”可放弃等待。',
    noSipContent: '您的浏览器共享屏幕所用的格式会议室终端（SIP）无法显示，只有浏览器参会者能看到。',
    shareFailed: '无法共享屏幕',
  },
} as const;
type Lang = keyof typeof STRINGS;
type Key = keyof (typeof STRINGS)['en'];

/** Refusal messages from the server, translated (the server sends English). */
const REFUSALS_ZH: Record<string, string> = {
  'not-found': '没有这个会议号的会议。',
  ended: '会议已结束。',
  'not-started': '会议尚未开始。',
  'pin-required': '该会议需要密码。',
  'wrong-pin': '密码错误。',
  locked: '加入失败：会议已锁定。',
  full: '会议人数已满。',
  'license-ports': '设备授权允许的并发参会方已全部占用，请稍后再试。',
  'media-ports': '设备的媒体端口已全部占用，请待有人离会后再试。',
  'locked-out': '您的地址输入错误的会议号或密码次数过多，请核对邀请信息后稍后再试。',
  'meeting-locked-out': '该会议的密码输错次数过多，暂不接受密码，请稍后再试。',
  'guest-access-off': '本设备已关闭访客接入：只有拥有账号的呼叫方可以加入会议。',
};

let lang: Lang = navigator.language.startsWith('zh') ? 'zh-CN' : 'en';
const t = (key: Key): string => STRINGS[lang][key];
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function applyLanguage(): void {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = t(el.dataset.i18n as Key);
  ($('lang') as HTMLSelectElement).value = lang;
  $('mute').textContent = state.muted ? t('unmute') : t('mute');
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

class Signaling {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Why the box refused this socket as a whole (an error that answers no request), in its words. */
  #refusal: string | undefined;
  onNotification: (name: string, data: Record<string, unknown>) => void = () => undefined;
  onClose: () => void = () => undefined;

  constructor(url: string) {
    this.#socket = new WebSocket(url);
    this.#socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number | null; result?: unknown; error?: { code: string; message: string; refusal?: string }; notification?: string; data?: Record<string, unknown> };
      if (message.notification) {
        this.onNotification(message.notification, message.data ?? {});
        return;
      }
      if (message.error && message.id === null) this.#refusal = message.error.message;
      const pending = message.id === undefined || message.id === null ? undefined : this.#pending.get(message.id);
      if (!pending || message.id === undefined || message.id === null) return;
      this.#pending.delete(message.id);
      if (message.error) pending.reject(Object.assign(new Error(message.error.message), message.error));
      else pending.resolve(message.result);
    });
    this.#socket.addEventListener('close', () => {
      for (const pending of this.#pending.values()) pending.reject(new Error(this.#refusal ?? t('lost')));
      this.#pending.clear();
      this.onClose();
    });
  }

  opened(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#socket.addEventListener('open', () => resolve(), { once: true });
      this.#socket.addEventListener('error', () => reject(new Error(t('lost'))), { once: true });
    });
  }

  request<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    this.#socket.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  close(): void {
    this.#socket.close();
  }
}

interface TransportInfo {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

interface ProducerInfo {
  producerId: string;
  participantId: string;
  displayName: string;
  kind: 'audio' | 'video';
}

/** Who presents content (the box's `content` notification). */
interface ContentInfo {
  participantId: string;
  displayName: string;
  producerId: string | null;
  mimeType: string | null;
  reachesSip: boolean;
}

interface JoinResult {
  participantId: string;
  role: string;
  subject: string;
  routerRtpCapabilities: types.RtpCapabilities;
  send: TransportInfo;
  recv: TransportInfo;
  producers: ProducerInfo[];
  content?: ContentInfo | null;
  iceServers?: RTCIceServer[];
}

const state = {
  phase: 'idle' as 'idle' | 'joining' | 'joined' | 'left' | 'removed',
  muted: false,
  /** The MCU's composed picture instead of each camera. */
  composed: false,
  participantId: '',
  consumers: new Map<string, { consumer: types.Consumer; info: ProducerInfo }>(),
  producers: [] as types.Producer[],
  errors: [] as string[],
  /** This page's shared screen, while it shares; how the box answered it. */
  sharing: undefined as { producer: types.Producer; floor: string; mimeType: string; reachesSip: boolean; cap?: ContentCap } | undefined,
  /** The content shown in the content view: who presents, and the consumer of it (another's). */
  content: undefined as { info: ContentInfo; consumer?: types.Consumer } | undefined,
};
/** The answer to the last shareContent (the produce event hands the producer id on; the rest is kept here). */
/** The box's content cap: the largest size, frame rate and bitrate room systems take a share in as sent. */
interface ContentCap {
  width: number;
  height: number;
  fps: number;
  kbps: number;
}
let shareAnswer: { floor: string; mimeType: string; reachesSip: boolean; cap?: ContentCap } | undefined;
let signaling: Signaling | undefined;
let device: Device | undefined;
let sendTransport: types.Transport | undefined;
let recvTransport: types.Transport | undefined;
let localStream: MediaStream | undefined;
let lastJoin: { number: string; pin: string; name: string } | undefined;

function tile(participantId: string, name: string): HTMLElement {
  let el = document.querySelector<HTMLElement>(`.tile[data-participant="${CSS.escape(participantId)}"]`);
  if (!el) {
    el = document.createElement('div');
    el.className = 'tile audio-only';
    el.dataset.participant = participantId;
    const label = document.createElement('span');
    label.className = 'name';
    label.textContent = name;
    el.append(label);
    // The composed picture leads; the others follow in arrival order.
    if (participantId === 'composed') $('tiles').prepend(el);
    else $('tiles').append(el);
  }
  return el;
}

function attach(participantId: string, name: string, track: MediaStreamTrack, muted = false): void {
  const el = tile(participantId, name);
  const media = document.createElement(track.kind === 'video' ? 'video' : 'audio');
  media.autoplay = true;
  media.muted = muted;
  if (media instanceof HTMLVideoElement) media.playsInline = true;
  media.srcObject = new MediaStream([track]);
  media.dataset.track = track.id;
  if (track.kind === 'video') el.classList.remove('audio-only');
  el.prepend(media);
}

async function consume(info: ProducerInfo): Promise<void> {
  if (!signaling || !device || !recvTransport) return;
  // In composed view the cameras are in the one picture already.
  if (state.composed && info.kind === 'video') return;
  const params = await signaling.request<{ id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters }>('consume', {
    producerId: info.producerId,
    rtpCapabilities: receiveCapabilities(device),
  });
  const consumer = await recvTransport.consume(params);
  state.consumers.set(consumer.id, { consumer, info });
  attach(info.participantId, info.displayName, consumer.track);
  await signaling.request('resume', { consumerId: consumer.id });
}

/**
 * What this page tells the box it decodes: the browser's own capabilities, or — with `?recv=VP8`
 * (or `H264`) in the address — that one video codec only (a support check of the box's content
 * transcoding for browsers that cannot decode H.264).
 */
function receiveCapabilities(from: Device): types.RtpCapabilities {
  const caps = from.rtpCapabilities;
  if (!receiveOnly) return caps;
  const codecs = caps.codecs ?? [];
  const kept = codecs.filter((c) => c.kind === 'audio' || c.mimeType.toLowerCase() === `video/${receiveOnly}`);
  const payloadTypes = new Set(kept.map((c) => c.preferredPayloadType));
  const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/rtx' && payloadTypes.has(Number(c.parameters?.apt)));
  return { ...caps, codecs: [...kept, ...rtx] };
}

/** The composed picture, as one tile (asked again, it replaces the one before: the box sends the content layout while another presents). */
async function consumeComposed(): Promise<void> {
  if (!signaling || !device || !recvTransport) return;
  const params = await signaling.request<{ id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters }>('consumeComposed', {
    rtpCapabilities: receiveCapabilities(device),
  });
  const consumer = await recvTransport.consume(params);
  for (const [id, entry] of state.consumers) {
    if (entry.info.participantId !== 'composed') continue;
    entry.consumer.close();
    state.consumers.delete(id);
    document.querySelector(`[data-track="${CSS.escape(entry.consumer.track.id)}"]`)?.remove();
  }
  state.consumers.set(consumer.id, { consumer, info: { producerId: params.producerId, participantId: 'composed', displayName: t('composedTile'), kind: 'video' } });
  attach('composed', t('composedTile'), consumer.track);
  await signaling.request('resume', { consumerId: consumer.id });
}

function dropProducer(producerId: string): void {
  for (const [id, { consumer, info }] of state.consumers) {
    if (info.producerId !== producerId) continue;
    consumer.close();
    state.consumers.delete(id);
    document.querySelector(`[data-track="${CSS.escape(consumer.track.id)}"]`)?.remove();
    const el = document.querySelector(`.tile[data-participant="${CSS.escape(info.participantId)}"]`);
    if (el && !el.querySelector('audio, video')) el.remove();
  }
}

/** The content view shows `track` under `caption`, or is hidden. */
function showContentView(track: MediaStreamTrack | undefined, caption: string): void {
  const video = $<HTMLVideoElement>('content-video');
  video.srcObject = track ? new MediaStream([track]) : null;
  $('content-name').textContent = caption;
  $('content-view').hidden = !track;
}

/** The composed view's requests for its picture, one after another. */
let composedQueue: Promise<void> = Promise.resolve();

/**
 * Someone presents (or nobody, null): another's content is consumed into the content view; this
 * page's own share shows its own screen. On the composed view the content comes inside the one
 * picture instead (the content layout): the page asks for its picture again.
 */
async function showContent(info: ContentInfo | null): Promise<void> {
  // A share that waited for the floor (the box's queue policy) has it now: this page presents.
  const sharing = state.sharing;
  if (sharing && sharing.floor === 'pending' && info?.participantId === state.participantId) {
    sharing.floor = 'granted';
    presenting(sharing.producer.track, sharing.reachesSip);
  }
  if (state.composed) {
    if (state.phase === 'joined') composedQueue = composedQueue.then(consumeComposed).catch(report);
    return;
  }
  if (state.sharing?.floor === 'granted') return;
  const current = state.content;
  if (current && current.info.producerId === info?.producerId && current.info.participantId === info?.participantId) return;
  current?.consumer?.close();
  state.content = undefined;
  if (!info?.producerId || info.participantId === state.participantId || !signaling || !device || !recvTransport) {
    showContentView(undefined, '');
    return;
  }
  const entry: { info: ContentInfo; consumer?: types.Consumer } = { info };
  state.content = entry;
  const params = await signaling.request<{ id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters }>('consume', {
    producerId: info.producerId,
    rtpCapabilities: receiveCapabilities(device),
  });
  const consumer = await recvTransport.consume(params);
  if (state.content !== entry) {
    consumer.close();
    return;
  }
  entry.consumer = consumer;
  showContentView(consumer.track, `${info.displayName} ${t('presenting')}`);
  await signaling.request('resume', { consumerId: consumer.id });
}

/**
 * Shares the screen: getDisplayMedia, then a producer marked as content — H.264 when the browser
 * can send it (room systems take content in H.264; browsers decode it too), else what it can.
 * `codec` forces one (support and tests). The browser's own "stop sharing" stops it as well.
 */
async function shareScreen(options: { codec?: 'H264' | 'VP8' } = {}): Promise<void> {
  if (state.sharing || !device || !sendTransport || !signaling) return;
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { max: 15 } }, audio: false });
  const track = stream.getVideoTracks()[0];
  if (!track) return;
  track.contentHint = 'detail';
  const wanted = `video/${(options.codec ?? 'H264').toLowerCase()}`;
  const codecs = device.rtpCapabilities.codecs ?? [];
  const codec =
    codecs.find((c) => c.mimeType.toLowerCase() === wanted && (wanted !== 'video/h264' || c.parameters?.['packetization-mode'] === 1)) ??
    (options.codec ? undefined : codecs.find((c) => c.kind === 'video' && c.mimeType.toLowerCase() !== 'video/rtx'));
  let producer: types.Producer;
  shareAnswer = undefined;
  try {
    producer = await sendTransport.produce({ track, ...(codec ? { codec } : {}), encodings: [{ maxBitrate: 2_500_000 }], appData: { content: true } });
  } catch (error) {
    track.stop();
    throw error;
  }
  const answer: { floor: string; mimeType: string; reachesSip: boolean; cap?: ContentCap } = shareAnswer ?? { floor: 'granted', mimeType: producer.rtpParameters.codecs[0]?.mimeType ?? '', reachesSip: false };
  state.sharing = { producer, ...answer };
  $('share').hidden = true;
  $('stop-share').hidden = false;
  // Waiting for the floor (queue policy): the current presentation stays in view until this page's turn.
  if (answer.floor === 'pending') $('content-notice').textContent = t('waitingFloor');
  else presenting(track, answer.reachesSip);
  track.addEventListener('ended', () => void stopSharing(true).catch(report));
  // Within the box's content cap, room systems take the share as it is (no transcoding).
  if (answer.cap) await keepWithinCap(answer.cap);
}

/** The share keeps within the box's content cap: from the share's answer, and again whenever the administrator changes it (`contentCap`). */
async function keepWithinCap(cap: ContentCap): Promise<void> {
  const sharing = state.sharing;
  if (!sharing) return;
  sharing.cap = cap;
  await sharing.producer.track?.applyConstraints({ width: { max: cap.width }, height: { max: cap.height }, frameRate: { max: cap.fps } }).catch(() => undefined);
  await sharing.producer.setRtpEncodingParameters({ maxBitrate: cap.kbps * 1000 }).catch(() => undefined);
}

/** This page holds the floor: another's content leaves the view, its own screen shows. */
function presenting(track: MediaStreamTrack | null, reachesSip: boolean): void {
  state.content?.consumer?.close();
  state.content = undefined;
  showContentView(track ?? undefined, t('youPresent'));
  $('content-notice').textContent = reachesSip ? '' : t('noSipContent');
}

/** Stops this page's share; `tellBox` false when the box ended it (another took the floor). */
async function stopSharing(tellBox: boolean): Promise<void> {
  const sharing = state.sharing;
  if (!sharing) return;
  state.sharing = undefined;
  sharing.producer.close();
  sharing.producer.track?.stop();
  showContentView(undefined, '');
  $('share').hidden = false;
  $('stop-share').hidden = true;
  $('content-notice').textContent = tellBox ? '' : t('takenOver');
  if (tellBox) await signaling?.request('stopContent').catch(() => undefined);
}

/** What the content view shows now, for tests and support: whose content, its size and frames so far, the codec it is sent in and the one received. */
function contentView(): { shown: boolean; presenter: string | null; sharing: boolean; waiting: boolean; notice: string; width: number; height: number; frames: number; mimeType: string | null; received: string | null } {
  const video = $<HTMLVideoElement>('content-video');
  return {
    shown: !$('content-view').hidden,
    presenter: state.sharing?.floor === 'granted' ? state.participantId : (state.content?.info.participantId ?? null),
    sharing: Boolean(state.sharing),
    waiting: state.sharing?.floor === 'pending',
    notice: $('content-notice').textContent ?? '',
    width: video.videoWidth,
    height: video.videoHeight,
    frames: video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0,
    mimeType: state.sharing?.mimeType ?? state.content?.info.mimeType ?? null,
    // The codec this page decodes the content in (the presenter's, or the box's transcoded copy).
    received: state.content?.consumer?.rtpParameters.codecs[0]?.mimeType ?? null,
  };
}

async function join(number: string, pin: string, name: string): Promise<void> {
  lastJoin = { number, pin, name };
  state.phase = 'joining';
  $('status').textContent = t('joining');
  if (!localStream) {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 } } });
    } catch {
      try {
        localStream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch {
        $('status').textContent = t('noDevices');
      }
    }
  }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/join/ws`;
  signaling = new Signaling(url);
  await signaling.opened();
  const sig = signaling;
  const joined = await sig.request<JoinResult>('join', { number, pin, name });
  state.participantId = joined.participantId;
  sig.onNotification = (notification, data) => {
    if (notification === 'newProducer') void consume(data as unknown as ProducerInfo).catch(report);
    else if (notification === 'producerClosed') {
      dropProducer(String(data.producerId));
      if (state.content?.info.producerId === String(data.producerId)) void showContent(null);
    } else if (notification === 'content') void showContent(data && 'participantId' in data ? (data as unknown as ContentInfo) : null).catch(report);
    else if (notification === 'contentStopped') void stopSharing(false).catch(report);
    else if (notification === 'contentCap') void keepWithinCap(data as unknown as ContentCap).catch(report);
    else if (notification === 'removed') end('removed', `${t('removed')} (${String(data.reason ?? '')})`);
    else if (notification === 'reconnect') void rejoin();
  };
  sig.onClose = () => {
    if (state.phase === 'joined') end('left', t('lost'));
  };
  device = new Device();
  await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
  // The box's TURN relay, for networks that let only its port through; `?ice=relay` in the
  // page's address forces the relayed path (a support check of the relay from a browser).
  const ice = { iceServers: joined.iceServers ?? [], iceTransportPolicy: (forceRelay ? 'relay' : 'all') as RTCIceTransportPolicy };
  sendTransport = device.createSendTransport({ ...joined.send, ...ice });
  recvTransport = device.createRecvTransport({ ...joined.recv, ...ice });
  for (const transport of [sendTransport, recvTransport]) {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      sig.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
  }
  sendTransport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
    if (appData.content) {
      sig
        .request<{ id: string; floor: string; mimeType: string; reachesSip: boolean; cap?: ContentCap }>('shareContent', { rtpParameters })
        .then((answer) => {
          shareAnswer = { floor: answer.floor, mimeType: answer.mimeType, reachesSip: answer.reachesSip, ...(answer.cap ? { cap: answer.cap } : {}) };
          callback({ id: answer.id });
        }, errback);
      return;
    }
    sig.request<{ id: string }>('produce', { kind, rtpParameters }).then(callback, errback);
  });

  $('join-form').hidden = true;
  $('meeting').hidden = false;
  $('meeting-title').textContent = `${joined.subject} · ${number}`;
  if (localStream) {
    for (const track of localStream.getTracks()) {
      attach('self', t('you'), track, true);
      const producer = await sendTransport.produce(
        track.kind === 'video'
          ? {
              track,
              // Simulcast: three layers the SFU picks from per receiver.
              encodings: [
                { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
                { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
                { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
              ],
            }
          : { track },
      );
      state.producers.push(producer);
    }
  }
  for (const producer of joined.producers) await consume(producer);
  if (state.composed) await consumeComposed();
  await showContent(joined.content ?? null);
  state.phase = 'joined';
  $('status').textContent = t('joined');
}

async function rejoin(): Promise<void> {
  $('status').textContent = t('reconnecting');
  teardown();
  if (lastJoin) await join(lastJoin.number, lastJoin.pin, lastJoin.name).catch(report);
}

function teardown(): void {
  if (state.sharing) {
    state.sharing.producer.close();
    state.sharing.producer.track?.stop();
    state.sharing = undefined;
  }
  state.content?.consumer?.close();
  state.content = undefined;
  showContentView(undefined, '');
  $('share').hidden = false;
  $('stop-share').hidden = true;
  for (const { consumer } of state.consumers.values()) consumer.close();
  state.consumers.clear();
  for (const producer of state.producers) producer.close();
  state.producers = [];
  sendTransport?.close();
  recvTransport?.close();
  const sig = signaling;
  signaling = undefined;
  if (sig) {
    sig.onClose = () => undefined;
    sig.close();
  }
  $('tiles').replaceChildren();
}

function end(phase: 'left' | 'removed', message: string): void {
  state.phase = phase;
  teardown();
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = undefined;
  $('meeting').hidden = true;
  $('join-form').hidden = false;
  $('error').textContent = message;
}

function report(error: unknown): void {
  const err = error as Error & { refusal?: string };
  const message = lang === 'zh-CN' && err.refusal && REFUSALS_ZH[err.refusal] ? REFUSALS_ZH[err.refusal] : err.message;
  state.errors.push(message ?? String(error));
  $('error').textContent = message ?? String(error);
  if (state.phase === 'joining') {
    state.phase = 'idle';
    teardown();
    $('meeting').hidden = true;
    $('join-form').hidden = false;
  }
}

/** A summary of what this page receives and sends (getStats), for tests and support. */
async function stats(): Promise<{
  inbound: { kind: string; codec: string; packets: number; bytes: number; framesDecoded?: number }[];
  outbound: { kind: string; packets: number }[];
  /** The local candidate type of each transport's selected path: host, srflx or relay (TURN). */
  paths: string[];
}> {
  const inbound: { kind: string; codec: string; packets: number; bytes: number; framesDecoded?: number }[] = [];
  const outbound: { kind: string; packets: number }[] = [];
  const paths: string[] = [];
  for (const transport of [recvTransport, sendTransport]) {
    if (!transport) continue;
    const report = await transport.getStats();
    const codecs = new Map<string, string>();
    for (const entry of report.values()) if (entry.type === 'codec') codecs.set(entry.id, entry.mimeType);
    for (const entry of report.values()) {
      if (entry.type === 'inbound-rtp') {
        inbound.push({ kind: entry.kind, codec: codecs.get(entry.codecId) ?? '', packets: entry.packetsReceived ?? 0, bytes: entry.bytesReceived ?? 0, framesDecoded: entry.framesDecoded });
      } else if (entry.type === 'outbound-rtp') {
        outbound.push({ kind: entry.kind, packets: entry.packetsSent ?? 0 });
      } else if (entry.type === 'transport' && entry.selectedCandidatePairId) {
        const pair = report.get(entry.selectedCandidatePairId);
        const local = pair ? report.get(pair.localCandidateId) : undefined;
        if (local) paths.push(local.candidateType);
      }
    }
  }
  return { inbound, outbound, paths };
}

async function leave(): Promise<void> {
  await signaling?.request('leave').catch(() => undefined);
  end('left', t('left'));
}

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const number = ($('number') as HTMLInputElement).value.trim();
  const pin = ($('pin') as HTMLInputElement).value.trim();
  state.composed = ($('composed') as HTMLInputElement).checked;
  const name = ($('name') as HTMLInputElement).value.trim();
  if (!/^\d{5,12}$/.test(number)) {
    $('error').textContent = t('badId');
    return;
  }
  if (!name) {
    $('error').textContent = t('badName');
    return;
  }
  $('error').textContent = '';
  void join(number, pin, name).catch(report);
});
$('leave').addEventListener('click', () => void leave());
$('mute').addEventListener('click', () => {
  state.muted = !state.muted;
  for (const producer of state.producers) if (producer.kind === 'audio') state.muted ? producer.pause() : producer.resume();
  applyLanguage();
});
$('share').addEventListener('click', () => void shareScreen().catch((error: Error) => report(new Error(`${t('shareFailed')}: ${error.message}`))));
$('stop-share').addEventListener('click', () => void stopSharing(true).catch(report));
$('lang').addEventListener('change', (event) => {
  lang = (event.target as HTMLSelectElement).value as Lang;
  applyLanguage();
});

// A link may carry the meeting: /join/?m=880001 — the page asks whether it needs a PIN.
const fromLink = new URLSearchParams(location.search).get('m');
const forceRelay = new URLSearchParams(location.search).get('ice') === 'relay';
const receiveOnly = ['vp8', 'h264'].find((codec) => codec === new URLSearchParams(location.search).get('recv')?.toLowerCase());
if (fromLink && /^\d{5,12}$/.test(fromLink)) {
  ($('number') as HTMLInputElement).value = fromLink;
  fetch(`/api/v1/join/${fromLink}`)
    .then(async (response) => {
      const body = (await response.json()) as { subject?: string; needsPin?: boolean; message?: string; refusal?: string };
      $('subject').textContent = response.ok ? (body.subject ?? '') : lang === 'zh-CN' && body.refusal ? (REFUSALS_ZH[body.refusal] ?? '') : (body.message ?? '');
      ($('pin') as HTMLInputElement).required = Boolean(body.needsPin);
    })
    .catch(() => undefined);
}
applyLanguage();

declare global {
  interface Window {
    vcboxJoin: {
      state: typeof state;
      join: typeof join;
      leave: typeof leave;
      stats: typeof stats;
      shareScreen: typeof shareScreen;
      stopSharing: () => Promise<void>;
      contentView: typeof contentView;
    };
  }
}
window.vcboxJoin = { state, join, leave, stats, shareScreen, stopSharing: () => stopSharing(true), contentView };
