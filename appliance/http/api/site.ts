// /api/v1/site: what the site view needs besides the machines — the configured zones (a zone with
// no machine yet still gets its column), counts per state, and the cloud link's status.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.ts';
import type { TetherConfig } from '../../config/load.ts';
import { describeRule } from '../../lifecycle/autoapprove.ts';
import type { Cloud } from '../../cloud/cloud.ts';

export default async function siteApi(app: FastifyInstance, o: { store: Store; config: TetherConfig; cloud: Cloud }): Promise<void> {
  if (!o.store || !o.config || !o.cloud) throw new Error('site API needs a store, the config and the cloud link');
  const { store, config, cloud } = o;
  app.get('/api/v1/site', {
    config: { access: 'viewer' },
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            site: { type: 'string' },
            zones: { type: 'array', items: { type: 'string' } },
            // Per zone, the auto-approve rules in words; an empty list means manual approval.
            autoApprove: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
            counts: { type: 'object', additionalProperties: { type: 'integer' } },
            total: { type: 'integer' },
            // The banner: state (null until the first probe decided it), since when, what is queued.
            cloudLink: {
              type: 'object',
              properties: {
                configured: { type: 'boolean' }, status: { type: ['string', 'null'] }, since: { type: ['integer', 'null'] },
                lastError: { type: ['string', 'null'] }, queued: { type: 'integer' }, pooledTokens: { type: 'integer' },
              },
            },
          },
        },
      },
    },
  }, async () => {
    const counts = store.countByState();
    return {
      site: config.site,
      zones: config.zones.map((z) => z.name),
      autoApprove: Object.fromEntries(config.zones.map((z) => [z.name, z.autoApprove.map(describeRule)])),
      counts,
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      cloudLink: cloudLinkSummary(cloud),
    };
  });

  // Every machine as a tile, in one response (the list API pages at 1,000 full machines).
  app.get('/api/v1/site/tiles', {
    config: { access: 'viewer' },
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' }, hostname: { type: ['string', 'null'] }, bootMac: { type: 'string' }, state: { type: 'string' },
                  stateReason: { type: ['string', 'null'] }, zone: { type: ['string', 'null'] }, rack: { type: ['string', 'null'] }, slot: { type: ['number', 'null'] },
                },
              },
            },
          },
        },
      },
    },
  }, async () => ({ items: store.siteTiles() }));
}

function cloudLinkSummary(cloud: Cloud) {
  const st = cloud.status();
  const known = st.configured && st.link.known;
  return {
    configured: st.configured,
    status: known ? st.link.state : null,
    since: known ? st.link.since : null,
    lastError: st.link.lastError,
    queued: st.outbox.length,
    pooledTokens: st.pool.available,
  };
}
