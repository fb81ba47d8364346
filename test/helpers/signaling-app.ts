/**
 * A signaling service on loopback with one real drachtio-srf application connected to it: the
 * set-up of the signaling tests that watch what the service does in front of an application
 * (overload, methods no application takes). `routes` registers the application's handlers
 * before it connects; srf's typings omit its per-verb methods but invite, so `on` takes any verb.
 * The application port's secret is returned for tests that connect a second, raw application.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Srf from 'drachtio-srf';
import { SignalingService, type SignalingServiceOptions } from '../../server/signaling/signaling-service.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { freePort } from './ports.ts';

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

export async function signalingWithApp(
  t: { teardown(fn: () => unknown): void },
  options: Partial<SignalingServiceOptions>,
  routes: (on: (verb: string, handler: Handler) => void) => void,
): Promise<{ service: SignalingService; port: number; secret: string; disconnect: () => void }> {
  const secret = randomBytes(8).toString('hex');
  const port = await freePort();
  const service = new SignalingService({
    host: '127.0.0.1',
    port,
    tlsPort: await freePort(),
    tls: await ensureCertificate(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-signaling-app-')), 'certs')),
    application: { host: '127.0.0.1', port: 0, secret },
    ...options,
  });
  await service.start();
  t.teardown(() => service.close());
  const srf = new Srf();
  // drachtio-srf asserts on a second disconnect: the test may end the application itself.
  let connected = true;
  const disconnect = (): void => {
    if (connected) srf.disconnect();
    connected = false;
  };
  t.teardown(disconnect);
  routes((verb, handler) => (srf as unknown as Record<string, (handler: Handler) => void>)[verb]?.call(srf, handler));
  await new Promise<void>((resolve) => {
    srf.on('connect', () => resolve());
    srf.connect({ host: '127.0.0.1', port: service.applicationPort ?? 0, secret });
  });
  return { service, port, secret, disconnect };
}
