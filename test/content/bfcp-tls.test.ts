/**
 * BFCP over TLS (TCP/TLS/BFCP, for terminals on SIP over TLS) with the box's own certificate
 * (server/tls, generated self-signed here): libre's client over libre's TLS verifies it
 * against that certificate and gets the floor; a client trusting another certificate sees the
 * check fail; a plain TCP client at the TLS port is dropped while the holder keeps the floor.
 * The meetings' TLS listener follows the certificate folder: once an import replaces the files,
 * new clients verify the box against the new certificate (not the old), and a connection made
 * before goes on; garbage written in its place is refused and the last good one stays in use.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { FloorControlServer } from '../../server/bfcp/floor-control-server.ts';
import { MeetingFloors } from '../../server/bfcp/meeting-floors.ts';
import { certificateFiles, ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { BfcpClient, overallStatus } from '../helpers/bfcp-client.ts';

const CONF = 31;
const FLOOR = 1;

t.test('TLS with the box certificate', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-bfcp-tls-'));
  const other = mkdtempSync(path.join(os.tmpdir(), 'vcbox-bfcp-tls-other-'));
  const certificate = await ensureCertificate(path.join(dir, 'certificates'));
  const stranger = await ensureCertificate(path.join(other, 'certificates'));
  const server = new FloorControlServer();
  server.addConference(CONF, { floorId: FLOOR });
  for (const user of [1, 2, 3]) server.addUser(CONF, user);
  const listener = await server.listen({ transport: 'tls', host: '127.0.0.1', port: 0, credentials: { key: certificate.key, cert: certificate.cert } });
  const clients: BfcpClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });
  const start = async (userId: number, transport: 'tls' | 'tcp', ca?: string) => {
    const c = await BfcpClient.start({ transport, port: listener.port, conferenceId: CONF, userId, floorId: FLOOR, ...(ca ? { ca } : {}) });
    clients.push(c);
    return c;
  };

  const holder = await start(1, 'tls', certificate.certFile);
  const connected = await holder.waitFor((e) => e.event === 'connected', 'connected');
  t.equal(connected.tls, true);
  t.equal(connected.verified, true, 'the box certificate verifies against itself as CA');
  const hello = await holder.request('hello', 'Hello');
  t.equal(hello.prim, 'HelloAck');
  t.equal(hello.ver, 1, 'version 1 over TLS');
  const granted = holder.nextNotification((e) => overallStatus(e) === 'Granted', 'Granted');
  await holder.request('request', 'FloorRequest');
  await granted;
  t.equal(server.presenter(CONF), 1);

  const fooled = await start(2, 'tls', stranger.certFile);
  const fooledConnected = await fooled.waitFor((e) => e.event === 'connected' || e.event === 'closed', 'connected or closed');
  t.not(fooledConnected.verified, true, 'a client trusting another certificate does not verify the box');

  const plain = await start(3, 'tcp');
  plain.send('hello');
  const closed = await plain.waitFor((e) => e.event === 'closed' || e.event === 'response', 'closed');
  t.equal(closed.event, 'closed', 'plain BFCP at the TLS port is dropped, unanswered');

  const query = await holder.request('reqquery 1', 'FloorRequestQuery');
  t.equal(overallStatus(query), 'Granted', 'the holder keeps the floor');
});

t.test('the TLS listener follows the box certificate file: a replaced certificate is presented to new clients', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-bfcp-follow-'));
  const certificates = path.join(dir, 'certificates');
  const first = await ensureCertificate(certificates);
  const next = await ensureCertificate(path.join(dir, 'next'));
  const floors = await MeetingFloors.start({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, tlsPort: 0, certificates, certificatePollMs: 100 });
  const clients: BfcpClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await floors.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = floors.ports.tls ?? 0;
  t.ok(port > 0, `a TLS listener on ${port}`);
  const ids = floors.reserve('880198', 'first');
  floors.admit('880198', 'first');
  const connect = async (userId: number, ca: string) => {
    const client = await BfcpClient.start({ transport: 'tls', port, conferenceId: ids.conferenceId, userId, floorId: ids.floorId, ca });
    clients.push(client);
    return { client, connected: await client.waitFor((e) => e.event === 'connected' || e.event === 'closed', 'connected') };
  };

  const before = await connect(ids.userId, first.certFile);
  t.equal(before.connected.verified, true, 'the listener presents the certificate in the folder');

  // An import: the key, then the certificate, each by rename (as server/tls/box-certificate.ts writes them).
  const files = certificateFiles(certificates);
  writeFileSync(`${files.keyFile}.tmp`, readFileSync(next.keyFile));
  renameSync(`${files.keyFile}.tmp`, files.keyFile);
  writeFileSync(`${files.certFile}.tmp`, readFileSync(next.certFile));
  renameSync(`${files.certFile}.tmp`, files.certFile);

  // What a new handshake presents (the fingerprint of the server certificate).
  const presented = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
    });
  const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  let now = '';
  for (let attempt = 0; attempt < 50 && now !== fingerprint(next.certFile); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    now = await presented();
  }
  t.equal(now, fingerprint(next.certFile), 'new handshakes present the replaced certificate');
  const after = await connect(ids.userId, next.certFile);
  t.equal(after.connected.verified, true, "and libre's client verifies the box against it");
  // A broken file in its place (an interrupted copy, garbage): the listener keeps the certificate it has.
  writeFileSync(`${files.certFile}.tmp`, 'not a certificate\n');
  renameSync(`${files.certFile}.tmp`, files.certFile);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.equal(await presented(), fingerprint(next.certFile), 'a garbage certificate file is refused: new handshakes keep the last good one');
  const hello = await before.client.request('hello', 'Hello');
  t.equal(hello.prim, 'HelloAck', 'the connection made before the change goes on');
});
