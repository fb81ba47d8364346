/** SIP message parsing and stream framing: what terminals send, and what they should not. */
import t from 'tap';
import { headerParam, parseMessage, splitHeaderValues } from '../../server/signaling/sip/sip-message.ts';
import { StreamFramer } from '../../server/signaling/sip/stream-framer.ts';

const invite = (body = 'v=0\r\n') =>
  [
    'INVITE sip:1001@box.example SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb',
    'max-forwards: 70',
    'From: "Room, East" <sip:2001@box.example>;tag=x1',
    'To: <sip:1001@box.example>',
    'Call-ID: abc@10.0.0.5',
    'CSeq: 314 INVITE',
    'Contact: <sip:2001@10.0.0.5>;expires=60, "B" <sip:b@10.0.0.7>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');

t.test('a request with multi-value headers, quoted commas and a body', async (t) => {
  const message = parseMessage(Buffer.from(invite()));
  t.equal(message.type, 'request');
  if (message.type !== 'request') return;
  t.equal(message.method, 'INVITE');
  t.equal(message.uri, 'sip:1001@box.example');
  t.same(message.getAll('via'), ['SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa', 'SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb']);
  t.same(message.getAll('contact'), ['<sip:2001@10.0.0.5>;expires=60', '"B" <sip:b@10.0.0.7>']);
  t.equal(message.get('from'), '"Room, East" <sip:2001@box.example>;tag=x1', 'From is never split');
  t.equal(message.get('Max-Forwards'), '70', 'names are case-insensitive');
  t.same(message.cseq, { seq: 314, method: 'INVITE' });
  t.equal(message.body.toString(), 'v=0\r\n');
  t.equal(headerParam(message.get('from') ?? '', 'tag'), 'x1');
  t.match(message.toString(), /^INVITE sip:1001@box\.example SIP\/2\.0\r\n[\s\S]*\r\nCall-ID: abc@10\.0\.0\.5\r\nCSeq: 314 INVITE\r\n/);
});

t.test('responses and UTF-8 bodies', async (t) => {
  const body = '会议室 ✓';
  const text = invite(body).replace('INVITE sip:1001@box.example SIP/2.0', 'SIP/2.0 180 Ringing');
  const message = parseMessage(Buffer.from(text));
  t.equal(message.type, 'response');
  if (message.type === 'response') t.same([message.status, message.reason], [180, 'Ringing']);
  t.equal(message.body.toString(), body, 'Content-Length counts bytes, not characters');
});

t.test('malformed messages are refused with the reason', async (t) => {
  const cases: [string, RegExp][] = [
    [invite().replace('CSeq: 314 INVITE', 'CSeq: 314 BYE'), /CSeq method BYE does not match/],
    [invite().replace('Call-ID: abc@10.0.0.5\r\n', ''), /missing Call-ID/],
    [invite().replace('SIP/2.0\r\nVia', 'SIP/3.0\r\nVia'), /invalid request line/],
    [invite().replace('Content-Length: 5', 'Content-Length: 500'), /Content-Length 500 is larger than the body/],
    [invite().replace('Content-Length: 5', 'Content-Length: -1'), /invalid Content-Length/],
    [invite().replace('max-forwards: 70', 'bad header line'), /header line without a name/],
    ['INVITE sip:x SIP/2.0\r\nVia: x', /no empty line after the headers/],
    [invite().replace('INVITE sip:1001@box.example SIP/2.0', 'SIP/2.0 099 Odd'), /status code 99 out of range/],
  ];
  for (const [text, reason] of cases) {
    t.throws(() => parseMessage(Buffer.from(text)), { name: 'SipParseError', message: reason }, String(reason));
  }
});

t.test('splitting header values respects quotes and angle brackets', async (t) => {
  t.same(splitHeaderValues('"a, b" <sip:x@y>, <sip:z@w;p=1,2>'), ['"a, b" <sip:x@y>', '<sip:z@w;p=1,2>']);
});

t.test('stream framing: split reads, several messages per read, keep-alives, bad lengths', async (t) => {
  const one = invite();
  const framer = new StreamFramer();
  const bytes = Buffer.from(`\r\n\r\n${one}${one}`);
  const items = [...framer.push(bytes.subarray(0, 17)), ...framer.push(bytes.subarray(17, 300)), ...framer.push(bytes.subarray(300))];
  t.same(items.map((i) => i.kind), ['ping', 'message', 'message']);
  t.equal(items[1]?.kind === 'message' && items[1].data.toString(), one);

  const noLength = new StreamFramer().push(Buffer.from(one.replace(/Content-Length: \d+\r\n/, '')));
  t.match(noLength, [{ kind: 'error', error: { message: /missing Content-Length/ } }]);
  const huge = new StreamFramer().push(Buffer.from(one.replace(/Content-Length: \d+/, 'Content-Length: 100000')));
  t.match(huge, [{ kind: 'error', error: { message: /larger than 65535/ } }]);
  const compact = new StreamFramer().push(Buffer.from(one.replace('Content-Length:', 'l:')));
  t.same(compact.map((i) => i.kind), ['message'], 'compact l: header');
});

t.test('header parameters: tokens, valueless flags and quoted strings holding > (linphone +sip.instance)', async (t) => {
  const contact = '<sip:1001@10.0.0.5;transport=udp>;+sip.instance="<urn:uuid:5f1c-77>";expires=60;reg-id=1';
  t.equal(headerParam(contact, '\\+sip\\.instance'), '"<urn:uuid:5f1c-77>"', 'the whole quoted string, > included');
  t.equal(headerParam(contact, 'expires'), '60', 'a parameter after the quoted string');
  t.equal(headerParam('SIP/2.0/UDP h;branch=z9hG4bK1;rport', 'rport'), '', 'a flag is empty');
  t.equal(headerParam('<sip:a@b>;tag=x', 'expires'), undefined, 'absent');
});
