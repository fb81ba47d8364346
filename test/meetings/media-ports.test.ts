/**
 * Media port accounting by the manual's rule (server/meetings/media-ports.ts): a call takes 6
 * ports, 8 when it sends or receives content; what calls take together and how many more fit
 * in a port range; the range internal transports take instead (media/rtp/internal-ports.ts).
 * Pure arithmetic, no media.
 */
import t from 'tap';
import type { LiveMeeting, LiveParticipant } from '../../server/meetings/live-meetings.ts';
import { internalPortRange } from '../../media/rtp/internal-ports.ts';
import { callPorts, callsThatFit, liveCalls, PORTS_PER_CALL, PORTS_PER_CONTENT_CALL, portsInUse, rangeSize } from '../../server/meetings/media-ports.ts';

t.test('a call takes 6 ports, 8 with content', async (t) => {
  t.equal(PORTS_PER_CALL, 6);
  t.equal(PORTS_PER_CONTENT_CALL, 8);
  t.equal(callPorts({ content: false }), 6);
  t.equal(callPorts({ content: true }), 8);
});

t.test('calls together', async (t) => {
  t.equal(portsInUse([]), 0, 'no call, no port');
  t.equal(portsInUse([{ content: true }, { content: true }, { content: false }]), 22, 'two calls with content and one without');
  t.equal(portsInUse(new Set([{ content: false }])), 6, 'any iterable');
});

t.test('how many more calls fit in a range', async (t) => {
  const ivr = { min: 30000, max: 37999 };
  t.equal(rangeSize(ivr), 8000, 'both ends count');
  t.equal(rangeSize({ min: 50000, max: 50000 }), 1);
  t.equal(rangeSize({ min: 2, max: 1 }), 0, 'a reversed range holds nothing');
  t.equal(callsThatFit(ivr, 0, false), 1333, '8000 ports hold 1333 calls without content');
  t.equal(callsThatFit(ivr, 0, true), 1000, 'and 1000 with content');
  t.equal(callsThatFit({ min: 1, max: 1000 }, 22, true), 122, 'what is left after 22 ports in use');
  t.equal(callsThatFit({ min: 1, max: 10 }, 6, false), 0, 'not a whole call left');
  t.equal(callsThatFit({ min: 1, max: 10 }, 20, true), 0, 'never below zero');
});

t.test('the live calls, with content where the participant can present', async (t) => {
  const meeting = (number: string, ids: string[]) => ({ number, participants: new Map(ids.map((id) => [id, {} as LiveParticipant])) }) as unknown as LiveMeeting;
  const meetings = [meeting('1001', ['a', 'b']), meeting('1002', ['c'])];
  t.same(liveCalls(meetings), [{ content: false }, { content: false }, { content: false }], 'without floors no call has content');
  const calls = liveCalls(meetings, (number, id) => number === '1001' && id === 'b');
  t.same(calls, [{ content: false }, { content: true }, { content: false }], 'the one that can present has content');
  t.equal(portsInUse(calls), 20, 'and takes 8 ports: 6 + 8 + 6');
});

t.test('internal loopback transports keep out of the call ranges', async (t) => {
  const manual = [{ min: 50000, max: 59999 }, { min: 30000, max: 37999 }];
  t.same(internalPortRange(manual), { min: 61000, max: 65535 }, "the manual's ranges: above the kernel's ephemeral ports");
  t.same(internalPortRange([{ min: 60000, max: 64999 }, { min: 30000, max: 37999 }]), { min: 20000, max: 29999 }, 'an MCU range up there: below the manual ranges');
  t.same(internalPortRange([{ min: 61000, max: 61999 }, { min: 20000, max: 20999 }]), { min: 10000, max: 19999 }, 'both taken: the next one');
});
