/**
 * The forgotten password, before any login (spec "Admin session"): the "forgot password" form —
 * user name, registered e-mail and the captcha picture (a new one on request, and after every
 * try, since each is answered once) — answered with the server's words, which never tell
 * whether the e-mail matched; and the form the mailed link opens (`/#/reset/<token>`, valid 10
 * minutes): the new password twice. Refusals are shown by their field. What does not live here:
 * the login itself and the views' switching (app.ts).
 */
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { words } from './i18n.ts';

const w = words({
  en: {
    forgotTitle: 'Forgot your password?',
    forgotIntro: 'Give your user name and the e-mail registered for it: a link to choose a new password is mailed to that address.',
    username: 'User name',
    email: 'Registered e-mail',
    captchaPicture: 'Characters to type (a picture)',
    captcha: 'The characters in the picture',
    newPicture: 'Another picture',
    send: 'Send the reset mail',
    back: 'Back to the login',
    resetTitle: 'Choose a new password',
    resetIntro: 'The link from the mail works once, within 10 minutes. The password has 6 to 16 characters.',
    newPassword: 'New password',
    confirmPassword: 'New password again',
    save: 'Save the new password',
    askAgain: 'Ask for a new link',
    resetDone: 'Your password was changed. Log in with the new one.',
  },
  'zh-CN': {
    forgotTitle: '忘记密码？',
    forgotIntro: '请输入用户名及其登记的邮箱：设置新密码的链接将发送到该邮箱。',
    username: '用户名',
    email: '登记的邮箱',
    captchaPicture: '需输入的字符（图片）',
    captcha: '图片中的字符',
    newPicture: '换一张',
    send: '发送重置邮件',
    back: '返回登录',
    resetTitle: '设置新密码',
    resetIntro: '邮件中的链接只能使用一次，10 分钟内有效。密码为 6 到 16 个字符。',
    newPassword: '新密码',
    confirmPassword: '确认新密码',
    save: '保存新密码',
    askAgain: '重新申请链接',
    resetDone: '密码已修改，请用新密码登录。',
  },
});

/** The token of a reset link (`#/reset/<token>`), or undefined for any other address. */
export function resetToken(hash: string): string | undefined {
  return /^#\/reset\/([\w-]{10,100})$/.exec(hash)?.[1];
}

interface Navigation {
  /** Back to the login, with a notice to show there (or none). */
  readonly toLogin: (notice?: string) => void;
  readonly onError: (error: unknown) => void;
}

function backButton(nav: Navigation): HTMLButtonElement {
  const back = el('button', { type: 'button', className: 'link', id: 'recovery-back' }, w('back'));
  back.addEventListener('click', () => nav.toLogin());
  return back;
}

/** The forgot-password form, the user name filled in when the login form had one. */
export async function renderForgotPassword(root: HTMLElement, username: string, nav: Navigation): Promise<void> {
  const name = el('input', { autocomplete: 'username', maxLength: 128, value: username });
  const email = el('input', { type: 'email', autocomplete: 'email', maxLength: 128 });
  const picture = el('img', { id: 'captcha-picture', width: 150, height: 50, alt: w('captchaPicture') });
  const answer = el('input', { autocomplete: 'off', maxLength: 16, spellcheck: false });
  answer.setAttribute('autocapitalize', 'characters');
  let captchaId = '';
  const newPicture = async () => {
    const captcha = await api<{ id: string; svg: string }>('GET', '/session/captcha');
    captchaId = captcha.id;
    picture.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(captcha.svg)}`;
    answer.value = '';
  };
  const another = el('button', { type: 'button', className: 'secondary', id: 'captcha-new' }, w('newPicture'));
  another.addEventListener('click', () => void newPicture().catch(nav.onError));
  const message = el('p', { className: 'form-error', id: 'forgot-form-error' });
  message.setAttribute('role', 'alert');
  const sent = el('p', { className: 'outcome ok', id: 'forgot-sent' });
  sent.setAttribute('role', 'status');
  const form = el(
    'form',
    { className: 'card', id: 'forgot-form', noValidate: true },
    el('h1', {}, w('forgotTitle')),
    el('p', { className: 'muted' }, w('forgotIntro')),
    field('forgot-username', w('username'), name),
    field('forgot-email', w('email'), email),
    el('div', { className: 'captcha' }, picture, another),
    field('forgot-captcha', w('captcha'), answer),
    el('button', { type: 'submit', id: 'forgot-send' }, w('send')),
    message,
    sent,
    backButton(nav),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, message);
    sent.textContent = '';
    void api<{ message: string }>('POST', '/session/forgot', { username: name.value.trim(), email: email.value.trim(), captchaId, captcha: answer.value.trim() })
      .then((answered) => {
        sent.textContent = answered.message;
      })
      .catch((error: unknown) => {
        if (!showRefusal(form, message, error, { username: 'forgot-username', email: 'forgot-email', captcha: 'forgot-captcha', captchaId: 'forgot-captcha', VCBOX_ERR_CAPTCHA: 'forgot-captcha' })) nav.onError(error);
      })
      // Each picture is answered once, right or wrong.
      .then(newPicture)
      .catch(nav.onError);
  });
  await newPicture();
  root.replaceChildren(form);
  (username ? email : name).focus();
}

/** The form a reset link opens. */
export function renderPasswordReset(root: HTMLElement, token: string, nav: Navigation & { readonly toForgot: () => void }): void {
  const password = el('input', { type: 'password', autocomplete: 'new-password', maxLength: 16 });
  const confirm = el('input', { type: 'password', autocomplete: 'new-password', maxLength: 16 });
  const message = el('p', { className: 'form-error', id: 'reset-form-error' });
  message.setAttribute('role', 'alert');
  const askAgain = el('button', { type: 'button', className: 'link', id: 'reset-ask-again', hidden: true }, w('askAgain'));
  askAgain.addEventListener('click', () => nav.toForgot());
  const form = el(
    'form',
    { className: 'card', id: 'reset-form', noValidate: true },
    el('h1', {}, w('resetTitle')),
    el('p', { className: 'muted' }, w('resetIntro')),
    field('reset-password', w('newPassword'), password),
    field('reset-confirm', w('confirmPassword'), confirm),
    el('button', { type: 'submit', id: 'reset-save' }, w('save')),
    message,
    askAgain,
    backButton(nav),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, message);
    void api('POST', '/session/reset', { token, newPassword: password.value, confirmPassword: confirm.value })
      .then(() => nav.toLogin(w('resetDone')))
      .catch((error: unknown) => {
        if (!showRefusal(form, message, error, { newPassword: 'reset-password', confirmPassword: 'reset-confirm' })) nav.onError(error);
        askAgain.hidden = !message.textContent;
      });
  });
  root.replaceChildren(form);
  password.focus();
}
