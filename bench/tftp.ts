// TFTP boot storm: N machines fetch one file at once (default 200 × 1 MiB, blksize 1468, tsize 0 as
// firmware asks) from Tether's TFTP server, tftpd-hpa and dnsmasq, each in turn inside a network
// namespace, with the clients in another. Tether also runs with windowsize 16 and 64 (RFC 7440;
// EDK2 asks for 4): the others do not grant windowsize, so their clients stay in lock-step.
//   npm exec -- node bench/tftp.ts [--clients 200] [--mib 1] [--rounds 3] [--install]
// Needs root (namespaces). Not a test: it never runs in CI and asserts nothing.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runClient, serverClientPair, stop, type Pair } from './lib/ns.ts';
import { ensureTools } from './lib/tools.ts';
import { awaitQuiet, cpuGroup, machineBusySeconds } from './lib/cpu.ts';
import { fixed, flags, median, percentile, ratio, table } from './lib/stats.ts';
import type { TftpRunResult, TftpRunSpec } from './lib/tftp-client.ts';

const USAGE = 'usage: node bench/tftp.ts [--clients N] [--mib M] [--rounds R] [--windows 16,64] [--servers tftpd-hpa,dnsmasq,dnsmasq-50,tether] [--install]\n';
const opts = flags(process.argv.slice(2), { clients: 200, mib: 1, rounds: 3, windows: '16,64', servers: 'tftpd-hpa,dnsmasq,dnsmasq-50,tether', install: false }, USAGE);
const CLIENT = join(import.meta.dirname, 'lib', 'tftp-client.ts');
const TETHER = join(import.meta.dirname, '..', 'pxe', 'tftp', 'fixtures', 'serve.ts');
const FILE = 'storm.bin';

interface Server {
  name: string;
  windows: number[];
  /** The server's command line, run inside the server namespace. */
  command(p: Pair, root: string): { cmd: string; args: string[] };
  /** Printed under the table: settings that differ from the package's defaults, and why. */
  note?: string;
}

function dnsmasqArgs(p: Pair, root: string, extra: string[]): string[] {
  return ['--no-daemon', '--conf-file=/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${root}`,
    `--listen-address=${p.serverIp}`, '--bind-interfaces', '--log-facility=-', '--pid-file', ...extra];
}

const windows = String(opts.windows).split(',').filter(Boolean).map(Number);
const ALL: Server[] = [
  {
    name: 'tftpd-hpa',
    windows: [1],
    // -L: stay in the foreground and serve (the lab stops it by PID); it forks one child per transfer.
    command: (p, root) => ({ cmd: 'in.tftpd', args: ['-L', '-s', root, '-a', `${p.serverIp}:69`] }),
  },
  {
    name: 'dnsmasq',
    windows: [1],
    command: (p, root) => ({ cmd: 'dnsmasq', args: dnsmasqArgs(p, root, ['--tftp-max=512']) }),
    note: 'dnsmasq: --tftp-max=512, Tether\'s limit, so that all transfers run at once as with the others',
  },
  {
    name: 'dnsmasq-50',
    windows: [1],
    command: (p, root) => ({ cmd: 'dnsmasq', args: dnsmasqArgs(p, root, []) }),
    note: 'dnsmasq-50: its default --tftp-max of 50; it ignores RRQs beyond that and serves them when the client retransmits (after 1 s here)',
  },
  {
    name: 'tether',
    windows: [1, ...windows],
    // The integration tests' fixture: createTftpServer + rootSource, one JSON line per transfer.
    command: (p, root) => ({ cmd: process.execPath, args: [TETHER, root, p.serverIp] }),
  },
];
const SERVERS = ALL.filter((s) => String(opts.servers).split(',').includes(s.name));

interface Run { server: string; window: number; result: TftpRunResult; serverCpu: number; otherCpu: number }

async function main(): Promise<void> {
  ensureTools([{ binary: 'in.tftpd', pkg: 'tftpd-hpa' }, { binary: 'dnsmasq', pkg: 'dnsmasq-base' }], Boolean(opts.install));
  const pair = serverClientPair('btftp', '10.249.1', opts.clients);
  const cpu = cpuGroup('tftp');
  try {
    const root = join(pair.lab.dir, 'tftp');
    mkdirSync(root, { mode: 0o755 });
    const data = randomBytes(opts.mib * 1024 * 1024);
    writeFileSync(join(root, FILE), data, { mode: 0o644 });
    const sha256 = createHash('sha256').update(data).digest('hex');
    const spec = (window: number, sources: string[]): TftpRunSpec => ({
      server: pair.serverIp, file: FILE, sources, sha256,
      options: { blksize: '1468', tsize: '0', ...(window > 1 ? { windowsize: String(window) } : {}) },
    });
    console.log(`TFTP boot storm: ${opts.clients} clients × ${opts.mib} MiB, blksize 1468, ${opts.rounds} rounds, ${availableParallelism()} cores; server and clients share them`);

    const runs: Run[] = [];
    const supportsWindow = new Map<string, number>();
    for (let round = 1; round <= opts.rounds; round++) {
      for (const s of SERVERS) {
        const c = s.command(pair, root);
        const run = cpu ? cpu.wrap(c.cmd, c.args) : c;
        const proc = pair.lab.spawn(pair.srv, run.cmd, run.args, { logName: s.name });
        try {
          // Readiness and a warm page cache: one transfer asking for a window (which shows whether
          // the server grants windowsize at all).
          const probe = await retryProbe(() => runClient<TftpRunResult>(pair.lab, pair.cli, CLIENT, { ...spec(16, [pair.clientIps[0]]), tries: 1, timeoutMs: 300 }));
          supportsWindow.set(s.name, probe.granted.windowsize);
          for (const window of s.windows) {
            const load = await awaitQuiet();
            if (load >= 0.3) console.log(`  (the machine is busy with other work: ${fixed(load, 1)} cores in use before this run)`);
            const server0 = cpu?.seconds() ?? Number.NaN;
            const busy0 = machineBusySeconds();
            const result = await runClient<TftpRunResult>(pair.lab, pair.cli, CLIENT, spec(window, pair.clientIps));
            const serverCpu = (cpu?.seconds() ?? Number.NaN) - server0;
            // Whatever else ran meanwhile (other jobs on this machine) took CPU from both sides.
            const otherCpu = machineBusySeconds() - busy0 - (Number.isFinite(serverCpu) ? serverCpu : 0) - result.cpuMs / 1000;
            runs.push({ server: s.name, window, result, serverCpu, otherCpu });
            const mibs = result.bytes / 1048576 / (result.wallMs / 1000);
            console.log(`  round ${round} ${s.name.padEnd(9)} window ${String(window).padStart(2)}: ${fixed(mibs)} MiB/s, ${result.ok} ok, ${result.failed} failed${result.failed ? ` ${JSON.stringify(result.errors)}` : ''}`);
          }
        } finally {
          await stop(proc);
        }
      }
    }
    report(runs, supportsWindow);
  } finally {
    await pair.lab.teardown();
    cpu?.remove();
  }
}

/** The server binds a moment after it starts: probe until it answers (up to ~5 s). */
async function retryProbe(probe: () => Promise<TftpRunResult>): Promise<TftpRunResult> {
  for (let i = 0; ; i++) {
    const r = await probe();
    if (r.ok === 1) return r;
    if (i >= 15) throw new Error(`server never served the probe: ${JSON.stringify(r.errors)}`);
  }
}

interface Row { server: string; window: number; mibs: number; p50: number; p99: number; failed: number; retransmits: number; serverCpu: number; clientCpu: number; otherCpu: number; wallS: number; mib: number }

function report(runs: Run[], supportsWindow: Map<string, number>): void {
  const rows: Row[] = [];
  for (const s of SERVERS) {
    for (const window of s.windows) {
      const mine = runs.filter((r) => r.server === s.name && r.window === window);
      const mibsOf = (r: Run): number => r.result.bytes / 1048576 / (r.result.wallMs / 1000);
      // The round with the median throughput stands for the configuration.
      const mid = median(mine.map(mibsOf));
      const r = mine.find((x) => mibsOf(x) === mid)!;
      rows.push({
        server: s.name, window, mibs: mid,
        p50: percentile(r.result.ms, 50), p99: percentile(r.result.ms, 99),
        failed: mine.reduce((n, x) => n + x.result.failed, 0),
        retransmits: r.result.retransmits, serverCpu: r.serverCpu, clientCpu: r.result.cpuMs / 1000, otherCpu: r.otherCpu, wallS: r.result.wallMs / 1000, mib: r.result.bytes / 1048576,
      });
    }
  }
  const ref = rows.find((r) => r.server === 'tftpd-hpa') ?? rows[0];
  console.log(`\n${opts.clients} concurrent transfers × ${opts.mib} MiB (median of ${opts.rounds} rounds; failures summed over all rounds)\n`);
  console.log(table(rows, [
    { title: 'server', value: (r) => r.server },
    { title: 'window', value: (r) => String(r.window), right: true },
    { title: 'MiB/s', value: (r) => fixed(r.mibs), right: true },
    { title: `vs ${ref.server}`, value: (r) => ratio(r.mibs, ref.mibs), right: true },
    { title: 'p50 ms', value: (r) => fixed(r.p50, 0), right: true },
    { title: 'p99 ms', value: (r) => fixed(r.p99, 0), right: true },
    { title: 'failed', value: (r) => String(r.failed), right: true },
    { title: 'client retx', value: (r) => String(r.retransmits), right: true },
    { title: 'server CPU s', value: (r) => fixed(r.serverCpu, 2), right: true },
    // Less sensitive to other load on the machine than MiB/s: what one CPU-second of the server moves.
    { title: 'MiB/server CPU-s', value: (r) => fixed(r.mib / r.serverCpu, 1), right: true },
    { title: `vs ${ref.server}`, value: (r) => ratio(r.mib / r.serverCpu, ref.mib / ref.serverCpu), right: true },
    { title: 'client CPU s', value: (r) => fixed(r.clientCpu, 2), right: true },
    { title: 'other CPU s', value: (r) => `${fixed(Math.max(0, r.otherCpu), 1)}/${fixed(r.wallS * availableParallelism(), 0)}`, right: true },
  ]));
  console.log(`\nwindowsize granted when asked for 16: ${[...supportsWindow].map(([n, w]) => `${n} ${w === 1 ? 'no (lock-step)' : w}`).join(', ')}`);
  for (const s of SERVERS) if (s.note) console.log(s.note);
  console.log('p50/p99: per transfer, RRQ to last ACK. server CPU: user+system of the server and its children (cgroup);');
  console.log('client CPU: the client process; other CPU: the rest of the machine (kernel softirq included) / the CPU-seconds the run had.');
}

await main();
