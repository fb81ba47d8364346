/**
 * An in-house certificate authority for tests, made with Debian's openssl the way an IT
 * department does: a root CA, an intermediate CA signed by it, and server certificates signed
 * by the intermediate (for 127.0.0.1 and localhost), with chosen validity dates (`openssl ca`
 * takes start and end dates, so an expired or not-yet-valid certificate is a real one).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCertificate {
  /** PEM private key (PKCS#8, not encrypted). */
  readonly key: string;
  /** PEM server certificate. */
  readonly cert: string;
}

export interface TestCa {
  readonly rootCert: string;
  readonly intermediateCert: string;
  /** A server certificate for 127.0.0.1/localhost signed by the intermediate; dates as openssl's YYYYMMDDhhmmssZ. */
  issue(commonName: string, dates?: { start: string; end: string }): Promise<IssuedCertificate>;
  /** A private key of no certificate here. */
  strayKey(): Promise<string>;
}

const caConfig = (dir: string) => `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_server ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

async function newKey(file: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file]);
}

function caDir(root: string, name: string): { dir: string; config: string } {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'issued'), { recursive: true });
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), `${(Math.floor(Math.random() * 0xffff) + 0x1000).toString(16)}\n`);
  const config = path.join(dir, 'ca.cnf');
  writeFileSync(config, caConfig(dir));
  return { dir, config };
}

export async function createTestCa(): Promise<TestCa> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'vcbox-test-ca-'));
  const rootCa = caDir(root, 'root');
  const interCa = caDir(root, 'intermediate');
  const file = (name: string) => path.join(root, name);

  await newKey(file('root.key'));
  await run('openssl', ['req', '-x509', '-new', '-key', file('root.key'), '-subj', '/CN=vcbox Test Root CA/O=vcbox tests', '-days', '30', '-config', rootCa.config, '-extensions', 'v3_ca', '-out', file('root.crt')]);
  await newKey(file('intermediate.key'));
  await run('openssl', ['req', '-new', '-key', file('intermediate.key'), '-subj', '/CN=vcbox Test Intermediate CA/O=vcbox tests', '-out', file('intermediate.csr')]);
  await run('openssl', ['ca', '-batch', '-config', rootCa.config, '-extensions', 'v3_ca', '-cert', file('root.crt'), '-keyfile', file('root.key'), '-in', file('intermediate.csr'), '-out', file('intermediate.crt'), '-notext']);

  let issued = 0;
  return {
    rootCert: readFileSync(file('root.crt'), 'utf8'),
    intermediateCert: readFileSync(file('intermediate.crt'), 'utf8'),
    async issue(commonName, dates) {
      const n = ++issued;
      await newKey(file(`server-${n}.key`));
      await run('openssl', ['req', '-new', '-key', file(`server-${n}.key`), '-subj', `/CN=${commonName}`, '-out', file(`server-${n}.csr`)]);
      await run('openssl', [
        'ca', '-batch', '-config', interCa.config, '-extensions', 'v3_server',
        '-cert', file('intermediate.crt'), '-keyfile', file('intermediate.key'),
        '-in', file(`server-${n}.csr`), '-out', file(`server-${n}.crt`), '-notext',
        ...(dates ? ['-startdate', dates.start, '-enddate', dates.end] : []),
      ]);
      return { key: readFileSync(file(`server-${n}.key`), 'utf8'), cert: readFileSync(file(`server-${n}.crt`), 'utf8') };
    },
    async strayKey() {
      const name = file(`stray-${++issued}.key`);
      await newKey(name);
      return readFileSync(name, 'utf8');
    },
  };
}
