// /api/v1/machines: list, register, show with history, and operator actions. State rules live in
// the lifecycle; this plugin only validates, authorizes and renders.
import type { FastifyInstance } from 'fastify';
import type { Store, MachineQuery } from '../../store/store.ts';
import { ACTIONS, applyAction, discover, type Action } from '../../lifecycle/lifecycle.ts';
import { STATES } from '../../lifecycle/states.ts';
import { ApiError, errorResponses } from '../errors.ts';
import { idParams, macPattern } from '../schemas.ts';
import { getInventory } from '../../store/inventory.ts';

export interface MachinesApiOptions { store: Store; zones: string[] }

export default async function machinesApi(app: FastifyInstance, o: MachinesApiOptions): Promise<void> {
  if (!o.store) throw new Error('machines API needs a store');
  const { store } = o;
  const errors = errorResponses;

  app.get('/api/v1/machines', {
    config: { access: 'viewer' },
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'string', enum: [...STATES] },
          zone: { type: 'string', maxLength: 63 },
          rack: { type: 'string', maxLength: 128 },
          q: { type: 'string', maxLength: 128 },
          sort: { type: 'string', enum: ['id', 'state', 'zone', 'rack', 'updatedAt', 'createdAt', 'hostname'] },
          order: { type: 'string', enum: ['asc', 'desc'] },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
      response: {
        200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'machine#' } }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
        ...errors,
      },
    },
  }, async (request) => {
    const q = request.query as MachineQuery;
    return { ...store.listMachines(q), limit: q.limit, offset: q.offset };
  });

  app.post('/api/v1/machines', {
    config: { access: 'operator' },
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['mac'],
        properties: {
          mac: { type: 'string', pattern: macPattern },
          zone: { type: 'string', maxLength: 63 },
          rack: { type: 'string', minLength: 1, maxLength: 128 },
          hostname: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
        },
      },
      response: { 201: { $ref: 'machine#' }, ...errors },
    },
  }, async (request, reply) => {
    const b = request.body as { mac: string; zone?: string; rack?: string; hostname?: string };
    if (b.zone && !o.zones.includes(b.zone)) {
      throw new ApiError('bad_request', `zone ${b.zone} is not configured; zones: ${o.zones.join(', ') || '(none)'}`, { zone: b.zone });
    }
    const { machine } = discover(store, { mac: b.mac, zone: b.zone, rack: b.rack, hostname: b.hostname, actor: 'operator', actorName: request.principal!.user, reason: 'registered by operator' });
    return reply.status(201).send(machine);
  });

  app.get('/api/v1/machines/:id', {
    config: { access: 'viewer' },
    schema: {
      params: idParams,
      response: { 200: { type: 'object', properties: { machine: { $ref: 'machine#' }, events: { type: 'array', items: { $ref: 'event#' } } } }, ...errors },
    },
  }, async (request) => {
    const machine = store.mustGetMachine((request.params as { id: string }).id);
    return { machine, events: store.listEvents({ machineId: machine.id, limit: 200 }) };
  });

  // The hardware as the agent last reported it (agent/protocol.ts Inventory: absent facts say why).
  app.get('/api/v1/machines/:id/inventory', {
    config: { access: 'viewer' },
    schema: { params: idParams, response: errors },
  }, async (request) => {
    const machine = store.mustGetMachine((request.params as { id: string }).id);
    const inv = getInventory(store, machine.id);
    if (!inv) throw new ApiError('not_found', `machine ${machine.id} has not reported its hardware yet`);
    return { machineId: machine.id, reportedAt: inv.reportedAt, inventory: inv.doc };
  });

  app.post('/api/v1/machines/:id/actions/:action', {
    config: { access: 'operator' },
    schema: {
      params: { type: 'object', required: ['id', 'action'], properties: { ...idParams.properties, action: { type: 'string', enum: [...ACTIONS] } } },
      body: {
        type: ['object', 'null'], additionalProperties: false,
        properties: { reason: { type: 'string', maxLength: 500 }, full: { type: 'boolean', description: 'wipe: overwrite every byte, not only partition tables and signatures' } },
      },
      response: { 200: { type: 'object', properties: { machine: { $ref: 'machine#' }, event: { $ref: 'event#' } } }, ...errors },
    },
  }, async (request) => {
    const { id, action } = request.params as { id: string; action: Action };
    const machine = store.mustGetMachine(id);
    const body = request.body as { reason?: string; full?: boolean } | null;
    if (body?.full !== undefined && action !== 'wipe') throw new ApiError('bad_request', '"full" applies to the wipe action only');
    return applyAction(store, machine.id, action, { actorName: request.principal!.user, reason: body?.reason, full: body?.full });
  });
}
