/**
 * The floor control server against libre's BFCP (test/interop/bfcp-client), over TCP and over
 * UDP: Hello, a floor request granted, a second participant taking the floor over (the first
 * gets Revoked), release freeing the floor with FloorStatus to the participant that asked,
 * wrong conference or user IDs refused without touching the floor, Goodbye and a closed
 * connection releasing the floor, the waiting policy, and the chair actions.
 */
import t, { type Test } from 'tap';
import { FloorControlServer, type PresenterChange } from '../../server/bfcp/floor-control-server.ts';
import { BfcpClient, type BfcpClientEvent, errorCode, findAttributes, floorRequestId, overallStatus } from '../helpers/bfcp-client.ts';

const CONF = 4711;
const FLOOR = 3;

async function setUp(t: Test, transport: 'tcp' | 'udp', policy: 'take-over' | 'queue' = 'take-over') {
  const server = new FloorControlServer();
  server.addConference(CONF, { floorId: FLOOR, policy });
  for (const user of [1, 2, 3]) server.addUser(CONF, user);
  const changes: PresenterChange[] = [];
  server.on('presenter', (change) => changes.push(change));
  const listener = await server.listen({ transport, host: '127.0.0.1', port: 0 });
  const clients: BfcpClient[] = [];
  const client = async (userId: number, conferenceId = CONF) => {
    const c = await BfcpClient.start({ transport, port: listener.port, conferenceId, userId, floorId: FLOOR });
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });
  return { server, changes, client };
}

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';

for (const transport of ['tcp', 'udp'] as const) {
  t.test(`${transport}: hello, request granted, taken over, released`, async (t) => {
    const { server, changes, client } = await setUp(t, transport);
    const a = await client(1);
    const b = await client(2);
    const watcher = await client(3);

    const hello = await a.request('hello', 'Hello');
    t.equal(hello.prim, 'HelloAck');
    t.equal(hello.ver, transport === 'tcp' ? 1 : 2, 'version 1 over TCP, 2 over UDP');
    t.equal(hello.r, true, 'a response has the R bit');
    const primitives = findAttributes(hello.attrs, 'SUPPORTED-PRIMITIVES')[0]?.primitives ?? [];
    t.ok(primitives.includes('FloorRequest') && primitives.includes('Goodbye'), 'HelloAck lists the supported primitives');

    const query = await watcher.request('query', 'FloorQuery');
    t.equal(query.prim, 'FloorStatus');
    t.same(findAttributes(query.attrs, 'FLOOR-ID').map((f) => f.id), [FLOOR]);
    t.equal(findAttributes(query.attrs, 'FLOOR-REQUEST-INFORMATION').length, 0, 'the floor is free');

    const watcherSeesA = watcher.nextNotification((e) => e.prim === 'FloorStatus' && findAttributes(e.attrs, 'BENEFICIARY-INFORMATION').some((b) => b.id === 1), 'FloorStatus: user 1 holds');
    const aGranted = a.nextNotification(granted, 'Granted for user 1');
    const requestA = await a.request('request', 'FloorRequest');
    t.equal(requestA.prim, 'FloorRequestStatus');
    t.equal(overallStatus(requestA), 'Pending', 'the response says Pending');
    const idA = floorRequestId(requestA);
    t.ok(idA, 'a floor request ID');
    const grantA = await aGranted;
    t.equal(floorRequestId(grantA), idA, 'then Granted, for that request');
    t.equal(grantA.r, false, 'a server-initiated message has no R bit');
    if (transport === 'tcp') t.equal(grantA.tid, 0, 'transaction ID 0 over TCP');
    else t.ok((grantA.tid ?? 0) >= 0x8000, 'a server-chosen transaction ID over UDP');
    await watcherSeesA;
    t.equal(server.presenter(CONF), 1);

    const aRevoked = a.nextNotification((e) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Revoked', 'Revoked for user 1');
    const bGranted = b.nextNotification(granted, 'Granted for user 2');
    const requestB = await b.request('request', 'FloorRequest');
    t.equal(overallStatus(requestB), 'Pending');
    await bGranted;
    t.equal(floorRequestId(await aRevoked), idA, 'the first presenter is told its request was revoked');
    t.equal(server.presenter(CONF), 2, 'the second request took the floor over');

    const watcherSeesFree = watcher.nextNotification((e) => e.prim === 'FloorStatus' && findAttributes(e.attrs, 'FLOOR-REQUEST-INFORMATION').length === 0, 'FloorStatus: floor free');
    const release = await b.request(`release ${floorRequestId(requestB)}`, 'FloorRelease');
    t.equal(release.prim, 'FloorRequestStatus');
    t.equal(overallStatus(release), 'Released');
    await watcherSeesFree;
    t.equal(server.presenter(CONF), null, 'the floor is free');

    const releaseAgain = await b.request(`release ${floorRequestId(requestB)}`, 'FloorRelease');
    t.equal(releaseAgain.prim, 'Error');
    t.equal(errorCode(releaseAgain), 7, 'a released request is gone: Floor Request ID Does Not Exist');

    t.same(
      changes.map((c) => [c.userId, c.previousUserId, c.reason]),
      [
        [1, null, 'granted'],
        [2, 1, 'taken-over'],
        [null, 2, 'released'],
      ],
      'presenter events for the meeting code',
    );
  });

  t.test(`${transport}: wrong conference or user IDs are refused and the floor is untouched`, async (t) => {
    const { server, client } = await setUp(t, transport);
    const holder = await client(1);
    const holderGranted = holder.nextNotification(granted, 'Granted');
    await holder.request('request', 'FloorRequest');
    await holderGranted;

    const stranger = await client(2, 999);
    const wrongConference = await stranger.request('request', 'FloorRequest');
    t.equal(wrongConference.prim, 'Error');
    t.equal(errorCode(wrongConference), 1, 'Conference does not Exist');
    t.match(findAttributes(wrongConference.attrs, 'ERROR-INFO')[0]?.text, /conference 999 does not exist/);

    stranger.send(`conf ${CONF}`);
    stranger.send('user 77');
    const wrongUser = await stranger.request('request', 'FloorRequest');
    t.equal(errorCode(wrongUser), 2, 'User does not Exist');

    // Another transport using the holder's user ID can neither release nor take its floor.
    stranger.send('user 1');
    const impostor = await stranger.request('release 1', 'FloorRelease');
    t.equal(errorCode(impostor), 5, 'Unauthorized Operation: user 1 is bound to its own transport');

    stranger.send('user 2');
    const wrongFloor = await stranger.request('request 9', 'FloorRequest');
    t.equal(errorCode(wrongFloor), 6, 'Invalid Floor ID');
    const forAnother = await stranger.request('request-for 3', 'FloorRequest');
    t.equal(errorCode(forAnother), 5, 'third-party requests need a chair');

    t.equal(server.presenter(CONF), 1, 'the holder still holds the floor');
    const status = await holder.request('reqquery 1', 'FloorRequestQuery');
    t.equal(overallStatus(status), 'Granted', 'and its request is still granted');
  });

  t.test(`${transport}: Goodbye and a vanished client release the floor`, async (t) => {
    const { server, changes, client } = await setUp(t, transport);
    const a = await client(1);
    const aGranted = a.nextNotification(granted, 'Granted');
    await a.request('request', 'FloorRequest');
    await aGranted;
    const bye = await a.request('goodbye', 'Goodbye');
    t.equal(bye.prim, 'GoodbyeAck');
    t.equal(server.presenter(CONF), null, 'Goodbye releases the floor');
    t.equal(changes.at(-1)?.reason, 'left');

    if (transport === 'tcp') {
      const b = await client(2);
      const bGranted = b.nextNotification(granted, 'Granted');
      await b.request('request', 'FloorRequest');
      await bGranted;
      t.equal(server.presenter(CONF), 2);
      await b.close();
      for (let i = 0; i < 100 && server.presenter(CONF) !== null; i++) await new Promise((r) => setTimeout(r, 50));
      t.equal(server.presenter(CONF), null, 'a closed TCP connection releases its floor');
    }
  });

  t.test(`${transport}: the waiting policy queues a second request`, async (t) => {
    const { server, client } = await setUp(t, transport, 'queue');
    const a = await client(1);
    const b = await client(2);
    const aGranted = a.nextNotification(granted, 'Granted for 1');
    const requestA = await a.request('request', 'FloorRequest');
    await aGranted;
    const requestB = await b.request('request', 'FloorRequest');
    t.equal(overallStatus(requestB), 'Pending');
    const queued = findAttributes(requestB.attrs, 'REQUEST-STATUS')[0];
    t.equal(queued?.qpos, 1, 'first in the queue');
    t.equal(server.presenter(CONF), 1, 'the holder keeps the floor');
    const again = await b.request('request', 'FloorRequest');
    t.equal(errorCode(again), 8, 'one request per user and floor');

    const bGranted = b.nextNotification(granted, 'Granted for 2');
    await a.request(`release ${floorRequestId(requestA)}`, 'FloorRelease');
    t.equal(floorRequestId(await bGranted), floorRequestId(requestB), 'the waiting request gets the floor on release');
    t.equal(server.presenter(CONF), 2);
  });

  t.test(`${transport}: chair actions from the console`, async (t) => {
    const { server, changes, client } = await setUp(t, transport);
    const a = await client(1);
    const b = await client(2);
    await a.request('hello', 'Hello');
    await b.request('hello', 'Hello');
    const aGranted = a.nextNotification(granted, 'Granted by the chair');
    server.giveFloor(CONF, 1);
    await aGranted;
    const aRevoked = a.nextNotification((e) => overallStatus(e) === 'Revoked', 'Revoked by the chair');
    const bGranted = b.nextNotification(granted, 'Granted to 2 by the chair');
    server.giveFloor(CONF, 2);
    await Promise.all([aRevoked, bGranted]);
    const bRevoked = b.nextNotification((e) => overallStatus(e) === 'Revoked', 'Revoked');
    server.revokeFloor(CONF);
    await bRevoked;
    t.equal(server.presenter(CONF), null);
    t.same(
      changes.map((c) => c.reason),
      ['chair-given', 'chair-given', 'chair-revoked'],
    );
    const chair = await a.request('request-for 2', 'FloorRequest');
    t.equal(errorCode(chair), 5, 'over BFCP nobody is chair');
  });
}
