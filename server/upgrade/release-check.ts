/**
 * The check a new release passes before the box switches to it: run by the upgrade
 * (./upgrade-runner.ts) as `node <release>/server/upgrade/release-check.ts` with the box's Node,
 * from the unpacked release folder, so it is the NEW code that is checked. It loads what the
 * services load — every module of the control plane, the signaling service, the media process
 * and the TURN service (so a file Node cannot parse, a missing module or dependency fails here), the SQLite
 * addon (an in-memory database taken through every migration), the audio codec addon (an
 * encoder made), the mediasoup worker binary and the MCU compositor (present and executable) —
 * and prints one line of JSON: version, build, build time, schema version. It starts nothing,
 * listens on nothing and touches no data; exit status 0 means the release can start.
 *
 * What it cannot know — whether the release starts against this box's data, configuration and
 * ports — the health check after the restart finds out (./upgrade-runner.ts).
 */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const problems: string[] = [];
const step = async (what: string, check: () => unknown) => {
  try {
    await check();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message.split('\n')[0]}`);
  }
};

await step('the control plane', () => import('../control-plane/app.ts'));
await step('the SIP application', () => import('../sip-app/sip-application.ts'));
await step('the signaling service', () => import('../signaling/signaling-service.ts'));
await step('the media service', () => import('../../media/media-service.ts'));
await step('the media worker pool', () => import('../../media/worker-pool/worker-pool.ts'));
await step('the TURN service', () => import('../turn/turn-service.ts'));
let schemaVersion = -1;
await step('the database', async () => {
  const { default: Database } = await import('better-sqlite3');
  const { migrate, schemaVersion: versionOf } = await import('../db/migrations.ts');
  const db = new Database(':memory:');
  try {
    migrate(db);
    schemaVersion = versionOf(db);
  } finally {
    db.close();
  }
});
await step('the audio codec addon', async () => {
  const { AudioEncoder } = await import('../../media/audio-mixer/audio-codec.ts');
  new AudioEncoder('opus');
});
await step('the mediasoup worker', () => accessSync(`${root}node_modules/mediasoup/worker/out/Release/mediasoup-worker`, constants.X_OK));
await step('the MCU compositor', async () => {
  const { COMPOSITOR_BINARY } = await import('../../media/mcu/compositor-process.ts');
  accessSync(COMPOSITOR_BINARY, constants.X_OK);
});
await step('the video transcoder', async () => {
  const { TRANSCODER_BINARY } = await import('../../media/meetings/video-transcoder.ts');
  accessSync(TRANSCODER_BINARY, constants.X_OK);
});
const { BUILD_INFO } = await import('../core/version.ts');

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ version: BUILD_INFO.version, build: BUILD_INFO.build, buildTime: BUILD_INFO.buildTime, schemaVersion })}\n`);
// Imported modules may hold timers or handles; the check is done.
process.exit(0);
