/**
 * The TURN relay's safety, as a TURN client sees it (test/helpers/turn-client.ts against a
 * real coturn run by the TURN service from the box's settings): credentials are the ones the
 * box wrote into the relay's user database for one browser — a wrong password and a withdrawn
 * name are refused (401) —, the realm is the box's local domain, and an allocation may only
 * ever reach the box's own media address: a permission for any other address (the LAN behind
 * the box, the internet) is forbidden (403).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { openState } from '../../server/process/open-state.ts';
import { loadConfig } from '../../server/core/config.ts';
import { stunProbe } from '../../server/turn/stun-probe.ts';
import { TurnGuestKeys, turnUserDb } from '../../server/turn/turn-guest-keys.ts';
import { TurnService } from '../../server/turn/turn-service.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { TurnClient } from '../helpers/turn-client.ts';

const port = await freePort();
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-turn-relay-'));
const { db, settings } = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
t.teardown(() => db.close());
settings.update({ 'turn.port': port, 'media.turnPorts': { min: 38000, max: 39999 }, 'network.localDomain': 'relay.test' }, { actor: 'test' });
const keys = new TurnGuestKeys(turnUserDb(path.join(dataDir, 'run')));
const turn = new TurnService({ settings, process: { listenIp: '127.0.0.1', mediaAddress: '127.0.0.1', runDir: path.join(dataDir, 'run') }, pollMs: 200 }).start();
t.teardown(async () => {
  await turn.close();
  keys.close();
});
await waitFor('the relay to answer STUN', 10_000, () => stunProbe('127.0.0.1', port, 300).then(() => true, () => false));

const client = (t: Test) => {
  const c = new TurnClient('127.0.0.1', port);
  t.teardown(() => c.close());
  return c;
};

t.test("credentials: the box's per-browser key is accepted, a wrong password and a withdrawn name are not", async (t) => {
  const good = keys.grant('participant-1', 'relay.test');
  const accepted = client(t);
  t.match(await accepted.allocate(good.username, good.credential), { ok: true }, 'a fresh credential allocates a relay');
  t.equal(accepted.realm, 'relay.test', "the realm is the box's local domain");
  t.match(await client(t).allocate(good.username, 'not-the-password'), { ok: false, code: 401 }, 'a wrong password is refused');
  const withdrawn = keys.grant('participant-2', 'relay.test');
  keys.revoke(withdrawn.username);
  t.match(await client(t).allocate(withdrawn.username, withdrawn.credential), { ok: false, code: 401 }, 'a withdrawn credential is refused');
});

t.test("an allocation reaches only the box's media address", async (t) => {
  const c = client(t);
  const { username, credential } = keys.grant('participant-3', 'relay.test');
  t.match(await c.allocate(username, credential), { ok: true });
  t.match(await c.permit('127.0.0.1'), { ok: true }, 'the media address is allowed');
  t.match(await c.permit('192.168.1.10'), { ok: false, code: 403 }, 'a LAN host behind the box is forbidden');
  t.match(await c.permit('8.8.8.8'), { ok: false, code: 403 }, 'an internet host is forbidden');
});
