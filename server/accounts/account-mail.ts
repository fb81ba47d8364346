/**
 * Mails that tell people their SIP account: number, the box's SIP address and domain, and —
 * only when it was just set (create, reset, import) — the password, since the box keeps no
 * password it could send later. Sending many reports each recipient's failure separately, so
 * the console can list them and resend.
 */
import type { Mailer } from '../mail/mailer.ts';
import type { Account } from './account-store.ts';

export interface MailOutcome {
  readonly sent: string[];
  readonly failed: { number: string; email: string | null; reason: string }[];
}

export interface BoxAddress {
  readonly domain: string;
  /** Where terminals register (host or IP, with port when not 5060). */
  readonly sipServer: string;
}

export function accountMail(account: Account, box: BoxAddress, password?: string): { subject: string; text: string } {
  const lines = [
    `${account.name}, your video-conferencing account / 您的视频会议账号:`,
    '',
    `Account / 账号:        ${account.number}`,
    `SIP domain / 域:       ${box.domain}`,
    `SIP server / 服务器:   ${box.sipServer}`,
    password ? `Password / 密码:       ${password}` : 'Password / 密码:       (unchanged — ask your administrator for a reset if you lost it / 如遗忘请联系管理员重置)',
    '',
    `Set these in your terminal's SIP account settings. / 请在终端的 SIP 账号设置中填写以上信息。`,
  ];
  return { subject: `vcbox: account ${account.number} / 账号 ${account.number}`, text: `${lines.join('\n')}\n` };
}

/** Mails each account (one at a time, so a bad address fails alone). */
export async function mailAccounts(mailer: Mailer, entries: readonly { account: Account; password?: string }[], box: BoxAddress): Promise<MailOutcome> {
  const outcome: MailOutcome = { sent: [], failed: [] };
  for (const { account, password } of entries) {
    if (!account.email) {
      outcome.failed.push({ number: account.number, email: null, reason: 'the account has no e-mail address' });
      continue;
    }
    try {
      await mailer.send({ to: account.email, ...accountMail(account, box, password) });
      outcome.sent.push(account.number);
    } catch (error) {
      outcome.failed.push({ number: account.number, email: account.email, reason: (error as Error).message });
    }
  }
  return outcome;
}
