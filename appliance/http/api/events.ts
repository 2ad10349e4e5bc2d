// /api/v1/events: the audit trail and machine histories, newest first, paged by id cursor.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.ts';
import { errorResponses } from '../errors.ts';

export default async function eventsApi(app: FastifyInstance, o: { store: Store }): Promise<void> {
  if (!o.store) throw new Error('events API needs a store');
  app.get('/api/v1/events', {
    config: { access: 'viewer' },
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          machine: { type: 'string', maxLength: 64 },
          kind: { type: 'string', maxLength: 32 },
          actor: { type: 'string', maxLength: 32 },
          before: { type: 'integer', minimum: 1 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
        },
      },
      response: {
        200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'event#' } }, next: { type: ['integer', 'null'] } } },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const q = request.query as { machine?: string; kind?: string; actor?: string; before?: number; limit: number };
    const items = o.store.listEvents({ machineId: q.machine, kind: q.kind, actor: q.actor, before: q.before, limit: q.limit });
    return { items, next: items.length === q.limit ? items.at(-1)!.id : null };
  });
}
