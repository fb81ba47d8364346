/**
 * The control plane as the API reference sees it: the Fastify app built in-process (nothing
 * listens, no SIP or media process runs) with every optional part switched on — browser join,
 * IVR prompts, backups, maintenance, terminal firmware and provisioning — over a throw-away data
 * directory, and what it says about itself: its OpenAPI document and its route table (who may
 * call each route). The parts that would need another process (the media service, a terminal's
 * check-sync NOTIFY) stand in as refusals: registering routes never calls them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MEDIA_METHODS, type MediaControl } from '../../media/control/media-control-protocol.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import type { RouteGuard } from '../../server/control-plane/auth.ts';
import { buildApp } from '../../server/control-plane/app.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { createError } from '../../server/core/errors.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { openMaintenance } from '../../server/maintenance/open-maintenance.ts';
import { LiveMeetings } from '../../server/meetings/live-meetings.ts';
import { MeetingStore } from '../../server/meetings/meeting-store.ts';
import { ParticipantSessions } from '../../server/meetings/participant-sessions/participant-sessions.ts';
import { openState } from '../../server/process/open-state.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { LocationService } from '../../server/sip-app/registrar/location-service.ts';

/** The parts of an OpenAPI 3 document the reference reads. */
export interface OpenApiDocument {
  readonly paths?: Record<string, Record<string, OpenApiOperation>>;
}

export interface OpenApiOperation {
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: string[];
  readonly parameters?: { readonly in: string; readonly name: string; readonly required?: boolean; readonly description?: string; readonly schema?: JsonSchema }[];
  readonly requestBody?: { readonly required?: boolean; readonly content?: Record<string, { readonly schema?: JsonSchema }> };
  readonly responses?: Record<string, { readonly description?: string; readonly content?: Record<string, { readonly schema?: JsonSchema }> }>;
}

export interface JsonSchema {
  readonly type?: string | string[];
  readonly description?: string;
  readonly enum?: unknown[];
  readonly const?: unknown;
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly oneOf?: JsonSchema[];
  readonly anyOf?: JsonSchema[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly default?: unknown;
  readonly nullable?: boolean;
}

export interface ApiDescription {
  readonly document: OpenApiDocument;
  readonly routes: readonly RouteGuard[];
}

/** Stands in for the media service: every call is refused (the reference never makes one). */
function mediaAbsent(): MediaControl {
  const fail = async (): Promise<never> => {
    throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the API reference is built without a media service' });
  };
  return Object.fromEntries(MEDIA_METHODS.map((method) => [method, fail])) as unknown as MediaControl;
}

/** Builds the full control plane in-process, reads its description and closes it again. */
export async function describeApi(): Promise<ApiDescription> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-api-reference-'));
  const closers: (() => unknown)[] = [() => rmSync(dataDir, { recursive: true, force: true })];
  try {
    const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
    const paths = dataPaths(config);
    const state = openState(config);
    closers.unshift(() => state.db.close());
    const { db, settings } = state;
    const admins = new AdminStore(db);
    const live = new LiveMeetings();
    const sessions = new ParticipantSessions({ db, settings, live, vmrs: new VmrStore(db, settings), meetings: new MeetingStore(db, settings) });
    const backups = new BackupStore(db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
    const restorer = new BackupRestorer({ db, settings, store: backups, maxUploadBytes: config.backup.maxUploadBytes });
    const firmware = new FirmwareStore(db, { dir: paths.firmware, settings, maxUploadBytes: config.firmware.maxUploadBytes });
    const location = new LocationService();
    closers.unshift(() => location.close());
    const rollout = new FirmwareRollout({
      db,
      store: firmware,
      location,
      checkSync: async () => {
        throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the API reference is built without a SIP application' });
      },
    });
    closers.unshift(() => rollout.close());
    const maintenance = openMaintenance({ config, db, settings, admins, backups });
    closers.unshift(() => maintenance.close());
    const app = await buildApp({
      state,
      live,
      sessions,
      media: mediaAbsent(),
      online: () => location.online(),
      backups: { store: backups, restorer },
      firmware: { store: firmware, rollout },
      maintenance,
      promptDir: paths.prompts,
    });
    closers.unshift(() => app.close());
    await app.ready();
    return { document: app.swagger() as OpenApiDocument, routes: app.routeTable() };
  } finally {
    for (const close of closers) await close();
  }
}
