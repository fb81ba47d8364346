/**
 * BFCP over TLS (TCP/TLS/BFCP, for terminals on SIP over TLS) with the box's own certificate
 * (server/tls, generated self-signed here): libre's client over libre's TLS verifies it
 * against that certificate and gets the floor; a client trusting another certificate sees the
 * check fail; a plain TCP client at the TLS port is dropped while the holder keeps the floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FloorControlServer } from '../../server/bfcp/floor-control-server.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
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
