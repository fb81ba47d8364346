/**
 * The operating system's side of the settings (spec "Network & services": NICs and static
 * routes, SSH, time): after a change, the files of each part that changed are rendered from
 * the stored settings under the configured system root (./system-files.ts), and applied —
 * networkd reloaded, sshd restarted, the time zone set — only on an installed appliance:
 * system root `/` AND the configuration's appliance flag. Anywhere else (a developer's or a
 * test machine) nothing is ever run; without a root nothing is written either. The answer says
 * which files were written where and whether they were applied, so the settings API can tell
 * the administrator. Rendering is whole and idempotent: every change rewrites all files of its
 * part from all its settings.
 */
import { execFile } from 'node:child_process';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { type SystemTarget, settingEffect } from '../settings/setting-effects.ts';
import type { SettingKey, Settings } from '../settings/settings-schema.ts';
import { renderNetworkd } from './networkd-render.ts';
import { renderSshd } from './sshd-render.ts';
import { type RenderedFile, SystemFiles } from './system-files.ts';
import { renderTime, settingsZone } from './timesyncd-render.ts';

const log = getLogger('system-configurator');

/** Runs one command (no shell); rejects with what went wrong. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<void>;

export interface SystemConfiguratorOptions {
  /** Folder the system files go under; undefined = write nothing (config `system.root`). */
  readonly root?: string | undefined;
  /** This is an installed appliance (config `system.appliance`). */
  readonly appliance: boolean;
  /** How commands are run; the default runs them with execFile. */
  readonly run?: CommandRunner;
}

/** What a settings change did to the operating system's configuration. */
export interface SystemChange {
  /** The parts whose settings changed. */
  readonly targets: SystemTarget[];
  /** The system root the files were written under (null: none configured, nothing written). */
  readonly root: string | null;
  /** Each rendered file: its path on the box, where it was written, and whether its content changed. */
  readonly files: { readonly file: string; readonly path: string; readonly changed: boolean }[];
  /** Whether the change was applied to the running system (only on an installed appliance; parts whose files did not change need nothing). */
  readonly applied: boolean;
  /** The commands run to apply it (empty when not applied). */
  readonly commands: string[];
  /** For the administrator: what happened, and why not applied when it was not. */
  readonly note: string;
}

const RENDERERS: Record<SystemTarget, (settings: Settings) => RenderedFile[]> = {
  network: renderNetworkd,
  ssh: renderSshd,
  time: renderTime,
};

/** Whether rendered files are applied: only on an installed appliance writing the real system. */
export function appliesToSystem(root: string | undefined, appliance: boolean): boolean {
  return appliance && root === '/';
}

/** The commands that make the running system take up a part's rendered files. */
export function applyCommands(target: SystemTarget, settings: Settings): [string, ...string[]][] {
  switch (target) {
    case 'network':
      // networkd reconfigures the links whose .network file changed; SIP and media listen on
      // and announce the box's addresses, so they restart with the new ones (the spec's
      // "this restarts the conferencing service").
      return [
        ['networkctl', 'reload'],
        ['systemctl', 'restart', 'vcbox-signaling.service', 'vcbox-media.service'],
      ];
    case 'ssh':
      return settings['ssh.enabled']
        ? [
            ['systemctl', 'enable', 'ssh.service'],
            ['systemctl', 'restart', 'ssh.service'],
          ]
        : [['systemctl', 'disable', '--now', 'ssh.service']];
    case 'time':
      return [
        ['timedatectl', 'set-timezone', settingsZone(settings)],
        ['timedatectl', 'set-ntp', settings['time.mode'] === 'sntp' ? 'true' : 'false'],
        ...(settings['time.mode'] === 'sntp' ? [['systemctl', 'restart', 'systemd-timesyncd.service'] as [string, ...string[]]] : []),
      ];
  }
}

const runWithExecFile: CommandRunner = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${error.message.split('\n')[0]}${stderr ? `: ${stderr.trim()}` : ''}`));
      else resolve();
    });
  });

export class SystemConfigurator {
  readonly #files: SystemFiles | undefined;
  readonly #apply: boolean;
  readonly #run: CommandRunner;

  constructor(options: SystemConfiguratorOptions) {
    this.#files = options.root === undefined ? undefined : new SystemFiles(options.root);
    this.#apply = appliesToSystem(options.root, options.appliance);
    this.#run = options.run ?? runWithExecFile;
  }

  /** The parts of the system that the changed settings belong to. */
  static targetsOf(changed: readonly SettingKey[]): SystemTarget[] {
    const targets = new Set<SystemTarget>();
    for (const key of changed) {
      const effect = settingEffect(key);
      if (effect.applies === 'system') targets.add(effect.target);
    }
    return [...targets];
  }

  /**
   * Renders (and on an appliance applies) the parts `changed` touches, from `settings` — the
   * stored settings after the change. Undefined when no changed key is a system setting.
   * Throws VCBOX_ERR_SYSTEM_RENDER or VCBOX_ERR_SYSTEM_APPLY.
   */
  async settingsChanged(changed: readonly SettingKey[], settings: Settings): Promise<SystemChange | undefined> {
    const targets = SystemConfigurator.targetsOf(changed);
    if (targets.length === 0) return undefined;
    if (!this.#files) {
      return {
        targets,
        root: null,
        files: [],
        applied: false,
        commands: [],
        note: 'Saved only: this box has no system root configured (VCBOX_SYSTEM_ROOT), so no system file was written.',
      };
    }
    const files = this.#files;
    const written: { target: SystemTarget; file: string; path: string; changed: boolean }[] = [];
    for (const target of targets) {
      for (const rendered of RENDERERS[target](settings)) written.push({ target, file: rendered.file, path: files.pathOf(rendered.file), changed: files.write(rendered) });
    }
    log.info({ targets, root: files.root, changed: written.filter((f) => f.changed).map((f) => f.file) }, 'system files rendered');
    if (!this.#apply) {
      return {
        targets,
        root: files.root,
        files: written.map(({ target: _, ...file }) => file),
        applied: false,
        commands: [],
        note: `Written under ${files.root}; not applied: only an installed appliance (system root / and the appliance flag) applies system files.`,
      };
    }
    // A part whose files came out as they were is not disturbed (e.g. a DNS server changed
    // while its NIC uses DHCP: no restart of the conferencing service for nothing).
    const commands: string[] = [];
    for (const target of targets.filter((t) => written.some((file) => file.target === t && file.changed))) {
      for (const [command, ...args] of applyCommands(target, settings)) {
        const line = [command, ...args].join(' ');
        try {
          await this.#run(command, args);
        } catch (error) {
          log.error({ command: line, err: (error as Error).message }, 'applying system files failed');
          throw createError('VCBOX_ERR_SYSTEM_APPLY', { files: written.map((f) => f.file).join(', '), command: line, reason: (error as Error).message }, error);
        }
        commands.push(line);
      }
    }
    log.info({ targets, commands }, 'system configuration applied');
    return {
      targets,
      root: files.root,
      files: written.map(({ target: _, ...file }) => file),
      applied: true,
      commands,
      note: commands.length > 0 ? 'Written and applied.' : 'The system files already said this; nothing to apply.',
    };
  }
}
