/**
 * The one dial plan (server/dial-plan/dial-plan.ts): a table of dialled strings and what they
 * are — accounts, meetings with and without PIN, the IVR access number, the instant-meeting
 * number, and every kind of garbage (letters, Unicode digits, over-long input, `**` with no
 * PIN) — plus the shape checks and JSON-schema patterns the stores and routes use, which must
 * agree with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { MeetingStore } from '../../server/meetings/meeting-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import {
  ACCOUNT_NUMBER_PATTERN,
  classifyDial,
  type Dial,
  dialContextOf,
  formatDial,
  isAccountNumber,
  isDialledPin,
  isMeetingNumber,
  isStoredPin,
  MAX_DIAL_LENGTH,
  MEETING_NUMBER_PATTERN,
  OPTIONAL_PIN_PATTERN,
  randomDigits,
  STORED_PIN_PATTERN,
} from '../../server/dial-plan/dial-plan.ts';

const context = { ivrAccessNumber: '88888', instantMeetingNumber: '99999' };

const TABLE: [input: string, expected: Partial<Dial> & { kind: Dial['kind'] }, why: string][] = [
  ['2001', { kind: 'account', number: '2001' }, 'an account: exactly 4 digits'],
  ['0000', { kind: 'account', number: '0000' }, 'an account may start with 0'],
  ['12345', { kind: 'meeting', id: '12345' }, 'the shortest meeting ID'],
  ['123456789012', { kind: 'meeting', id: '123456789012' }, 'the longest meeting ID'],
  ['880001**1234', { kind: 'meeting', id: '880001', pin: '1234' }, 'ID**PIN'],
  ['880001**1', { kind: 'meeting', id: '880001', pin: '1' }, 'a one-digit PIN is dialled (and counted wrong later), not refused here'],
  ['880001**1234567890123456', { kind: 'meeting', id: '880001', pin: '1234567890123456' }, 'a PIN of 16 digits'],
  ['88888', { kind: 'ivr', number: '88888' }, 'the IVR access number'],
  ['88888**1234', { kind: 'meeting', id: '88888', pin: '1234' }, 'the IVR number with a PIN is dialled as a meeting (and found by none)'],
  ['99999', { kind: 'instant', number: '99999' }, 'the instant-meeting number'],
  ['99999**1234', { kind: 'instant', number: '99999' }, 'the instant-meeting number ignores a PIN'],
  ['', { kind: 'invalid', reason: 'empty' }, 'nothing'],
  ['1', { kind: 'invalid', reason: 'too-short' }, 'one digit'],
  ['123', { kind: 'invalid', reason: 'too-short' }, 'three digits'],
  ['1234567890123', { kind: 'invalid', reason: 'too-long' }, '13 digits'],
  ['9'.repeat(MAX_DIAL_LENGTH + 1), { kind: 'invalid', reason: 'too-long' }, 'longer than any dial string'],
  ['9'.repeat(100_000), { kind: 'invalid', reason: 'too-long' }, 'a huge input'],
  ['880001**', { kind: 'invalid', reason: 'pin-empty' }, '** with an empty PIN'],
  ['**1234', { kind: 'invalid', reason: 'id-empty' }, '** with no ID'],
  ['**', { kind: 'invalid', reason: 'id-empty' }, '** alone'],
  ['2001**1234', { kind: 'invalid', reason: 'account-with-pin' }, 'an account takes no PIN'],
  ['880001**12a4', { kind: 'invalid', reason: 'pin-not-digits' }, 'a letter in the PIN'],
  ['880001**12**34', { kind: 'invalid', reason: 'pin-not-digits' }, 'two separators'],
  ['880001***1234', { kind: 'invalid', reason: 'pin-not-digits' }, 'three stars'],
  ['880001**12345678901234567', { kind: 'invalid', reason: 'pin-too-long' }, 'a PIN of 17 digits'],
  ['880001*1234', { kind: 'invalid', reason: 'not-digits' }, 'one star'],
  ['alice', { kind: 'invalid', reason: 'not-digits' }, 'a name'],
  ['+8613800000000', { kind: 'invalid', reason: 'not-digits' }, 'an E.164 number'],
  [' 2001', { kind: 'invalid', reason: 'not-digits' }, 'a leading space'],
  ['2001\n', { kind: 'invalid', reason: 'not-digits' }, 'a trailing newline'],
  ['20%31', { kind: 'invalid', reason: 'not-digits' }, 'percent-encoding is the SIP layer’s to decode'],
  ['２００１', { kind: 'invalid', reason: 'not-digits' }, 'full-width digits are not folded'],
  ['٢٠٠١', { kind: 'invalid', reason: 'not-digits' }, 'Arabic-Indic digits'],
  ['12345٦', { kind: 'invalid', reason: 'not-digits' }, 'a Unicode digit at the end of an ID'],
  ['880001**１２３４', { kind: 'invalid', reason: 'pin-not-digits' }, 'full-width digits in the PIN'],
  ['2001\u0000', { kind: 'invalid', reason: 'not-digits' }, 'a NUL'],
  ['1e10', { kind: 'invalid', reason: 'not-digits' }, 'a number in exponent form'],
];

t.test('the dial plan table (with the reserved numbers of the settings)', async (t) => {
  for (const [input, expected, why] of TABLE) {
    const dial = classifyDial(input, context);
    t.match(dial, expected, `${why}: ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`);
    if (expected.kind !== 'meeting' || expected.pin === undefined) t.notOk('pin' in dial && dial.pin !== undefined, `${why}: no PIN`);
    if (dial.kind === 'invalid') t.ok(dial.message.length > 10, `${why}: says what is wrong (${dial.message})`);
  }
});

t.test('without a context the reserved numbers are meetings like any other', async (t) => {
  t.same(classifyDial('88888'), { kind: 'meeting', id: '88888' });
  t.same(classifyDial('99999**1234'), { kind: 'meeting', id: '99999', pin: '1234' });
  t.same(classifyDial('2001'), { kind: 'account', number: '2001' });
});

t.test('the IVR access number wins when the two settings name the same number', async (t) => {
  t.same(classifyDial('77777', { ivrAccessNumber: '77777', instantMeetingNumber: '77777' }), { kind: 'ivr', number: '77777' });
  t.same(classifyDial('77777**1234', { ivrAccessNumber: '77777', instantMeetingNumber: '77777' }), { kind: 'instant', number: '77777' }, 'with a PIN it is no IVR call');
});

t.test('the context comes from the settings', async (t) => {
  const settings = { get: (key: 'call.ivrAccessNumber' | 'call.instantMeetingNumber') => (key === 'call.ivrAccessNumber' ? '123456' : '654321') };
  t.same(dialContextOf(settings), { ivrAccessNumber: '123456', instantMeetingNumber: '654321' });
  t.same(classifyDial('123456', dialContextOf(settings)), { kind: 'ivr', number: '123456' });
  t.same(classifyDial('654321', dialContextOf(settings)), { kind: 'instant', number: '654321' });
});

t.test('shape checks agree with the classification and with the API patterns', async (t) => {
  const samples = [...TABLE.map(([input]) => input), '1234', '12345', '1234567', '12345678', '123456789', '0', 'abcd', undefined, 1234, null];
  const account = new RegExp(ACCOUNT_NUMBER_PATTERN, 'u');
  const meeting = new RegExp(MEETING_NUMBER_PATTERN, 'u');
  const pin = new RegExp(STORED_PIN_PATTERN, 'u');
  const optionalPin = new RegExp(OPTIONAL_PIN_PATTERN, 'u');
  for (const sample of samples) {
    const text = typeof sample === 'string' ? sample : undefined;
    const dial = text === undefined ? undefined : classifyDial(text);
    const name = JSON.stringify(typeof sample === 'string' && sample.length > 40 ? `${sample.slice(0, 40)}…` : sample);
    t.equal(isAccountNumber(sample), dial?.kind === 'account', `isAccountNumber(${name})`);
    t.equal(isMeetingNumber(sample), dial?.kind === 'meeting' && dial.pin === undefined, `isMeetingNumber(${name})`);
    if (text !== undefined) {
      t.equal(account.test(text), isAccountNumber(text), `account pattern on ${name}`);
      t.equal(meeting.test(text), isMeetingNumber(text), `meeting pattern on ${name}`);
      t.equal(pin.test(text), isStoredPin(text), `PIN pattern on ${name}`);
      t.equal(optionalPin.test(text), text === '' || isStoredPin(text), `optional PIN pattern on ${name}`);
    }
  }
  t.ok(isStoredPin('1234') && isStoredPin('12345678'));
  t.notOk(isStoredPin('123') || isStoredPin('123456789') || isStoredPin('１２３４'));
  t.ok(isDialledPin('1') && isDialledPin('1234567890123456'));
  t.notOk(isDialledPin('') || isDialledPin('12345678901234567') || isDialledPin('12*4') || isDialledPin('١٢٣٤'));
});

t.test('dial strings are written the way the dial plan reads them', async (t) => {
  t.equal(formatDial('880001'), '880001');
  t.equal(formatDial('880001', ''), '880001', 'an empty guest PIN is no PIN');
  t.equal(formatDial('880001', '1234'), '880001**1234');
  t.same(classifyDial(formatDial('880001', '1234')), { kind: 'meeting', id: '880001', pin: '1234' });
});

t.test('generated numbers are meeting numbers (the first digit never 0)', async (t) => {
  for (let i = 0; i < 200; i++) {
    const number = randomDigits(6);
    t.ok(isMeetingNumber(number) && number[0] !== '0', number);
  }
});

t.test('the stores refuse the numbers the settings reserve, as the settings store reads them now', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-dial-plan-'));
  const db = openDatabase(path.join(dir, 'vcbox.db'));
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  migrate(db);
  const settings = new SettingsStore(db);
  const vmrs = new VmrStore(db, settings);
  const meetings = new MeetingStore(db, settings);
  t.throws(() => vmrs.create({ name: 'Lobby', number: '88888' }), { code: 'VCBOX_ERR_ROOM_EXISTS', message: /IVR access number/ }, 'the default IVR access number');
  settings.update({ 'call.ivrAccessNumber': '700700', 'call.instantMeetingNumber': '800800' }, { actor: 'test' });
  t.equal(vmrs.create({ name: 'Lobby', number: '88888' }).number, '88888', 'free again once the setting moved');
  t.throws(() => vmrs.create({ name: 'Hall', number: '700700' }), { code: 'VCBOX_ERR_ROOM_EXISTS', message: /IVR access number/ });
  const start = new Date(Date.now() + 3_600_000).toISOString();
  t.throws(() => meetings.create({ subject: 'Sync', start, durationMinutes: 30, number: '800800' }, 'chief'), { code: 'VCBOX_ERR_ROOM_EXISTS', message: /instant-meeting number/ });
  t.throws(() => meetings.create({ subject: 'Sync', start, durationMinutes: 30, number: '2001' }, 'chief'), { code: 'VCBOX_ERR_MEETING', message: /5 to 12 digits/ }, 'an account-shaped number');
  t.throws(() => vmrs.create({ name: 'Hall', number: '８８００１' }), { code: 'VCBOX_ERR_ROOM', message: /5 to 12 digits/ }, 'full-width digits');
  t.ok(meetings.create({ subject: 'Sync', start, durationMinutes: 30 }, 'chief').number.match(/^[1-9][0-9]{5}$/), 'a generated number');
});
