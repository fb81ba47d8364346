/**
 * The box's own TLS certificate as an administrator sees and replaces it (spec "Network &
 * services": HTTPS certificate import [003]): what is in use (subject, issuer, validity,
 * fingerprint, names; generated or imported), importing a PEM private key with its chain, and
 * going back to a generated self-signed one. The same files serve HTTPS
 * (server/control-plane/web-listeners.ts) and SIP over TLS (the signaling service follows the
 * file), so one import covers both.
 *
 * An import is checked whole before anything is written: the key is readable and not
 * encrypted; every certificate parses; the key belongs to one of them (the server
 * certificate); the others chain from it, each signed by the next; each is valid today; and
 * OpenSSL accepts the pair for a TLS server (key sizes, algorithms). The chain is written in
 * order, server certificate first. Whether the last certificate is issued by a public or a
 * trusted in-house CA is reported, not required (LAN boxes often use an in-house CA that
 * browsers are told to trust). Files are written under temporary names and renamed — key
 * first, the certificate last, as the generator does. The self-signed generator itself is
 * ./self-signed-certificate.ts.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { createError, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { type Certificate, certificateFiles, ensureCertificate, generatedDnsNames } from './self-signed-certificate.ts';

const log = getLogger('certificate');

/** Upper bound of each pasted PEM text (a chain of a few certificates is a few kB). */
export const MAX_PEM_BYTES = 64 * 1024;

/** Kept beside the files after an import: who imported what, when. Gone again with a revert. */
const IMPORT_MARKER = 'imported.json';

export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly fingerprint256: string;
  readonly serialNumber: string;
  /** DNS names and IP addresses the certificate is good for. */
  readonly names: string[];
  readonly selfSigned: boolean;
  /** Certificates in the chain file, the server certificate first. */
  readonly chainLength: number;
  /** `generated` (the box's self-signed one) or `imported` by an administrator. */
  readonly source: 'generated' | 'imported';
  readonly importedAt?: string;
  readonly importedBy?: string;
  /** The chain ends at a CA the box trusts (public roots, or `tls.trustedCertificates`). */
  readonly trustedIssuer: boolean;
}

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';

/** The PEM certificate blocks in text, in order (one pass: a regular expression here was quadratic on many BEGIN lines). */
function pemCertificates(text: string): string[] {
  const blocks: string[] = [];
  for (let from = 0; ; ) {
    const begin = text.indexOf(PEM_BEGIN, from);
    if (begin < 0) break;
    const end = text.indexOf(PEM_END, begin + PEM_BEGIN.length);
    if (end < 0) break;
    blocks.push(text.slice(begin, end + PEM_END.length));
    from = end + PEM_END.length;
  }
  return blocks;
}

/** "CN=box.example.com, O=Example" from an X509Certificate's multi-line subject. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

function commonName(certificate: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1] ?? oneLine(certificate.subject);
}

function namesOf(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Whether the chain's last certificate is issued by one of the box's trusted CAs. */
function trustedIssuer(last: X509Certificate, extraCas: string): boolean {
  const cas = [...tls.rootCertificates, ...pemCertificates(extraCas)];
  for (const pem of cas) {
    try {
      if (issuedBy(last, new X509Certificate(pem))) return true;
    } catch {
      // an unreadable trusted entry proves nothing
    }
  }
  return false;
}

function parseKey(keyPem: string): KeyObject {
  const text = keyPem.trim();
  if (text === '') throw createError('VCBOX_ERR_CERT_KEY', { field: 'key', reason: 'no private key was given' });
  if (Buffer.byteLength(text) > MAX_PEM_BYTES) throw createError('VCBOX_ERR_CERT_KEY', { field: 'key', reason: `it is longer than ${MAX_PEM_BYTES / 1024} KiB` });
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw createError('VCBOX_ERR_CERT_KEY', { field: 'key', reason: 'it is encrypted with a passphrase (export it without one, e.g. openssl pkey -in key.pem -out plain.pem)' });
  }
  if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(text)) {
    throw createError('VCBOX_ERR_CERT_KEY', { field: 'key', reason: /BEGIN CERTIFICATE/.test(text) ? 'this is a certificate, not a private key' : 'it is not a PEM private key' });
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    throw createError('VCBOX_ERR_CERT_KEY', { field: 'key', reason: (error as Error).message }, error);
  }
}

function parseChain(chainPem: string): X509Certificate[] {
  if (Buffer.byteLength(chainPem) > MAX_PEM_BYTES) throw createError('VCBOX_ERR_CERT_CHAIN', { field: 'chain', reason: `it is longer than ${MAX_PEM_BYTES / 1024} KiB` });
  const blocks = pemCertificates(chainPem);
  if (blocks.length === 0) {
    throw createError('VCBOX_ERR_CERT_CHAIN', { field: 'chain', reason: /PRIVATE KEY/.test(chainPem) ? 'this is a private key, not a certificate' : 'no PEM certificate was found' });
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw createError('VCBOX_ERR_CERT_CHAIN', { field: 'chain', reason: `certificate ${index + 1} cannot be read (${(error as Error).message})` }, error);
    }
  });
}

/**
 * Checks a key and chain as an administrator pasted them (in any order); returns the chain in
 * order, server certificate first, or throws the first problem in words.
 */
export function checkImport(keyPem: string, chainPem: string, now = new Date()): { key: KeyObject; chain: X509Certificate[] } {
  const key = parseKey(keyPem);
  const certificates = parseChain(chainPem);
  const leaf = certificates.find((certificate) => certificate.checkPrivateKey(key));
  if (!leaf) throw createError('VCBOX_ERR_CERT_KEY_MISMATCH', { field: 'key', subjects: certificates.map(commonName).join('; ') });
  const chain = [leaf];
  const rest = certificates.filter((certificate) => certificate !== leaf);
  for (;;) {
    const last = chain.at(-1) as X509Certificate;
    const parent = rest.find((candidate) => issuedBy(last, candidate));
    if (!parent) break;
    chain.push(parent);
    rest.splice(rest.indexOf(parent), 1);
  }
  if (rest.length > 0) {
    const stray = rest[0] as X509Certificate;
    const last = chain.at(-1) as X509Certificate;
    throw createError('VCBOX_ERR_CERT_CHAIN', {
      field: 'chain',
      reason: `"${commonName(stray)}" does not sign "${commonName(last)}" (issued by "${oneLine(last.issuer)}") nor any other certificate of the chain: leave it out, or add the certificate that links it`,
    });
  }
  for (const certificate of chain) {
    const from = new Date(certificate.validFrom);
    const to = new Date(certificate.validTo);
    const problem = now < from ? 'not valid yet' : now > to ? 'expired' : undefined;
    if (problem) {
      throw createError('VCBOX_ERR_CERT_VALIDITY', {
        field: 'chain',
        subject: commonName(certificate),
        validFrom: from.toISOString(),
        validTo: to.toISOString(),
        now: now.toISOString(),
        problem,
        problemZh: problem === 'expired' ? '已过期' : '尚未生效',
      });
    }
  }
  try {
    tls.createSecureContext({ key: key.export({ type: 'pkcs8', format: 'pem' }), cert: chain.map((c) => c.toString()).join('') });
  } catch (error) {
    throw createError('VCBOX_ERR_CERT_CHAIN', { field: 'chain', reason: `the TLS library refuses the pair: ${(error as Error).message}` }, error);
  }
  return { key, chain };
}

/** The certificate the box uses now (generated at first start when there is none). */
export async function currentCertificate(dir: string, trustedCas = ''): Promise<CertificateInfo> {
  const certificate = await ensureCertificate(dir);
  return describe(dir, certificate, trustedCas);
}

function describe(dir: string, certificate: Certificate, trustedCas: string): CertificateInfo {
  const chain = pemCertificates(certificate.cert.toString('utf8')).map((pem) => new X509Certificate(pem));
  const leaf = chain[0] as X509Certificate;
  const last = chain.at(-1) as X509Certificate;
  const markerFile = path.join(dir, IMPORT_MARKER);
  let marker: { importedAt?: string; importedBy?: string } | undefined;
  try {
    marker = existsSync(markerFile) ? (JSON.parse(readFileSync(markerFile, 'utf8')) as typeof marker) : undefined;
  } catch {
    marker = undefined;
  }
  return {
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: new Date(leaf.validTo).toISOString(),
    fingerprint256: leaf.fingerprint256,
    serialNumber: leaf.serialNumber,
    names: namesOf(leaf),
    selfSigned: leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey),
    chainLength: chain.length,
    source: marker ? 'imported' : 'generated',
    ...(marker?.importedAt ? { importedAt: marker.importedAt } : {}),
    ...(marker?.importedBy ? { importedBy: marker.importedBy } : {}),
    trustedIssuer: trustedIssuer(last, trustedCas),
  };
}

/** Checks and installs an imported key + chain; returns what is in use afterwards. */
export async function importCertificate(dir: string, keyPem: string, chainPem: string, importedBy: string, trustedCas = ''): Promise<CertificateInfo> {
  const { key, chain } = checkImport(keyPem, chainPem);
  const files = certificateFiles(dir);
  const tag = `${process.pid}.${Date.now()}`;
  const written: string[] = [];
  const write = (file: string, text: string, mode: number) => {
    const temporary = `${file}.${tag}.tmp`;
    writeFileSync(temporary, text, { mode });
    written.push(temporary);
    return temporary;
  };
  try {
    await ensureCertificate(dir); // the folder exists with the box's permissions
    const keyTmp = write(files.keyFile, key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    const certTmp = write(files.certFile, chain.map((c) => c.toString()).join(''), 0o644);
    const markerTmp = write(path.join(dir, IMPORT_MARKER), `${JSON.stringify({ importedAt: new Date().toISOString(), importedBy })}\n`, 0o644);
    renameSync(markerTmp, path.join(dir, IMPORT_MARKER));
    renameSync(keyTmp, files.keyFile);
    renameSync(certTmp, files.certFile);
  } catch (error) {
    for (const file of written) rmSync(file, { force: true });
    throw createError('VCBOX_ERR_CERT_STORE', { dir, reason: (error as Error).message }, error);
  }
  return currentCertificate(dir, trustedCas);
}

/**
 * At start: a generated certificate that lacks the box's local domain (it was changed, or the
 * certificate predates domain names in it) is generated again with it — cheap (one openssl
 * run) and done before the services read the files. An imported certificate is never touched.
 * Answers whether it regenerated.
 */
export async function followLocalDomain(dir: string, domain: string): Promise<boolean> {
  const certificate = await ensureCertificate(dir, { domain });
  if (existsSync(path.join(dir, IMPORT_MARKER))) return false;
  // A name openssl cannot take is never written, so it must not regenerate at every start either.
  if (!generatedDnsNames('localhost', domain).includes(domain.toLowerCase())) return false;
  const leaf = new X509Certificate(certificate.cert);
  if (namesOf(leaf).some((name) => name.toLowerCase() === domain.toLowerCase())) return false;
  await regenerate(dir, domain);
  log.info({ dir, domain }, 'generated the TLS certificate again for the local domain');
  return true;
}

/** Drops an imported certificate: a new self-signed one (with the local domain when given) is generated and used. */
export async function revertToGenerated(dir: string, trustedCas = '', domain?: string): Promise<CertificateInfo> {
  await regenerate(dir, domain);
  return currentCertificate(dir, trustedCas);
}

async function regenerate(dir: string, domain: string | undefined): Promise<void> {
  const files = certificateFiles(dir);
  // Generated beside the folder's files and renamed over them, so the signaling service and
  // the HTTPS listener never find the pair missing (and never generate one of their own).
  const staging = path.join(dir, `.generated-${process.pid}-${Date.now()}`);
  try {
    await ensureCertificate(staging, domain ? { domain } : {});
    const fresh = certificateFiles(staging);
    rmSync(path.join(dir, IMPORT_MARKER), { force: true });
    renameSync(fresh.keyFile, files.keyFile);
    renameSync(fresh.certFile, files.certFile);
  } catch (error) {
    throw error instanceof VcboxError ? error : createError('VCBOX_ERR_CERT_STORE', { dir, reason: (error as Error).message }, error);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
