/**
 * Deny by default at the signaling service: when the SIP application is connected but routes
 * no handler for a method (MESSAGE, SUBSCRIBE on this box), the request is refused for good —
 * 405 Method Not Allowed with an Allow header naming what is taken — instead of a 503 that
 * makes the terminal retry every 30 s. With no application connected at all (a restart), the
 * answer stays 503 with Retry-After.
 */
import t from 'tap';
import { signalingWithApp } from '../helpers/signaling-app.ts';
import { optionsRequest, udpExchange } from '../helpers/sip-socket.ts';

t.test('methods no application takes get 405 with Allow; with no application, 503', async (t) => {
  const { port, disconnect } = await signalingWithApp(t, {}, (on) => {
    on('invite', (_req, res) => res.send(486));
    on('register', (_req, res) => res.send(403));
  });
  // (The routes are registered right after the connection is authenticated.)
  await new Promise((r) => setTimeout(r, 200));

  for (const method of ['MESSAGE', 'SUBSCRIBE', 'REFER']) {
    const reply = await udpExchange(port, optionsRequest({ transport: 'UDP', port }).replace(/OPTIONS/g, method));
    t.match(reply, /^SIP\/2\.0 405 Method Not Allowed\r\n/, `${method}: refused for good`);
    const allow = /\r\nAllow: ([^\r\n]*)\r\n/.exec(reply ?? '')?.[1]?.split(', ') ?? [];
    t.ok(allow.includes('INVITE') && allow.includes('REGISTER'), `${method}: Allow names what the application takes (${allow.join(', ')})`);
    t.notOk(allow.includes(method), `${method}: Allow does not name it`);
  }
  const register = optionsRequest({ transport: 'UDP', port }).replace(/OPTIONS/g, 'REGISTER');
  t.match(await udpExchange(port, register), /^SIP\/2\.0 403 /, 'a routed method still reaches the application');

  disconnect();
  await new Promise((r) => setTimeout(r, 300));
  const reply = await udpExchange(port, optionsRequest({ transport: 'UDP', port }).replace(/OPTIONS/g, 'MESSAGE'));
  t.match(reply, /^SIP\/2\.0 503 Service Unavailable\r\n[\s\S]*Retry-After: 30\r\n/, 'no application connected: try again soon');
});
