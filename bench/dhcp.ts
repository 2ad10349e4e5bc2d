// DHCP boot storm: Tether (full mode) against dnsmasq with the equivalent config, side by side in one
// run, each in its own network namespace pair, with the same simulated PXE clients
// (bench/dhcp-client.ts: DISCOVER → OFFER → REQUEST → ACK, random MACs). Needs root.
//   node bench/dhcp.ts [--clients 1000] [--concurrency 1,50,1000] [--rounds 3] [--timeout 2000] [--log] [--no-group-commit]
// --concurrency: transactions in flight at once (1000 = every client at the same moment). Both
// servers start afresh for each level, with an empty lease store. Without --log both run quiet
// (Tether at warn, dnsmasq --quiet-dhcp); with it both log every exchange. Tether stores leases in
// the appliance's SQLite Store (WAL, synchronous=FULL), group-committed unless --no-group-commit;
// dnsmasq rewrites its lease file. --rounds: runs per level and server, alternating; the table
// shows the median run (by tx/s) and the lost transactions of all runs.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Lab, type Spawned } from '../test/lib/lab.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '1,50,1000' },
    timeout: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    log: { type: 'boolean', default: false },
    'no-group-commit': { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const levels = values.concurrency.split(',').map(Number);
const root = join(import.meta.dirname, '..');

type Result = { server: string; concurrency: number; perSecond: number; p50: number; p99: number; max: number; completed: number; lost: number; naks: number; bootFiles: string[] };

const SUBNET = { server: '10.254.16.1/20', client: '10.254.16.2/20', first: '10.254.16.10', last: '10.254.31.250', mask: '255.255.240.0' };

const lab = new Lab('bdhcp');
const results: Result[] = [];
try {
  const pair = (name: string): { srv: string; cl: string } => {
    const srv = lab.ns(`${name}s`);
    const cl = lab.ns(`${name}c`);
    lab.veth(srv, 'eth0', cl, 'eth0', { cidrA: SUBNET.server, cidrB: SUBNET.client });
    lab.exec(cl, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
    return { srv, cl };
  };
  const tether = pair('t');
  const dnsmasq = pair('d');
  let run = 0;

  const servers: Record<string, { ns: { srv: string; cl: string }; start: () => Promise<Spawned> }> = {
    tether: {
      ns: tether,
      start: async () => {
        const config = {
          db: join(lab.dir, `tether-${run}.db`),
          logLevel: values.log ? 'info' : 'warn',
          groupCommit: !values['no-group-commit'],
          zones: [{ name: 'bench', mode: 'full', interfaces: ['eth0'], relays: [], pools: [{ subnet: '10.254.16.0/20', range: [SUBNET.first, SUBNET.last] }] }],
        };
        const s = lab.spawn(tether.srv, process.execPath, [join(root, 'pxe/dhcp/fixtures/serve.ts'), JSON.stringify(config)], { logName: `tether-${run}` });
        await s.waitFor('"event":"ready"', 20_000);
        return s;
      },
    },
    dnsmasq: {
      ns: dnsmasq,
      start: async () => {
        const s = lab.spawn(dnsmasq.srv, 'dnsmasq', [
          '--no-daemon', '--conf-file=/dev/null', '--interface=eth0', '--bind-interfaces', '--port=0', '--no-ping', '--dhcp-authoritative',
          `--dhcp-range=${SUBNET.first},${SUBNET.last},${SUBNET.mask},1h`, '--dhcp-lease-max=100000', '--dhcp-boot=undionly.kpxe,,10.254.16.1',
          `--dhcp-leasefile=${join(lab.dir, `dnsmasq-${run}.leases`)}`, `--pid-file=${join(lab.dir, `dnsmasq-${run}.pid`)}`,
          ...(values.log ? ['--log-facility=-'] : ['--quiet-dhcp', '--log-facility=/dev/null']),
        ], { logName: `dnsmasq-${run}` });
        await new Promise((r) => setTimeout(r, 500));
        if (s.proc.exitCode !== null) throw new Error(`dnsmasq exited: ${s.output()}`);
        return s;
      },
    },
  };

  const rounds = Number(values.rounds);
  for (const [i, concurrency] of levels.entries()) {
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so neither always runs on a warmer (or busier) machine.
      const order = (i + round) % 2 === 0 ? ['tether', 'dnsmasq'] : ['dnsmasq', 'tether'];
      for (const name of order) {
        run++;
        const server = await servers[name].start();
        const client = lab.spawn(servers[name].ns.cl, process.execPath, [join(import.meta.dirname, 'dhcp-client.ts'), String(clients), String(concurrency), values.timeout], { logName: `client-${run}` });
        await client.exited;
        const line = client.output().split('\n').find((l) => l.startsWith('{'));
        if (!line) throw new Error(`client printed no result:\n${client.output()}`);
        server.kill('SIGTERM');
        await server.exited;
        const r = { server: name, ...JSON.parse(line) } as Result;
        results.push(r);
        process.stderr.write(`${name.padEnd(7)} concurrency ${String(concurrency).padStart(4)} round ${round + 1}: ${r.perSecond.toFixed(0)} tx/s, p99 ${r.p99.toFixed(2)} ms, lost ${r.lost}\n`);
      }
    }
  }
} finally {
  await lab.teardown();
}

const f = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
console.log(`\nDHCP boot storm: ${clients} simulated PXE clients (DISCOVER→OFFER→REQUEST→ACK), full mode, fresh lease store per run`);
console.log(`logging: ${values.log ? 'on for both' : 'off for both'}; Tether lease writes: ${values['no-group-commit'] ? 'one SQLite transaction per write' : 'group-committed'}; ${values.rounds} rounds each, median shown, lost summed`);
console.log(`host: ${(await import('node:os')).cpus().length} CPUs shared by client and server, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
const header = ['concurrency', 'server', 'tx/s', 'p50 ms', 'p99 ms', 'max ms', 'lost (all runs)', 'naks', 'boot file', 'tx/s ratio', 'p99 ratio'];
const rows: string[][] = [];
/** The median run by tx/s, with the lost and NAKed transactions of every run. */
function median(server: string, concurrency: number): Result & { runs: number } {
  const runs = results.filter((r) => r.server === server && r.concurrency === concurrency).sort((a, b) => a.perSecond - b.perSecond);
  const mid = runs[Math.floor((runs.length - 1) / 2)];
  return { ...mid, lost: runs.reduce((n, r) => n + r.lost, 0), naks: runs.reduce((n, r) => n + r.naks, 0), runs: runs.length };
}
for (const concurrency of levels) {
  const t = median('tether', concurrency);
  const d = median('dnsmasq', concurrency);
  for (const r of [t, d]) {
    rows.push([String(concurrency), r.server, f(r.perSecond, 0), f(r.p50), f(r.p99), f(r.max), `${r.lost}/${clients * r.runs}`, String(r.naks), r.bootFiles.join(' '),
      r === t ? `${f(t.perSecond / d.perSecond)}x` : '', r === t ? `${f(t.p99 / d.p99)}x` : '']);
  }
}
const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(width[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log('\ntx/s ratio = Tether / dnsmasq (higher is better); p99 ratio = Tether / dnsmasq (lower is better).');
