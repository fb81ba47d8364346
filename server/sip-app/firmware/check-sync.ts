/**
 * "Check your provisioning server now", as SIP terminals understand it: an unsolicited NOTIFY
 * with `Event: check-sync` (Yealink, Polycom, Gigaset, Grandstream… all act on it) sent to a
 * registered terminal's contact. `reboot=false`: the terminal runs its auto-provisioning without
 * a forced restart — it restarts by itself to install new firmware, after its call if it is in
 * one. There is no subscription behind it, so `Subscription-State: terminated` (RFC 6665 wants
 * the header in every NOTIFY). The terminal then fetches its configuration and the firmware file
 * from the box's provisioning URL (server/control-plane/routes/provisioning.ts).
 */
import type Srf from 'drachtio-srf';
import type { Binding } from '../registrar/location-service.ts';
import { type RequestOutcome, sendOutOfDialog } from '../out-of-dialog-request.ts';

export const CHECK_SYNC_EVENT = 'check-sync;reboot=false';

/** Sends the check-sync NOTIFY to one registered terminal; resolves with its answer (or why there is none). */
export function sendCheckSync(srf: Srf, binding: Binding, domain: string, timeoutMs = 32_000): Promise<RequestOutcome> {
  return sendOutOfDialog(srf, binding.contact, {
    method: 'NOTIFY',
    headers: {
      From: `<sip:vcbox@${domain}>`,
      To: `<sip:${binding.account}@${domain}>`,
      Event: CHECK_SYNC_EVENT,
      'Subscription-State': 'terminated',
      'Max-Forwards': '70',
    },
    timeoutMs,
  });
}
