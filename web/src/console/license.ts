/**
 * The "licence" page (spec "License"): the box's licence — status (unlicensed, trial, active,
 * expired, revoked), type, serial, concurrent participants, valid from / until, days left, when
 * it was activated, what the status allows, and the box ID the vendor needs to issue one — the
 * 14-day trial started from here (once per box, confirmed), and a licence text from the vendor
 * pasted to activate or renew; a refusal (not a licence, changed, another box's, expired,
 * revoked…) is shown in words under the text, nothing changed. The rules are the server's
 * (server/license/); this page only shows and asks.
 */
import { actionOutcome } from './action-outcome.ts';
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { lang, words } from './i18n.ts';

const w = words({
  en: {
    title: 'Licence',
    working: 'Working…',
    factsTitle: 'This box’s licence',
    status: 'Status',
    type: 'Type',
    serial: 'Serial number',
    ports: 'Concurrent participants',
    validFrom: 'Valid from',
    validUntil: 'Valid until',
    daysLeft: 'Days left',
    activatedAt: 'Activated',
    boxId: 'Box ID',
    boxIdHint: 'Send this ID to the vendor to get a licence for this box.',
    allows: 'Allowed now',
    status_unlicensed: 'not licensed',
    status_trial: 'trial',
    status_active: 'active',
    status_expired: 'expired',
    status_revoked: 'revoked',
    type_trial: '14-day trial',
    type_term: 'for a term',
    type_perpetual: 'perpetual',
    perpetual: 'no end date',
    none: '—',
    days: '{days} days',
    lastDay: 'today is the last day',
    ended: 'none: it has ended',
    allowsAll: 'new accounts, video, {ports}',
    allowsRestricted: 'no new accounts, meetings audio only, {ports}',
    portsLimit: 'at most {ports} participants at once',
    portsNoLimit: 'no limit on participants yet',
    testKey: 'Signed with the project’s test key: for development and tests only.',
    unlicensedNote: 'No licence yet: new accounts are refused and meetings are audio only until the 14-day trial is started or a licence is activated.',
    expiredNote: 'Until a valid licence is activated, no accounts can be created and meetings are audio only.',
    trialTitle: 'Trial',
    trialStart: 'Start the 14-day trial',
    trialConfirm: 'Start the 14-day trial now? It gives 16 concurrent participants and can be used only once on this box.',
    trialStarted: 'The trial started: it ends on {date}.',
    trialUsed: 'The trial was used from {from} to {until}; it is available once per box.',
    trialUnavailable: 'The trial is only for a box that never had a licence.',
    activateTitle: 'Activate a licence',
    renewTitle: 'Renew or change the licence',
    licenseText: 'Licence text from the vendor (from -----BEGIN VCBOX LICENSE----- to -----END VCBOX LICENSE-----)',
    activate: 'Activate',
    pasteFirst: 'Paste the licence text first.',
    activated: 'Licence {serial} is active: {ports} concurrent participants, {until}.',
    activatedUntil: 'valid until {date}',
  },
  'zh-CN': {
    title: '授权',
    working: '正在处理…',
    factsTitle: '本设备的授权',
    status: '状态',
    type: '类型',
    serial: '序列号',
    ports: '并发参会方',
    validFrom: '生效日期',
    validUntil: '到期日期',
    daysLeft: '剩余天数',
    activatedAt: '激活时间',
    boxId: '设备 ID',
    boxIdHint: '将此 ID 发给厂商以获取本设备的授权。',
    allows: '当前允许',
    status_unlicensed: '未授权',
    status_trial: '试用',
    status_active: '有效',
    status_expired: '已过期',
    status_revoked: '已吊销',
    type_trial: '14 天试用',
    type_term: '限期授权',
    type_perpetual: '永久授权',
    perpetual: '无到期日',
    none: '—',
    days: '{days} 天',
    lastDay: '今天是最后一天',
    ended: '无：已结束',
    allowsAll: '新建账号、视频、{ports}',
    allowsRestricted: '不能新建账号，会议仅音频，{ports}',
    portsLimit: '最多 {ports} 个参会方同时在会',
    portsNoLimit: '暂不限制参会方数量',
    testKey: '由项目测试密钥签发：仅用于开发和测试。',
    unlicensedNote: '尚未授权：在开始 14 天试用或激活授权之前，不能新建账号，会议仅支持音频。',
    expiredNote: '在激活有效授权之前，不能新建账号，会议仅支持音频。',
    trialTitle: '试用',
    trialStart: '开始 14 天试用',
    trialConfirm: '现在开始 14 天试用？试用期内可有 16 个并发参会方，每台设备仅可试用一次。',
    trialStarted: '试用已开始，将于 {date} 结束。',
    trialUsed: '试用期为 {from} 至 {until}，每台设备仅可试用一次。',
    trialUnavailable: '试用仅适用于从未授权的设备。',
    activateTitle: '激活授权',
    renewTitle: '续期或更换授权',
    licenseText: '厂商提供的授权文本（从 -----BEGIN VCBOX LICENSE----- 到 -----END VCBOX LICENSE-----）',
    activate: '激活',
    pasteFirst: '请先粘贴授权文本。',
    activated: '授权 {serial} 已生效：{ports} 个并发参会方，{until}。',
    activatedUntil: '有效期至 {date}',
  },
});

type Status = 'unlicensed' | 'trial' | 'active' | 'expired' | 'revoked';
interface LicenseFacts {
  status: Status;
  type: 'trial' | 'term' | 'perpetual' | null;
  boxId: string;
  serial: string | null;
  ports: number | null;
  validFrom: string | null;
  validUntil: string | null;
  daysLeft: number | null;
  activatedAt: string | null;
  trial: { used: boolean; startedAt: string | null; endsAt: string | null };
  testKey: boolean;
  allows: { accounts: boolean; video: boolean; ports: number | null };
}

/** Every refusal of a pasted licence is about the text (the server names no field for them). */
const TEXT_REFUSALS = Object.fromEntries(
  ['license', 'VCBOX_ERR_LICENSE_MALFORMED', 'VCBOX_ERR_LICENSE_TAMPERED', 'VCBOX_ERR_LICENSE_OTHER_BOX', 'VCBOX_ERR_LICENSE_EXPIRED', 'VCBOX_ERR_LICENSE_NOT_YET_VALID', 'VCBOX_ERR_LICENSE_REVOKED'].map((key) => [key, 'license-text']),
);

const date = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString(lang(), { year: 'numeric', month: 'long', day: 'numeric' }) : w('none'));
const dateTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString(lang()) : w('none'));

function facts(license: LicenseFacts): HTMLElement {
  const ports = license.allows.ports === null ? w('portsNoLimit') : w('portsLimit', { ports: String(license.allows.ports) });
  const rows: [string, string, string][] = [
    ['status', w('status'), w(`status_${license.status}`)],
    ['type', w('type'), license.type ? w(`type_${license.type}`) : w('none')],
    ['serial', w('serial'), license.serial ?? w('none')],
    ['ports', w('ports'), license.ports === null ? w('none') : String(license.ports)],
    ['valid-from', w('validFrom'), date(license.validFrom)],
    ['valid-until', w('validUntil'), license.validUntil ? date(license.validUntil) : license.type === 'perpetual' ? w('perpetual') : w('none')],
    ['days-left', w('daysLeft'), license.status === 'expired' ? w('ended') : license.daysLeft === null ? w('none') : license.daysLeft === 0 ? w('lastDay') : w('days', { days: String(license.daysLeft) })],
    ['activated', w('activatedAt'), dateTime(license.activatedAt)],
    ['allows', w('allows'), license.allows.accounts ? w('allowsAll', { ports }) : w('allowsRestricted', { ports })],
    ['box-id', w('boxId'), license.boxId],
  ];
  const list = el('dl', { className: 'facts', id: 'license-facts' });
  for (const [key, label, value] of rows) {
    const term = el('dt', {}, label);
    const detail = el('dd', {}, value);
    detail.dataset.fact = key;
    if (key === 'status') detail.className = `license-status ${license.status}`;
    if (key === 'box-id') detail.append(el('span', { className: 'hint' }, ` ${w('boxIdHint')}`));
    list.append(term, detail);
  }
  const notes: HTMLElement[] = [];
  if (license.status === 'unlicensed') notes.push(el('p', { className: 'form-error' }, w('unlicensedNote')));
  if (license.status === 'expired' || license.status === 'revoked') notes.push(el('p', { className: 'form-error' }, w('expiredNote')));
  if (license.testKey) notes.push(el('p', { className: 'muted' }, w('testKey')));
  return el('section', { className: 'panel', id: 'license-info' }, el('h2', {}, w('factsTitle')), list, ...notes);
}

export async function renderLicense(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const license = await api<LicenseFacts>('GET', '/license');
  const again = () => renderLicense(root, onError).catch(onError);
  const outcome = actionOutcome('license-outcome', { working: w('working') }, again, onError);

  // The trial: offered while it can be started, otherwise said what became of it.
  const trial = el('section', { className: 'panel', id: 'license-trial' }, el('h2', {}, w('trialTitle')));
  if (license.trial.used) {
    trial.append(el('p', {}, w('trialUsed', { from: date(license.trial.startedAt), until: date(license.trial.endsAt) })));
  } else if (license.status === 'unlicensed') {
    const start = el('button', { type: 'button', id: 'license-trial-start' }, w('trialStart'));
    outcome.buttons.push(start);
    start.addEventListener('click', () => {
      if (!window.confirm(w('trialConfirm'))) return;
      outcome.act(async () => {
        const started = await api<LicenseFacts>('POST', '/license/trial');
        return [w('trialStarted', { date: date(started.trial.endsAt) })];
      });
    });
    trial.append(start);
  } else {
    trial.append(el('p', { className: 'muted' }, w('trialUnavailable')));
  }

  // Activate (or renew with) a pasted licence text; a refusal is said under the text.
  const text = el('textarea', { rows: 8, spellcheck: false });
  const formMessage = el('p', { className: 'form-error', id: 'license-form-error' });
  formMessage.setAttribute('role', 'alert');
  const form = el(
    'form',
    { className: 'license-form', id: 'license-form', noValidate: true },
    field('license-text', w('licenseText'), text),
    el('div', { className: 'form-actions' }, el('button', { type: 'submit', id: 'license-activate' }, w('activate'))),
    formMessage,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formMessage);
    if (text.value.trim() === '') {
      const message = form.querySelector<HTMLElement>('#license-text-error');
      if (message) message.textContent = w('pasteFirst');
      text.setAttribute('aria-invalid', 'true');
      text.focus();
      return;
    }
    void api<LicenseFacts>('POST', '/license/activate', { license: text.value })
      .then((active) => {
        const until = active.validUntil ? w('activatedUntil', { date: date(active.validUntil) }) : w('perpetual');
        outcome.keep([w('activated', { serial: active.serial ?? '', ports: String(active.ports ?? ''), until })]);
        return again();
      })
      .catch((error: unknown) => {
        if (!showRefusal(form, formMessage, error, TEXT_REFUSALS)) onError(error);
      });
  });
  const licensed = license.status === 'active' || license.status === 'expired' || license.status === 'revoked';

  root.replaceChildren(
    el('h1', {}, w('title')),
    outcome.element,
    facts(license),
    trial,
    el('section', { className: 'panel', id: 'license-activation' }, el('h2', {}, licensed ? w('renewTitle') : w('activateTitle')), form),
  );
}
