/**
 * The generated certificate carries the box's local domain (network.localDomain), host.domain
 * and the host name as DNS names — terminals such as linphone verify a DNS name and ignore IP
 * entries — and is generated again at start when the domain changed (an imported one is left
 * alone). Read back with node:crypto's X509Certificate; a TLS client that trusts the
 * certificate verifies the server by the domain name over a real loopback connection.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { followLocalDomain } from '../../server/tls/box-certificate.ts';
import { certificateFiles, ensureCertificate } from '../../server/tls/self-signed-certificate.ts';

const dnsNames = (file: string) =>
  (new X509Certificate(readFileSync(file)).subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-cert-names-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'certificates');
}

const host = os.hostname().toLowerCase();

t.test('a generated certificate names the local domain, host.domain and the host name', async (t) => {
  const dir = tempDir(t);
  await ensureCertificate(dir, { domain: 'corp.example' });
  const names = dnsNames(certificateFiles(dir).certFile);
  t.ok(names.includes('corp.example'), `the local domain (${names.join(', ')})`);
  t.ok(names.includes(host), 'the host name');
  if (!host.includes('.')) t.ok(names.includes(`${host}.corp.example`), 'host.domain');
  t.match(new X509Certificate(readFileSync(certificateFiles(dir).certFile)).subjectAltName, /IP Address:127\.0\.0\.1/, 'loopback stays');

  // A client that trusts the certificate and connects by the domain name accepts the server.
  const files = certificateFiles(dir);
  const server = tls.createServer({ key: readFileSync(files.keyFile), cert: readFileSync(files.certFile) }, (socket) => socket.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const verify = (servername: string) =>
    new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: readFileSync(files.certFile) }, () => resolve('verified'));
      socket.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
      socket.on('data', () => socket.end());
    });
  t.equal(await verify('corp.example'), 'verified', 'a TLS client verifying "corp.example" accepts it');
  t.equal(await verify('elsewhere.example'), 'ERR_TLS_CERT_ALTNAME_INVALID', 'and one verifying another name does not');
});

t.test('at start a generated certificate follows a changed local domain; an imported one is left alone', async (t) => {
  const dir = tempDir(t);
  await ensureCertificate(dir, { domain: 'vcbox.local' });
  const before = new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256;
  t.equal(await followLocalDomain(dir, 'vcbox.local'), false, 'same domain: kept');
  t.equal(new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256, before, 'the same certificate');

  t.equal(await followLocalDomain(dir, 'branch.example'), true, 'a new domain: generated again');
  t.ok(dnsNames(certificateFiles(dir).certFile).includes('branch.example'), 'the new certificate names the new domain');
  t.notOk(dnsNames(certificateFiles(dir).certFile).includes('vcbox.local'), 'and no longer the old one');

  writeFileSync(path.join(dir, 'imported.json'), '{"importedAt":"2026-01-01T00:00:00Z","importedBy":"admin"}\n');
  const imported = new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256;
  t.equal(await followLocalDomain(dir, 'third.example'), false, 'an imported certificate is not replaced');
  t.equal(new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256, imported, 'the same certificate');
});

t.test('a domain openssl could misread is not written into the certificate', async (t) => {
  const dir = tempDir(t);
  await ensureCertificate(dir, { domain: 'evil.example,DNS:attacker.example' });
  const names = dnsNames(certificateFiles(dir).certFile);
  t.notOk(names.some((n) => n.includes('attacker')), `no injected name (${names.join(', ')})`);
  const before = new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256;
  t.equal(await followLocalDomain(dir, 'evil.example,DNS:attacker.example'), false, 'and start does not generate again for it');
  t.equal(new X509Certificate(readFileSync(certificateFiles(dir).certFile)).fingerprint256, before, 'the same certificate');
});
