/**
 * The console's calls to /api/v1: JSON in and out, the session cookie (sent by the browser),
 * the CSRF token on every change, the chosen language as Accept-Language. A failure becomes an
 * ApiError carrying the server's message in words and the field (or setting `key`) it refused;
 * 401 means the session is gone. Files the API makes (exports) are fetched the same way.
 */
import { lang } from './i18n.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The request field the server refused, when it names one (shown by that field). */
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken = '';
/** Requests sent and not answered yet (a logout waits for them: see requestsSettled). */
const inFlight = new Set<Promise<unknown>>();

/**
 * Resolves once the requests sent so far are answered (at most `timeoutMs`): a logout waits for
 * them before it ends the session, so a page refresh already on its way is not refused with 401.
 */
export async function requestsSettled(timeoutMs = 3000): Promise<void> {
  if (inFlight.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.allSettled([...inFlight]), timeout]);
  clearTimeout(timer);
}

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** One request to /api/v1 with the language and, on a change, the CSRF token; a refusal becomes an ApiError. */
async function send(method: string, path: string, headers: Record<string, string>, body?: BodyInit): Promise<Response> {
  const all: Record<string, string> = { 'accept-language': lang(), ...headers };
  if (method !== 'GET' && csrfToken) all['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    const sent = fetch(`/api/v1${path}`, { method, headers: all, credentials: 'same-origin', ...(body === undefined ? {} : { body }) });
    inFlight.add(sent);
    response = await sent.finally(() => inFlight.delete(sent));
  } catch {
    throw new ApiError(0, 'VCBOX_ERR_UNREACHABLE', '');
  }
  // A refusal: answer() throws the ApiError it carries.
  if (!response.ok) answer(response.status, response.statusText, await response.text());
  return response;
}

/** One request to /api/v1: the answer's JSON, or an ApiError. */
async function request<T>(method: string, path: string, headers: Record<string, string>, body?: BodyInit): Promise<T> {
  const response = await send(method, path, headers, body);
  return answer<T>(response.status, response.statusText, await response.text());
}

/** An answer's JSON, or the ApiError it carries (a status outside 2xx; its body JSON when it is). */
function answer<T>(status: number, statusText: string, text: string): T {
  const ok = status >= 200 && status < 300;
  const parsed = text && (ok || text.startsWith('{')) ? JSON.parse(text) : undefined;
  if (!ok) throw new ApiError(status, parsed?.code ?? 'VCBOX_ERR_REQUEST', parsed?.message ?? statusText, parsed?.field ?? parsed?.key);
  return parsed as T;
}

/**
 * Downloads a file the API makes (an export): saved under the name the server gives, or the
 * server's refusal as an ApiError — shown in words instead of a page of JSON.
 */
export async function download(path: string, fallbackName: string): Promise<string> {
  const response = await send('GET', path, {});
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

// biome-ignore lint/suspicious/noExplicitAny: the console reads whatever JSON the API documents
export function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  return body === undefined ? request<T>(method, path, {}) : request<T>(method, path, { 'content-type': 'application/json' }, JSON.stringify(body));
}

/** Uploads a file as the request body: a spreadsheet to import, or another kind given as `type` (a backup). */
export function upload<T>(
  path: string,
  file: File,
  type = file.name.toLowerCase().endsWith('.xlsx') ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'application/vnd.ms-excel',
  headers: Record<string, string> = {},
): Promise<T> {
  return request<T>('POST', path, { ...headers, 'content-type': type }, file);
}

/**
 * Sends a (large) file as the body of `method path`, telling `onProgress` the share sent so far
 * (0 to 1) — XMLHttpRequest, since fetch reports no upload progress; same headers and errors as
 * `api`.
 */
export function sendFile<T>(method: string, path: string, file: Blob, type: string, onProgress: (sent: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `/api/v1${path}`);
    xhr.setRequestHeader('accept-language', lang());
    xhr.setRequestHeader('content-type', type);
    if (csrfToken) xhr.setRequestHeader('x-csrf-token', csrfToken);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'VCBOX_ERR_UNREACHABLE', '')));
    xhr.addEventListener('load', () => {
      try {
        resolve(answer<T>(xhr.status, xhr.statusText, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    });
    xhr.send(file);
  });
}
