/**
 * Vendor side: signs a licence for one box with an Ed25519 private key file and prints the
 * licence text (or writes it to --out). The box verifies it with the public key compiled into
 * its build (server/license/license-keys.ts); tests sign with test/fixtures/license/test-private.pem.
 *
 *   node scripts/license/issue-license.ts --key vendor-private.pem --serial VCB-2026-0001 \
 *     --box ABCD-EFGH-JKLM-NPQR --ports 50 [--from 2026-01-01T00:00:00Z] \
 *     (--until 2027-01-01T00:00:00Z | --days 365 | --perpetual) [--out licence.txt]
 *
 * `--from` defaults to now; the box ID is what GET /api/v1/license shows as `boxId`.
 * A new key pair: `openssl genpkey -algorithm ed25519 -out vendor-private.pem`.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { issueLicense } from '../../server/license/license-format.ts';

const USAGE = 'usage: issue-license.ts --key FILE --serial SERIAL --box BOX-ID --ports N [--from ISO] (--until ISO | --days N | --perpetual) [--out FILE]';

const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    serial: { type: 'string' },
    box: { type: 'string' },
    ports: { type: 'string' },
    from: { type: 'string' },
    until: { type: 'string' },
    days: { type: 'string' },
    perpetual: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

if (!values.key || !values.serial || !values.box || !values.ports) fail('--key, --serial, --box and --ports are needed');
const ends = [values.until !== undefined, values.days !== undefined, values.perpetual].filter(Boolean).length;
if (ends !== 1) fail('give exactly one of --until, --days, --perpetual');
const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const from = values.from ? new Date(values.from) : new Date();
if (Number.isNaN(from.getTime())) fail(`--from ${values.from} is not a date`);
let until: string | null = null;
if (values.until) {
  const date = new Date(values.until);
  if (Number.isNaN(date.getTime())) fail(`--until ${values.until} is not a date`);
  until = iso(date);
} else if (values.days) {
  until = iso(new Date(from.getTime() + Number(values.days) * 86_400_000));
}

try {
  const text = issueLicense(
    { v: 1, serial: values.serial, boxId: values.box, ports: Number(values.ports), validFrom: iso(from), validUntil: until, issuedAt: iso(new Date()) },
    createPrivateKey(readFileSync(values.key, 'utf8')),
  );
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
} catch (error) {
  fail((error as Error).message);
}
