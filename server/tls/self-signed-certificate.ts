/**
 * The box's default TLS certificate (SIP over TLS on 5061, later HTTPS): generated once, on
 * first start, with Debian's openssl (EC P-256, ten years; subject alternative names: the host
 * name, the box's local domain (`network.localDomain`) and host.domain as DNS names — terminals
 * such as linphone verify a DNS name and ignore IP entries — plus localhost and loopback), kept
 * under `<dataDir>/certificates`. An admin-imported
 * certificate (settings issue) replaces it; this module only makes sure one exists.
 * Generation writes to temporary names and renames, so a crash or two processes starting
 * together never leave a key without its certificate.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';

const log = getLogger('certificate');
const run = promisify(execFile);

export interface CertificateFiles {
  readonly keyFile: string;
  readonly certFile: string;
}

export interface Certificate extends CertificateFiles {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export function certificateFiles(dir: string): CertificateFiles {
  return { keyFile: path.join(dir, 'server.key'), certFile: path.join(dir, 'server.crt') };
}

/**
 * Identity of the certificate file in `dir` (inode, modification time, size; '' when absent):
 * it changes when an import or a restore replaces the file (written last, by rename), so a
 * listener that compares it now and then takes the new certificate.
 */
export function certificateStamp(dir: string): string {
  try {
    const stats = statSync(certificateFiles(dir).certFile);
    return `${stats.ino}:${stats.mtimeMs}:${stats.size}`;
  } catch {
    return '';
  }
}

/** A DNS name openssl's -addext can take as is (letters, digits, dots, hyphens; no commas). */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * The DNS names a generated certificate carries: the host name, the local domain and
 * host.domain (when the host name is a single label), and localhost — each once, lower-case.
 */
export function generatedDnsNames(host: string, domain?: string): string[] {
  const names = [host];
  if (domain) {
    names.push(domain);
    if (!host.includes('.')) names.push(`${host}.${domain}`);
  }
  names.push('localhost');
  return [...new Set(names.map((n) => n.toLowerCase()).filter((n) => DNS_NAME.test(n)))];
}

/** Returns the certificate in `dir`, generating a self-signed one (for `options.domain` too) when there is none. */
export async function ensureCertificate(dir: string, options: { domain?: string } = {}): Promise<Certificate> {
  const files = certificateFiles(dir);
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tag = `${process.pid}.${Date.now()}`;
    const tmpKey = `${files.keyFile}.${tag}.tmp`;
    const tmpCert = `${files.certFile}.${tag}.tmp`;
    const host = os.hostname();
    const dns = generatedDnsNames(host, options.domain);
    try {
      await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-days', '3650', '-subj', `/CN=${dns[0] ?? 'localhost'}/O=vcbox`,
        '-addext', `subjectAltName=${dns.map((name) => `DNS:${name}`).join(',')},IP:127.0.0.1,IP:::1`,
        '-keyout', tmpKey, '-out', tmpCert,
      ]);
      // Certificate last: its presence is what marks the pair complete.
      renameSync(tmpKey, files.keyFile);
      renameSync(tmpCert, files.certFile);
      log.info({ dir, names: dns }, 'generated a self-signed TLS certificate');
    } catch (error) {
      rmSync(tmpKey, { force: true });
      rmSync(tmpCert, { force: true });
      const reason = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      throw createError('VCBOX_ERR_CERTIFICATE', { dir, reason }, error);
    }
  }
  return { ...files, key: readFileSync(files.keyFile), cert: readFileSync(files.certFile) };
}
