/**
 * The SIP application's one guard around its request handlers. drachtio-srf calls a handler and
 * forgets what it returns; it catches a synchronous throw (answering a bare 500 and writing to
 * stderr) but not a rejected promise, and under Node 22 an unhandled rejection ends the process
 * — the control plane, and with it every call. `guardRequest` wraps a handler where it is
 * registered (srf.register/srf.invite, a dialog's 'modify'/'info'; `guardMiddleware` for an srf.use layer): whatever the handler throws
 * or rejects with is logged with an incident id and answers that one request with a 500 whose
 * reason phrase says what happened (unless a final response went out already); nothing else is
 * affected. `guardListener` does the same for event listeners that answer no request.
 */
import { randomBytes } from 'node:crypto';
import type Srf from 'drachtio-srf';
import { VcboxError, createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';

const log = getLogger('sip-request-guard');

type RequestHandler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => unknown;

/** The reason phrase of the 500: a box error's own message, else the incident to report (no internals). */
function reasonFor(error: unknown, method: string, incident: string): string {
  const message = error instanceof VcboxError ? error.message : createError('VCBOX_ERR_SIP_REQUEST_FAILED', { method, incident }).message;
  return `Server Internal Error - ${message}`.replace(/[^\x20-\x7e]/g, ' ').slice(0, 240);
}

function answerFailure(name: string, req: Srf.SrfRequest, res: Srf.SrfResponse, error: unknown): void {
  const incident = randomBytes(4).toString('hex');
  const method = String(req.method ?? 'request');
  log.error(
    { handler: name, incident, method, callId: req.get?.('Call-ID'), source: req.source_address, err: error instanceof Error ? error : String(error) },
    'SIP request handler failed; answering 500',
  );
  if (res.finalResponseSent) return;
  try {
    res.send(500, reasonFor(error, method, incident), {});
  } catch (sendError) {
    log.warn({ handler: name, incident, err: (sendError as Error).message }, 'could not answer the failed request');
  }
}

/** `handler`, such that neither a throw nor a rejection escapes: they answer the request with 500. */
export function guardRequest<H extends RequestHandler>(name: string, handler: H): (req: Srf.SrfRequest, res: Srf.SrfResponse) => void {
  return (req, res) => {
    try {
      const outcome = handler(req, res);
      if (outcome instanceof Promise) outcome.catch((error: unknown) => answerFailure(name, req, res, error));
    } catch (error) {
      answerFailure(name, req, res, error);
    }
  };
}

/** A middleware layer (`srf.use`) guarded as `guardRequest`: a throw or rejection answers the request with 500, and the stack goes no further. */
export function guardMiddleware(name: string, layer: (req: Srf.SrfRequest, res: Srf.SrfResponse, next: (error?: unknown) => void) => unknown): (req: Srf.SrfRequest, res: Srf.SrfResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    try {
      const outcome = layer(req, res, next);
      if (outcome instanceof Promise) outcome.catch((error: unknown) => answerFailure(name, req, res, error));
    } catch (error) {
      answerFailure(name, req, res, error);
    }
  };
}

/** An event listener whose throw or rejection is logged instead of ending the process. */
export function guardListener<A extends unknown[]>(name: string, listener: (...args: A) => unknown): (...args: A) => void {
  const failed = (error: unknown) => log.error({ listener: name, err: error instanceof Error ? error : String(error) }, 'SIP application event listener failed');
  return (...args) => {
    try {
      const outcome = listener(...args);
      if (outcome instanceof Promise) outcome.catch(failed);
    } catch (error) {
      failed(error);
    }
  };
}
