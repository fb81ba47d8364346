/**
 * One request the box sends outside any dialog through drachtio-srf — an OPTIONS to qualify a
 * registered contact, a NOTIFY telling a terminal to check for new firmware — and its outcome:
 * the final status, or why there is none (not sent, no answer within the time given). The
 * signaling service routes it like any request to that contact (over the terminal's own
 * connection for TCP/TLS) and retransmits it over UDP.
 */
import type Srf from 'drachtio-srf';

export type RequestOutcome = { readonly status: number; readonly reason: string } | { readonly error: string };

export interface OutOfDialogRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** How long to wait for a final response (RFC 3261's Timer F is 32 s for UDP). */
  readonly timeoutMs: number;
}

/** Sends `request` to `uri`; resolves (never rejects) with the first final response or the reason there is none. */
export function sendOutOfDialog(srf: Srf, uri: string, request: OutOfDialogRequest): Promise<RequestOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: RequestOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ error: `no answer within ${Math.round(request.timeoutMs / 1000)} s` }), request.timeoutMs);
    timer.unref();
    // srf's typings omit `request` with a callback of (err, req); it exists at run time.
    const untyped = srf as unknown as {
      request(uri: string, opts: object, cb: (error: unknown, req?: { on(event: 'response', fn: (res: { status: number; reason?: string }) => void): void }) => void): void;
    };
    try {
      untyped.request(uri, { method: request.method, headers: { ...request.headers } }, (error, req) => {
        if (error || !req) return settle({ error: error instanceof Error ? error.message : String(error ?? 'the request was not sent') });
        req.on('response', (res) => {
          if (res.status >= 200) settle({ status: res.status, reason: res.reason ?? '' });
        });
      });
    } catch (error) {
      settle({ error: (error as Error).message });
    }
  });
}
