/**
 * The shared secret SIP applications authenticate with at the signaling service's
 * application port (`<dataDir>/secrets/signaling.secret`, see server/process/shared-secret.ts).
 */
import { sharedSecret } from '../process/shared-secret.ts';

export function applicationSecret(secretsDir: string): string {
  return sharedSecret(secretsDir, 'signaling');
}
