/**
 * The whole appliance from its run command, ready for tests of live calls across restarts: the
 * console's administrator logged in, terminal qualifying off, one VMR made — and what those tests
 * read of the box (process ids from its output, take-overs it logged, who is in the room, call
 * records by caller).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type RunningAppliance, startAppliance } from './appliance.ts';
import { ConsoleClient } from './console-client.ts';
import { waitFor } from './meeting-terminal.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
type Json = any;

export interface ApplianceRoom {
  readonly box: RunningAppliance;
  readonly admin: ConsoleClient;
  /** Every pid the supervisor started for the process `name`, in order. */
  pidsOf(name: string): number[];
  /** How many calls each take-over after a restart resumed, in order. */
  takeovers(): number[];
  /** The display names in the room's live meeting, sorted. */
  participants(): Promise<string[]>;
  /** The call records of these callers. */
  recordsOf(...callers: string[]): Promise<Json[]>;
  /**
   * A new control plane started (the supervisor's start number `started` + 1), took the calls
   * over (take-over number `passes` + 1) and its console answers: how many calls it took over.
   */
  newControlPlaneTookOver(started: number, passes: number): Promise<number | undefined>;
}

export async function applianceWithRoom(t: { teardown(fn: () => unknown): void }, room: { number: string; name: string; hostPin: string }, interruptMs = 10_000): Promise<ApplianceRoom> {
  const box = await startAppliance();
  t.teardown(() => box.interrupt(interruptMs));
  const admin = new ConsoleClient(box.baseUrl);
  await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
  const set = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0 });
  if (set.status !== 200) throw new Error(`settings: ${set.status} ${JSON.stringify(set.body)}`);
  const vmr = await admin.call('POST', '/api/v1/vmrs', { name: room.name, number: room.number, guestPin: '', hostPin: room.hostPin });
  if (vmr.status !== 201) throw new Error(`VMR: ${vmr.status} ${JSON.stringify(vmr.body)}`);
  const pidsOf = (name: string) => [...box.output().matchAll(new RegExp(`"name":"${name}","pid":(\\d+),"msg":"process started"`, 'g'))].map((m) => Number(m[1]));
  const takeovers = () => [...box.output().matchAll(/"resumed":(\d+).*?"msg":"calls taken over after a restart"/g)].map((m) => Number(m[1]));
  return {
    box,
    admin,
    pidsOf,
    takeovers,
    newControlPlaneTookOver: async (started, passes) => {
      await waitFor('a new control plane', 30_000, () => pidsOf('control-plane').length > started);
      await waitFor('the new control plane to take the calls over', 60_000, () => takeovers().length > passes);
      await waitFor('the console', 30_000, () => admin.call('GET', '/api/v1/health').then((r) => r.status === 200, () => false));
      return takeovers().at(-1);
    },
    participants: async () =>
      ((await admin.call('GET', '/api/v1/live-meetings')).body as Json[]).find((m) => m.number === room.number)?.participants.map((p: Json) => p.displayName).sort() ?? [],
    recordsOf: async (...callers) => ((await admin.call('GET', '/api/v1/call-records?period=all&pageSize=500')).body.items as Json[]).filter((r) => callers.includes(r.caller)),
  };
}
