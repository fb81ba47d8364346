/**
 * Accounts API: list (search, paging, sorting), create, read, change name/e-mail, reset the SIP
 * password, delete one or many, and Excel: template, import (all-or-report with a failure file),
 * export. The account's SIP realm is the local-domain setting. Every change is written to the
 * audit log. Account details can be mailed on create, reset and import (with the password just
 * set) or later (without it); each recipient's failure is reported. While the licence forbids
 * new accounts (no licence yet, expired, revoked: server/license/license-policy.ts) creating one is refused
 * with the reason, and an import applies updates of existing accounts only (new rows fail
 * with the reason).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { mailAccounts } from '../../accounts/account-mail.ts';
import {
  CONTENT_TYPES,
  type ImportRow,
  MAX_UPLOAD_BYTES,
  type SheetFormat,
  exportAccounts,
  failureFile,
  parseAccountRows,
  readSheet,
  template,
} from '../../accounts/account-spreadsheet.ts';
import type { Account, AccountStore } from '../../accounts/account-store.ts';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import type { LicensePolicy } from '../../license/license-policy.ts';
import type { Mailer } from '../../mail/mailer.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { minuteBudget } from '../rate-limit.ts';
import { auditAction, sendSpreadsheet } from '../route-helpers.ts';
import { mailOutcomeSchema } from '../schemas.ts';
import { ACCOUNT_NUMBER_PATTERN } from '../../dial-plan/dial-plan.ts';

const number = { type: 'string', pattern: ACCOUNT_NUMBER_PATTERN, description: 'an account number of exactly 4 digits (0000-9999)' } as const;
const accountView = {
  type: 'object',
  properties: { number, name: { type: 'string' }, email: { type: ['string', 'null'] }, createdAt: { type: 'string' } },
} as const;
const view = (account: Account) => ({ number: account.number, name: account.name, email: account.email, createdAt: account.createdAt });

interface Options {
  readonly db: Db;
  readonly accounts: AccountStore;
  readonly settings: SettingsStore;
  readonly mailer: Mailer;
  readonly license: LicensePolicy;
}


export const accountRoutes: FastifyPluginAsync<Options> = async (app, { db, accounts, settings, mailer, license }) => {
  const audit = (request: FastifyRequest, action: string, detail: unknown) => auditAction(db, request, action, detail);
  const mailBudget = minuteBudget(10);
  /** Mails account details; the SIP server is the address the console was reached at. */
  const sendMails = async (request: FastifyRequest, entries: { account: Account; password?: string }[]) => {
    mailBudget(request.admin?.username ?? request.ip);
    const port = settings.get('sip.port');
    const box = { domain: settings.get('network.localDomain'), sipServer: port === 5060 ? request.hostname : `${request.hostname}:${port}` };
    const outcome = await mailAccounts(mailer, entries, box);
    audit(request, 'account.mail', { sent: outcome.sent, failed: outcome.failed.map((f) => f.number) });
    return outcome;
  };

  // Spreadsheets arrive as the raw request body (the console sends the File as is).
  for (const type of [...Object.values(CONTENT_TYPES), 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES }, (_request, body, done) => done(null, body));
  }
  const formatQuery = { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['xls', 'xlsx'], default: 'xls' } } } as const;

  app.get<{ Querystring: { format: SheetFormat } }>(
    '/accounts/template',
    { schema: { summary: 'The account import template (.xls or .xlsx)', querystring: formatQuery } },
    async (request, reply) => sendSpreadsheet(reply, 'accounts-template', request.query.format, template(request.query.format)),
  );

  app.get<{ Querystring: { format: SheetFormat } }>(
    '/accounts/export',
    { schema: { summary: 'All accounts as a spreadsheet (no passwords)', description: 'Cells that look like formulas are neutralised (a leading apostrophe).', querystring: formatQuery } },
    async (request, reply) => {
      const { items } = accounts.list({ pageSize: 500, page: 1 });
      const all = [...items];
      for (let page = 2; all.length < accounts.list({ pageSize: 1 }).total; page++) all.push(...accounts.list({ pageSize: 500, page }).items);
      audit(request, 'account.export', { count: all.length, format: request.query.format });
      return sendSpreadsheet(reply, 'accounts', request.query.format, exportAccounts(all, request.query.format));
    },
  );

  app.post<{ Body: Buffer; Querystring: { sendMail: boolean } }>(
    '/accounts/import',
    {
      bodyLimit: MAX_UPLOAD_BYTES,
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { sendMail: { type: 'boolean', default: false } } },
        summary: 'Import accounts from the template (at most 1 000 rows): valid rows are applied, the others come back with a reason',
        description: 'The body is the file. Rows in error come back with their reason, and as a failure file to correct and import again; a number already there is updated. sendMail=true mails each imported account its details with the password just set.',
        consumes: [...Object.values(CONTENT_TYPES)],
        response: {
          200: {
            type: 'object',
            properties: {
              created: { type: 'integer' },
              updated: { type: 'integer' },
              failed: { type: 'array', items: { type: 'object', properties: { row: { type: 'integer' }, number: { type: 'string' }, reason: { type: 'string' } } } },
              failureFile: { type: ['string', 'null'], description: 'base64 of the failed rows with a failure-reason column, same format as the upload' },
              mail: mailOutcomeSchema,
            },
          },
        },
      },
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body)) throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'send the file as the request body (Content-Type: application/vnd.ms-excel or …sheet)' });
      const { format, rows } = readSheet(request.body);
      const { valid, failures } = parseAccountRows(rows, (number) => accounts.findByNumber(number) !== undefined);
      const realm = settings.get('network.localDomain');
      const licenseRefusal = license.accountCreationRefusal();
      const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
      let created = 0;
      let updated = 0;
      const applied: ImportRow[] = [];
      db.transaction(() => {
        for (const row of valid) {
          try {
            if (accounts.findByNumber(row.number)) {
              accounts.update(row.number, { name: row.name, email: row.email || null });
              if (row.password) accounts.setPassword(row.number, row.password, realm);
              updated++;
              applied.push(row);
            } else if (licenseRefusal) {
              failures.push({ ...row, reason: licenseRefusal.localized(language) });
            } else {
              accounts.create({ number: row.number, name: row.name, password: row.password, ...(row.email ? { email: row.email } : {}) }, realm);
              created++;
              applied.push(row);
            }
          } catch (error) {
            failures.push({ ...row, reason: (error as Error).message });
          }
        }
      })();
      failures.sort((a, b) => a.row - b.row);
      audit(request, 'account.import', { created, updated, failed: failures.length });
      const mail = request.query.sendMail
        ? await sendMails(
            request,
            applied.map((row) => ({ account: accounts.findByNumber(row.number) as Account, ...(row.password ? { password: row.password } : {}) })),
          )
        : undefined;
      return {
        created,
        updated,
        failed: failures.map(({ row, number, reason }) => ({ row, number, reason })),
        failureFile: failures.length > 0 ? failureFile(failures, format).toString('base64') : null,
        ...(mail ? { mail } : {}),
      };
    },
  );

  app.get<{ Querystring: { q?: string; page?: number; pageSize?: number; sort?: 'number' | 'name' | 'email' | 'created'; order?: 'asc' | 'desc' } }>(
    '/accounts',
    {
      schema: {
        summary: 'List and search accounts',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            q: { type: 'string', maxLength: 128 },
            page: { type: 'integer', minimum: 1, default: 1 },
            pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 20 },
            sort: { type: 'string', enum: ['number', 'name', 'email', 'created'], default: 'number' },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
          },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: accountView } } } },
      },
    },
    async (request) => {
      const { total, items } = accounts.list(request.query);
      return { total, items: items.map(view) };
    },
  );

  app.post<{ Body: { number: string; name: string; email?: string; password: string; sendMail?: boolean } }>(
    '/accounts',
    {
      schema: {
        summary: 'Create an account',
        description: 'sendMail: true mails the account its details with the password.',
        body: {
          type: 'object',
          required: ['number', 'name', 'password'],
          additionalProperties: false,
          properties: {
            number,
            name: { type: 'string', minLength: 1, maxLength: 128 },
            email: { type: 'string', maxLength: 128 },
            password: { type: 'string', minLength: 6, maxLength: 16 },
            sendMail: { type: 'boolean', default: false },
          },
        },
        response: { 201: { type: 'object', properties: { ...accountView.properties, mail: mailOutcomeSchema } } },
      },
    },
    async (request, reply) => {
      const { sendMail, ...input } = request.body;
      license.assertAccountCreation();
      const account = accounts.create(input, settings.get('network.localDomain'));
      audit(request, 'account.create', { number: account.number, name: account.name });
      const mail = sendMail ? await sendMails(request, [{ account, password: input.password }]) : undefined;
      return reply.status(201).send({ ...view(account), ...(mail ? { mail } : {}) });
    },
  );

  app.post<{ Body: { numbers: string[] } }>(
    '/accounts/mail',
    {
      schema: {
        summary: 'Mail account details (without password) to one or many accounts; failures are listed per recipient',
        description: 'The box keeps no SIP password, so none is sent; a password reset with sendMail sends the new one.',
        body: { type: 'object', required: ['numbers'], additionalProperties: false, properties: { numbers: { type: 'array', minItems: 1, maxItems: 1000, items: number } } },
        response: { 200: mailOutcomeSchema },
      },
    },
    async (request) => {
      const entries = request.body.numbers.map((n) => {
        const account = accounts.findByNumber(n);
        if (!account) throw createError('VCBOX_ERR_ACCOUNT_NOT_FOUND', { number: n });
        return { account };
      });
      return sendMails(request, entries);
    },
  );

  app.get<{ Params: { number: string } }>(
    '/accounts/:number',
    { schema: { summary: 'One account', params: { type: 'object', properties: { number } }, response: { 200: accountView } } },
    async (request) => {
      const account = accounts.findByNumber(request.params.number);
      if (!account) throw createError('VCBOX_ERR_ACCOUNT_NOT_FOUND', { number: request.params.number });
      return view(account);
    },
  );

  app.patch<{ Params: { number: string }; Body: { name?: string; email?: string | null } }>(
    '/accounts/:number',
    {
      schema: {
        summary: 'Change name or e-mail',
        params: { type: 'object', properties: { number } },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, email: { type: ['string', 'null'], maxLength: 128 } },
        },
        response: { 200: accountView },
      },
    },
    async (request) => {
      const account = accounts.update(request.params.number, request.body);
      audit(request, 'account.update', { number: account.number, ...request.body });
      return view(account);
    },
  );

  app.post<{ Params: { number: string }; Body: { password: string; sendMail?: boolean } }>(
    '/accounts/:number/password',
    {
      schema: {
        summary: 'Reset the SIP password (and mail it)',
        params: { type: 'object', properties: { number } },
        body: {
          type: 'object',
          required: ['password'],
          additionalProperties: false,
          properties: { password: { type: 'string', minLength: 6, maxLength: 16 }, sendMail: { type: 'boolean', default: false } },
        },
      },
    },
    async (request, reply) => {
      accounts.setPassword(request.params.number, request.body.password, settings.get('network.localDomain'));
      audit(request, 'account.password.reset', { number: request.params.number });
      if (!request.body.sendMail) return reply.status(204).send();
      const account = accounts.findByNumber(request.params.number) as Account;
      return reply.status(200).send({ mail: await sendMails(request, [{ account, password: request.body.password }]) });
    },
  );

  app.delete<{ Params: { number: string } }>(
    '/accounts/:number',
    { schema: { summary: 'Delete an account', params: { type: 'object', properties: { number } } } },
    async (request, reply) => {
      if (accounts.delete([request.params.number]).length === 0) throw createError('VCBOX_ERR_ACCOUNT_NOT_FOUND', { number: request.params.number });
      audit(request, 'account.delete', { numbers: [request.params.number] });
      return reply.status(204).send();
    },
  );

  app.post<{ Body: { numbers: string[] } }>(
    '/accounts/delete',
    {
      schema: {
        summary: 'Delete several accounts',
        body: { type: 'object', required: ['numbers'], additionalProperties: false, properties: { numbers: { type: 'array', minItems: 1, maxItems: 10000, items: number } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: number } } } },
      },
    },
    async (request) => {
      const deleted = accounts.delete(request.body.numbers);
      audit(request, 'account.delete', { numbers: deleted });
      return { deleted };
    },
  );
};
