/**
 * Licence API (SPEC "License"): `GET /license` — status (unlicensed / trial / active /
 * expired / revoked), type, serial, box ID, ports, validity, days left, what the status allows;
 * `POST /license/activate {license}` — a licence text from the vendor; `POST /license/trial`
 * — the 14-day trial, once per box. Changes need an administrator and the CSRF header
 * (../auth.ts); activations, refused activations and the trial are in the operation log. The
 * behaviour is in server/license/.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import { VcboxError } from '../../core/errors.ts';
import { MAX_LICENSE_TEXT } from '../../license/license-format.ts';
import { allowances } from '../../license/license-policy.ts';
import type { LicenseFacts, LicenseStore } from '../../license/license-store.ts';
import { auditAction } from '../route-helpers.ts';

interface Options {
  readonly db: Db;
  readonly store: LicenseStore;
}

const time = { type: ['string', 'null'], format: 'date-time' } as const;
const factsSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['unlicensed', 'trial', 'active', 'expired', 'revoked'] },
    type: { type: ['string', 'null'], enum: ['trial', 'term', 'perpetual', null] },
    boxId: { type: 'string', description: 'this box, as the vendor needs it to issue a licence' },
    serial: { type: ['string', 'null'] },
    ports: { type: ['integer', 'null'], description: 'concurrent participants in all meetings together' },
    validFrom: time,
    validUntil: { ...time, description: 'null: perpetual (or no licence)' },
    daysLeft: { type: ['integer', 'null'] },
    issuedAt: time,
    activatedAt: time,
    trial: { type: 'object', properties: { used: { type: 'boolean' }, startedAt: time, endsAt: time } },
    testKey: { type: 'boolean', description: 'signed with the project test key (tests and development only)' },
    allows: {
      type: 'object',
      properties: { accounts: { type: 'boolean' }, video: { type: 'boolean' }, ports: { type: ['integer', 'null'], description: 'null: no limit' } },
    },
  },
} as const;

const view = (facts: LicenseFacts) => ({ ...facts, allows: allowances(facts) });

export const licenseRoutes: FastifyPluginAsync<Options> = async (app, { db, store }) => {
  const author = (request: { admin?: { username: string } | undefined; ip: string }) => ({ actor: request.admin?.username ?? '', source: request.ip });

  app.get('/license', { schema: { summary: "The box's licence: status, serial, box ID, ports, validity and what it allows", response: { 200: factsSchema } } }, async () =>
    view(store.facts()),
  );

  app.post<{ Body: { license: string } }>(
    '/license/activate',
    {
      schema: {
        summary: 'Activate (or renew with) a licence text from the vendor; refused with the reason and nothing changed when it is not valid for this box now',
        body: { type: 'object', required: ['license'], additionalProperties: false, properties: { license: { type: 'string', minLength: 1, maxLength: MAX_LICENSE_TEXT } } },
        response: { 200: factsSchema },
      },
    },
    async (request) => {
      try {
        return view(store.activate(request.body.license, author(request)));
      } catch (error) {
        if (error instanceof VcboxError) {
          const { serial, licensedBox } = error.params;
          auditAction(db, request, 'license.activate.refused', { code: error.code, ...(serial ? { serial } : {}), ...(licensedBox ? { licensedBox } : {}) });
        }
        throw error;
      }
    },
  );

  app.post(
    '/license/trial',
    { schema: { summary: 'Start the 14-day trial (once per box, on a box that never had a licence)', response: { 200: factsSchema } } },
    async (request) => view(store.startTrial(author(request))),
  );
};
