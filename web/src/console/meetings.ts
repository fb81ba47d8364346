/**
 * The "meetings" page (spec "Rooms and meetings"): scheduled and instant meetings as a list —
 * upcoming first (by next occurrence), then the last 30 days — and as a month calendar (Monday
 * first, previous/next month) with each occurrence on its day, both in the browser's time zone.
 * The schedule form (subject, start, duration, recurrence daily/weekly/monthly until a date,
 * participants from the accounts and the rooms, PINs generated or set, invitations mailed)
 * also changes a meeting before its start; cancelling is confirmed. Each meeting shows the
 * ways in the API answers: ID, PINs, the SIP dial strings and the browser join link.
 */
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { lang, words } from './i18n.ts';

const w = words({
  en: {
    title: 'Meetings',
    schedule: 'Schedule a meeting',
    editMeeting: 'Change meeting {number}',
    subject: 'Subject',
    start: 'Start',
    duration: 'Duration (minutes)',
    recurrence: 'Repeats',
    once: 'Does not repeat',
    daily: 'Daily',
    weekly: 'Weekly',
    monthly: 'Monthly',
    until: 'Until (last day)',
    accounts: 'Participant accounts',
    rooms: 'Participant rooms',
    multiHint: 'Ctrl or ⌘ + click (Space with the keyboard) picks several',
    hostPin: 'Host PIN',
    guestPin: 'Guest PIN',
    pinHint: '4 to 8 digits; empty: generated',
    noGuestPin: 'No guest PIN',
    sendInvitations: 'Mail the invitations to the participant accounts',
    create: 'Schedule',
    save: 'Save changes',
    cancelEdit: 'Back',
    scheduled: 'Meeting {number} is scheduled.',
    changed: 'Meeting {number} is changed.',
    mailOutcome: 'Invitations: {sent} sent, {failed} not sent.',
    mailFailure: '{number}: {reason}',
    upcoming: 'Upcoming',
    past: 'Past 30 days',
    noUpcoming: 'Nothing scheduled.',
    search: 'Search subject or ID',
    next: 'Next start',
    lastStart: 'Last start',
    minutes: '{minutes} min',
    repeatsUntil: '{freq} until {date}',
    id: 'ID',
    status: 'Status',
    statusScheduled: 'scheduled',
    statusCancelled: 'cancelled',
    statusRunning: 'running now',
    actions: 'Actions',
    edit: 'Change',
    cancelMeeting: 'Cancel meeting',
    confirmCancel: 'Cancel the meeting “{subject}” ({number}) and all its occurrences? Its number can no longer be dialled.',
    waysIn: 'Ways in',
    guestDial: 'SIP (guests)',
    hostDial: 'SIP (hosts)',
    joinLink: 'Browser',
    pins: 'PINs',
    pinsValue: 'host {host}, guest {guest}',
    none: 'none',
    calendar: 'Calendar',
    previousMonth: 'Previous month',
    nextMonth: 'Next month',
    thisMonth: 'This month',
    instant: 'instant',
  },
  'zh-CN': {
    title: '会议',
    schedule: '预约会议',
    editMeeting: '修改会议 {number}',
    subject: '主题',
    start: '开始时间',
    duration: '时长（分钟）',
    recurrence: '重复',
    once: '不重复',
    daily: '每天',
    weekly: '每周',
    monthly: '每月',
    until: '截止日期（最后一天）',
    accounts: '参会账号',
    rooms: '参会会议室',
    multiHint: '按住 Ctrl 或 ⌘ 点击可多选（键盘用空格键）',
    hostPin: '主持人密码',
    guestPin: '访客密码',
    pinHint: '4 到 8 位数字；留空自动生成',
    noGuestPin: '不设访客密码',
    sendInvitations: '向参会账号发送邀请邮件',
    create: '预约',
    save: '保存修改',
    cancelEdit: '返回',
    scheduled: '会议 {number} 已预约。',
    changed: '会议 {number} 已修改。',
    mailOutcome: '邀请邮件：已发送 {sent} 封，未发送 {failed} 封。',
    mailFailure: '{number}：{reason}',
    upcoming: '即将开始',
    past: '最近 30 天',
    noUpcoming: '没有已预约的会议。',
    search: '搜索主题或会议号',
    next: '下次开始',
    lastStart: '最近开始',
    minutes: '{minutes} 分钟',
    repeatsUntil: '{freq}，至 {date}',
    id: '会议号',
    status: '状态',
    statusScheduled: '已预约',
    statusCancelled: '已取消',
    statusRunning: '进行中',
    actions: '操作',
    edit: '修改',
    cancelMeeting: '取消会议',
    confirmCancel: '取消会议“{subject}”（{number}）及其全部重复场次？其会议号将无法再呼入。',
    waysIn: '入会方式',
    guestDial: 'SIP（访客）',
    hostDial: 'SIP（主持人）',
    joinLink: '浏览器',
    pins: '密码',
    pinsValue: '主持人 {host}，访客 {guest}',
    none: '无',
    calendar: '日历',
    previousMonth: '上个月',
    nextMonth: '下个月',
    thisMonth: '本月',
    instant: '即时',
  },
});

interface Meeting {
  id: number;
  number: string;
  subject: string;
  type: 'scheduled' | 'instant';
  start: string;
  durationMinutes: number;
  recurrence: { freq: 'daily' | 'weekly' | 'monthly'; until: string } | null;
  hostPin: string;
  guestPin: string;
  status: 'scheduled' | 'cancelled';
  accounts: string[];
  rooms: number[];
  occurrences: string[];
  dialString: string;
  hostDialString: string;
  joinLink: string;
}
interface Outcome {
  number: string;
  changed: boolean;
  mail?: { sent: string[]; failed: { number: string; reason: string }[] };
}

const DAY = 86_400_000;
const today = () => new Date();
const view = {
  q: '',
  month: new Date(today().getFullYear(), today().getMonth(), 1),
  editing: undefined as Meeting | undefined,
  outcome: undefined as Outcome | undefined,
};

/** FIELDS: the server's field names → this page's control ids. */
const FIELDS = {
  subject: 'meeting-subject',
  start: 'meeting-start',
  durationMinutes: 'meeting-duration',
  recurrence: 'meeting-recurrence',
  'recurrence.freq': 'meeting-recurrence',
  'recurrence.until': 'meeting-until',
  accounts: 'meeting-accounts',
  rooms: 'meeting-rooms',
  hostPin: 'meeting-host-pin',
  guestPin: 'meeting-guest-pin',
};

const pad = (n: number) => String(n).padStart(2, '0');
/** A local calendar day as YYYY-MM-DD (the calendar's cells are keyed by it). */
const dayKey = (at: Date) => `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
/** The value a datetime-local input shows for an instant, in the browser's time zone. */
const localInput = (iso: string) => {
  const at = new Date(iso);
  return `${dayKey(at)}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
};
/** The day's number, seen but not read out (the full date before it is). */
const dayNumber = (day: Date) => {
  const span = el('span', {}, String(day.getDate()));
  span.setAttribute('aria-hidden', 'true');
  return span;
};
const dateTime = (iso: string) => new Date(iso).toLocaleString(lang(), { dateStyle: 'medium', timeStyle: 'short' });
const time = (iso: string) => new Date(iso).toLocaleTimeString(lang(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

function recurrenceText(meeting: Meeting): string {
  if (!meeting.recurrence) return w('once');
  return w('repeatsUntil', { freq: w(meeting.recurrence.freq), date: new Date(meeting.recurrence.until).toLocaleDateString(lang()) });
}

/** The ways in, as the API answers them: PINs, dial strings, the browser link. */
function waysIn(meeting: Meeting): HTMLDetailsElement {
  const item = (term: string, value: Node | string) => [el('dt', {}, term), el('dd', {}, value)];
  return el(
    'details',
    { className: 'ways-in' },
    el('summary', {}, w('waysIn')),
    el(
      'dl',
      {},
      ...item(w('pins'), w('pinsValue', { host: meeting.hostPin, guest: meeting.guestPin || w('none') })),
      ...item(w('guestDial'), el('code', { className: 'dial-string' }, meeting.dialString)),
      ...item(w('hostDial'), el('code', { className: 'host-dial-string' }, meeting.hostDialString)),
      ...item(w('joinLink'), el('a', { className: 'join-link', href: meeting.joinLink, target: '_blank', rel: 'noopener' }, meeting.joinLink)),
    ),
  );
}

export async function renderMeetings(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const now = Date.now();
  const gridStart = new Date(view.month);
  gridStart.setDate(1 - ((gridStart.getDay() + 6) % 7)); // back to Monday
  const gridEnd = new Date(gridStart.getFullYear(), gridStart.getMonth(), gridStart.getDate() + 42);
  const inWindow = (from: Date, to: Date) => `/meetings?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), ...(view.q ? { q: view.q } : {}) })}`;
  const [listed, inGrid, accounts, rooms] = await Promise.all([
    api<Meeting[]>('GET', inWindow(new Date(now - 30 * DAY), new Date(now + 365 * DAY))),
    api<Meeting[]>('GET', inWindow(gridStart, gridEnd)),
    api<{ items: { number: string; name: string }[] }>('GET', '/accounts?pageSize=500&sort=number'),
    api<{ id: number; name: string }[]>('GET', '/rooms'),
  ]);
  const again = () => renderMeetings(root, onError).catch(onError);

  // The schedule form, or the change of one meeting before its start.
  const editing = view.editing;
  const subject = el('input', { maxLength: 255, required: true, value: editing?.subject ?? '' });
  const inAnHour = new Date(Math.ceil((now + 3_600_000) / 1_800_000) * 1_800_000).toISOString();
  const start = el('input', { type: 'datetime-local', required: true, value: localInput(editing?.start ?? inAnHour) });
  const duration = el('input', { type: 'number', min: '5', max: '1440', step: '5', value: String(editing?.durationMinutes ?? 60) });
  const recurrence = el('select', {}, ...(['', 'daily', 'weekly', 'monthly'] as const).map((freq) => el('option', { value: freq }, freq ? w(freq) : w('once'))));
  recurrence.value = editing?.recurrence?.freq ?? '';
  const until = el('input', { type: 'date', value: editing?.recurrence ? dayKey(new Date(editing.recurrence.until)) : '' });
  const untilField = field('meeting-until', w('until'), until);
  const syncUntil = () => {
    untilField.hidden = recurrence.value === '';
  };
  recurrence.addEventListener('change', syncUntil);
  syncUntil();
  const chosenAccounts = new Set(editing?.accounts ?? []);
  const accountSelect = el('select', { multiple: true, size: 5 }, ...accounts.items.map((a) => el('option', { value: a.number, selected: chosenAccounts.has(a.number) }, `${a.name} (${a.number})`)));
  const chosenRooms = new Set(editing?.rooms ?? []);
  const roomSelect = el('select', { multiple: true, size: 5 }, ...rooms.map((r) => el('option', { value: String(r.id), selected: chosenRooms.has(r.id) }, r.name)));
  const hostPin = el('input', { inputMode: 'numeric', maxLength: 8, autocomplete: 'off', value: editing?.hostPin ?? '' });
  const guestPin = el('input', { inputMode: 'numeric', maxLength: 8, autocomplete: 'off', value: editing?.guestPin ?? '' });
  const noGuestPin = el('input', { type: 'checkbox', id: 'meeting-no-guest-pin', checked: editing !== undefined && editing.guestPin === '' });
  const syncGuestPin = () => {
    guestPin.disabled = noGuestPin.checked;
    if (noGuestPin.checked) guestPin.value = '';
  };
  noGuestPin.addEventListener('change', syncGuestPin);
  syncGuestPin();
  const invite = el('input', { type: 'checkbox', id: 'meeting-invite' });
  const formMessage = el('p', { className: 'form-error', id: 'meeting-form-error' });
  formMessage.setAttribute('role', 'alert');
  const back = el('button', { type: 'button', className: 'secondary', hidden: !editing }, w('cancelEdit'));
  back.addEventListener('click', () => {
    view.editing = undefined;
    void again();
  });
  const form = el(
    'form',
    { className: 'inline-form field-form', id: 'meeting-form', noValidate: true },
    field('meeting-subject', w('subject'), subject),
    field('meeting-start', w('start'), start),
    field('meeting-duration', w('duration'), duration),
    field('meeting-recurrence', w('recurrence'), recurrence),
    untilField,
    field('meeting-accounts', w('accounts'), accountSelect, w('multiHint')),
    field('meeting-rooms', w('rooms'), roomSelect),
    field('meeting-host-pin', w('hostPin'), hostPin, w('pinHint')),
    field('meeting-guest-pin', w('guestPin'), guestPin, w('pinHint')),
    el('label', { className: 'check' }, noGuestPin, w('noGuestPin')),
    el('label', { className: 'check' }, invite, w('sendInvitations')),
    el('div', { className: 'form-actions' }, el('button', { type: 'submit' }, editing ? w('save') : w('create')), back),
    formMessage,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formMessage);
    // Times are typed in the browser's time zone; an unreadable one goes as typed and the server says why.
    const startAt = new Date(start.value);
    const untilAt = new Date(`${until.value}T23:59:59`);
    const body: Record<string, unknown> = {
      subject: subject.value.trim(),
      start: Number.isNaN(startAt.getTime()) ? start.value : startAt.toISOString(),
      durationMinutes: duration.value.trim() === '' ? 60 : Number(duration.value),
      recurrence: recurrence.value ? { freq: recurrence.value, until: Number.isNaN(untilAt.getTime()) ? until.value : untilAt.toISOString() } : null,
      accounts: [...accountSelect.selectedOptions].map((o) => o.value),
      rooms: [...roomSelect.selectedOptions].map((o) => Number(o.value)),
    };
    if (hostPin.value.trim() !== '' || editing) body.hostPin = hostPin.value.trim();
    if (noGuestPin.checked) body.guestPin = '';
    else if (guestPin.value.trim() !== '' || editing) body.guestPin = guestPin.value.trim();
    const request = editing ? api<Meeting>('PATCH', `/meetings/${editing.id}`, body) : api<Meeting & Pick<Outcome, 'mail'>>('POST', '/meetings', { ...body, sendInvitations: invite.checked });
    void request
      .then(async (meeting) => {
        const mail = editing && invite.checked ? await api<NonNullable<Outcome['mail']>>('POST', `/meetings/${meeting.id}/invitations`) : (meeting as Pick<Outcome, 'mail'>).mail;
        view.outcome = { number: meeting.number, changed: editing !== undefined, ...(mail ? { mail } : {}) };
        view.editing = undefined;
        const scheduled = new Date(meeting.start);
        view.month = new Date(scheduled.getFullYear(), scheduled.getMonth(), 1);
        return again();
      })
      .catch((error: unknown) => {
        if (!showRefusal(form, formMessage, error, FIELDS)) onError(error);
      });
  });
  const outcome = el('div', { id: 'meeting-outcome', className: 'outcome' });
  outcome.setAttribute('role', 'status');
  if (view.outcome) {
    const done = view.outcome;
    const found = listed.find((m) => m.number === done.number);
    outcome.append(el('p', { className: 'summary' }, w(done.changed ? 'changed' : 'scheduled', { number: done.number })));
    if (done.mail) {
      outcome.append(el('p', {}, w('mailOutcome', { sent: String(done.mail.sent.length), failed: String(done.mail.failed.length) })));
      if (done.mail.failed.length > 0) outcome.append(el('ul', { className: 'failures' }, ...done.mail.failed.map((f) => el('li', {}, w('mailFailure', f)))));
    }
    if (found) outcome.append(waysIn(found));
    outcome.querySelector('details')?.setAttribute('open', '');
    view.outcome = undefined;
  }

  // The list: upcoming (by next occurrence) first, then the last 30 days (latest first).
  const search = el('input', { id: 'meeting-search', type: 'search', value: view.q, placeholder: w('search') });
  search.setAttribute('aria-label', w('search'));
  search.addEventListener('change', () => {
    view.q = search.value.trim();
    void again();
  });
  const ends = (m: Meeting, at: string) => Date.parse(at) + m.durationMinutes * 60_000;
  const upcoming = listed
    .map((m) => ({ m, at: m.occurrences.find((o) => ends(m, o) >= now) }))
    .filter((x): x is { m: Meeting; at: string } => x.at !== undefined)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const past = listed
    .filter((m) => !upcoming.some((x) => x.m.id === m.id))
    .map((m) => ({ m, at: m.occurrences.at(-1) ?? m.start }))
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  const row = ({ m, at }: { m: Meeting; at: string }) => {
    const running = m.status === 'scheduled' && Date.parse(at) <= now && ends(m, at) >= now;
    const actions = el('td', { className: 'actions' });
    if (m.status === 'scheduled' && Date.parse(m.start) > now) {
      const edit = el('button', { type: 'button', className: 'edit secondary' }, w('edit'));
      edit.setAttribute('aria-label', `${w('edit')} ${m.subject}`);
      edit.addEventListener('click', () => {
        view.editing = m;
        void again().then(() => document.getElementById('meeting-subject')?.focus());
      });
      actions.append(edit, ' ');
    }
    if (m.status === 'scheduled') {
      const cancel = el('button', { type: 'button', className: 'cancel danger' }, w('cancelMeeting'));
      cancel.setAttribute('aria-label', `${w('cancelMeeting')} ${m.subject}`);
      cancel.addEventListener('click', () => {
        if (!window.confirm(w('confirmCancel', { subject: m.subject, number: m.number }))) return;
        void api('POST', `/meetings/${m.id}/cancel`, {})
          .then(() => {
            if (view.editing?.id === m.id) view.editing = undefined;
            return again();
          })
          .catch(onError);
      });
      actions.append(cancel);
    }
    const status = m.status === 'cancelled' ? w('statusCancelled') : running ? w('statusRunning') : w('statusScheduled');
    const tr = el(
      'tr',
      { className: m.status === 'cancelled' ? 'cancelled' : '' },
      el('td', {}, el('span', { className: 'subject' }, m.subject), m.type === 'instant' ? el('span', { className: 'badge' }, w('instant')) : '', waysIn(m)),
      el('td', {}, dateTime(at)),
      el('td', {}, w('minutes', { minutes: String(m.durationMinutes) })),
      el('td', {}, recurrenceText(m)),
      el('td', {}, m.number),
      el('td', { className: 'status' }, status),
      actions,
    );
    tr.dataset.meeting = m.number;
    return tr;
  };
  const head = (first: string) =>
    el('thead', {}, el('tr', {}, ...[w('subject'), first, w('duration'), w('recurrence'), w('id'), w('status'), w('actions')].map((label) => el('th', { scope: 'col' }, label))));
  const list = el(
    'div',
    { className: 'table-wrap' },
    el('table', { id: 'meetings-upcoming' }, el('caption', {}, w('upcoming')), head(w('next')), el('tbody', {}, ...upcoming.map(row))),
    ...(upcoming.length === 0 ? [el('p', { className: 'empty' }, w('noUpcoming'))] : []),
    ...(past.length > 0 ? [el('table', { id: 'meetings-past' }, el('caption', {}, w('past')), head(w('lastStart')), el('tbody', {}, ...past.map(row)))] : []),
  );

  // The month calendar: six weeks from the Monday on or before the 1st.
  const byDay = new Map<string, { m: Meeting; at: string }[]>();
  for (const m of inGrid) {
    if (m.status === 'cancelled') continue;
    for (const at of m.occurrences) {
      const key = dayKey(new Date(at));
      byDay.set(key, [...(byDay.get(key) ?? []), { m, at }]);
    }
  }
  const monthTitle = el('h2', { id: 'calendar-title' }, view.month.toLocaleDateString(lang(), { year: 'numeric', month: 'long' }));
  const shift = (months: number) => () => {
    view.month = months === 0 ? new Date(today().getFullYear(), today().getMonth(), 1) : new Date(view.month.getFullYear(), view.month.getMonth() + months, 1);
    void again().then(() => document.getElementById(months < 0 ? 'calendar-previous' : months > 0 ? 'calendar-next' : 'calendar-today')?.focus());
  };
  const prev = el('button', { type: 'button', id: 'calendar-previous', className: 'secondary' }, '‹');
  prev.setAttribute('aria-label', w('previousMonth'));
  prev.addEventListener('click', shift(-1));
  const next = el('button', { type: 'button', id: 'calendar-next', className: 'secondary' }, '›');
  next.setAttribute('aria-label', w('nextMonth'));
  next.addEventListener('click', shift(1));
  const thisMonth = el('button', { type: 'button', id: 'calendar-today', className: 'secondary' }, w('thisMonth'));
  thisMonth.addEventListener('click', shift(0));
  const weekdays = [...Array(7).keys()].map((i) => {
    const monday = new Date(2024, 0, 1 + i); // 1 January 2024 was a Monday
    const th = el('th', { scope: 'col', abbr: monday.toLocaleDateString(lang(), { weekday: 'long' }) }, monday.toLocaleDateString(lang(), { weekday: 'short' }));
    return th;
  });
  const weeks = [...Array(6).keys()].map((week) =>
    el(
      'tr',
      {},
      ...[...Array(7).keys()].map((weekday) => {
        const day = new Date(gridStart.getFullYear(), gridStart.getMonth(), gridStart.getDate() + week * 7 + weekday);
        const key = dayKey(day);
        const items = (byDay.get(key) ?? []).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
        const cell = el(
          'td',
          { className: day.getMonth() === view.month.getMonth() ? 'day' : 'day outside' },
          el('span', { className: 'day-number' }, el('span', { className: 'visually-hidden' }, day.toLocaleDateString(lang(), { dateStyle: 'full' })), dayNumber(day)),
          ...(items.length > 0
            ? [
                el(
                  'ul',
                  {},
                  ...items.map(({ m, at }) => {
                    const li = el('li', { className: 'occurrence', title: `${m.subject} · ${m.number}` }, `${time(at)} ${m.subject}`);
                    li.dataset.meeting = m.number;
                    return li;
                  }),
                ),
              ]
            : []),
        );
        cell.dataset.date = key;
        if (key === dayKey(today())) {
          cell.classList.add('today');
          cell.setAttribute('aria-current', 'date');
        }
        return cell;
      }),
    ),
  );
  const calendar = el(
    'section',
    { className: 'panel calendar-panel' },
    el('div', { className: 'calendar-bar' }, prev, monthTitle, next, thisMonth),
    el('table', { id: 'meetings-calendar', className: 'calendar' }, el('thead', {}, el('tr', {}, ...weekdays)), el('tbody', {}, ...weeks)),
  );
  calendar.setAttribute('aria-label', w('calendar'));
  calendar.querySelector('table')?.setAttribute('aria-labelledby', 'calendar-title');

  root.replaceChildren(
    el('h1', {}, w('title')),
    el('section', { className: 'panel' }, el('h2', {}, editing ? w('editMeeting', { number: editing.number }) : w('schedule')), form, outcome),
    el('div', { className: 'toolbar' }, search),
    list,
    calendar,
  );
}
