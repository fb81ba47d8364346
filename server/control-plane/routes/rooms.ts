/**
 * Rooms API: physical rooms (normal, or video bound to an account — the list shows the bound
 * terminal's model and version from its registration) and virtual meeting rooms (number, name,
 * owner, host/guest PINs, capacity, layout). Search, create, change, delete one or many; every
 * change audited.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import type { Room, RoomStore } from '../../rooms/room-store.ts';
import { auditAction } from '../route-helpers.ts';
import { VMR_LAYOUTS, type VmrInput, type VmrStore } from '../../rooms/vmr-store.ts';
import { ACCOUNT_NUMBER_PATTERN, MEETING_NUMBER_PATTERN, OPTIONAL_PIN_PATTERN, STORED_PIN_PATTERN } from '../../dial-plan/dial-plan.ts';

export type DeviceLookup = (account: string) => { model: string; version: string } | undefined;

interface Options {
  readonly db: Db;
  readonly rooms: RoomStore;
  readonly vmrs: VmrStore;
  readonly devices: DeviceLookup;
}

const id = { type: 'object', properties: { id: { type: 'integer' } } } as const;
const ids = { type: 'object', required: ['ids'], additionalProperties: false, properties: { ids: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'integer' } } } } as const;
const roomView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    type: { type: 'string' },
    account: { type: ['string', 'null'] },
    deviceModel: { type: ['string', 'null'] },
    deviceVersion: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;
const vmrProperties = {
  number: { type: 'string', pattern: MEETING_NUMBER_PATTERN, description: 'a VMR number of 5 to 12 digits (4 digits are accounts)' },
  name: { type: 'string', minLength: 1, maxLength: 128, description: 'a name of 1 to 128 characters' },
  owner: { type: ['string', 'null'], pattern: ACCOUNT_NUMBER_PATTERN, description: 'an account number of exactly 4 digits' },
  hostPin: { type: 'string', pattern: STORED_PIN_PATTERN, description: 'a PIN of 4 to 8 digits' },
  guestPin: { type: 'string', pattern: OPTIONAL_PIN_PATTERN, description: 'a PIN of 4 to 8 digits, or empty for none' },
  capacity: { type: 'integer', minimum: 2, maximum: 500, description: 'a capacity of 2 to 500 participants' },
  layout: { type: 'string', enum: [...VMR_LAYOUTS] },
} as const;
const vmrView = { type: 'object', properties: { id: { type: 'integer' }, ...vmrProperties, owner: { type: ['string', 'null'] }, createdAt: { type: 'string' } } } as const;

export const roomRoutes: FastifyPluginAsync<Options> = async (app, { db, rooms, vmrs, devices }) => {
  const audit = (request: FastifyRequest, action: string, detail: unknown) => auditAction(db, request, action, detail);
  const view = (room: Room) => {
    const device = room.account ? devices(room.account) : undefined;
    return { ...room, deviceModel: device?.model ?? null, deviceVersion: device?.version ?? null };
  };

  app.get<{ Querystring: { q?: string; type?: 'normal' | 'video' } }>(
    '/rooms',
    {
      schema: {
        summary: 'Physical rooms',
        description: "Normal rooms, or video rooms bound to an account, listed with the registered terminal's model and version.",
        querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', maxLength: 255 }, type: { type: 'string', enum: ['normal', 'video'] } } },
        response: { 200: { type: 'array', items: roomView } },
      },
    },
    async (request) => rooms.list(request.query).map(view),
  );

  const roomBody = {
  name: { type: 'string', minLength: 1, maxLength: 255, description: 'a room name of 1 to 255 characters' },
  type: { type: 'string', enum: ['normal', 'video'] },
  account: { type: ['string', 'null'], pattern: ACCOUNT_NUMBER_PATTERN, description: 'an account number of exactly 4 digits' },
} as const;
  app.post<{ Body: { name: string; type: 'normal' | 'video'; account?: string | null } }>(
    '/rooms',
    { schema: { summary: 'Add a room', body: { type: 'object', required: ['name', 'type'], additionalProperties: false, properties: roomBody }, response: { 201: roomView } } },
    async (request, reply) => {
      const room = rooms.create(request.body);
      audit(request, 'room.create', room);
      return reply.status(201).send(view(room));
    },
  );

  app.patch<{ Params: { id: number }; Body: { name?: string; type?: 'normal' | 'video'; account?: string | null } }>(
    '/rooms/:id',
    { schema: { summary: 'Change a room', params: id, body: { type: 'object', minProperties: 1, additionalProperties: false, properties: roomBody }, response: { 200: roomView } } },
    async (request) => {
      const room = rooms.update(request.params.id, request.body);
      audit(request, 'room.update', room);
      return view(room);
    },
  );

  app.post<{ Body: { ids: number[] } }>(
    '/rooms/delete',
    { schema: { summary: 'Delete rooms', body: ids, response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: { type: 'integer' } } } } } } },
    async (request) => {
      const deleted = rooms.delete(request.body.ids);
      audit(request, 'room.delete', { ids: deleted });
      return { deleted };
    },
  );

  app.get<{ Querystring: { q?: string } }>(
    '/vmrs',
    {
      schema: {
        summary: 'Virtual meeting rooms',
        querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', maxLength: 128 } } },
        response: { 200: { type: 'array', items: vmrView } },
      },
    },
    async (request) => vmrs.list(request.query.q),
  );

  app.post<{ Body: VmrInput }>(
    '/vmrs',
    {
      schema: {
        summary: 'Add a VMR (number and PINs generated when not given)',
        description: 'Numbers of 5-12 digits, so they never collide with 4-digit accounts (they share the dial plan with meetings); host and guest PINs of 4-8 digits, never equal.',
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: vmrProperties },
        response: { 201: vmrView },
      },
    },
    async (request, reply) => {
      const vmr = vmrs.create(request.body);
      audit(request, 'vmr.create', { id: vmr.id, number: vmr.number, name: vmr.name });
      return reply.status(201).send(vmr);
    },
  );

  app.patch<{ Params: { id: number }; Body: Partial<VmrInput> }>(
    '/vmrs/:id',
    { schema: { summary: 'Change a VMR', params: id, body: { type: 'object', minProperties: 1, additionalProperties: false, properties: vmrProperties }, response: { 200: vmrView } } },
    async (request) => {
      const vmr = vmrs.update(request.params.id, request.body);
      audit(request, 'vmr.update', { id: vmr.id, changes: Object.keys(request.body) });
      return vmr;
    },
  );

  app.post<{ Body: { ids: number[] } }>(
    '/vmrs/delete',
    { schema: { summary: 'Delete VMRs', body: ids, response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: { type: 'integer' } } } } } } },
    async (request) => {
      const deleted = vmrs.delete(request.body.ids);
      if (deleted.length === 0) throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'VMR', id: request.body.ids.join(', ') });
      audit(request, 'vmr.delete', { ids: deleted });
      return { deleted };
    },
  );
};
