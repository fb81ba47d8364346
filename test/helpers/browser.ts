/**
 * A real browser for the tests: Debian's Chromium (/usr/bin/chromium) driven headless by
 * playwright-core, with fake camera and microphone (Chromium's own test devices: a moving
 * picture and a periodic beep) and permissions granted, so a page can getUserMedia unattended
 * (and getDisplayMedia, with SCREEN_SHARE_ARGS; or canvas slides of known colours, slidesScreen).
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

/**
 * The page's screen becomes `width`×`height` slides painted on a canvas — blue on the left half,
 * yellow on the right — repainted `fps` times a second (Chromium's fake screen is one colour
 * pattern; these let a terminal's decoded frames say it got the right picture the right way round).
 */
export async function slidesScreen(p: WatchedPage, width = 1920, height = 1080, fps = 5): Promise<void> {
  await p.page.evaluate(`(() => {
    const canvas = document.createElement('canvas');
    canvas.width = ${width};
    canvas.height = ${height};
    const g = canvas.getContext('2d');
    let n = 0;
    const paint = () => {
      g.fillStyle = '#0000ff'; g.fillRect(0, 0, ${width / 2}, ${height});
      g.fillStyle = '#ffff00'; g.fillRect(${width / 2}, 0, ${width / 2}, ${height});
      g.fillStyle = (n++ % 2) ? '#0000fe' : '#0000ff'; g.fillRect(0, 0, 8, 8);
    };
    paint();
    setInterval(paint, ${Math.round(1000 / fps)});
    navigator.mediaDevices.getDisplayMedia = async () => canvas.captureStream(${fps});
  })()`);
}
