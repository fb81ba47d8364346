/**
 * The settings page's panel for Prometheus metrics (GET /metrics with a bearer token): whether
 * a token is set, by whom and when, when it was last used; creating one (shown once, with the
 * scrape address and a Prometheus job to copy), rotating it (the old one stops working —
 * confirmed first) and removing it (the metrics are off — confirmed first). The API is
 * /settings/metrics-token (server/control-plane/routes/metrics.ts).
 */
import { api } from './api.ts';
import { el } from './form-fields.ts';
import { lang, words } from './i18n.ts';

interface TokenStatus {
  set: boolean;
  createdAt?: string;
  createdBy?: string;
  lastUsedAt?: string;
}

const w = words({
  en: {
    title: 'Prometheus metrics',
    intro: 'Registrations, live meetings, participants, media worker load, SIP traffic and errors at {url}, for a Prometheus scrape job with a bearer token.',
    off: 'Off: no token is set, so /metrics answers 401.',
    on: 'On: a token made by {by} on {at}.',
    lastUsed: 'Last scraped {at}.',
    neverUsed: 'Not scraped yet.',
    create: 'Create token',
    rotate: 'Replace token',
    remove: 'Remove token',
    confirmRotate: 'Replace the metrics token? The current one stops working at once: the Prometheus job must be given the new one.',
    confirmRemove: 'Remove the metrics token? /metrics answers 401 until a new token is created.',
    tokenLabel: 'New token (shown only now)',
    tokenHelp: 'Copy it now into the scrape job; it cannot be shown again.',
    jobLabel: 'Prometheus scrape job',
    removed: 'The token is removed: the metrics are off.',
  },
  'zh-CN': {
    title: 'Prometheus 监控指标',
    intro: '注册数、进行中的会议、参会方、媒体进程负载、SIP 流量和错误，地址为 {url}，供使用 Bearer 令牌的 Prometheus 抓取任务读取。',
    off: '未开启：尚未设置令牌，/metrics 返回 401。',
    on: '已开启：令牌由 {by} 于 {at} 生成。',
    lastUsed: '最近一次抓取：{at}。',
    neverUsed: '尚未被抓取。',
    create: '生成令牌',
    rotate: '更换令牌',
    remove: '删除令牌',
    confirmRotate: '更换监控令牌？当前令牌将立即失效，需要把新令牌配置到 Prometheus 抓取任务中。',
    confirmRemove: '删除监控令牌？在生成新令牌之前 /metrics 将返回 401。',
    tokenLabel: '新令牌（仅显示这一次）',
    tokenHelp: '请立即复制到抓取任务中；之后无法再次显示。',
    jobLabel: 'Prometheus 抓取任务',
    removed: '令牌已删除：监控指标已关闭。',
  },
});

const time = (iso: string) => new Date(iso).toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN');

export function metricsTokenPanel(onError: (error: unknown) => void): HTMLElement {
  const url = `${window.location.origin}/metrics`;
  const status = el('p', { id: 'metrics-status' });
  status.setAttribute('aria-live', 'polite');
  const create = el('button', { type: 'button', id: 'metrics-create' }, w('create'));
  const remove = el('button', { type: 'button', id: 'metrics-remove', hidden: true }, w('remove'));
  const shown = el('div', { id: 'metrics-new-token', hidden: true });
  let current: TokenStatus = { set: false };

  const show = (next: TokenStatus) => {
    current = next;
    status.replaceChildren(
      next.set ? w('on', { by: next.createdBy ?? '', at: time(next.createdAt ?? '') }) : w('off'),
      ...(next.set ? [' ', next.lastUsedAt ? w('lastUsed', { at: time(next.lastUsedAt) }) : w('neverUsed')] : []),
    );
    create.textContent = next.set ? w('rotate') : w('create');
    remove.hidden = !next.set;
  };
  const load = () => api<TokenStatus>('GET', '/settings/metrics-token').then(show).catch(onError);

  create.addEventListener('click', () => {
    if (current.set && !window.confirm(w('confirmRotate'))) return;
    create.disabled = true;
    void api<TokenStatus & { token: string }>('POST', '/settings/metrics-token')
      .then((answer) => {
        show(answer);
        const token = el('input', { id: 'metrics-token', readOnly: true, value: answer.token, className: 'token' });
        token.setAttribute('aria-describedby', 'metrics-token-help');
        const job = el('textarea', { id: 'metrics-job', readOnly: true, rows: 7, className: 'pem' });
        job.value = [
          '- job_name: vcbox',
          `  scheme: ${window.location.protocol.replace(':', '')}`,
          '  authorization:',
          `    credentials: ${answer.token}`,
          '  static_configs:',
          `    - targets: ['${window.location.host}']`,
        ].join('\n');
        shown.hidden = false;
        shown.replaceChildren(
          el('div', { className: 'setting' }, el('label', { htmlFor: 'metrics-token', className: 'setting-label' }, w('tokenLabel')), el('div', { className: 'control' }, token, el('p', { className: 'help', id: 'metrics-token-help' }, w('tokenHelp')))),
          el('div', { className: 'setting' }, el('label', { htmlFor: 'metrics-job', className: 'setting-label' }, w('jobLabel')), el('div', { className: 'control' }, job)),
        );
        token.focus();
        token.select();
      })
      .catch(onError)
      .finally(() => {
        create.disabled = false;
      });
  });
  remove.addEventListener('click', () => {
    if (!window.confirm(w('confirmRemove'))) return;
    remove.disabled = true;
    void api<TokenStatus>('DELETE', '/settings/metrics-token')
      .then((answer) => {
        shown.hidden = true;
        shown.replaceChildren();
        show(answer);
        status.textContent = w('removed');
      })
      .catch(onError)
      .finally(() => {
        remove.disabled = false;
      });
  });
  void load();
  return el(
    'fieldset',
    { className: 'settings-part', id: 'metrics-panel' },
    el('legend', {}, w('title')),
    el('p', { className: 'help' }, w('intro', { url })),
    status,
    el('div', { className: 'toolbar' }, create, remove),
    shown,
  );
}
