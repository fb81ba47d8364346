/**
 * `GET /system-info` (admins and operators): the box's system information for the status page —
 * host, operating system, kernel, CPU, memory, uptime — and each network interface as the
 * kernel has it now (state, MAC, MTU, speed, addresses, default gateway, bytes since boot)
 * beside what the settings say it should be when it is the LAN or WAN port (DHCP or static,
 * address, mask, gateway, DNS), with the receive/transmit rates of the newest dashboard sample.
 * The readings are in ../../observability/system-info.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SystemSampler } from '../../observability/system-sampler.ts';
import { readSystemInfo, type SystemInfoSources } from '../../observability/system-info.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';

interface Options {
  readonly settings: SettingsStore;
  readonly sampler?: SystemSampler;
  /** Where the kernel's files are read (tests); the host's by default. */
  readonly sources?: SystemInfoSources;
}

const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;
const address = { type: 'object', properties: { address: { type: 'string' }, prefix: { type: 'integer' } } } as const;

const NIC_ROLES = ['lan', 'wan'] as const;

export const systemInfoRoutes: FastifyPluginAsync<Options> = async (app, { settings, sampler, sources }) => {
  app.get(
    '/system-info',
    {
      schema: {
        summary: 'System information: host, OS, CPU, memory, uptime, and per network interface its state, addresses and configured role',
        description: "Read from /sys/class/net and /proc/net/route (loopback left out); per interface its role (lan or wan) with the configured mode, address, mask, gateway and DNS when the settings name it, and the newest sample's rates.",
        response: {
          200: {
            type: 'object',
            properties: {
              hostname: { type: 'string' },
              os: { type: 'string' },
              kernel: { type: 'string' },
              arch: { type: 'string' },
              cpu: { type: 'object', properties: { model: { type: 'string' }, cores: { type: 'integer' } } },
              memoryBytes: { type: 'number' },
              uptimeSeconds: { type: 'number' },
              nics: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    role: { type: ['string', 'null'], enum: ['lan', 'wan', null], description: 'the settings name it as the LAN or WAN port' },
                    state: { type: 'string', description: "the kernel's operstate (up, down, unknown…)" },
                    mac: nullableString,
                    mtu: nullableNumber,
                    speedMbps: nullableNumber,
                    ipv4: { type: 'array', items: address },
                    ipv6: { type: 'array', items: address },
                    gateway: nullableString,
                    rxBytes: nullableNumber,
                    txBytes: nullableNumber,
                    rxBytesPerSecond: nullableNumber,
                    txBytesPerSecond: nullableNumber,
                    configured: {
                      type: ['object', 'null'],
                      description: 'the LAN/WAN settings of this port (null when it is neither)',
                      properties: { mode: { type: 'string' }, address: { type: 'string' }, mask: { type: 'string' }, gateway: { type: 'string' }, dns1: { type: 'string' }, dns2: { type: 'string' } },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => {
      const info = readSystemInfo(sources);
      const all = settings.getAll();
      const rates = new Map((sampler?.latest()?.network ?? []).map((n) => [n.iface, n]));
      return {
        ...info,
        nics: info.nics.map((nic) => {
          const role = NIC_ROLES.find((r) => all[`network.${r}.interface`] === nic.name) ?? null;
          return {
            ...nic,
            role,
            rxBytesPerSecond: rates.get(nic.name)?.rxBytesPerSecond ?? null,
            txBytesPerSecond: rates.get(nic.name)?.txBytesPerSecond ?? null,
            configured: role
              ? {
                  mode: all[`network.${role}.mode`],
                  address: all[`network.${role}.address`],
                  mask: all[`network.${role}.mask`],
                  gateway: all[`network.${role}.gateway`],
                  dns1: all[`network.${role}.dns1`],
                  dns2: all[`network.${role}.dns2`],
                }
              : null,
          };
        }),
      };
    },
  );
};
