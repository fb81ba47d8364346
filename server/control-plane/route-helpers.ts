/**
 * What many route modules do the same way: write an admin action to the audit log (who, from
 * where), and send a spreadsheet as a download.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONTENT_TYPES, type SheetFormat } from '../accounts/account-spreadsheet.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';

/** Audits an action of the logged-in administrator making `request`. */
export function auditAction(db: Db, request: FastifyRequest, action: string, detail?: unknown): void {
  recordAudit(db, { actor: request.admin?.username ?? '', source: request.ip, action, detail });
}

/** Answers with a spreadsheet file named `<name>.<format>`. */
export function sendSpreadsheet(reply: FastifyReply, name: string, format: SheetFormat, data: Buffer): FastifyReply {
  return reply.header('content-type', CONTENT_TYPES[format]).header('content-disposition', `attachment; filename="${name}.${format}"`).send(data);
}
