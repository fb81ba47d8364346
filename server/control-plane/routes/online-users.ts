/**
 * Online users (spec "Dashboard & status"): every account with a registered terminal — name,
 * account, and per device its model, software version, address, transport, registration
 * times and reachability (qualify OPTIONS: reachable / unreachable, round-trip time) —
 * searchable by name or account. Read from the SIP application.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AccountStore } from '../../accounts/account-store.ts';
import type { Binding } from '../../sip-app/registrar/location-service.ts';
import type { Reachability } from '../../sip-app/registrar/qualifier.ts';

export type OnlineLookup = () => { account: string; bindings: readonly Binding[] }[];
export type ReachabilityLookup = (account: string, contact: string) => Reachability | undefined;

export const onlineUserRoutes: FastifyPluginAsync<{ accounts: AccountStore; online: OnlineLookup; reachability?: ReachabilityLookup }> = async (
  app,
  { accounts, online, reachability },
) => {
  app.get<{ Querystring: { q?: string } }>(
    '/online-users',
    {
      schema: {
        summary: 'Accounts with registered terminals, and their devices',
        description: 'Per device: model, version, address, transport, registration times and reachability — the box sends each registered contact an OPTIONS every sip.qualifySeconds (60; 0 = off): reachable with the round-trip time, or unreachable.',
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
                      status: { type: 'string', enum: ['registered', 'reachable', 'unreachable'] },
                      rttMs: { type: ['number', 'null'] },
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
          devices: bindings.map((b) => {
            const reach = reachability?.(account, b.contact);
            return {
            model: b.model,
            version: b.version,
            address: `${b.source.address}:${b.source.port}`,
            transport: b.source.protocol,
              // "registered" until the first qualify round (OPTIONS) has an answer or not.
              status: reach ? (reach.reachable ? 'reachable' : 'unreachable') : 'registered',
              rttMs: reach?.rttMs ?? null,
              registeredAt: new Date(b.registeredAt).toISOString(),
              expiresAt: new Date(b.expiresAt).toISOString(),
            };
          }),
        }))
        .filter((user) => !q || user.account.includes(q) || user.name.toLowerCase().includes(q))
        .sort((a, b) => a.account.localeCompare(b.account));
    },
  );
};
