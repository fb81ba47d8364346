/**
 * HTTPS and the box's certificate, from an administrator's and a browser's side, on the real
 * appliance (the run command): HTTPS turned on in the settings serves the console with the
 * generated certificate on the port asked for, browser pages opened over HTTP are sent there
 * (callers outside the static NAT to the NAT's mapped port, web.httpNatPort),
 * the session cookie is Secure over HTTPS; an in-house CA's certificate (openssl: root →
 * intermediate → server) imported as PEM key + chain is then presented by HTTPS and by SIP over
 * TLS, verifiable with that CA; a wrong key, an expired certificate, a chain that does not link
 * and text that is no PEM are refused in words (English and Chinese) by their field and change
 * nothing; going back to a generated certificate works; HTTPS moves to another port and turns
 * off; an HTTP port the process configuration fixes (VCBOX_HTTP_PORT) stays, and the answer
 * says so.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { freePort, tcpFree } from '../helpers/ports.ts';
import { createTestCa } from '../helpers/test-ca.ts';

const box = await startAppliance();
t.teardown(() => box.interrupt(10_000));
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const ca = await createTestCa();

interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The certificate the server presented. */
  readonly certificate: X509Certificate;
}

/** A request over HTTPS that trusts only `ca` and checks the name `localhost`, as a browser told to trust that CA would. */
function httpsRequest(port: number, pathname: string, ca: string | Buffer, options: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: '127.0.0.1', port, path: pathname, method: options.method ?? 'GET', ca, servername: 'localhost', headers: options.headers, agent: false },
      (response) => {
        const peer = (response.socket as tls.TLSSocket).getPeerX509Certificate();
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => (peer ? resolve({ status: response.statusCode ?? 0, headers: response.headers, body, certificate: peer }) : reject(new Error('no peer certificate'))));
      },
    );
    request.setTimeout(5000, () => request.destroy(new Error('HTTPS request timed out')));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The certificate the SIP TLS listener presents, checked against `ca` for `localhost`. */
function sipTlsCertificate(port: number, ca: string | Buffer): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (peer) resolve(peer);
      else reject(new Error('no peer certificate'));
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS connection timed out')));
    socket.on('error', reject);
  });
}

const generated = readFileSync(path.join(box.dataDir, 'certificates', 'server.crt'));
let httpsPort = await freePort();

t.test('HTTPS on: the console over HTTPS with the generated certificate; HTTP browser pages sent there', async (t) => {
  const current = await admin.call('GET', '/api/v1/settings/certificate');
  t.match(current.body, { source: 'generated', selfSigned: true, chainLength: 1 });
  t.ok(current.body.names.includes('localhost') && current.body.names.includes('127.0.0.1'), `good for localhost and 127.0.0.1 (${current.body.names.join(', ')})`);
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'web.httpsEnabled': true, 'web.httpsPort': httpsPort });
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.match(answer.body.live.web, { http: { port: box.httpPort }, https: { enabled: true, port: httpsPort } });
  t.match(answer.body.message, new RegExp(`answers over HTTPS on port ${httpsPort}`));

  const page = await httpsRequest(httpsPort, '/', generated);
  t.equal(page.status, 200);
  t.match(page.body, /<title>vcbox<\/title>/, 'the console over HTTPS');
  t.equal(page.certificate.fingerprint256, new X509Certificate(generated).fingerprint256, 'with the generated certificate');

  const redirected = await fetch(`${box.baseUrl}/join/?m=123`, { redirect: 'manual' });
  t.equal(redirected.status, 308, 'a browser page over HTTP is sent to HTTPS');
  t.equal(redirected.headers.get('location'), `https://127.0.0.1:${httpsPort}/join/?m=123`);
  t.equal((await fetch(`${box.baseUrl}/`, { redirect: 'manual' })).status, 308, 'the console too');
  t.equal((await fetch(`${box.baseUrl}/api/v1/health`)).status, 200, 'the API keeps answering over HTTP');
  // A caller outside the static NAT (here: loopback is not among the local networks) is sent
  // to the port the NAT maps to HTTPS (web.httpNatPort), as the manual has it.
  await admin.call('PATCH', '/api/v1/settings', { 'nat.enabled': true, 'nat.publicIp': '203.0.113.5', 'nat.localNetworks': '10.0.0.0/8', 'web.httpNatPort': 8443 });
  t.equal((await fetch(`${box.baseUrl}/`, { redirect: 'manual' })).headers.get('location'), 'https://127.0.0.1:8443/', 'outside the NAT: the mapped port');
  await admin.call('PATCH', '/api/v1/settings', { 'nat.enabled': false });

  const initial = readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
  const login = await httpsRequest(httpsPort, '/api/v1/session', generated, { method: 'POST', body: JSON.stringify({ username: 'admin', password: initial }), headers: { 'content-type': 'application/json' } });
  t.equal(login.status, 200);
  t.match(String(login.headers['set-cookie']), /vcbox_session=[^;]+;.*Secure/i, 'the session cookie is Secure over HTTPS');
});

t.test('bad imports are refused in words by their field, and nothing changes', async (t) => {
  const good = await ca.issue('vcbox-test-box');
  const expired = await ca.issue('expired-box', { start: '20200101000000Z', end: '20210101000000Z' });
  const before = (await admin.call('GET', '/api/v1/settings/certificate')).body.fingerprint256;
  const cases = [
    { what: 'a key of another certificate', body: { key: await ca.strayKey(), chain: good.cert + ca.intermediateCert }, code: 'VCBOX_ERR_CERT_KEY_MISMATCH', field: 'key', message: /does not belong to any of the certificates given \(vcbox-test-box/ },
    { what: 'an expired certificate', body: { key: expired.key, chain: expired.cert + ca.intermediateCert }, code: 'VCBOX_ERR_CERT_VALIDITY', field: 'chain', message: /"expired-box" is valid from 2020-01-01.* it is expired/ },
    { what: 'a chain that does not link', body: { key: good.key, chain: good.cert + ca.rootCert }, code: 'VCBOX_ERR_CERT_CHAIN', field: 'chain', message: /"vcbox Test Root CA" does not sign "vcbox-test-box"/ },
    { what: 'no PEM at all', body: { key: good.key, chain: 'certificate.crt' }, code: 'VCBOX_ERR_CERT_CHAIN', field: 'chain', message: /no PEM certificate was found/ },
    { what: 'the certificate pasted as the key', body: { key: good.cert, chain: good.cert }, code: 'VCBOX_ERR_CERT_KEY', field: 'key', message: /this is a certificate, not a private key/ },
  ];
  for (const bad of cases) {
    const refused = await admin.call('POST', '/api/v1/settings/certificate', bad.body);
    t.equal(refused.status, 400, bad.what);
    t.match(refused.body, { code: bad.code, field: bad.field, message: bad.message }, bad.what);
    t.match(refused.body.message, /Nothing was changed\./, `${bad.what}: says nothing changed`);
  }
  const inChinese = await fetch(`${box.baseUrl}/api/v1/settings/certificate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-language': 'zh-CN', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken },
    body: JSON.stringify({ key: expired.key, chain: expired.cert }),
  });
  t.match(await inChinese.json(), { code: 'VCBOX_ERR_CERT_VALIDITY', message: /有效期为.*已过期/ }, 'in Chinese for a Chinese console');
  t.equal((await admin.call('GET', '/api/v1/settings/certificate')).body.fingerprint256, before, 'the certificate in use is the same');
  t.equal((await httpsRequest(httpsPort, '/api/v1/health', generated)).status, 200, 'HTTPS still presents the generated one');
});

t.test('an imported certificate: HTTPS and SIP over TLS present it, verifiable with the in-house CA', async (t) => {
  const issued = await ca.issue('vcbox-test-box');
  // Pasted intermediate first: the box puts the server certificate first.
  const imported = await admin.call('POST', '/api/v1/settings/certificate', { key: issued.key, chain: `${ca.intermediateCert}\n${issued.cert}` });
  t.equal(imported.status, 200, JSON.stringify(imported.body));
  t.match(imported.body, {
    certificate: { subject: 'CN=vcbox-test-box', issuer: /CN=vcbox Test Intermediate CA/, source: 'imported', importedBy: 'admin', selfSigned: false, chainLength: 2, trustedIssuer: false },
    inUse: { https: 'in use', sipTls: 'in use' },
    message: /HTTPS and SIP over TLS use it for new connections now.*browsers and terminals must be told to trust that CA/,
  });
  const expected = new X509Certificate(issued.cert).fingerprint256;
  const page = await httpsRequest(httpsPort, '/api/v1/health', ca.rootCert);
  t.equal(page.status, 200, 'HTTPS verifies with the in-house root CA');
  t.equal(page.certificate.fingerprint256, expected, 'presenting the imported certificate');
  await t.rejects(httpsRequest(httpsPort, '/api/v1/health', generated), /self[- ]signed|unable to (get|verify)/i, 'the generated certificate is no longer presented');
  const sip = await sipTlsCertificate(box.sipTlsPort, ca.rootCert);
  t.equal(sip.fingerprint256, expected, 'SIP over TLS presents it too');
  const audit = await admin.call('GET', '/api/v1/audit?period=all');
  t.match(JSON.stringify(audit.body), /certificate\.import[^}]*vcbox-test-box/, 'the import is in the operation log');

  // Trusting the in-house root (tls.trustedCertificates) makes the box report it as trusted.
  await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': ca.rootCert });
  t.match((await admin.call('GET', '/api/v1/settings/certificate')).body, { trustedIssuer: true });
});

t.test('back to a generated certificate', async (t) => {
  const reverted = await admin.call('DELETE', '/api/v1/settings/certificate');
  t.equal(reverted.status, 200);
  t.match(reverted.body, { certificate: { source: 'generated', selfSigned: true }, inUse: { https: 'in use', sipTls: 'in use' } });
  const fresh = readFileSync(path.join(box.dataDir, 'certificates', 'server.crt'));
  t.equal((await httpsRequest(httpsPort, '/api/v1/health', fresh)).certificate.fingerprint256, new X509Certificate(fresh).fingerprint256, 'HTTPS presents the new generated one');
  await t.rejects(httpsRequest(httpsPort, '/api/v1/health', ca.rootCert), 'the imported one is gone');
});

t.test('HTTPS moves to another port, then turns off', async (t) => {
  const fresh = readFileSync(path.join(box.dataDir, 'certificates', 'server.crt'));
  const previous = httpsPort;
  httpsPort = await freePort();
  const moved = await admin.call('PATCH', '/api/v1/settings', { 'web.httpsPort': httpsPort });
  t.match(moved.body.live.web, { https: { port: httpsPort } });
  t.equal((await httpsRequest(httpsPort, '/api/v1/health', fresh)).status, 200, 'HTTPS on the new port');
  t.ok(await tcpFree(previous), `the former HTTPS port ${previous} is let go`);
  const off = await admin.call('PATCH', '/api/v1/settings', { 'web.httpsEnabled': false });
  t.match(off.body, { live: { web: { https: { enabled: false, port: null } } }, message: /HTTPS is off/ });
  t.ok(await tcpFree(httpsPort), 'nothing listens on the HTTPS port');
  t.equal((await fetch(`${box.baseUrl}/`, { redirect: 'manual' })).status, 200, 'HTTP serves the console itself again');
});

t.test('the HTTP port fixed by the process configuration stays, and the answer says why', async (t) => {
  const stored = await freePort();
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'web.httpPort': stored });
  t.equal(answer.status, 200);
  t.match(answer.body.live.web, { http: { port: box.httpPort, stored, pinnedBy: /VCBOX_HTTP_PORT/ } });
  t.match(answer.body.message, new RegExp(`The HTTP port stays ${box.httpPort} for this run: VCBOX_HTTP_PORT .* fixes it; the stored ${stored} applies when the box runs without that`));
  t.ok(await tcpFree(stored), 'nothing listens on the stored port');
});
