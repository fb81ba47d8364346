/**
 * Rooms and VMRs over the API: a video room bound to an account shows the model of the
 * terminal that registered it (a real sipp registration to the real SIP side), the rules of
 * room types, VMR numbers and PINs (generated or set), searching, changing and deleting.
 */
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp } from '../helpers/sipp.ts';

const box = await startSipBox();
t.teardown(() => box.close());
box.app.accounts.create({ number: '7001', name: 'Board room terminal', password: 'secret-7001' }, box.realm);
await new AdminStore(box.db).create({ username: 'admin', password: 'admin-pw1', role: 'admin' });
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  devices: (account) => {
    const binding = box.app.location.lookup(account).at(-1);
    return binding ? { model: binding.model, version: binding.version } : undefined;
  },
  online: () => box.app.location.online(),
  keepDb: true,
});
const client = new ConsoleClient(base);
await client.login('admin', 'admin-pw1');

t.test('a video room shows its registered terminal; room rules are enforced', async (t) => {
  const registered = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${box.port}`,
    transport: 'u1',
    auth: ['7001', 'secret-7001'],
    keys: { account: '7001', contact_port: '5060', expires: '300', device: 'board' },
  });
  t.ok(registered.ok, 'terminal registered');
  const created = await client.call('POST', '/api/v1/rooms', { name: 'Board room', type: 'video', account: '7001' });
  t.equal(created.status, 201);
  t.match(created.body, { name: 'Board room', type: 'video', account: '7001', deviceModel: 'Yealink SIP-VC800', deviceVersion: '63.345.0.10' });
  t.equal((await client.call('POST', '/api/v1/rooms', { name: 'Library', type: 'normal' })).status, 201);

  const refused: [unknown, string, RegExp][] = [
    [{ name: 'No terminal', type: 'video' }, 'account', /bound to the account/],
    [{ name: 'Normal bound', type: 'normal', account: '7001' }, 'account', /only a video room/],
    [{ name: 'Ghost', type: 'video', account: '7999' }, 'account', /no account 7999/],
    [{ name: 'x'.repeat(256), type: 'normal' }, 'name', /must be a room name of 1 to 255 characters/],
  ];
  for (const [body, field, message] of refused) t.match((await client.call('POST', '/api/v1/rooms', body)).body, { field, message }, field);

  t.same((await client.call('GET', '/api/v1/rooms?type=video')).body.map((r: { name: string }) => r.name), ['Board room']);
  t.same((await client.call('GET', '/api/v1/rooms?q=libr')).body.map((r: { name: string }) => r.name), ['Library']);
  const renamed = await client.call('PATCH', `/api/v1/rooms/${created.body.id}`, { name: 'Board room 2' });
  t.match(renamed.body, { name: 'Board room 2', account: '7001' });

  t.equal((await client.call('DELETE', '/api/v1/accounts/7001')).status, 204);
  t.match((await client.call('GET', '/api/v1/rooms?q=Board')).body, [{ account: null, deviceModel: null }], 'deleting the account unbinds its room');
  const deleted = await client.call('POST', '/api/v1/rooms/delete', { ids: [created.body.id, 9999] });
  t.same(deleted.body, { deleted: [created.body.id] });
});

t.test('online users: the registered terminal with its model, version, address and transport', async (t) => {
  box.app.accounts.create({ number: '7002', name: 'Reception phone', password: 'secret-7002' }, box.realm);
  const registered = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${box.port}`,
    transport: 't1',
    auth: ['7002', 'secret-7002'],
    keys: { account: '7002', contact_port: '5060', expires: '300', device: 'desk' },
  });
  t.ok(registered.ok, 'terminal registered over TCP');
  const users = await client.call('GET', '/api/v1/online-users?q=recep');
  t.match(users.body, [
    { account: '7002', name: 'Reception phone', devices: [{ model: 'Yealink SIP-VC800', version: '63.345.0.10', address: /^127\.0\.0\.1:\d+$/, transport: 'tcp', status: 'registered' }] },
  ]);
  t.same((await client.call('GET', '/api/v1/online-users?q=nobody')).body, []);
});

t.test('VMRs: generated number and PINs, the dial-plan and PIN rules, change, search, delete', async (t) => {
  const generated = await client.call('POST', '/api/v1/vmrs', { name: 'Weekly sync' });
  t.equal(generated.status, 201);
  t.match(generated.body, { number: /^[1-9]\d{5}$/, hostPin: /^\d{6}$/, guestPin: /^\d{4}$/, capacity: 16, layout: 'auto' });
  t.not(generated.body.hostPin, generated.body.guestPin);
  const fixed = await client.call('POST', '/api/v1/vmrs', { number: '88001', name: 'Town hall', hostPin: '2468', guestPin: '', capacity: 100, layout: '1+7' });
  t.match(fixed.body, { number: '88001', guestPin: '' });

  const refused: [unknown, string, RegExp][] = [
    [{ number: '1234', name: 'Four digits' }, 'number', /must be a VMR number of 5 to 12 digits/],
    [{ number: '88002', name: 'Same PINs', hostPin: '1111', guestPin: '1111' }, 'guestPin', /must differ from the host PIN/],
    [{ number: '88003', name: 'Too big', capacity: 1000 }, 'capacity', /must be a capacity of 2 to 500 participants/],
  ];
  for (const [body, field, message] of refused) t.match((await client.call('POST', '/api/v1/vmrs', body)).body, { field, message }, field);
  const duplicate = await client.call('POST', '/api/v1/vmrs', { number: '88001', name: 'Again' });
  t.equal(duplicate.status, 409);
  t.match(duplicate.body, { code: 'VCBOX_ERR_ROOM_EXISTS', message: /88001 is already used by VMR "Town hall"/ });

  t.match((await client.call('PATCH', `/api/v1/vmrs/${fixed.body.id}`, { capacity: 50, guestPin: '1357' })).body, { capacity: 50, guestPin: '1357' });
  t.same((await client.call('GET', '/api/v1/vmrs?q=town')).body.map((v: { number: string }) => v.number), ['88001']);
  t.same((await client.call('POST', '/api/v1/vmrs/delete', { ids: [generated.body.id, fixed.body.id] })).body, { deleted: [generated.body.id, fixed.body.id] });
  t.same((await client.call('GET', '/api/v1/vmrs')).body, []);
});
