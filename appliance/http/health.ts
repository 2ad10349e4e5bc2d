// /healthz (open, for load balancers and the technician's first check) and /metrics (Prometheus).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/store.ts';
import { STATES } from '../lifecycle/states.ts';

declare module 'fastify' {
  interface FastifyInstance { metricsRegistry: Registry }
}

async function healthPlugin(app: FastifyInstance, o: { store: Store }): Promise<void> {
  if (!o.store) throw new Error('health plugin needs a store');
  const { store } = o;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tether_' });
  // Other capabilities (the cloud link) add their gauges to the same /metrics.
  app.decorate('metricsRegistry', registry);
  new Gauge({
    name: 'tether_machines',
    help: 'Machines per lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = store.countByState();
      for (const s of STATES) this.set({ state: s }, counts[s] ?? 0);
    },
  });
  const requests = new Counter({ name: 'tether_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  app.addHook('onResponse', async (request, reply) => {
    requests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) });
  });

  app.get('/healthz', { config: { access: 'open' }, schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' }, schema: { type: 'integer' } } } } } },
    async () => ({ status: 'ok', schema: store.schemaVersion() }));

  // Metrics carry fleet counts, not secrets, but still need a viewer: the open set stays minimal.
  app.get('/metrics', { config: { access: 'viewer' } }, async (_request, reply) => {
    void reply.type(registry.contentType);
    return registry.metrics();
  });
}

// Not encapsulated: the request counter must see every route of the app.
export default fp(healthPlugin, { name: 'tether-health', fastify: '5.x' });
