/**
 * The box's TLS certificate (spec "Network & services": HTTPS certificate import [003]) — the
 * one HTTPS and SIP over TLS present: what is in use, import of a PEM private key with its
 * chain (checked whole first, refused in words: server/tls/box-certificate.ts), and going back
 * to a generated self-signed certificate. After a change the HTTPS listener and the signaling
 * service take the new certificate at once for new connections (connections already open keep
 * theirs); the answer says which did. Audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import type { SignalingControlClient } from '../../signaling/signaling-control.ts';
import { type CertificateInfo, currentCertificate, importCertificate, MAX_PEM_BYTES, revertToGenerated } from '../../tls/box-certificate.ts';
import { auditAction } from '../route-helpers.ts';
import type { WebListeners } from '../web-listeners.ts';

interface Options {
  readonly db: Db;
  readonly settings: SettingsStore;
  /** The certificate folder (`<dataDir>/certificates`). */
  readonly certificates: string;
  readonly web?: WebListeners;
  readonly signaling?: Pick<SignalingControlClient, 'apply'>;
}

/** Who uses the certificate now, after a change. */
interface InUse {
  /** `in use`, `off` (HTTPS not enabled), `failed: …`, or `not in this process`. */
  readonly https: string;
  /** `in use`, `not reachable: …` (it takes the file when it runs), or `not in this process`. */
  readonly sipTls: string;
}

export const certificateRoutes: FastifyPluginAsync<Options> = async (app, { db, settings, certificates, web, signaling }) => {
  const trusted = () => settings.get('tls.trustedCertificates');

  const takeIntoUse = async (): Promise<InUse> => {
    let https = 'not in this process';
    if (web) {
      const state = await web.reloadCertificate();
      https = !state.https.enabled ? 'off' : state.https.error ? `failed: ${state.https.error}` : 'in use';
    }
    let sipTls = 'not in this process';
    if (signaling) {
      sipTls = await signaling.apply().then(
        () => 'in use',
        (error: Error) => `not reachable: ${error.message}`,
      );
    }
    return { https, sipTls };
  };

  const answer = (certificate: CertificateInfo, inUse: InUse, what: string) => {
    const users = [inUse.https === 'in use' ? 'HTTPS' : '', inUse.sipTls === 'in use' ? 'SIP over TLS' : ''].filter(Boolean);
    const lines = [
      `${what}: "${certificate.subject}", issued by "${certificate.issuer}", valid until ${certificate.validTo}.`,
      users.length > 0 ? `${users.join(' and ')} use${users.length > 1 ? '' : 's'} it for new connections now.` : '',
      inUse.https === 'off' ? 'HTTPS is off: turn it on in the web settings to serve the console with it.' : '',
      inUse.https.startsWith('failed') ? `HTTPS could not take it: ${inUse.https.slice(8)}.` : '',
      inUse.sipTls.startsWith('not reachable') ? 'The signaling service did not answer: it takes the certificate within a few seconds when running, or when it starts.' : '',
      certificate.trustedIssuer || certificate.selfSigned ? '' : 'Its issuer is not among the public CAs or the trusted certificates: browsers and terminals must be told to trust that CA.',
    ];
    return { certificate, inUse, message: lines.filter(Boolean).join(' ') };
  };

  app.get('/settings/certificate', { schema: { summary: "The box's TLS certificate in use (HTTPS and SIP over TLS): subject, issuer, validity, fingerprint, generated or imported" } }, async () =>
    currentCertificate(certificates, trusted()),
  );

  app.post<{ Body: { key: string; chain: string } }>(
    '/settings/certificate',
    {
      bodyLimit: 3 * MAX_PEM_BYTES,
      schema: {
        summary: 'Import a certificate: the PEM private key (not encrypted) and the PEM chain (server certificate first, then intermediates); checked whole before anything changes',
        description: 'PEM, at most 64 KiB each. Checked: the key readable and not encrypted, every certificate parses, the key belongs to one of them, the others chain from it each signed by the next (in any order given; written server certificate first), each valid today, OpenSSL accepts the pair. Refusals name the field key or chain (VCBOX_ERR_CERT_KEY, VCBOX_ERR_CERT_KEY_MISMATCH, VCBOX_ERR_CERT_CHAIN, VCBOX_ERR_CERT_VALIDITY). HTTPS and SIP over TLS take it at once for new connections (inUse).',
        body: {
          type: 'object',
          required: ['key', 'chain'],
          additionalProperties: false,
          properties: {
            key: { type: 'string', maxLength: MAX_PEM_BYTES, description: 'the private key in PEM form (-----BEGIN PRIVATE KEY----- …), not encrypted' },
            chain: { type: 'string', maxLength: MAX_PEM_BYTES, description: 'the server certificate and its intermediate certificates in PEM form' },
          },
        },
      },
    },
    async (request) => {
      const certificate = await importCertificate(certificates, request.body.key, request.body.chain, request.admin?.username ?? '', trusted());
      auditAction(db, request, 'certificate.import', { subject: certificate.subject, issuer: certificate.issuer, validTo: certificate.validTo, fingerprint256: certificate.fingerprint256 });
      return answer(certificate, await takeIntoUse(), 'Imported');
    },
  );

  app.delete('/settings/certificate', { schema: { summary: 'Drop the imported certificate: a new self-signed one is generated and used' } }, async (request) => {
    const before = await currentCertificate(certificates, trusted());
    const certificate = await revertToGenerated(certificates, trusted(), settings.get('network.localDomain'));
    auditAction(db, request, 'certificate.revert', { replaced: before.subject, fingerprint256: certificate.fingerprint256 });
    return answer(certificate, await takeIntoUse(), 'Generated a new self-signed certificate');
  });
};
