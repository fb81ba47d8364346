/**
 * The RFC 5424 bytes the box sends to a syslog collector, where a real collector would not
 * show what went wrong: header fields kept to printable ASCII and their lengths, NILVALUEs,
 * the BOM before UTF-8 text, a long message cut on a character boundary, and the
 * octet-counting frame counting bytes, not characters. (What rsyslog makes of the messages is
 * test/control-plane/remote-syslog.test.ts.)
 */
import t from 'tap';
import { FACILITY_LOCAL0, formatSyslogMessage, octetCounted, SEVERITY, severityOfLogLevel } from '../../server/core/syslog-message.ts';

const at = new Date('2026-11-22T07:52:59.165Z');

t.test('header, NILVALUEs, structured data, BOM', async (t) => {
  const bytes = formatSyslogMessage({
    facility: FACILITY_LOCAL0,
    severity: SEVERITY.notice,
    timestamp: at,
    hostname: 'box 1',
    appName: 'audit',
    structuredData: [{ id: 'audit@32473', params: { actor: 'a"b]c\\d', skipped: undefined, n: 3 } }],
    message: '会议 ok',
  });
  t.equal(bytes.toString('utf8'), '<133>1 2026-11-22T07:52:59.165Z box_1 audit - - [audit@32473 actor="a\\"b\\]c\\\\d" n="3"] \ufeff会议 ok');
  t.equal(formatSyslogMessage({ facility: 16, severity: 4, timestamp: at, hostname: '', appName: '' }).toString(), '<132>1 2026-11-22T07:52:59.165Z - - - - -', 'no text: no BOM either');
});

t.test('field lengths and a long text cut on a character boundary', async (t) => {
  const bytes = formatSyslogMessage({ facility: 16, severity: 3, timestamp: at, hostname: 'h', appName: 'x'.repeat(60), msgId: 'm'.repeat(40), message: '会'.repeat(5000) }, 1000);
  t.ok(bytes.length <= 1000);
  const text = bytes.toString('utf8');
  t.match(text, new RegExp(`^<131>1 \\S+ h ${'x'.repeat(48)} - ${'m'.repeat(32)} - \ufeff会+$`), 'APP-NAME 48, MSGID 32 characters; only whole characters');
  t.notOk(text.includes('\ufffd'), 'no broken UTF-8');
});

t.test('octet counting counts bytes', async (t) => {
  t.equal(octetCounted(Buffer.from('会议')).toString(), '6 会议');
});

t.test('pino levels to severities', async (t) => {
  t.same([60, 50, 40, 30, 20, 10].map(severityOfLogLevel), [2, 3, 4, 6, 7, 7]);
});
