/**
 * "My account" (#profile, linked from the header; spec "Admin session"): who is logged in and
 * in which role, the own password changed (current, new, confirm — the administrator's other
 * sessions end, this one goes on) and the registered e-mail changed (the address password
 * resets and alarm mails go to). Refusals are shown by their field. Any role may do both.
 */
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { words } from './i18n.ts';

const w = words({
  en: {
    title: 'My account',
    who: 'Logged in as {username} ({role}).',
    role_admin: 'administrator',
    role_operator: 'operator, read only',
    passwordTitle: 'Change password',
    currentPassword: 'Current password',
    newPassword: 'New password',
    newPasswordHint: '6 to 16 characters',
    confirmPassword: 'New password again',
    savePassword: 'Change password',
    passwordChanged: 'Your password was changed. Your other console sessions were ended; this one goes on.',
    emailTitle: 'Registered e-mail',
    email: 'E-mail',
    emailHint: 'where password resets and alarm mails go',
    noEmail: 'No e-mail is registered: a forgotten password cannot be reset by mail.',
    saveEmail: 'Save e-mail',
    emailChanged: 'The e-mail {email} is registered.',
  },
  'zh-CN': {
    title: '我的账户',
    who: '当前登录：{username}（{role}）。',
    role_admin: '管理员',
    role_operator: '操作员，只读',
    passwordTitle: '修改密码',
    currentPassword: '当前密码',
    newPassword: '新密码',
    newPasswordHint: '6 到 16 个字符',
    confirmPassword: '确认新密码',
    savePassword: '修改密码',
    passwordChanged: '密码已修改。您的其他控制台会话已结束，当前会话保留。',
    emailTitle: '登记邮箱',
    email: '邮箱',
    emailHint: '用于找回密码和接收告警邮件',
    noEmail: '尚未登记邮箱：忘记密码时无法通过邮件重置。',
    saveEmail: '保存邮箱',
    emailChanged: '已登记邮箱 {email}。',
  },
});

interface Me {
  username: string;
  role: 'admin' | 'operator';
  email: string | null;
}

/** A form with its message line (refusals without a field) and its outcome line (what was done). */
function form(id: string, title: string, controls: Node[], submit: string): { form: HTMLFormElement; message: HTMLElement; done: HTMLElement; panel: HTMLElement } {
  const message = el('p', { className: 'form-error', id: `${id}-error` });
  message.setAttribute('role', 'alert');
  const done = el('p', { className: 'outcome ok', id: `${id}-done` });
  done.setAttribute('role', 'status');
  const node = el('form', { className: 'inline-form field-form', id, noValidate: true }, ...controls, el('div', { className: 'form-actions' }, el('button', { type: 'submit' }, submit)), message, done);
  return { form: node, message, done, panel: el('section', { className: 'panel' }, el('h2', {}, title), node) };
}

export async function renderProfile(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const me = await api<Me>('GET', '/session');

  const current = el('input', { type: 'password', autocomplete: 'current-password', maxLength: 128 });
  const next = el('input', { type: 'password', autocomplete: 'new-password', maxLength: 16 });
  const confirm = el('input', { type: 'password', autocomplete: 'new-password', maxLength: 16 });
  const password = form(
    'profile-password',
    w('passwordTitle'),
    [field('profile-current', w('currentPassword'), current), field('profile-new', w('newPassword'), next, w('newPasswordHint')), field('profile-confirm', w('confirmPassword'), confirm)],
    w('savePassword'),
  );
  password.form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(password.form, password.message);
    password.done.textContent = '';
    void api('PUT', '/session/password', { currentPassword: current.value, newPassword: next.value, confirmPassword: confirm.value })
      .then(() => {
        password.form.reset();
        password.done.textContent = w('passwordChanged');
      })
      .catch((error: unknown) => {
        if (!showRefusal(password.form, password.message, error, { currentPassword: 'profile-current', newPassword: 'profile-new', confirmPassword: 'profile-confirm' })) onError(error);
      });
  });

  const address = el('input', { type: 'email', autocomplete: 'email', maxLength: 128, value: me.email ?? '' });
  const email = form('profile-email', w('emailTitle'), [field('profile-email-address', w('email'), address, w('emailHint'))], w('saveEmail'));
  if (!me.email) email.panel.insertBefore(el('p', { className: 'muted', id: 'profile-no-email' }, w('noEmail')), email.form);
  email.form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(email.form, email.message);
    email.done.textContent = '';
    const value = address.value.trim();
    void api('PUT', '/session/email', { email: value })
      .then(() => {
        email.done.textContent = w('emailChanged', { email: value });
      })
      .catch((error: unknown) => {
        if (!showRefusal(email.form, email.message, error, { email: 'profile-email-address' })) onError(error);
      });
  });

  root.replaceChildren(el('h1', {}, w('title')), el('p', { id: 'profile-who' }, w('who', { username: me.username, role: w(`role_${me.role}`) })), password.panel, email.panel);
}
