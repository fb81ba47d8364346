/**
 * The control sockets between the box's processes (media: media/control; signaling:
 * server/signaling/signaling-control.ts) live in `<dataDir>/run`, readable by the box's user
 * only. Listening on one is the same everywhere: the folder made (0700), a stale socket file
 * of a previous run removed, the socket made 0600.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';

export function listenOnUnixSocket(server: net.Server, socketPath: string): Promise<void> {
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      chmodSync(socketPath, 0o600);
      resolve();
    });
  });
}
