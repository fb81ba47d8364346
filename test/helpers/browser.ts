/**
 * A real browser for the tests: Debian's Chromium (/usr/bin/chromium) driven headless by
 * playwright-core, with fake camera and microphone (Chromium's own test devices: a moving
 * picture and a periodic beep) and permissions granted, so a page can getUserMedia unattended
 * (and getDisplayMedia, with SCREEN_SHARE_ARGS).
 * Console errors and page errors are collected so a test can insist there were none.
 */
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches (screen sharing: SCREEN_SHARE_ARGS). */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', '--no-sandbox', ...extraArgs],
  });
}

/** getDisplayMedia answered without a picker: the whole (fake, 1920×1080) screen. */
export const SCREEN_SHARE_ARGS = ['--auto-select-desktop-capture-source=Entire screen'] as const;

export interface WatchedPage {
  readonly page: Page;
  readonly errors: string[];
}

/** A new page in its own context (its own cookies), errors collected. */
export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.text()} ${message.location().url}`.trim());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  return { page, errors };
}

/** Logs in on the console's login view (waits for it), as the administrator `username`. */
export async function logInToConsole(page: Page, username: string, password: string): Promise<void> {
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
}

/** The first login's forced password change (the console's #password-view), typed as the administrator does. */
export async function changeFirstPassword(page: Page, current: string, next: string): Promise<void> {
  await page.waitForSelector('#password-view:not([hidden])');
  await page.fill('#current-password', current);
  await page.fill('#new-password', next);
  await page.fill('#confirm-password', next);
  await page.click('#save-password');
}
