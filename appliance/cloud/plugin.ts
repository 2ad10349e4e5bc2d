// GET /api/v1/cloud (viewer): the cloud link as staff and platform engineers see it — link state
// and since when, the last error in words, the cluster version, the token pool and the outbox of
// enrollment work waiting for the link. With a prom-client registry, the same as gauges.
// GET /api/v1/machines/:id/enrollment (viewer): one machine's latest enrollment checks, each with
// what was seen and what to do, unknown while the link is down.
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { errorResponses } from '../http/errors.ts';
import { idParams } from '../http/schemas.ts';
import type { Cloud } from './cloud.ts';

export interface CloudPluginOptions {
  cloud: Cloud;
  /** Where the gauges go (the /metrics registry); none = no gauges. */
  registry?: Registry;
}

const LINK_STATES = ['unconfigured', 'up', 'degraded', 'down'] as const;
const ms = { type: ['integer', 'null'] } as const;

const linkProperties = {
  state: { type: 'string', enum: [...LINK_STATES] },
  since: { type: 'integer' },
  lastError: { type: ['string', 'null'] },
  version: { type: ['string', 'null'] },
  checkedAt: ms,
  failures: { type: 'integer' },
  known: { type: 'boolean' },
} as const;

const CHECK_STATUSES = ['ok', 'failing', 'pending', 'unknown'] as const;

const enrollmentSchema = {
  type: 'object',
  properties: {
    machineId: { type: 'string' },
    nodeName: { type: ['string', 'null'] },
    checkedAt: ms,
    link: { type: 'object', properties: linkProperties },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'string', enum: [...CHECK_STATUSES] },
          seen: { type: 'string', enum: [...CHECK_STATUSES] },
          detail: { type: 'string' },
          fix: { type: ['string', 'null'] },
          since: { type: 'integer' },
          checkedAt: { type: 'integer' },
        },
      },
    },
  },
} as const;

const statusSchema = {
  type: 'object',
  properties: {
    configured: { type: 'boolean' },
    link: {
      type: 'object',
      properties: {
        ...linkProperties,
        server: { type: ['string', 'null'] },
        source: { type: ['string', 'null'] },
        replicas: { type: ['integer', 'null'] },
        tenantControlPlane: {
          type: ['object', 'null'],
          properties: {
            name: { type: 'string' }, namespace: { type: 'string' }, endpoint: { type: ['string', 'null'] },
            version: { type: ['string', 'null'] }, versionStatus: { type: ['string', 'null'] },
            konnectivity: { type: ['object', 'null'], properties: { enabled: { type: 'boolean' }, port: { type: ['integer', 'null'] } } },
          },
        },
      },
    },
    pool: {
      type: 'object',
      properties: { size: { type: 'integer' }, available: { type: 'integer' }, minting: { type: 'integer' }, earliestExpiry: ms, ttlMs: { type: 'integer' } },
    },
    outbox: { type: 'object', properties: { length: { type: 'integer' }, oldestAt: ms, lastError: { type: ['string', 'null'] } } },
  },
} as const;

export async function cloudPlugin(app: FastifyInstance, o: CloudPluginOptions): Promise<void> {
  if (!o?.cloud) throw new Error('cloud plugin needs the cloud link (createCloud)');
  const { cloud } = o;

  if (o.registry) {
    new Gauge({
      name: 'tether_cloud_link',
      help: 'Cloud link state: 1 for the current state, 0 for the others',
      labelNames: ['state'],
      registers: [o.registry],
      collect() {
        const now = cloud.link().state;
        for (const s of LINK_STATES) this.set({ state: s }, s === now ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tether_cloud_token_pool_available', help: 'Pooled bootstrap tokens that can be handed to a machine', registers: [o.registry],
      collect() { this.set(cloud.poolStatus().available); },
    });
    new Gauge({
      name: 'tether_cloud_outbox_length', help: 'Enrollment work waiting for the cloud link', registers: [o.registry],
      collect() { this.set(cloud.status().outbox.length); },
    });
  }

  app.get('/api/v1/cloud', {
    config: { access: 'viewer' },
    schema: { response: { 200: statusSchema, ...errorResponses } },
  }, async () => cloud.status());

  app.get('/api/v1/machines/:id/enrollment', {
    config: { access: 'viewer' },
    schema: { params: idParams, response: { 200: enrollmentSchema, ...errorResponses } },
  }, async (request) => cloud.enrollment((request.params as { id: string }).id));
}
