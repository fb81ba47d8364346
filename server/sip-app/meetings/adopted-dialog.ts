/**
 * An srf Dialog for a call this process did not set up: one the signaling service kept while
 * the control plane was down (an orphan, server/signaling/dialogs/orphan-dialogs.ts), taken over
 * after a restart. drachtio-srf makes its Dialogs only from the messages of createUAS/createUAC;
 * here those messages are written out again from what the signaling service knows of the dialog
 * (Call-ID, both header values with their tags, the remote target) and the SDP the media leg
 * has, and the Dialog is registered with srf under the signaling service's dialog id — from
 * then on an in-dialog request (BYE, re-INVITE, INFO) reaches it and `destroy`/`modify`/`request`
 * work as on any other. Also here: pointing srf's Dialogs at the application connection after
 * the signaling service restarted (their old socket is closed). Nothing about meetings.
 */
import { createRequire } from 'node:module';
import type Srf from 'drachtio-srf';
import type { OrphanInfo } from '../../signaling/dialogs/orphan-dialogs.ts';

const require = createRequire(import.meta.url);
// drachtio-srf exports its message classes, not Dialog; the module is part of its package.
const SrfDialog = require('drachtio-srf/lib/dialog.js') as new (srf: Srf, type: 'uas' | 'uac', opts: unknown) => Srf.Dialog;
const SrfModule = require('drachtio-srf') as {
  SipMessage: new (raw: string) => unknown;
  SipRequest: new (msg: unknown, meta: unknown) => Record<string, unknown>;
  SipResponse: new (agent: unknown) => Record<string, unknown>;
};

interface SrfInternals {
  _app?: { client?: Agent };
  addDialog(dialog: Srf.Dialog): void;
}
interface Agent {
  _getDefaultSocket(): unknown;
}

/** The agent srf talks to the signaling service through, once connected. */
function agentOf(srf: Srf): Agent | undefined {
  return (srf as unknown as SrfInternals)._app?.client;
}

/** Header values arrive from the signaling service; none may break the message written here. */
function line(value: string): string {
  return value.replace(/[\r\n]/g, ' ');
}

function message(start: string, headers: [string, string][], body: string): unknown {
  const text = `${start}\r\n${headers.map(([n, v]) => `${n}: ${line(v)}`).join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new SrfModule.SipMessage(text);
}

/**
 * An srf Dialog for the orphan `orphan`, registered with srf: `remoteSdp` is the terminal's
 * latest offer (the media leg's), `localSdp` the box's answer to it.
 */
export function adoptDialog(srf: Srf, orphan: OrphanInfo, sdp: { readonly local: string; readonly remote: string }): Srf.Dialog {
  const agent = agentOf(srf);
  if (!agent) throw new Error('the SIP application is not connected');
  const socket = agent._getDefaultSocket();
  const callId: [string, string] = ['Call-ID', orphan.callId];
  const target = `<${orphan.remoteTarget}>`;
  // As UAS the peer's INVITE came in (From: the peer); as UAC ours went out (From: us).
  const [from, to] = orphan.role === 'uas' ? [orphan.remote, orphan.local] : [orphan.local, orphan.remote];
  const inviteBody = orphan.role === 'uas' ? sdp.remote : sdp.local;
  const invite = message(`INVITE ${line(orphan.remoteTarget)} SIP/2.0`, [callId, ['From', from], ['To', to], ['CSeq', '1 INVITE'], ['Contact', orphan.role === 'uas' ? target : '<sip:box.invalid>']], inviteBody);
  const meta = { source: 'network', address: orphan.peer.address, port: String(orphan.peer.port), protocol: orphan.peer.protocol, time: '', transactionId: '', dialogId: orphan.id };
  const req = new SrfModule.SipRequest(invite, meta);
  req.socket = socket;
  req.agent = agent;
  const res = new SrfModule.SipResponse(agent);
  const answerBody = orphan.role === 'uas' ? sdp.local : sdp.remote;
  res.msg = message('SIP/2.0 200 OK', [callId, ['From', from], ['To', to], ['CSeq', '1 INVITE'], ['Contact', orphan.role === 'uas' ? '<sip:box.invalid>' : target]], answerBody);
  res.stackDialogId = orphan.id;
  res.socket = socket;
  const sent = message('SIP/2.0 200 OK', [callId, ['From', from], ['To', to], ['CSeq', '1 INVITE'], ['Contact', '<sip:box.invalid>']], sdp.local);
  const dialog = new SrfDialog(srf, orphan.role, { req, res, sent });
  // srf's Dialog keeps the SDP of each side as it saw them; the box's answer is its local one.
  dialog.local.sdp = sdp.local;
  dialog.remote.sdp = sdp.remote;
  (srf as unknown as SrfInternals).addDialog(dialog);
  return dialog;
}

/** After the signaling service restarted: the Dialogs send on the application's new connection. */
export function rebindDialogs(srf: Srf, dialogs: Iterable<Srf.Dialog>): void {
  const socket = agentOf(srf)?._getDefaultSocket();
  if (!socket) return;
  for (const dialog of dialogs) {
    const req = (dialog as unknown as { req?: { socket?: unknown } }).req;
    if (req) req.socket = socket;
  }
}
