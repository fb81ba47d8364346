/**
 * The loop-lag bound's partial parse, from an attacker's side (#18): while the signaling
 * process runs late, new requests are answered 503 from their request line and five routing
 * headers alone. Hostile messages sent then — an oversized Via, a folded header, a missing
 * Call-ID, a forged response, bytes that are no SIP, a forged To tag — must not be echoed back
 * larger than they came, must not crash the service, and take the ordinary path (the full
 * parser's refusal, or silence); a well-formed new request beside them still gets its 503.
 * Afterwards the service answers as before.
 */
import t from 'tap';
import { readWhileLate } from '../helpers/late-loop.ts';
import { signalingWithApp } from '../helpers/signaling-app.ts';
import { optionsRequest, udpExchange } from '../helpers/sip-socket.ts';

t.test('hostile messages read while the loop runs late', async (t) => {
  const seen: string[] = [];
  const { service, port } = await signalingWithApp(t, { overloadLoopLagMs: 50 }, (on) =>
    on('options', (req, res) => {
      seen.push(req.get('Call-ID'));
      res.send(200);
    }),
  );
  // Each its own transaction (Via branch from its Call-ID).
  const request = (callId: string) => optionsRequest({ transport: 'UDP', port, callId });
  const longVia = request('hostile-long-via').replace(/branch=z9hG4bKhostile-long-via;rport/, `branch=z9hG4bK${'x'.repeat(3000)};rport`);
  const folded = request('hostile-folded').replace('\r\nFrom:', '\r\n  ;folded=1\r\nFrom:');
  const noCallId = request('hostile-no-call-id').replace('Call-ID: hostile-no-call-id\r\n', '');
  const forgedResponse = request('hostile-response').replace(/^OPTIONS [^\r]*/, 'SIP/2.0 200 OK');
  const garbage = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256));
  const forgedTag = request('hostile-tag').replace('To: <sip:vcbox@127.0.0.1>', 'To: <sip:vcbox@127.0.0.1>;tag=forged');
  const plain = request('hostile-plain');
  const sent = [longVia, folded, noCallId, forgedResponse, garbage, forgedTag, plain];
  const answers = await readWhileLate(port, sent);

  const largest = Math.max(...sent.map((m) => m.length));
  for (const answer of answers) t.ok(answer.length <= largest + 300, `no answer much larger than what was sent (${answer.length} bytes)`);
  const refused = answers.filter((a) => a.startsWith('SIP/2.0 503 '));
  t.equal(refused.length, 1, 'one 503 from the partial parse');
  t.match(refused[0], /\r\nCall-ID: hostile-plain\r\n/, 'to the well-formed new request');
  t.notOk(answers.some((a) => a.includes('Call-ID: hostile-response')), 'a forged response is never answered');
  t.ok(answers.some((a) => /^SIP\/2\.0 481 /.test(a) && a.includes('Call-ID: hostile-tag')), 'a forged To tag takes the ordinary path: no such dialog');
  t.notOk(answers.some((a) => a.startsWith('SIP/2.0 503 ') && a.includes('hostile-long-via')), 'the oversized Via is not echoed in a 503');
  t.equal(service.stats().overloadRefused.loopLag, 1, 'only the well-formed request counted');
  t.notOk(seen.includes('hostile-plain'), 'the refused request never reached the application');

  for (let i = 0; i < 50 && service.stats().loopLagMs > 50; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(await udpExchange(port, optionsRequest({ transport: 'UDP', port, callId: 'hostile-after' })), /^SIP\/2\.0 200 /, 'the service answers as before');
});
