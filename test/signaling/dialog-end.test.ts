/**
 * A call's dialog end is never missed (server/sip-app/dialog-end.ts), against drachtio-srf's
 * real Dialog: a BYE handled before anyone listens (it came in the same batch of wire frames as
 * the answer, so srf ended the dialog before `await createUAS()` returned) still runs the
 * handler — where a plain 'destroy' listener added then never hears of it; a BYE later runs it
 * once, as before.
 */
import { createRequire } from 'node:module';
import type Srf from 'drachtio-srf';
import t from 'tap';
import { onDialogEnd } from '../../server/sip-app/dialog-end.ts';

const require = createRequire(import.meta.url);
const Dialog = require('drachtio-srf/lib/dialog.js') as new (srf: unknown, type: 'uas', opts: unknown) => Srf.Dialog & { handle(req: unknown, res: unknown): void };

/** A UAS dialog as createUAS makes one (the INVITE, its 200), with srf's bookkeeping stubbed. */
function answeredDialog(): Srf.Dialog & { handle(req: unknown, res: unknown): void } {
  const message = (headers: Record<string, string>, tag: string) => ({
    get: (name: string) => headers[name.toLowerCase()],
    getParsedHeader: (name: string) => (name.toLowerCase() === 'contact' ? [{ uri: headers.contact }] : { params: { tag } }),
    body: 'v=0',
    method: 'INVITE',
    uri: 'sip:2002@vcbox.local',
  });
  const req = message({ 'call-id': 'race-1', contact: 'sip:caller@127.0.0.1:5070' }, 'caller-tag');
  const res = { ...message({ 'call-id': 'race-1' }, 'box-tag'), agent: {} };
  const sent = message({ 'call-id': 'race-1', contact: 'sip:box@127.0.0.1:5060' }, 'box-tag');
  return new Dialog({ removeDialog: () => undefined }, 'uas', { req, res, sent });
}

const bye = { method: 'BYE', meta: { source: 'network' }, has: () => false, get: () => undefined };

t.test('a BYE handled before the listener: onDialogEnd runs the handler at once; a late plain listener never would', async (t) => {
  const dialog = answeredDialog();
  const answered: number[] = [];
  dialog.handle(bye, { send: (status: number) => answered.push(status) });
  t.same(answered, [200], 'srf answered the BYE and ended the dialog');
  let plain = 0;
  dialog.on('destroy', () => plain++);
  let ends = 0;
  onDialogEnd(dialog, () => ends++);
  t.equal(ends, 1, 'the handler ran for the dialog that had already ended');
  t.equal(plain, 0, "a 'destroy' listener added after the BYE never runs (the race this guards against)");
});

t.test('a BYE after the listener: the handler runs once, when it comes', async (t) => {
  const dialog = answeredDialog();
  let ends = 0;
  onDialogEnd(dialog, () => ends++);
  t.equal(ends, 0, 'nothing yet: the dialog is up');
  dialog.handle(bye, { send: () => undefined });
  t.equal(ends, 1, 'ran on the BYE');
});
