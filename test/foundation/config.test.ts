/** Configuration: embedded defaults, file and environment overrides, and clear errors. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { PROJECT_ROOT, loadConfig } from '../../server/core/config.ts';
import { VcboxError } from '../../server/core/errors.ts';

t.test('embedded defaults', async (t) => {
  const config = loadConfig({});
  t.equal(config.dataDir, path.join(PROJECT_ROOT, 'data'));
  t.equal(config.logDir, path.join(PROJECT_ROOT, 'data', 'logs'));
  t.equal(config.http.port, undefined, 'the HTTP port comes from the stored setting (80) unless fixed (the dev run command fixes 8080)');
  t.equal(config.sip.port, undefined, 'SIP ports come from the stored settings (5060/5061) unless overridden');
  t.equal(config.signaling.host, '127.0.0.1', 'the application port is loopback only');
  t.same(config.bfcp, { host: '0.0.0.0', port: 5090, tlsPort: 5091 }, 'BFCP on the SIP address: TCP/UDP 5090, TLS 5091');
  t.equal(config.logLevel, 'info');
});

t.test('a JSON file, then the environment, override the defaults', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-config-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ dataDir: 'box', http: { port: 8443 }, sip: { port: 5070, tlsPort: 5071 }, logLevel: 'debug' }));
  const fromFile = loadConfig({ VCBOX_CONFIG: file });
  t.equal(fromFile.dataDir, path.join(dir, 'box'), 'relative paths resolve against the file');
  t.equal(fromFile.http.port, 8443);
  t.same([fromFile.sip.port, fromFile.sip.tlsPort], [5070, 5071]);
  const fromEnv = loadConfig({ VCBOX_CONFIG: file, VCBOX_HTTP_PORT: '9000', VCBOX_LOG_LEVEL: 'warn' });
  t.equal(fromEnv.http.port, 9000);
  t.equal(fromEnv.logLevel, 'warn');
  const bfcp = loadConfig({ VCBOX_BFCP_PORT: '6000', VCBOX_BFCP_TLS_PORT: '6001', VCBOX_SIP_HOST: '10.0.0.2' }).bfcp;
  t.same(bfcp, { host: '10.0.0.2', port: 6000, tlsPort: 6001 }, 'the BFCP ports from the environment');
});

t.test('invalid values are refused with the field and the rule', async (t) => {
  const expectError = (env: Record<string, string>, pattern: RegExp, what: string) => {
    try {
      loadConfig(env);
      t.fail(`${what}: no error`);
    } catch (error) {
      t.type(error, VcboxError, what);
      t.match((error as Error).message, pattern, what);
    }
  };
  expectError({ VCBOX_HTTP_PORT: '70000' }, /http\.port .*"70000" is not a port number \(1-65535\)/, 'port out of range');
  expectError({ VCBOX_SIP_PORT: 'abc' }, /sip\.port .*not a port number/, 'port not a number');
  expectError({ VCBOX_SIP_PORT: '5060', VCBOX_SIP_TLS_PORT: '5060' }, /TLS port must differ from the UDP\/TCP port 5060/, 'TLS = UDP/TCP');
  expectError({ VCBOX_BFCP_PORT: '6000', VCBOX_BFCP_TLS_PORT: '6000' }, /bfcp\.tlsPort .*must differ from the BFCP TCP\/UDP port 6000/, 'BFCP TLS = BFCP TCP/UDP');
  expectError({ VCBOX_SIP_PORT: '6000', VCBOX_BFCP_PORT: '6000' }, /bfcp\.port .*6000 is a SIP port of this run/, 'BFCP on a SIP port');
  expectError({ VCBOX_BFCP_TLS_PORT: 'x' }, /bfcp\.tlsPort .*not a port number/, 'BFCP port not a number');
  expectError({ VCBOX_LOG_LEVEL: 'loud' }, /"loud" is not one of fatal, error/, 'log level');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-config-'));
  writeFileSync(path.join(dir, 'bad.json'), '{ "http": ');
  expectError({ VCBOX_CONFIG: path.join(dir, 'bad.json') }, /Cannot read the configuration file .*bad\.json/, 'broken JSON');
  expectError({ VCBOX_CONFIG: path.join(dir, 'missing.json') }, /Cannot read the configuration file .*ENOENT/, 'missing file');
});
