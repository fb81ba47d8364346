/**
 * Which certificate authorities the box trusts when it is the TLS client (SMTP, remote
 * syslog): the system's public ones plus the admin's own (setting `tls.trustedCertificates`,
 * for a LAN mail server or collector with an in-house certificate). Verification stays on;
 * there is deliberately no "accept any certificate" switch. The box's own server certificate
 * lives in ./self-signed-certificate.ts, not here.
 */
import tls from 'node:tls';

/** The `ca` option for tls.connect: undefined (Node's defaults) when the admin added none. */
export function trustedCertificates(extraPem: string): string[] | undefined {
  return extraPem.trim() === '' ? undefined : [...tls.rootCertificates, extraPem];
}
