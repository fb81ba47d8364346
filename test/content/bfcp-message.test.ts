/**
 * The BFCP codec (server/bfcp/bfcp-message.ts): the wire bytes of a FloorRequest as RFC 8855
 * lays them out, round trips of every primitive with its usual attributes, and the strict
 * refusals — short, oversized, wrong version, lengths that disagree, bad attributes, too deep,
 * too many — each with the BFCP error code the server answers with. A bounded random fuzz run
 * checks that nothing but a BfcpDecodeError ever leaves the decoder.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import {
  type Attribute,
  BfcpDecodeError,
  type BfcpMessage,
  decodeMessage,
  encodeAttribute,
  encodeMessage,
  ErrorCode,
  errorResponse,
  MAX_MESSAGE_BYTES,
  Primitive,
  primitiveName,
  RequestStatus,
} from '../../server/bfcp/bfcp-message.ts';

const base = { version: 1, responder: false, conferenceId: 0x01020304, transactionId: 0x0506, userId: 0x0708 };

function refusal(t: Test, bytes: Buffer, code: number, pattern: RegExp, what: string): void {
  try {
    decodeMessage(bytes);
    t.fail(`${what}: decoded`);
  } catch (error) {
    t.ok(error instanceof BfcpDecodeError, `${what}: a BfcpDecodeError`);
    if (error instanceof BfcpDecodeError) {
      t.equal(error.code, code, `${what}: error code ${code}`);
      t.match(error.message, pattern, `${what}: says what was wrong`);
    }
  }
}

t.test('a FloorRequest on the wire', async (t) => {
  const bytes = encodeMessage({ ...base, primitive: Primitive.FloorRequest, attributes: [{ name: 'FLOOR-ID', id: 3 }] });
  t.equal(
    bytes.toString('hex'),
    [
      '20', // version 1, R 0, F 0
      '01', // FloorRequest
      '0001', // payload: one 4-octet word
      '01020304', // conference ID
      '0506', // transaction ID
      '0708', // user ID
      '05', // FLOOR-ID (2) << 1 | M
      '04', // length, header included
      '0003', // floor 3
    ].join(''),
  );
  const udp = encodeMessage({ ...base, version: 2, responder: true, primitive: Primitive.HelloAck, attributes: [] });
  t.equal(udp.readUInt8(0), 0x50, 'version 2 with the R bit');
});

t.test('padding and grouped attributes', async (t) => {
  const text = encodeAttribute({ name: 'STATUS-INFO', text: 'abc' });
  t.equal(text.toString('hex'), '1305616263000000', 'STATUS-INFO: length 5 (header + 3 octets), then 3 octets of padding');
  const padded = encodeAttribute({ name: 'STATUS-INFO', text: 'abcd' });
  t.equal(padded.length, 8, 'padded to a multiple of 4');
  t.equal(padded.readUInt8(1), 6, 'the length leaves the padding out');
  const group = encodeAttribute({
    name: 'FLOOR-REQUEST-INFORMATION',
    id: 9,
    children: [{ name: 'OVERALL-REQUEST-STATUS', id: 9, children: [{ name: 'REQUEST-STATUS', status: RequestStatus.Granted, queuePosition: 0 }] }],
  });
  t.equal(group.toString('hex'), ['1f0c0009', '250800090b040300'].join(''), 'a group covers its children');
});

t.test('every primitive round-trips', async (t) => {
  const info: Attribute = {
    name: 'FLOOR-REQUEST-INFORMATION',
    id: 12,
    children: [
      { name: 'OVERALL-REQUEST-STATUS', id: 12, children: [{ name: 'REQUEST-STATUS', status: RequestStatus.Pending, queuePosition: 2 }, { name: 'STATUS-INFO', text: '队列 2' }] },
      { name: 'FLOOR-REQUEST-STATUS', id: 3, children: [{ name: 'REQUEST-STATUS', status: RequestStatus.Pending, queuePosition: 2 }] },
      { name: 'BENEFICIARY-INFORMATION', id: 5, children: [{ name: 'USER-DISPLAY-NAME', text: 'Room East' }, { name: 'USER-URI', text: 'sip:2001@box' }] },
      { name: 'REQUESTED-BY-INFORMATION', id: 5, children: [] },
      { name: 'PRIORITY', priority: 2 },
      { name: 'PARTICIPANT-PROVIDED-INFO', text: 'slides' },
    ],
  };
  const byPrimitive: Record<number, Attribute[]> = {
    [Primitive.FloorRequest]: [{ name: 'FLOOR-ID', id: 3 }, { name: 'BENEFICIARY-ID', id: 5 }, { name: 'PRIORITY', priority: 4, mandatory: false }],
    [Primitive.FloorRelease]: [{ name: 'FLOOR-REQUEST-ID', id: 12 }],
    [Primitive.FloorRequestQuery]: [{ name: 'FLOOR-REQUEST-ID', id: 12 }],
    [Primitive.FloorRequestStatus]: [info],
    [Primitive.UserQuery]: [{ name: 'BENEFICIARY-ID', id: 5 }],
    [Primitive.UserStatus]: [{ name: 'BENEFICIARY-INFORMATION', id: 5, children: [] }, info],
    [Primitive.FloorQuery]: [{ name: 'FLOOR-ID', id: 3 }, { name: 'FLOOR-ID', id: 4 }],
    [Primitive.FloorStatus]: [{ name: 'FLOOR-ID', id: 3 }, info],
    [Primitive.ChairAction]: [info],
    [Primitive.ChairActionAck]: [],
    [Primitive.Hello]: [],
    [Primitive.HelloAck]: [
      { name: 'SUPPORTED-PRIMITIVES', primitives: [1, 2, 3, 4, 11, 12, 13, 16, 17] },
      { name: 'SUPPORTED-ATTRIBUTES', types: [1, 2, 3, 4, 5, 6, 7, 15, 17, 18] },
    ],
    [Primitive.Error]: [{ name: 'ERROR-CODE', code: ErrorCode.UnknownMandatoryAttribute, details: Buffer.from([0x29, 0x2b]) }, { name: 'ERROR-INFO', text: 'unknown: 20, 21' }],
    [Primitive.FloorRequestStatusAck]: [],
    [Primitive.FloorStatusAck]: [],
    [Primitive.Goodbye]: [],
    [Primitive.GoodbyeAck]: [],
  };
  const withDefaults = (list: readonly Attribute[]): unknown =>
    list.map((a) => {
      const copy: Record<string, unknown> = { ...a, mandatory: a.mandatory ?? true };
      if ('children' in a) copy.children = withDefaults(a.children);
      if (a.name === 'ERROR-CODE') copy.details = a.details ?? Buffer.alloc(0);
      return copy;
    });
  for (const primitive of Object.values(Primitive)) {
    for (const version of [1, 2]) {
      const message: BfcpMessage = { ...base, version, responder: primitive % 2 === 0, primitive, attributes: byPrimitive[primitive] ?? [] };
      const bytes = encodeMessage(message);
      t.equal(bytes.length % 4, 0, `${primitiveName(primitive)}: whole words`);
      const decoded = decodeMessage(bytes);
      t.same(decoded, { ...message, attributes: withDefaults(message.attributes) }, `${primitiveName(primitive)} v${version} round-trips`);
    }
  }
  t.equal(primitiveName(99), 'Unknown(99)');
});

t.test('unknown attributes and primitives decode for the server to refuse', async (t) => {
  const bytes = encodeMessage({
    ...base,
    primitive: 42,
    attributes: [{ name: 'UNKNOWN', type: 100, value: Buffer.from([1, 2]), mandatory: true }],
  });
  const decoded = decodeMessage(bytes);
  t.equal(decoded.primitive, 42);
  t.same(decoded.attributes, [{ name: 'UNKNOWN', type: 100, mandatory: true, value: Buffer.from([1, 2]) }]);
});

t.test('malformed messages are refused with the matching error code', async (t) => {
  const good = encodeMessage({ ...base, primitive: Primitive.FloorRequest, attributes: [{ name: 'FLOOR-ID', id: 3 }] });
  refusal(t, good.subarray(0, 11), ErrorCode.ParseError, /shorter than the 12-octet BFCP header/, 'short');
  const v3 = Buffer.from(good);
  v3.writeUInt8(0x60, 0);
  refusal(t, v3, ErrorCode.UnsupportedVersion, /version 3 is not supported/, 'version 3');
  refusal(t, good.subarray(0, 14), ErrorCode.IncorrectMessageLength, /announces 4 payload octets but 2 arrived/, 'truncated');
  refusal(t, Buffer.concat([good, Buffer.alloc(4)]), ErrorCode.IncorrectMessageLength, /announces 4 payload octets but 8/, 'trailing bytes');
  const huge = Buffer.alloc(MAX_MESSAGE_BYTES + 4);
  good.copy(huge, 0, 0, 12);
  huge.writeUInt16BE((huge.length - 12) / 4, 2);
  refusal(t, huge, ErrorCode.IncorrectMessageLength, /exceeds the limit of 8192/, 'oversized');

  const withAttr = (attr: Buffer) => {
    const header = Buffer.from(good.subarray(0, 12));
    header.writeUInt16BE(attr.length / 4, 2);
    return Buffer.concat([header, attr]);
  };
  refusal(t, withAttr(Buffer.from([0x05, 0x01, 0, 0])), ErrorCode.ParseError, /length 1, below its 2-octet header/, 'attribute length 1');
  refusal(t, withAttr(Buffer.from([0x05, 0x08, 0, 3])), ErrorCode.ParseError, /runs past the end/, 'attribute past the end');
  refusal(t, withAttr(Buffer.from([0x05, 0x03, 0, 0])), ErrorCode.ParseError, /FLOOR-ID has 1 value octets, expected 2/, 'FLOOR-ID of 1 octet');
  refusal(t, withAttr(Buffer.from([0x0b, 0x03, 0, 0])), ErrorCode.ParseError, /REQUEST-STATUS has 1 value octets/, 'REQUEST-STATUS of 1 octet');

  // Groups nested six deep.
  let nested: Attribute = { name: 'FLOOR-ID', id: 1 };
  for (let i = 0; i < 6; i++) nested = { name: 'FLOOR-REQUEST-INFORMATION', id: 1, children: [nested] };
  refusal(t, encodeMessage({ ...base, primitive: Primitive.FloorRequestStatus, attributes: [nested] }), ErrorCode.ParseError, /nested deeper than 4/, 'too deep');
  const many = Array.from({ length: 130 }, (): Attribute => ({ name: 'FLOOR-ID', id: 1 }));
  refusal(t, encodeMessage({ ...base, primitive: Primitive.FloorQuery, attributes: many }), ErrorCode.ParseError, /more than 128 attributes/, 'too many');

  const fragmentV1 = Buffer.concat([good.subarray(0, 12), Buffer.alloc(4)]);
  fragmentV1.writeUInt8(0x28, 0);
  refusal(t, fragmentV1, ErrorCode.ParseError, /F bit is allowed over UDP/, 'fragment in version 1');
  const fragment = Buffer.alloc(20);
  good.copy(fragment, 0, 0, 12);
  fragment.writeUInt8(0x48, 0);
  fragment.writeUInt16BE(1, 2); // payload: one word
  fragment.writeUInt16BE(1, 12); // offset 1
  fragment.writeUInt16BE(1, 14); // length 1: ends at word 2, past the payload
  refusal(t, fragment, ErrorCode.IncorrectMessageLength, /fragment runs past the payload length/, 'fragment past the payload');
});

t.test('a fragment decodes its header and leaves the payload for reassembly', async (t) => {
  const fragment = Buffer.alloc(20);
  fragment.writeUInt8(0x48, 0);
  fragment.writeUInt8(Primitive.FloorRequest, 1);
  fragment.writeUInt16BE(2, 2);
  fragment.writeUInt16BE(1, 12);
  fragment.writeUInt16BE(1, 14);
  const decoded = decodeMessage(fragment);
  t.same(decoded.fragment, { offset: 1, length: 1 });
  t.same(decoded.attributes, []);
});

t.test('encoding refuses what does not fit', async (t) => {
  t.throws(() => encodeAttribute({ name: 'STATUS-INFO', text: 'x'.repeat(300) }), /exceeds 255/);
  t.throws(() => encodeMessage({ ...base, version: 9, primitive: 1, attributes: [] }), /does not fit 3 bits/);
  const error = errorResponse({ primitive: 1, conferenceId: 1, transactionId: 2, userId: 3 }, 2, ErrorCode.ParseError, 'é'.repeat(200));
  t.ok(encodeMessage(error).length < 300, 'a long ERROR-INFO is cut to fit its attribute');
});

t.test('random bytes never throw anything but a BfcpDecodeError', async (t) => {
  let decoded = 0;
  let refused = 0;
  const good = encodeMessage({ ...base, primitive: Primitive.FloorRequestStatus, attributes: [{ name: 'FLOOR-REQUEST-INFORMATION', id: 1, children: [{ name: 'FLOOR-ID', id: 2 }] }] });
  for (let i = 0; i < 3000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = randomBytes(1 + (i % 64));
    } else {
      // A valid message with a few octets flipped: reaches the attribute parser.
      bytes = Buffer.from(good);
      for (let k = 0; k < 3; k++) bytes.writeUInt8(randomBytes(1)[0] ?? 0, 12 + ((i * 7 + k * 5) % (bytes.length - 12)));
    }
    try {
      decodeMessage(bytes);
      decoded++;
    } catch (error) {
      if (!(error instanceof BfcpDecodeError)) {
        t.fail(`unexpected ${String(error)} for ${bytes.toString('hex')}`);
        return;
      }
      refused++;
    }
  }
  t.equal(decoded + refused, 3000, `${decoded} decoded, ${refused} refused, none crashed`);
});
