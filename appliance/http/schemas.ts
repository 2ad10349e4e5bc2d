// Shared JSON schemas of API resources: used for validation and fast response serialization.
import { STATES } from '../lifecycle/states.ts';

export const machineSchema = {
  $id: 'machine',
  type: 'object',
  properties: {
    id: { type: 'string' },
    bootMac: { type: 'string' },
    macs: { type: 'array', items: { type: 'string' } },
    smbiosUuid: { type: ['string', 'null'] },
    serial: { type: ['string', 'null'] },
    hostname: { type: ['string', 'null'] },
    zone: { type: ['string', 'null'] },
    rack: { type: ['string', 'null'] },
    location: { type: ['object', 'null'], additionalProperties: true },
    state: { type: 'string', enum: [...STATES] },
    stateReason: { type: ['string', 'null'] },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    inventoriedAt: { type: ['integer', 'null'] },
  },
} as const;

export const eventSchema = {
  $id: 'event',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    machineId: { type: ['string', 'null'] },
    kind: { type: 'string' },
    from: { type: ['string', 'null'] },
    to: { type: ['string', 'null'] },
    actor: { type: 'string' },
    actorName: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    data: { type: ['object', 'null'], additionalProperties: true },
    at: { type: 'integer' },
  },
} as const;

export const macPattern = '^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$';
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;
