/**
 * Finding 12 (input that reaches configuration files, SIP headers and calendars):
 *  - `network.localDomain` goes into coturn's configuration (realm), SIP digest challenges and
 *    mail addresses: a value with CR/LF, a semicolon, spaces, quotes or malformed labels is
 *    refused wherever it can be written — PATCH /settings, the setup wizard, and the restore of
 *    a backup whose database holds one (a crafted backup: the value is put into the database
 *    behind the API's back) — and the stored value stays as it was;
 *  - a meeting subject with a bare CR (or CRLF, LF) does not start a property of its own in
 *    the invitation's iCalendar attachment, read the way a lenient calendar parser reads it
 *    (any of CR, LF, CRLF ends a line).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { attachment, startSmtpSink } from '../helpers/smtp-sink.ts';

const PASSPHRASE = 'domain test passphrase';
const smtp = await startSmtpSink();
t.teardown(() => smtp.close());
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sec-domain-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
const paths = dataPaths(config);
const state = openState(config);
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.sender': 'box@vcbox.local' }, { actor: 'test' });
await new AdminStore(state.db).create({ username: 'admin', password: 'admin-pw1', role: 'admin' });
new AccountStore(state.db).create({ number: '1001', name: 'Alice', email: 'alice@example.com', password: 'secret-1' }, 'vcbox.local');
const store = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store, maxUploadBytes: config.backup.maxUploadBytes });
const base = await startConsoleApi(t, { state, backups: { store, restorer } });
const admin = new ConsoleClient(base);
await admin.login('admin', 'admin-pw1');

const HOSTILE = ['evil.local\r\nrealm=attacker', 'evil.local\nuser=x:y', 'a.local;transport=tcp', 'two words.local', 'quote".local', "it's.local", 'a..b', '-lead.local', 'trail-.local', `${'x'.repeat(64)}.local`, ''];

t.test('PATCH /settings refuses a local domain that could inject', async (t) => {
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'network.localDomain': 'meet.example.com' })).status, 200, 'a real domain is taken');
  for (const value of HOSTILE) {
    const answer = await admin.call('PATCH', '/api/v1/settings', { 'network.localDomain': value });
    t.equal(answer.status, 400, JSON.stringify(value));
    t.match(answer.body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'network.localDomain', message: /labels of letters, digits and hyphens/ }, JSON.stringify(value));
  }
  t.equal(state.settings.get('network.localDomain'), 'meet.example.com', 'the stored value is unchanged');
});

t.test('the setup wizard refuses it too', async (t) => {
  for (const value of HOSTILE) {
    const answer = await admin.call('PUT', '/api/v1/setup/network', { localDomain: value });
    t.equal(answer.status, 400, JSON.stringify(value));
    t.match(answer.body, { field: 'localDomain' }, JSON.stringify(value));
  }
  t.equal(state.settings.get('network.localDomain'), 'meet.example.com');
});

t.test('a backup whose database holds such a value is refused on restore; nothing changes', async (t) => {
  // Another box whose database was edited behind the API (a crafted backup), backed up normally.
  const craftedDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sec-domain-crafted-'));
  const crafted = openState(loadConfig({ VCBOX_DATA_DIR: craftedDir }));
  crafted.db.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('network.localDomain', ?, 'x')").run(JSON.stringify('evil.local\r\nexternal-ip=6.6.6.6'));
  const craftedPaths = dataPaths(loadConfig({ VCBOX_DATA_DIR: craftedDir }));
  const made = await new BackupStore(crafted.db, { backups: craftedPaths.backups, certificates: craftedPaths.certificates, prompts: craftedPaths.prompts }).create('manual', { actor: 'test' }, 'Crafted', PASSPHRASE);
  crafted.db.close();
  t.equal(made.name, 'Crafted');
  const { readFileSync } = await import('node:fs');
  const response = await fetch(`${base}/api/v1/backups/restore`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'x-backup-passphrase': encodeURIComponent(PASSPHRASE) },
    body: readFileSync(path.join(craftedPaths.backups, 'Crafted.vcbackup')),
  });
  const body = await response.json();
  t.equal(response.status, 422, JSON.stringify(body));
  t.match(body, { code: 'VCBOX_ERR_BACKUP_INVALID', message: /its setting network\.localDomain is not allowed .*Nothing was changed/ });
  t.equal(state.settings.get('network.localDomain'), 'meet.example.com', 'the box keeps its domain');
});

t.test('a subject with a bare CR does not add an iCalendar property', async (t) => {
  const start = new Date(Date.now() + 2 * 86_400_000);
  start.setUTCHours(1, 0, 0, 0);
  const created = await admin.call('POST', '/api/v1/meetings', {
    subject: 'Review\rATTENDEE:mailto:eve@attacker.example\r\nX-INJECTED:1\nORGANIZER:mailto:eve@attacker.example',
    start: start.toISOString(),
    durationMinutes: 30,
    accounts: ['1001'],
    sendInvitations: true,
  });
  t.equal(created.status, 201, JSON.stringify(created.body));
  const mail = smtp.mails.at(-1);
  const ics = attachment(mail as NonNullable<typeof mail>, 'meeting.ics') ?? '';
  t.match(ics, /^BEGIN:VCALENDAR\r\n/, 'an iCalendar attachment');
  // Unfolded the lenient way: every CR, LF or CRLF ends a line.
  const lines = ics.replace(/\r\n[ \t]/g, '').split(/\r\n|\r|\n/);
  t.notOk(lines.some((line) => line.startsWith('ATTENDEE')), 'no ATTENDEE property');
  t.notOk(lines.some((line) => line.startsWith('X-INJECTED')), 'no X-INJECTED property');
  t.equal(lines.filter((line) => line.startsWith('ORGANIZER')).length, 1, 'one ORGANIZER, the box\'s');
  t.match(lines.find((line) => line.startsWith('SUMMARY:')), /^SUMMARY:Review\\nATTENDEE:mailto:eve@attacker\.example\\nX-INJECTED:1\\nORGANIZER:/, 'the line breaks are escaped as \\n inside SUMMARY');
});
