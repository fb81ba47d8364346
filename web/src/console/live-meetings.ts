/**
 * The "live meetings" page: every meeting running now with its participants (type, role,
 * audio and video codec with bitrates in and out, mute state, network quality in red at the
 * spec's thresholds or "no media received") and its control —
 * lock, mute all, mute/unmute or remove one, invite a registered account, and the layout picker, each layout drawn from the
 * server's pane geometry, with the participant pinned to the big pane; broadcast a site (every
 * other SIP terminal sees it full screen) and, per SIP terminal, the site it watches; who
 * presents content and for how long, with "Stop presentation" and, per participant with a
 * content stream, "Give floor" (administrators only: an operator sees who presents). Refreshed
 * every 5 s.
 */
import { el } from './form-fields.ts';
import { api } from './api.ts';
import { lang, t, words } from './i18n.ts';

const w = words({
  en: {
    broadcast: 'Broadcast',
    stopBroadcast: 'Stop broadcast',
    broadcasting: 'broadcast',
    broadcastTitle: 'Every other SIP terminal sees {name} full screen',
    watch: 'Watches',
    watchLabel: 'Site {name} watches',
    watchPicture: 'the meeting picture',
    video: 'Video',
    noMedia: 'no media received ({seconds} s)',
    streamDetail: '{codec}, in {in} kbit/s, out {out} kbit/s, loss {loss} %, jitter {jitter} ms',
    presenting: '{name} ({kind}) presents content since {since} · {duration}',
    nobodyPresents: 'Nobody presents content',
    stopPresentation: 'Stop presentation',
    confirmStopPresentation: "Stop {name}'s presentation?",
    giveFloor: 'Give floor',
    giveFloorTitle: '{name} presents content (the presenter now, if any, is stopped)',
    presenterBadge: 'presenting',
    kind_sip: 'SIP',
    kind_browser: 'browser',
  },
  'zh-CN': {
    broadcast: '广播',
    stopBroadcast: '停止广播',
    broadcasting: '广播中',
    broadcastTitle: '其他 SIP 终端全屏观看 {name}',
    watch: '选看',
    watchLabel: '{name} 选看的会场',
    watchPicture: '会议画面',
    video: '视频',
    noMedia: '未收到媒体（{seconds} 秒）',
    streamDetail: '{codec}，接收 {in} kbit/s，发送 {out} kbit/s，丢包 {loss}%，抖动 {jitter} 毫秒',
    presenting: '{name}（{kind}）自 {since} 起共享内容 · {duration}',
    nobodyPresents: '当前无人共享内容',
    stopPresentation: '停止演示',
    confirmStopPresentation: '停止 {name} 的演示？',
    giveFloor: '授予发言权',
    giveFloorTitle: '由 {name} 共享内容（当前的演示者将被停止）',
    presenterBadge: '演示中',
    kind_sip: 'SIP',
    kind_browser: '浏览器',
  },
});

interface StreamStats {
  codec: string;
  bitrateIn: number;
  bitrateOut: number;
  packetLoss: number;
  jitterMs: number;
}
interface Participant {
  id: string;
  displayName: string;
  role: 'host' | 'guest';
  type: string;
  audioCodec: string;
  muted: boolean;
  quality: 'good' | 'red' | 'no-media';
  noMediaSeconds: number;
  audio: StreamStats;
  video: StreamStats | null;
  packetLoss: number;
  videoPacketLoss: number;
  jitterMs: number;
  rttMs: number;
  watching: string | null;
  canPresent: boolean;
}
interface Presenter {
  participantId: string;
  displayName: string;
  kind: 'sip' | 'browser';
  since: string;
  seconds: number;
}
interface Meeting {
  number: string;
  subject: string;
  kind: string;
  locked: boolean;
  startedAt: string;
  layout: string;
  pinned: string | null;
  broadcast: string | null;
  presenter: Presenter | null;
  participants: Participant[];
}
export interface LayoutPicture {
  layout: string;
  panes: { x: number; y: number; width: number; height: number; big: boolean }[];
}

let layouts: LayoutPicture[] = [];
const percent = (fraction: number) => String(Math.round(fraction * 1000) / 10);
const kbits = (bitsPerSecond: number) => String(Math.round(bitsPerSecond / 1000));

/** A stream's cell: its codec and bitrates in and out, the rest in the tooltip. */
function streamCell(stream: StreamStats | null): HTMLElement {
  if (!stream?.codec) return el('td', {}, '—');
  const detail = w('streamDetail', { codec: stream.codec, in: kbits(stream.bitrateIn), out: kbits(stream.bitrateOut), loss: percent(stream.packetLoss), jitter: String(Math.round(stream.jitterMs)) });
  return el('td', { title: detail }, `${stream.codec} ↓${kbits(stream.bitrateIn)} ↑${kbits(stream.bitrateOut)}`);
}

/** A duration as h:mm:ss, or m:ss under an hour. */
export function clockDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours > 0 ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

/** Whether the logged-in user is an administrator (app.ts marks the page at login); operators only read. */
const isAdministrator = () => document.documentElement.dataset.role === 'admin';

export function layoutName(layout: string): string {
  if (layout === 'auto') return t('layoutAuto');
  if (layout === 'single') return t('layoutSingle');
  return layout.replace('x', '×');
}

/** A small drawing of a layout (its panes as rectangles). */
export function picture(layout: LayoutPicture): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 160 90');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('layout-picture');
  const shapes = layout.panes.length > 0 ? layout.panes : [{ x: 0, y: 0, width: 160, height: 90, big: false }];
  for (const pane of shapes) {
    const rect = document.createElementNS(ns, 'rect');
    for (const [k, v] of Object.entries({ x: pane.x + 1, y: pane.y + 1, width: Math.max(1, pane.width - 2), height: Math.max(1, pane.height - 2) })) rect.setAttribute(k, String(v));
    rect.setAttribute('class', pane.big ? 'big' : 'small');
    svg.append(rect);
  }
  if (layout.panes.length === 0) {
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', '80');
    text.setAttribute('y', '55');
    text.setAttribute('text-anchor', 'middle');
    text.textContent = 'A';
    svg.append(text);
  }
  return svg;
}

export async function renderLiveMeetings(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  if (layouts.length === 0) layouts = await api<LayoutPicture[]>('GET', '/layouts');
  const meetings = await api<Meeting[]>('GET', '/live-meetings');
  const act = (fn: () => Promise<unknown>) => () => void fn().then(() => renderLiveMeetings(root, onError)).catch(onError);
  const sections = meetings.map((meeting) => {
    const section = el('section', { className: 'meeting' });
    section.dataset.number = meeting.number;
    const title = el('h2', {}, `${meeting.subject} · ${meeting.number}`, meeting.locked ? el('span', { className: 'badge' }, t('locked')) : '');
    const started = el('p', { className: 'muted' }, `${t('started')}: ${new Date(meeting.startedAt).toLocaleString(lang())}`);
    // Content: who presents, since when and for how long; an administrator may stop it.
    const admin = isAdministrator();
    const presenter = meeting.presenter;
    const presentation = el(
      'p',
      { className: presenter ? 'presentation active' : 'presentation' },
      presenter
        ? w('presenting', { name: presenter.displayName, kind: w(`kind_${presenter.kind}`), since: new Date(presenter.since).toLocaleTimeString(lang()), duration: clockDuration(presenter.seconds) })
        : w('nobodyPresents'),
    );
    if (presenter && admin) {
      const stop = el('button', { type: 'button', className: 'stop-presentation danger' }, w('stopPresentation'));
      stop.addEventListener('click', () => {
        if (window.confirm(w('confirmStopPresentation', { name: presenter.displayName }))) act(() => api('POST', `/live-meetings/${meeting.number}/presentation/stop`))();
      });
      presentation.append(' ', stop);
    }
    const lock = el('button', { type: 'button', className: 'lock' }, meeting.locked ? t('unlock') : t('lock'));
    lock.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/lock`, { locked: !meeting.locked })));
    const allMuted = meeting.participants.length > 0 && meeting.participants.filter((p) => p.role !== 'host').every((p) => p.muted);
    const muteAll = el('button', { type: 'button', className: 'mute-all' }, allMuted ? t('unmuteAll') : t('muteAll'));
    muteAll.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/mute`, { muted: !allMuted })));
    // Invite: the box calls a registered account's terminal into the meeting.
    const inviteAccount = el('input', { className: 'invite-account', inputMode: 'numeric', maxLength: 4, placeholder: '1001' });
    inviteAccount.setAttribute('aria-label', t('inviteAccount'));
    const invite = el('button', { type: 'button', className: 'invite' }, t('invite'));
    invite.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/invite`, { account: inviteAccount.value.trim() })));

    // Layout picker: one radio per layout, each with its drawing; and who takes the big pane.
    const picker = el('fieldset', { className: 'layout-picker' }, el('legend', {}, t('layout')));
    for (const layout of layouts) {
      const input = el('input', { type: 'radio', name: `layout-${meeting.number}`, value: layout.layout, checked: layout.layout === meeting.layout });
      input.addEventListener('change', act(() => api('POST', `/live-meetings/${meeting.number}/layout`, { layout: layout.layout, pinned: meeting.pinned })));
      picker.append(el('label', { className: 'layout-option' }, input, picture(layout), el('span', {}, layoutName(layout.layout))));
    }
    const pin = el('select', { className: 'pin' });
    pin.setAttribute('aria-label', t('pin'));
    pin.append(el('option', { value: '' }, t('pinNone')), ...meeting.participants.map((p) => el('option', { value: p.id, selected: p.id === meeting.pinned }, p.displayName)));
    pin.addEventListener('change', act(() => api('POST', `/live-meetings/${meeting.number}/layout`, { layout: meeting.layout, pinned: pin.value || null })));
    picker.append(el('label', { className: 'pin-label' }, `${t('pin')} `, pin));

    const rows = meeting.participants.map((p) => {
      const mute = el('button', { type: 'button', className: 'mute' }, p.muted ? t('unmute') : t('mute'));
      mute.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/mute`, { muted: !p.muted, participantId: p.id })));
      const remove = el('button', { type: 'button', className: 'remove danger' }, t('remove'));
      remove.addEventListener('click', () => {
        if (window.confirm(t('confirmRemove', { name: p.displayName }))) act(() => api('DELETE', `/live-meetings/${meeting.number}/participants/${p.id}`))();
      });
      // Broadcast this site to everyone, or stop the broadcast it is.
      const broadcasting = meeting.broadcast === p.id;
      const broadcast = el('button', { type: 'button', className: 'broadcast', title: w('broadcastTitle', { name: p.displayName }) }, broadcasting ? w('stopBroadcast') : w('broadcast'));
      broadcast.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/broadcast`, { participantId: broadcasting ? null : p.id })));
      // Watch: what this SIP terminal sees (browsers show every site themselves).
      let watch: HTMLElement | string = '—';
      if (p.type === 'sip') {
        const select = el('select', { className: 'watch' });
        select.setAttribute('aria-label', w('watchLabel', { name: p.displayName }));
        select.append(el('option', { value: '' }, w('watchPicture')), ...meeting.participants.filter((o) => o.id !== p.id).map((o) => el('option', { value: o.id, selected: o.id === p.watching }, o.displayName)));
        select.addEventListener('change', act(() => api('POST', `/live-meetings/${meeting.number}/participants/${p.id}/watch`, { watched: select.value || null })));
        watch = select;
      }
      // Give the content floor to a participant with a content stream (not the presenter already).
      const presents = meeting.presenter?.participantId === p.id;
      let giveFloor: HTMLElement | string = '';
      if (admin && p.canPresent && !presents) {
        const give = el('button', { type: 'button', className: 'give-floor', title: w('giveFloorTitle', { name: p.displayName }) }, w('giveFloor'));
        give.addEventListener('click', act(() => api('POST', `/live-meetings/${meeting.number}/presentation/give`, { participantId: p.id })));
        giveFloor = give;
      }
      const row = el(
        'tr',
        {},
        el(
          'td',
          {},
          p.displayName,
          p.muted ? el('span', { className: 'badge' }, t('muted')) : '',
          broadcasting ? el('span', { className: 'badge broadcasting' }, w('broadcasting')) : '',
          presents ? el('span', { className: 'badge presenting' }, w('presenterBadge')) : '',
        ),
        el('td', {}, p.type.toUpperCase()),
        el('td', {}, t(p.role)),
        streamCell(p.audio ?? { codec: p.audioCodec, bitrateIn: 0, bitrateOut: 0, packetLoss: p.packetLoss, jitterMs: p.jitterMs }),
        streamCell(p.video),
        el(
          'td',
          {
            className: p.quality === 'good' ? 'quality' : 'quality red',
            title: t('qualityDetail', { loss: percent(p.packetLoss), videoLoss: percent(p.videoPacketLoss), jitter: String(Math.round(p.jitterMs)), delay: String(Math.round(p.rttMs / 2)) }),
          },
          p.quality === 'no-media' ? w('noMedia', { seconds: String(p.noMediaSeconds) }) : t(p.quality),
        ),
        el('td', {}, watch),
        el('td', {}, mute, ' ', broadcast, ' ', remove, giveFloor ? ' ' : '', giveFloor),
      );
      row.dataset.participant = p.displayName;
      return row;
    });
    const table = el(
      'table',
      {},
      el('caption', {}, t('participants')),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...(['name', 'type', 'role', 'codec'] as const).map((k) => el('th', { scope: 'col' }, t(k))),
          el('th', { scope: 'col' }, w('video')),
          el('th', { scope: 'col' }, t('quality')),
          el('th', { scope: 'col' }, w('watch')),
          el('th', { scope: 'col' }, t('actions')),
        ),
      ),
      el('tbody', {}, ...rows),
    );
    section.append(title, started, presentation, el('div', { className: 'toolbar' }, lock, muteAll, inviteAccount, invite), picker, table);
    return section;
  });
  root.replaceChildren(el('h1', {}, t('liveTitle')), ...(sections.length > 0 ? sections : [el('p', { className: 'empty' }, t('noMeetings'))]), el('p', { className: 'muted refreshed' }, t('refreshed', { time: new Date().toLocaleTimeString(lang()) })));
}
