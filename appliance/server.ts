// The daemon: config → store (migrations) → first admin → HTTP app → listen. The only place that
// opens listening sockets; everything it starts it also stops on SIGTERM/SIGINT.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadConfig, type TetherConfig } from './config/load.ts';
import { databasePath } from './config/paths.ts';
import { Store } from './store/store.ts';
import { ensureFirstAdmin } from './auth/users.ts';
import { buildApp } from './http/app.ts';
import { createLogger } from './log.ts';
import { startBootServices, zoneInterfaces } from './boot/services.ts';
import { createServer, type Server } from 'node:http';
import { createCloud } from './cloud/cloud.ts';

export interface Running {
  config: TetherConfig;
  store: Store;
  app: FastifyInstance;
  url: string;
  log: Logger;
  close(): Promise<void>;
}

export async function serve(o: { configPath?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Running> {
  const config = loadConfig({ path: o.configPath, env: o.env });
  const log = createLogger(config.log.level);
  const store = Store.open(databasePath(config));
  log.info({ db: databasePath(config), schema: store.schemaVersion() }, 'store open');

  const first = await ensureFirstAdmin(store, config.auth.firstAdmin);
  if (first) {
    // Printed once, in clear, to the console of whoever started the appliance; never stored.
    process.stdout.write(`\n  First start: created admin user "${first.name}" with password: ${first.password}\n  Log in and change it; it will not be shown again.\n\n`);
  }

  // Installs and boots never wait on the cloud: the link runs beside them, and its work queues
  // in the store while it is down.
  const cloud = createCloud({ store, config, log, dataDir: config.dataDir });
  cloud.start();
  const app = await buildApp({ config, store, logger: log, cloud });
  const [, host, port] = /^(.*):(\d+)$/.exec(config.http.listen)!;
  const listenHost = host.replace(/^\[|\]$/g, '');
  // Zone interfaces are checked before anything listens: a missing one is a config error.
  const zoneIfs = zoneInterfaces(config);
  const address = await app.listen({ host: listenHost, port: Number(port) });
  const httpPort = Number(new URL(address).port);
  log.info({ url: address }, `Tether listening on ${address}`);

  // Machines fetch scripts and artifacts from the zone address they booted from. When the main
  // listener is not a wildcard, the same app also answers on each zone address (same port).
  const extra: Server[] = [];
  if (listenHost !== '0.0.0.0' && listenHost !== '::') {
    for (const z of zoneIfs) {
      if (z.address === listenHost) continue;
      const srv = createServer((req, res) => app.routing(req, res));
      // WebSockets too (the agents' console channel arrives on the zone address): the upgrade
      // goes to the app's own server, where @fastify/websocket listens for it.
      srv.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(httpPort, z.address, () => resolve()));
      extra.push(srv);
      log.info({ zone: z.zone, url: `http://${z.address}:${httpPort}` }, 'HTTP also on zone interface');
    }
  }

  let boot;
  try {
    boot = await startBootServices({ config, store, log, httpPort });
  } catch (e) {
    for (const s of extra) s.close();
    await app.close();
    await cloud.stop();
    store.close();
    throw e;
  }
  if (config.zones.length === 0) {
    log.warn('no zones configured: serving no DHCP or TFTP on any host interface (add zones to tether.yaml to network-boot machines)');
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= (async () => {
    await boot.close();
    for (const s of extra) { s.closeAllConnections(); s.close(); }
    await app.close();
    await cloud.stop();
    store.close();
    log.info('stopped');
  })());
  return { config, store, app, url: address, log, close };
}
