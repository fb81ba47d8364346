/**
 * A console client for API tests over a real socket: keeps the session cookie and the CSRF
 * token like the browser console does, and returns status + JSON body of each call.
 */
export class ConsoleClient {
  readonly #base: string;
  #cookie = '';
  csrfToken = '';

  constructor(base: string) {
    this.#base = base;
  }

  get cookie(): string {
    return this.#cookie;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
  async call(method: string, path: string, body?: unknown, options: { csrf?: boolean } = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#cookie) headers.cookie = this.#cookie;
    if (options.csrf !== false && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    const response = await fetch(`${this.#base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.#cookie = setCookie.split(';')[0] ?? '';
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    return { status: response.status, body: parsed, headers: response.headers };
  }

  // biome-ignore lint/suspicious/noExplicitAny: as above
  async login(username: string, password: string): Promise<{ status: number; body: any; headers: Headers }> {
    const result = await this.call('POST', '/api/v1/session', { username, password });
    if (result.status === 200) this.csrfToken = result.body.csrfToken;
    return result;
  }
}
