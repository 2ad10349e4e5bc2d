// build(opts) returns an un-listened fastify app with every capability registered as a plugin;
// only server.ts listens. Tests use inject() and, where the wire matters, a loopback listener.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Store } from '../store/store.ts';
import type { TetherConfig } from '../config/load.ts';
import { installErrorHandlers } from './errors.ts';
import { machineSchema, eventSchema } from './schemas.ts';
import authPlugin from '../auth/plugin.ts';
import healthPlugin from './health.ts';
import machinesApi from './api/machines.ts';
import eventsApi from './api/events.ts';
import usersApi from './api/users.ts';
import bootPlugin, { recordArtifactFetch } from './boot.ts';
import artifactsPlugin from './artifacts.ts';
import agentPlugin from './agent.ts';
import { autoApprove } from '../lifecycle/autoapprove.ts';
import { rackFromLldp } from '../boot/placement.ts';
import { artifactsDir, signingKeyPath, terminalDir } from '../config/paths.ts';
import { loadCatalog } from '../install/catalog.ts';
import { createCloud, type Cloud } from '../cloud/cloud.ts';
import { cloudPlugin } from '../cloud/plugin.ts';
import { loadOrCreateSigningKey } from '../../images/manifest.ts';
import siteApi from './api/site.ts';
import imagesApi from './api/images.ts';
import livePlugin from './live.ts';
import terminalPlugin from './terminal.ts';
import agentShellPlugin from './agent-shell.ts';
import uiPlugin from './ui.ts';

export interface RouteEntry { method: string; url: string; access: string }

declare module 'fastify' {
  interface FastifyInstance { routeTable: RouteEntry[] }
}

export interface BuildOptions {
  config: TetherConfig;
  store: Store;
  /** pino logger; none = silent (tests). */
  logger?: FastifyBaseLogger;
  /** The cloud link (server.ts creates and starts it); none = an unstarted one from the config. */
  cloud?: Cloud;
}

export async function buildApp(o: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    bodyLimit: o.config.http.bodyLimit,
    trustProxy: o.config.http.trustProxy,
    // Clients (iPXE among them) send odd query strings; keep fastify from failing on them.
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  // Every route with its declared access, for the route-table audit test and for operators asking
  // "what can a viewer reach?" (the onRoute hook of the auth plugin refuses routes without one).
  const routeTable: RouteEntry[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routeTable.push({ method, url: r.url, access: (r.config as { access?: string } | undefined)?.access ?? 'none' });
  });
  app.decorate('routeTable', routeTable);
  installErrorHandlers(app);
  app.addSchema(machineSchema);
  app.addSchema(eventSchema);
  await app.register(authPlugin, { store: o.store, sessionHours: o.config.auth.sessionHours });
  await app.register(healthPlugin, { store: o.store });
  const cloud = o.cloud ?? createCloud({ store: o.store, config: o.config, log: app.log, dataDir: o.config.dataDir });
  await app.register(cloudPlugin, { cloud, registry: app.metricsRegistry });
  await app.register(machinesApi, { store: o.store, zones: o.config.zones.map((z) => z.name) });
  await app.register(eventsApi, { store: o.store });
  await app.register(usersApi, { store: o.store });
  await app.register(bootPlugin, { store: o.store, config: o.config });
  // The signing key is made on first need: an appliance without images has nothing to vouch for.
  const signingKey = o.config.images.catalog.length ? loadOrCreateSigningKey(signingKeyPath(o.config)) : null;
  const catalog = loadCatalog(o.config, signingKey);
  for (const img of catalog.images) {
    if (img.problem) app.log.warn({ image: img.name, problem: img.problem }, 'catalog image cannot be installed');
    else await app.register(artifactsPlugin, { root: img.dir, mount: `/images/${img.name}` });
  }
  await app.register(agentPlugin, {
    store: o.store,
    config: o.config,
    disks: { store: o.store, config: o.config, catalog, signingKey, enrollment: cloud },
    onReport: (e) => {
      const rack = rackFromLldp(o.config.racks, e.inventory);
      if (rack && rack !== e.machine.rack) o.store.updateMachine(e.machine.id, { rack });
      autoApprove(o.store, o.config, o.store.mustGetMachine(e.machine.id), e.inventory);
    },
  });
  await app.register(artifactsPlugin, { root: artifactsDir(o.config), onFetch: (f) => recordArtifactFetch(o.store, f) });
  await app.register(imagesApi, { config: o.config, catalog });
  await app.register(siteApi, { store: o.store, config: o.config, cloud });
  await app.register(livePlugin, { store: o.store });
  await app.register(terminalPlugin, { store: o.store, dir: terminalDir(o.config) });
  // After the terminal plugin: its WebSocket server and protocol carry the machine shells too.
  await app.register(agentShellPlugin, { store: o.store, dir: terminalDir(o.config) });
  await app.register(uiPlugin);
  return app;
}
