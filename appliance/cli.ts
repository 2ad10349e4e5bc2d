// `tether`: serve the appliance, run migrations, and look at machines from the appliance's shell.
import { parseArgs } from 'node:util';
import process from 'node:process';
import { loadConfig, ConfigError } from './config/load.ts';
import { ZoneSetupError } from './boot/services.ts';
import { Store } from './store/store.ts';
import { serve } from './server.ts';
import { artifactsDir, databasePath, tftpRoot } from './config/paths.ts';
import { join } from 'node:path';
import { STATES } from './lifecycle/states.ts';

const USAGE = `usage: tether <command> [options]

commands:
  serve                 start the appliance (HTTP API/UI; DHCP/TFTP on configured zones)
  migrate               apply database migrations and exit
  machines ls           list machines  [--state S] [--zone Z] [--json]
  boot-files            fetch Debian's iPXE binaries into the TFTP root and artifacts/ipxe
  doctor                check the Kamaji tenant control plane for what breaks hybrid workers  [--json]
                        live from the config's cloud.* keys, or offline: --tcp-file F [--tenant-dir D]
                        [--node-port-range 30000-32767]; exit 1 on errors found, 2 on usage errors

options:
  -c, --config FILE     tether.yaml (default: ./tether.yaml or $TETHER_CONFIG; none = defaults)
`;

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      state: { type: 'string' },
      zone: { type: 'string' },
      json: { type: 'boolean' },
      'tcp-file': { type: 'string' },
      'tenant-dir': { type: 'string' },
      'node-port-range': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    // A mistyped flag is a usage error (exit 2), not a failure of the command it was meant for.
    process.stderr.write(`tether: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [cmd, sub] = positionals;
  if (values.help || !cmd) { process.stdout.write(USAGE); return cmd ? 0 : 2; }

  switch (cmd) {
    case 'serve': {
      const running = await serve({ configPath: values.config });
      const stop = (): void => { void running.close().then(() => process.exit(0)); };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      return -1; // keep running
    }
    case 'migrate': {
      const config = loadConfig({ path: values.config });
      const store = Store.open(databasePath(config)); // open() applies pending migrations
      process.stdout.write(`database ${databasePath(config)} at schema ${store.schemaVersion()}\n`);
      store.close();
      return 0;
    }
    case 'machines': {
      if (sub !== 'ls') { process.stderr.write(`unknown: machines ${sub ?? ''}\n${USAGE}`); return 2; }
      if (values.state && !(STATES as readonly string[]).includes(values.state)) {
        process.stderr.write(`--state ${values.state} is not a state; states: ${STATES.join(', ')}\n`);
        return 2;
      }
      const store = Store.open(databasePath(loadConfig({ path: values.config })));
      const { items, total } = store.listMachines({ state: values.state, zone: values.zone, limit: 1000 });
      store.close();
      if (values.json) { process.stdout.write(`${JSON.stringify({ items, total }, null, 2)}\n`); return 0; }
      const rows = [['ID', 'BOOT MAC', 'STATE', 'ZONE', 'RACK', 'HOSTNAME', 'SERIAL'], ...items.map((m) => [m.id, m.bootMac, m.state, m.zone ?? '-', m.rack ?? '-', m.hostname ?? '-', m.serial ?? '-'])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
      if (total > items.length) process.stdout.write(`(${items.length} of ${total} shown)\n`);
      return 0;
    }
    case 'boot-files': {
      const config = loadConfig({ path: values.config });
      const { fetchIpxe } = await import('../images/ipxe/fetch.ts');
      const { buildLocalBoot } = await import('../images/ipxe/localboot.ts');
      const log = (m: string) => process.stdout.write(`${m}\n`);
      await fetchIpxe({ cache: join(config.dataDir, 'cache/debs'), tftpRoot: tftpRoot(config), artifactsDir: artifactsDir(config), log });
      await buildLocalBoot({ cache: join(config.dataDir, 'cache/debs'), artifactsDir: artifactsDir(config), log });
      return 0;
    }
    case 'doctor': {
      if (sub) { process.stderr.write(`unknown: doctor ${sub}\n${USAGE}`); return 2; }
      const { doctor } = await import('./cloud/doctor/command.ts');
      return doctor(
        { config: values.config, json: values.json, tcpFile: values['tcp-file'], tenantDir: values['tenant-dir'], nodePortRange: values['node-port-range'] },
        { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
      );
    }
    default:
      process.stderr.write(`unknown command: ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code; }, (e: unknown) => {
  if (e instanceof ConfigError || e instanceof ZoneSetupError) {
    process.stderr.write(`tether: bad configuration: ${e.message}\n`);
    process.exitCode = 78; // EX_CONFIG
  } else {
    process.stderr.write(`tether: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  }
});
