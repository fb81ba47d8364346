/**
 * The box's provisioning URL for terminals (`/provisioning/`, beside the console, HTTP or HTTPS
 * as the console is served): what a terminal fetches when a check-sync NOTIFY (firmware "update
 * now") makes it run its auto-provisioning. Terminals point their provisioning server at
 * `http(s)://<box>/provisioning/` with their SIP account number and password; every request is
 * authenticated by HTTP Digest against the account's stored HA1 (server/firmware/provisioning-auth.ts).
 *
 *  - `GET /provisioning/<name>.cfg` — a configuration file in the common `key = value` format
 *    (Yealink's: the terminal asks for its model's common file and its MAC's file; any name is
 *    answered the same) naming `firmware.url`, the latest firmware of the asking terminal's
 *    model: from its HTTP User-Agent, else from the model its account has registered from that
 *    address. Without firmware for the model the file says so and sets nothing.
 *  - `GET|HEAD /provisioning/firmware/<id>/<file name>.rom` — the firmware file itself, any
 *    model's (firmware is per model, not per account), with range requests (206, 416,
 *    If-Range on the ETag). Once a terminal has had every byte — in one response or in pieces —
 *    it counts as "downloaded" in the rollout's progress.
 *
 * Not under /api/v1: terminals have no console session. Not audited (terminals are not
 * administrators); logged.
 */
import { createReadStream } from 'node:fs';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createError } from '../../core/errors.ts';
import { DownloadCoverage, readRange } from '../../firmware/byte-ranges.ts';
import type { FirmwareRollout } from '../../firmware/firmware-rollout.ts';
import { type FirmwareInfo, type FirmwareStore, modelKey } from '../../firmware/firmware-store.ts';
import type { ProvisioningAuth } from '../../firmware/provisioning-auth.ts';
import { getLogger } from '../../core/logger.ts';
import type { Binding } from '../../sip-app/registrar/location-service.ts';

const log = getLogger('provisioning');

export const PROVISIONING_PREFIX = '/provisioning';

interface Options {
  readonly store: FirmwareStore;
  readonly auth: ProvisioningAuth;
  /** Registered terminals of an account (the SIP application's location service). */
  readonly bindings: (account: string) => readonly Binding[];
  /** Told when a terminal has fetched a whole firmware file. */
  readonly rollout?: FirmwareRollout;
}

/** The caller's IPv4 address as the registrar sees it (no IPv4-mapped IPv6 prefix). */
const sourceOf = (request: FastifyRequest) => request.ip.replace(/^::ffff:/, '');

export const provisioningRoutes: FastifyPluginAsync<Options> = async (app, { store, auth, bindings, rollout }) => {
  const coverage = new DownloadCoverage();

  /** The logged-in account, or undefined after answering 401/403. */
  const login = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
    const result = auth.check(request.method, request.url, request.headers.authorization, sourceOf(request));
    if (result.outcome === 'ok') return result.account;
    const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
    const error = createError(result.outcome === 'locked' ? 'VCBOX_ERR_PROVISIONING_LOCKED' : 'VCBOX_ERR_PROVISIONING_AUTH');
    if (result.outcome === 'challenge') reply.header('www-authenticate', result.challenges);
    void reply.status(error.statusCode).send({ code: error.code, message: error.localized(language) });
    return undefined;
  };

  /** The latest firmware for the terminal asking: by its User-Agent, else by what its account registered. */
  const firmwareFor = (userAgent: string, account: string, source: string): FirmwareInfo | undefined => {
    const latest = store.list().filter((f) => f.latest && !f.missing);
    const agent = modelKey(userAgent);
    const byAgent = latest
      .filter((f) => agent === modelKey(f.model) || agent.startsWith(`${modelKey(f.model)} `) || agent.startsWith(`${modelKey(f.model)}/`))
      .sort((a, b) => b.model.length - a.model.length)[0];
    if (byAgent) return byAgent;
    const registered = bindings(account);
    const models = new Set((registered.some((b) => b.source.address === source) ? registered.filter((b) => b.source.address === source) : registered).map((b) => modelKey(b.model)));
    const matches = latest.filter((f) => models.has(modelKey(f.model)));
    return matches.length === 1 ? matches[0] : undefined;
  };

  app.get<{ Params: { name: string } }>(
    '/:name',
    {
      config: { public: true },
      schema: {
        summary: 'A terminal\'s provisioning configuration: firmware.url of the latest firmware for its model (HTTP Digest with its SIP account)',
        description: "HTTP Digest (RFC 7616) against the account's stored HA1: realm the local domain, challenges per sip.digestAlgorithms; wrong passwords count towards SIP's lock-out of the address. The model is the User-Agent's, else the account's registration's. Terminals are set up with /provisioning/ as their provisioning server, their account number and SIP password.",
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}\\.cfg$', description: 'a configuration file name ending in .cfg (letters, digits, . _ -)' } } },
        produces: ['text/plain'],
      },
    },
    async (request, reply) => {
      const account = login(request, reply);
      if (!account) return reply;
      const userAgent = request.headers['user-agent'] ?? '';
      const firmware = firmwareFor(userAgent, account, sourceOf(request));
      const lines = ['#!version:1.0.0.1', `## vcbox provisioning for account ${account}`];
      if (firmware) {
        const url = `${request.protocol}://${request.host}${PROVISIONING_PREFIX}/firmware/${firmware.id}/${encodeURIComponent(firmware.fileName)}`;
        lines.push(`## the latest firmware for ${firmware.model}: version ${firmware.version}`, `firmware.url = ${url}`);
      } else {
        lines.push(`## no firmware on this box for this terminal's model (${userAgent.slice(0, 120) || 'no User-Agent'})`);
      }
      log.debug({ account, source: sourceOf(request), userAgent, firmware: firmware?.id }, 'provisioning file served');
      return reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(`${lines.join('\n')}\n`);
    },
  );

  // HEAD is declared, not derived from GET: a derived HEAD route would read the whole file and
  // send Content-Length 0.
  app.route<{ Params: { id: number; fileName: string } }>({
    method: ['GET', 'HEAD'],
    url: '/firmware/:id/:fileName',
    exposeHeadRoute: false,
    config: { public: true },
    schema: {
      summary: 'A firmware file for terminals (HTTP Digest with a SIP account; range requests)',
      description: 'Range requests are answered 206 or 416, with If-Range.',
      params: { type: 'object', required: ['id', 'fileName'], properties: { id: { type: 'integer' }, fileName: { type: 'string', maxLength: 255 } } },
      produces: ['application/octet-stream'],
    },
    handler: async (request, reply) => {
      const account = login(request, reply);
      if (!account) return reply;
      const { info, path } = store.file(request.params.id);
      if (info.fileName !== request.params.fileName) throw createError('VCBOX_ERR_FIRMWARE_NOT_FOUND', { id: `${info.id}/${request.params.fileName}` });
      const etag = `"${info.sha256.slice(0, 32)}"`;
      const ifRange = request.headers['if-range'];
      // A resumed download of a file that changed since must start over: If-Range names the old one.
      const range = ifRange !== undefined && ifRange !== etag ? ({ kind: 'whole' } as const) : readRange(request.headers.range, info.size);
      reply
        .header('accept-ranges', 'bytes')
        .header('etag', etag)
        .header('last-modified', new Date(info.replacedAt ?? info.uploadedAt).toUTCString())
        .header('content-disposition', `attachment; filename="${encodeURIComponent(info.fileName)}"`);
      if (range.kind === 'unsatisfiable') {
        const error = createError('VCBOX_ERR_RANGE', { range: String(request.headers.range), size: info.size });
        return reply.status(416).header('content-range', `bytes */${info.size}`).send({ code: error.code, message: error.message });
      }
      const [start, end] = range.kind === 'part' ? [range.start, range.end] : [0, info.size - 1];
      if (range.kind === 'part') reply.status(206).header('content-range', `bytes ${start}-${end}/${info.size}`);
      reply.header('content-type', 'application/octet-stream').header('content-length', end - start + 1);
      if (request.method === 'HEAD') return reply.send();
      const source = sourceOf(request);
      // Counted once the last byte was handed to the network, not when a transfer broke off.
      reply.raw.once('finish', () => {
        if (!coverage.add(`${info.id}|${info.sha256}|${account}|${source}`, info.size, start, end)) return;
        log.info({ account, source, id: info.id, model: info.model, version: info.version }, 'firmware file fetched whole');
        try {
          rollout?.downloaded(info.id, account, source);
        } catch (error) {
          // Deleted meanwhile, or the database is closing: the terminal has its file all the same.
          log.warn({ account, id: info.id, err: (error as Error).message }, 'could not note the download');
        }
      });
      return reply.send(createReadStream(path, { start, end }));
    },
  });
};
