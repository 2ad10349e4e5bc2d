// /api/v1/site: what the site view needs besides the machines — the configured zones (a zone with
// no machine yet still gets its column), counts per state, and the cloud link's status.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.ts';
import type { TetherConfig } from '../../config/load.ts';
import { describeRule } from '../../lifecycle/autoapprove.ts';

export default async function siteApi(app: FastifyInstance, o: { store: Store; config: TetherConfig }): Promise<void> {
  if (!o.store || !o.config) throw new Error('site API needs a store and the config');
  const { store, config } = o;
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
            // `status` stays null until the cloud link reports one (the cloud issue adds it).
            cloudLink: { type: 'object', properties: { configured: { type: 'boolean' }, status: { type: ['string', 'null'] } } },
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
      cloudLink: { configured: Boolean(config.cloud.kubeconfig), status: null },
    };
  });
}
