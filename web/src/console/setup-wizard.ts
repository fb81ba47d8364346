/**
 * The first-start setup wizard (spec "First start"): network (local domain) → time (SNTP or
 * manual, time zone, DST) → administrator (new password — and the current one once the first
 * start is over —, e-mail, improvement programme) →
 * licence (the 14-day trial in one click, or paste a licence from the vendor; until one of them
 * the box refuses new accounts and takes audio only, which the step says) → SMTP. Each step is
 * saved or skipped; the server remembers where the wizard stands, so it opens at the first step
 * still pending after every login until all are done or skipped. "Quick setup" (the button on
 * the page when the wizard is complete) runs it again, keeping what was set. A refusal is
 * shown by its field, in the chosen language.
 */
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { words } from './i18n.ts';

const w = words({
  en: {
    title: 'Setup',
    intro: 'A few steps to make the box ready. Each can be skipped and done later in the settings.',
    network: 'Network',
    time: 'Time',
    admin: 'Administrator',
    license: 'Licence',
    smtp: 'Mail server',
    pending: 'to do',
    done: 'done',
    skipped: 'skipped',
    localDomain: 'Local domain (SIP accounts live in it)',
    mode: 'Time source',
    sntp: 'SNTP server',
    manual: 'Manual',
    sntpServer: 'SNTP server',
    zone: 'Time zone',
    dst: 'Daylight saving time',
    dstAuto: 'automatic',
    dstOff: 'off',
    currentPassword: 'Current password',
    newPassword: 'New administrator password (6-16 characters)',
    confirmPassword: 'The password again',
    email: 'Administrator e-mail (for password resets and alerts)',
    improvement: 'Take part in the improvement programme',
    trial: 'Start the 14-day trial',
    licenseText: 'Or paste the licence from the vendor',
    activate: 'Activate',
    licenseState: 'Licence: {status}',
    unlicensed: 'This box has no licence yet. Until the trial starts or a licence is activated, new accounts are refused and meetings are audio only (at most {ports} participants at once).',
    trialOffer: 'The trial gives video and up to 16 participants at once for 14 days; it can be used once per box.',
    server: 'SMTP server',
    port: 'Port',
    security: 'Security',
    sender: 'Sender address',
    user: 'User name',
    password: 'Password',
    save: 'Save and continue',
    skip: 'Skip',
    complete: 'Setup is complete. The settings can be changed at any time.',
    again: 'Quick setup (run the wizard again)',
  },
  'zh-CN': {
    title: '初始设置',
    intro: '几个步骤即可完成设备初始化。每一步都可以跳过，稍后在设置中完成。',
    network: '网络',
    time: '时间',
    admin: '管理员',
    license: '授权',
    smtp: '邮件服务器',
    pending: '待完成',
    done: '已完成',
    skipped: '已跳过',
    localDomain: '本地域（SIP 账号所属的域）',
    mode: '时间来源',
    sntp: 'SNTP 服务器',
    manual: '手动',
    sntpServer: 'SNTP 服务器',
    zone: '时区',
    dst: '夏令时',
    dstAuto: '自动',
    dstOff: '关闭',
    currentPassword: '当前密码',
    newPassword: '新的管理员密码（6-16 个字符）',
    confirmPassword: '再次输入密码',
    email: '管理员邮箱（用于找回密码和告警）',
    improvement: '参加用户体验改进计划',
    trial: '开始 14 天试用',
    licenseText: '或粘贴厂商提供的授权',
    activate: '激活',
    licenseState: '授权：{status}',
    unlicensed: '本设备尚未授权。在开始试用或激活授权之前，不能新建账号，会议仅支持音频（最多 {ports} 个参会方同时在会）。',
    trialOffer: '试用期 14 天，支持视频，最多 16 个参会方同时在会；每台设备仅可试用一次。',
    server: 'SMTP 服务器',
    port: '端口',
    security: '加密方式',
    sender: '发件人地址',
    user: '用户名',
    password: '密码',
    save: '保存并继续',
    skip: '跳过',
    complete: '初始设置已完成，之后可随时在设置中修改。',
    again: '快速设置（重新运行向导）',
  },
});

type Step = 'network' | 'time' | 'admin' | 'license' | 'smtp';
interface Progress {
  completed: boolean;
  current: Step | null;
  steps: { id: Step; status: 'pending' | 'done' | 'skipped' }[];
  /** The first start is over: the admin step asks for the current password. */
  currentPasswordRequired?: boolean;
}

/** Whether the wizard still has a step pending (the console opens it after login then). */
export async function setupPending(): Promise<boolean> {
  return !(await api<Progress>('GET', '/setup')).completed;
}

const ZONES = ['UTC-11:00', 'UTC-10:00', 'UTC-08:00', 'UTC-05:00', 'UTC+00:00', 'UTC+01:00', 'UTC+03:00', 'UTC+05:30', 'UTC+07:00', 'UTC+08:00', 'UTC+09:00', 'UTC+10:00', 'UTC+12:00'];

function input(props: Partial<HTMLInputElement> = {}): HTMLInputElement {
  return el('input', props);
}

function select(options: [string, string][], value: string): HTMLSelectElement {
  return el('select', {}, ...options.map(([v, label]) => el('option', { value: v, selected: v === value }, label)));
}

export async function renderSetupWizard(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const progress = await api<Progress>('GET', '/setup');
  const again = () => renderSetupWizard(root, onError).catch(onError);
  const steps = el(
    'ol',
    { className: 'wizard-steps' },
    ...progress.steps.map((s) => {
      const item = el('li', {}, `${w(s.id)} — ${w(s.status)}`);
      item.dataset.step = s.id;
      item.dataset.status = s.status;
      if (s.id === progress.current) item.setAttribute('aria-current', 'step');
      return item;
    }),
  );
  if (progress.completed || !progress.current) {
    const restart = el('button', { type: 'button', id: 'quick-setup' }, w('again'));
    restart.addEventListener('click', () => void api('POST', '/setup/restart').then(again).catch(onError));
    root.replaceChildren(el('h1', {}, w('title')), steps, el('p', { className: 'wizard-complete' }, w('complete')), restart);
    return;
  }
  const step = progress.current;
  const message = el('p', { className: 'form-error' });
  message.setAttribute('role', 'alert');
  const form = el('form', { className: 'card wizard-form', id: `wizard-${step}`, noValidate: true }, el('h2', {}, w(step)));
  const settings = await api<Record<string, { value: unknown }>>('GET', '/settings');
  const value = (key: string) => String(settings[key]?.value ?? '');
  let body: () => Record<string, unknown>;
  const fields: Record<string, string> = {};
  if (step === 'network') {
    const domain = input({ value: value('network.localDomain'), maxLength: 128 });
    form.append(field('wizard-domain', w('localDomain'), domain));
    fields.localDomain = 'wizard-domain';
    body = () => ({ localDomain: domain.value.trim() });
  } else if (step === 'time') {
    const mode = select([['sntp', w('sntp')], ['manual', w('manual')]], value('time.mode') || 'sntp');
    const server = input({ value: value('time.sntpServer'), maxLength: 128 });
    const zone = select(ZONES.map((z) => [z, z]), value('time.zone') || 'UTC+08:00');
    const dst = select([['auto', w('dstAuto')], ['off', w('dstOff')]], value('time.dst') || 'off');
    form.append(field('wizard-mode', w('mode'), mode), field('wizard-sntp', w('sntpServer'), server), field('wizard-zone', w('zone'), zone), field('wizard-dst', w('dst'), dst));
    Object.assign(fields, { mode: 'wizard-mode', sntpServer: 'wizard-sntp', zone: 'wizard-zone', dst: 'wizard-dst' });
    body = () => ({ mode: mode.value, zone: zone.value, dst: dst.value, ...(server.value.trim() ? { sntpServer: server.value.trim() } : {}) });
  } else if (step === 'admin') {
    const password = input({ type: 'password', maxLength: 16, autocomplete: 'new-password' });
    const confirm = input({ type: 'password', maxLength: 16, autocomplete: 'new-password' });
    const email = input({ type: 'email', maxLength: 128 });
    const improvement = input({ type: 'checkbox', checked: true });
    const current = progress.currentPasswordRequired ? input({ type: 'password', maxLength: 128, autocomplete: 'current-password' }) : undefined;
    if (current) {
      form.append(field('wizard-current-password', w('currentPassword'), current));
      fields.currentPassword = 'wizard-current-password';
    }
    form.append(field('wizard-password', w('newPassword'), password), field('wizard-confirm', w('confirmPassword'), confirm), field('wizard-email', w('email'), email));
    form.append(el('label', { className: 'check' }, improvement, ` ${w('improvement')}`));
    Object.assign(fields, { newPassword: 'wizard-password', confirmPassword: 'wizard-confirm', email: 'wizard-email' });
    body = () => ({
      ...(current ? { currentPassword: current.value } : {}),
      newPassword: password.value,
      confirmPassword: confirm.value,
      email: email.value.trim(),
      improvementProgramme: improvement.checked,
    });
  } else if (step === 'license') {
    // The licence is activated by the licence API; the step is done when the box has one.
    const facts = await api<{ status: string; trial: { used: boolean }; allows: { ports: number | null } }>('GET', '/license');
    form.append(el('p', { className: 'license-state' }, w('licenseState', { status: facts.status })));
    if (facts.status === 'unlicensed') form.append(el('p', { className: 'form-error', id: 'wizard-license-refused' }, w('unlicensed', { ports: String(facts.allows.ports ?? '') })));
    if (facts.status === 'unlicensed' && !facts.trial.used) {
      // One click: the server starts the trial and settles the step (POST /setup/license/trial).
      const trial = el('button', { type: 'button', id: 'wizard-trial' }, w('trial'));
      trial.addEventListener('click', () => void api('POST', '/setup/license/trial').then(again).catch((e: unknown) => showRefusal(form, message, e, {}) || onError(e)));
      form.append(el('p', { className: 'muted' }, w('trialOffer')), trial);
    }
    const text = el('textarea', { id: 'wizard-license', rows: 5, cols: 60 });
    const activate = el('button', { type: 'button', id: 'wizard-activate' }, w('activate'));
    const done = async () => {
      await api('POST', '/setup/license/skip'); // recorded as settled: the licence API did the work
      await again();
    };
    activate.addEventListener('click', () => void api('POST', '/license/activate', { license: text.value }).then(done).catch((e: unknown) => showRefusal(form, message, e, {}) || onError(e)));
    form.append(el('label', { htmlFor: 'wizard-license' }, w('licenseText')), text, activate);
    body = () => ({});
  } else {
    const server = input({ value: value('smtp.server'), maxLength: 128 });
    const port = input({ type: 'number', value: value('smtp.port') || '25', min: '1', max: '65535' });
    const security = select([['none', 'none'], ['ssl', 'SSL'], ['tls', 'STARTTLS']], value('smtp.security') || 'none');
    const sender = input({ type: 'email', value: value('smtp.sender'), maxLength: 128 });
    const user = input({ value: value('smtp.user'), maxLength: 128 });
    const password = input({ type: 'password', maxLength: 128 });
    form.append(field('wizard-smtp-server', w('server'), server), field('wizard-smtp-port', w('port'), port), field('wizard-smtp-security', w('security'), security));
    form.append(field('wizard-smtp-sender', w('sender'), sender), field('wizard-smtp-user', w('user'), user), field('wizard-smtp-password', w('password'), password));
    Object.assign(fields, { server: 'wizard-smtp-server', port: 'wizard-smtp-port', security: 'wizard-smtp-security', sender: 'wizard-smtp-sender', user: 'wizard-smtp-user', password: 'wizard-smtp-password' });
    body = () => ({ server: server.value.trim(), port: Number(port.value), security: security.value, sender: sender.value.trim(), ...(user.value ? { user: user.value } : {}), ...(password.value ? { password: password.value } : {}) });
  }
  const skip = el('button', { type: 'button', className: 'secondary', id: 'wizard-skip' }, w('skip'));
  skip.addEventListener('click', () => void api('POST', `/setup/${step}/skip`).then(again).catch(onError));
  const buttons = el('div', { className: 'toolbar' }, skip);
  if (step !== 'license') buttons.prepend(el('button', { type: 'submit', id: 'wizard-save' }, w('save')));
  form.append(buttons, message);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, message);
    void api('PUT', `/setup/${step}`, body())
      .then(again)
      .catch((error: unknown) => showRefusal(form, message, error, fields) || onError(error));
  });
  root.replaceChildren(el('h1', {}, w('title')), el('p', {}, w('intro')), steps, form);
}
