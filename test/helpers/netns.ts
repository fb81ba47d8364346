/**
 * A network namespace the test creates (root only): a veth pair joins it to this namespace,
 * `hostAddress` on this side, `address` on the other, a default route back through the pair
 * (so programs that want a real interface and a route — baresip — are content). Deleted at
 * teardown (its end of the pair, and so the pair, with it). Returns undefined where namespaces
 * cannot be made or entered (no root; a chroot, where `ip netns exec` cannot remount /).
 */
import { execFileSync } from 'node:child_process';

export interface TestNamespace {
  readonly name: string;
  /** This side of the pair (the box, reached from inside). */
  readonly hostAddress: string;
  /** The namespace's side. */
  readonly address: string;
  /** A command line that runs `command` inside the namespace. */
  exec(command: string, args: string[]): [string, string[]];
}

let created = 0;

export function createNamespace(t: { teardown(fn: () => unknown): void }, tag: string): TestNamespace | undefined {
  const index = created++;
  const name = `vcbox-${tag}-${process.pid}-${index}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
  try {
    ip('netns', 'add', name);
  } catch {
    return undefined;
  }
  t.teardown(() => {
    try {
      ip('netns', 'del', name);
    } catch {}
  });
  // Interface names: at most 15 characters; the subnet from the pid and a per-process counter.
  const id = `${(process.pid % 10_000).toString(36)}${index}`;
  const [host, peer] = [`v${tag.slice(0, 3)}${id}h`, `v${tag.slice(0, 3)}${id}n`];
  const subnet = `10.${200 + (index % 50)}.${process.pid % 250}`;
  const hostAddress = `${subnet}.1`;
  const address = `${subnet}.2`;
  try {
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', name);
    ip('addr', 'add', `${hostAddress}/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${address}/24`, 'dev', peer);
    ip('netns', 'exec', name, 'ip', 'link', 'set', peer, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', name, 'ip', 'route', 'add', 'default', 'via', hostAddress);
  } catch {
    try {
      ip('link', 'del', host); // a pair that never moved; the teardown deletes the namespace
    } catch {}
    return undefined;
  }
  return { name, hostAddress, address, exec: (command, args) => ['ip', ['netns', 'exec', name, command, ...args]] };
}
