/**
 * Online users (spec "Dashboard & status"): every account with a registered terminal — name,
 * account, and per device its model, software version, address, transport and registration
 * times — searchable by name or account. Read from the SIP application's location service.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AccountStore } from '../../accounts/account-store.ts';
import type { Binding } from '../../sip-app/registrar/location-service.ts';

export type OnlineLookup = () => { account: string; bindings: readonly Binding[] }[];

export const onlineUserRoutes: FastifyPluginAsync<{ accounts: AccountStore; online: OnlineLookup }> = async (app, { accounts, online }) => {
  app.get<{ Querystring: { q?: string } }>(
    '/online-users',
    {
      schema: {
        summary: 'Accounts with registered terminals, and their devices',
        querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', maxLength: 128 } } },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                account: { type: 'string' },
                name: { type: 'string' },
                devices: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      model: { type: 'string' },
                      version: { type: 'string' },
                      address: { type: 'string' },
                      transport: { type: 'string' },
                      status: { type: 'string' },
                      registeredAt: { type: 'string' },
                      expiresAt: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const q = request.query.q?.toLowerCase();
      return online()
        .map(({ account, bindings }) => ({
          account,
          name: accounts.findByNumber(account)?.name ?? '',
          devices: bindings.map((b) => ({
            model: b.model,
            version: b.version,
            address: `${b.source.address}:${b.source.port}`,
            transport: b.source.protocol,
            status: 'registered',
            registeredAt: new Date(b.registeredAt).toISOString(),
            expiresAt: new Date(b.expiresAt).toISOString(),
          })),
        }))
        .filter((user) => !q || user.account.includes(q) || user.name.toLowerCase().includes(q))
        .sort((a, b) => a.account.localeCompare(b.account));
    },
  );
};
