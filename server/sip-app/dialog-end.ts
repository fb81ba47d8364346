/**
 * A dialog's end, never missed. drachtio-srf ends a dialog and emits its 'destroy' at once when
 * the peer's BYE is read, while `createUAS`, `createUAC` and `ack` hand the dialog over a
 * microtask later: a BYE read in the same batch of wire-protocol frames as the answer (a caller
 * that hangs up right after its ACK, under load) ended the dialog before anyone listened — the
 * other leg stayed up, the terminal in a call nobody would end, the record open. Every way a
 * call's dialog is watched goes through `onDialogEnd`, which runs the handler at once for a
 * dialog that has already ended.
 */
import type Srf from 'drachtio-srf';

/** Runs `handler` when `dialog` ends — now, when it already has. Remove it with `dialog.off('destroy', handler)`. */
export function onDialogEnd(dialog: Srf.Dialog, handler: () => void): void {
  // drachtio-srf's Dialog keeps `connected` (not in its typings): false once ended either way.
  if ((dialog as unknown as { connected?: boolean }).connected === false) {
    handler();
    return;
  }
  dialog.on('destroy', handler);
}
