/**
 * The sshd drop-in (/etc/ssh/sshd_config.d/vcbox.conf, included by Debian's sshd_config before
 * its own options) from the settings `ssh.enabled` and `ssh.port`. "Off" is rendered as sshd
 * listening on loopback only, so the file alone already keeps SSH off the network; on an
 * installed appliance the ssh service is also stopped and disabled (./system-configurator.ts).
 */
import type { Settings } from '../settings/settings-schema.ts';
import { OWNED_FILES, type RenderedFile } from './system-files.ts';

export function renderSshd(settings: Settings): RenderedFile[] {
  const lines = [
    '# SSH of the vcbox appliance, written from its settings (ssh.enabled, ssh.port).',
    '# Change it in the console: vcbox rewrites this file on every change.',
    `Port ${settings['ssh.port']}`,
  ];
  if (!settings['ssh.enabled']) {
    lines.push('# SSH is off: reachable from the box itself only (the appliance also stops the ssh service).', 'ListenAddress 127.0.0.1');
  }
  return [{ file: OWNED_FILES.sshd, content: `${lines.join('\n')}\n` }];
}
