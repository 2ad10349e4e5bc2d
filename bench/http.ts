// Artifact download storm and boot-script latency: N machines download one initrd-sized file at
// once (default 500 × 40 MiB) from Tether's /artifacts/ route (the real daemon, `tether serve`) and
// from nginx serving the same file (sendfile on, worker_processes auto), each in turn inside a
// network namespace, with the clients in another. Then Tether's `GET /boot/ipxe?mac=...` time to
// first byte, for new machines (the first boot creates the machine) and known ones, at several
// concurrencies, and once while a download storm is running.
//   npm exec -- node bench/http.ts [--downloads 500] [--concurrency 500] [--mib 40] [--install]
// Needs root (namespaces). Not a test: it never runs in CI and asserts nothing.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runClient, serverClientPair, stop, type Pair } from './lib/ns.ts';
import { nginxStatic } from './lib/nginx.ts';
import { ensureTools } from './lib/tools.ts';
import { awaitQuiet, cpuGroup, machineBusySeconds, type CpuGroup } from './lib/cpu.ts';
import { fixed, flags, median, percentile, ratio, table } from './lib/stats.ts';
import { curlStorm } from './lib/curl-storm.ts';
import type { DownloadSpec, HttpRunResult, ScriptSpec } from './lib/http-client.ts';

const USAGE = 'usage: node bench/http.ts [--downloads N] [--concurrency C] [--mib M] [--rounds R] [--machines 500] [--script-concurrency 1,16,64] [--servers nginx,tether] [--install]\n';
const opts = flags(process.argv.slice(2), {
  downloads: 500, concurrency: 500, mib: 40, rounds: 1,
  machines: 500, scriptConcurrency: '1,16,64', servers: 'nginx,tether', install: false,
}, USAGE);
const CLIENT = join(import.meta.dirname, 'lib', 'http-client.ts');
const TETHER_CLI = join(import.meta.dirname, '..', 'appliance', 'cli.ts');
const PORT = 8080;
const FILE = 'artifacts/big.bin';

interface Server {
  name: string;
  /** Writes its configuration; returns the command line to run inside the server namespace. */
  command(p: Pair, dataDir: string): { cmd: string; args: string[] };
}

const ALL: Server[] = [
  {
    name: 'nginx',
    command(p, dataDir) {
      return nginxStatic(p, dataDir, PORT, 4096);
    },
  },
  {
    name: 'tether',
    command(p, dataDir) {
      const config = join(p.lab.dir, 'tether.yaml');
      // Log level warn: no line per request, as nginx runs with access_log off.
      writeFileSync(config, `dataDir: ${dataDir}\nlog:\n  level: warn\nhttp:\n  listen: ${p.serverIp}:${PORT}\n`);
      return { cmd: process.execPath, args: [TETHER_CLI, 'serve', '-c', config] };
    },
  },
];
const SERVERS = ALL.filter((s) => String(opts.servers).split(',').includes(s.name));

interface Measured { result: HttpRunResult; serverCpu: number; otherCpu: number }
interface DownloadRun extends Measured { server: string }
interface ScriptRun extends Measured { label: string; concurrency: number }

/** Runs one client and measures the CPU the server and the rest of the machine used meanwhile. */
async function measured(cpu: CpuGroup | undefined, client: () => Promise<HttpRunResult>): Promise<Measured> {
  const load = await awaitQuiet();
  if (load >= 0.3) console.log(`  (the machine is busy with other work: ${fixed(load, 1)} cores in use before this run)`);
  const server0 = cpu?.seconds() ?? Number.NaN;
  const busy0 = machineBusySeconds();
  const result = await client();
  const serverCpu = (cpu?.seconds() ?? Number.NaN) - server0;
  const otherCpu = machineBusySeconds() - busy0 - (Number.isFinite(serverCpu) ? serverCpu : 0) - result.cpuMs / 1000;
  return { result, serverCpu, otherCpu };
}

const macOf = (n: number): string => `52:54:00:${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

async function main(): Promise<void> {
  ensureTools([{ binary: 'nginx', pkg: 'nginx-light' }, { binary: 'curl', pkg: 'curl' }], Boolean(opts.install));
  const pair = serverClientPair('bhttp', '10.249.2', 1);
  const cpu = cpuGroup('http');
  const clientCpu = cpuGroup('curl');
  try {
    const dataDir = join(pair.lab.dir, 'data');
    mkdirSync(join(dataDir, 'artifacts'), { recursive: true, mode: 0o755 });
    const data = randomBytes(opts.mib * 1024 * 1024);
    writeFileSync(join(dataDir, FILE), data, { mode: 0o644 });
    const sha256 = createHash('sha256').update(data).digest('hex');
    const base = `http://${pair.serverIp}:${PORT}`;
    const url = `${base}/${FILE}`;
    // One download with its sha256 checked: readiness, a warm page cache (and Tether's cached sha256).
    const verify = (): Promise<HttpRunResult> => runClient<HttpRunResult>(pair.lab, pair.cli, CLIENT, { mode: 'download', url, count: 1, concurrency: 1, size: data.length, sha256 } satisfies DownloadSpec);
    const storm = (): Promise<HttpRunResult> => curlStorm(pair.lab, pair.cli, { url, count: opts.downloads, concurrency: opts.concurrency, size: data.length, cpu: clientCpu });
    const gib = (opts.downloads * opts.mib) / 1024;
    console.log(`HTTP download storm: ${opts.downloads} downloads × ${opts.mib} MiB (${fixed(gib, 1)} GiB), ${opts.concurrency} at a time, ${opts.rounds} rounds, ${availableParallelism()} cores; server and clients share them`);

    const downloads: DownloadRun[] = [];
    const scripts: ScriptRun[] = [];
    let machine = 0;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const s of SERVERS) {
        const c = s.command(pair, dataDir);
        const run = cpu ? cpu.wrap(c.cmd, c.args) : c;
        const proc = pair.lab.spawn(pair.srv, run.cmd, run.args, { logName: s.name });
        try {
          await retry(verify);
          const m = await measured(cpu, storm);
          const after = await verify(); // the server still serves the right bytes after the storm
          if (after.ok !== 1) { m.result.failed++; m.result.errors[`check after the storm: ${Object.keys(after.errors)[0]}`] = 1; }
          downloads.push({ server: s.name, ...m });
          const mibs = m.result.bytes / 1048576 / (m.result.wallMs / 1000);
          console.log(`  round ${round} ${s.name.padEnd(6)} downloads: ${fixed(mibs)} MiB/s in ${fixed(m.result.wallMs / 1000)} s, ${m.result.ok} ok, ${m.result.failed} failed${m.result.failed ? ` ${JSON.stringify(m.result.errors)}` : ''}`);
          if (s.name !== 'tether' || round > 1) continue; // script latency: once, in the first round
          for (const concurrency of String(opts.scriptConcurrency).split(',').map(Number)) {
            const macs = Array.from({ length: opts.machines }, () => macOf(++machine));
            for (const label of ['new machines', 'known machines']) {
              const r = await measured(cpu, () => runClient<HttpRunResult>(pair.lab, pair.cli, CLIENT, { mode: 'script', base, macs, concurrency } satisfies ScriptSpec));
              scripts.push({ label, concurrency, ...r });
              console.log(`  round ${round} tether script, ${label}, concurrency ${concurrency}: p99 ${fixed(percentile(r.result.ms, 99), 1)} ms, ${r.result.failed} failed${r.result.failed ? ` ${JSON.stringify(r.result.errors)}` : ''}`);
            }
          }
          // One machine after another asks for its script while the download storm runs.
          let stormOver = false;
          const during = storm().finally(() => { stormOver = true; });
          await new Promise((r) => setTimeout(r, 1000)); // let the storm get going
          const macs = Array.from({ length: 100 }, () => macOf(++machine));
          const r = await runClient<HttpRunResult>(pair.lab, pair.cli, CLIENT, { mode: 'script', base, macs, concurrency: 1 } satisfies ScriptSpec);
          // A small storm (--downloads/--mib) can end before the script requests do: say so.
          const label = `new machines, during downloads${stormOver ? ' (the storm ended first)' : ''}`;
          scripts.push({ label, concurrency: 1, result: r, serverCpu: Number.NaN, otherCpu: Number.NaN });
          console.log(`  round ${round} tether script during a download storm: p99 ${fixed(percentile(r.ms, 99), 1)} ms`);
          await during;
        } finally {
          await stop(proc);
        }
      }
    }
    report(downloads, scripts);
  } finally {
    await pair.lab.teardown();
    cpu?.remove();
    clientCpu?.remove();
  }
}

/** The server needs a moment to start listening: retry the probe for up to ~15 s. */
async function retry(probe: () => Promise<HttpRunResult>): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await probe();
    if (r.ok === 1) return;
    if (i >= 30) throw new Error(`server never served the probe: ${JSON.stringify(r.errors)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

function report(downloads: DownloadRun[], scripts: ScriptRun[]): void {
  const mibsOf = (r: Measured): number => r.result.bytes / 1048576 / (r.result.wallMs / 1000);
  const rows = SERVERS.map((s) => {
    const mine = downloads.filter((d) => d.server === s.name);
    const mid = median(mine.map(mibsOf));
    const r = mine.find((x) => mibsOf(x) === mid)!;
    return { server: s.name, mibs: mid, r, failed: mine.reduce((n, x) => n + x.result.failed, 0) };
  });
  const ref = rows.find((r) => r.server === 'nginx') ?? rows[0];
  const cores = availableParallelism();
  console.log(`\n${opts.downloads} downloads × ${opts.mib} MiB, ${opts.concurrency} at a time (median of ${opts.rounds} rounds; failures summed over all rounds)\n`);
  console.log(table(rows, [
    { title: 'server', value: (x) => x.server },
    { title: 'MiB/s', value: (x) => fixed(x.mibs), right: true },
    { title: `vs ${ref.server}`, value: (x) => ratio(x.mibs, ref.mibs), right: true },
    { title: 'p50 s', value: (x) => fixed(percentile(x.r.result.ms, 50) / 1000, 1), right: true },
    { title: 'p99 s', value: (x) => fixed(percentile(x.r.result.ms, 99) / 1000, 1), right: true },
    { title: 'failed', value: (x) => String(x.failed), right: true },
    { title: 'server CPU s', value: (x) => fixed(x.r.serverCpu, 1), right: true },
    { title: 'MiB per server CPU-s', value: (x) => fixed(x.r.result.bytes / 1048576 / x.r.serverCpu, 0), right: true },
    { title: 'curl CPU s', value: (x) => fixed(x.r.result.cpuMs / 1000, 1), right: true },
    { title: 'other CPU s', value: (x) => `${fixed(Math.max(0, x.r.otherCpu), 1)}/${fixed((x.r.result.wallMs / 1000) * cores, 0)}`, right: true },
  ]));
  if (scripts.length > 0) {
    console.log(`\nTether boot script GET /boot/ipxe?mac=... (${opts.machines} machines per row; goal p99 < 10 ms)\n`);
    console.log(table(scripts, [
      { title: 'case', value: (x) => x.label },
      { title: 'concurrency', value: (x) => String(x.concurrency), right: true },
      { title: 'requests', value: (x) => String(x.result.ok + x.result.failed), right: true },
      { title: 'req/s', value: (x) => fixed(x.result.ok / (x.result.wallMs / 1000), 0), right: true },
      { title: 'TTFB p50 ms', value: (x) => fixed(percentile(x.result.ms, 50), 1), right: true },
      { title: 'TTFB p99 ms', value: (x) => fixed(percentile(x.result.ms, 99), 1), right: true },
      { title: 'failed', value: (x) => String(x.result.failed), right: true },
      { title: 'server CPU ms/req', value: (x) => fixed((x.serverCpu * 1000) / x.result.ok, 2), right: true },
    ]));
  }
  console.log('\nDownloads: curl --parallel (status, length and exit code checked for each; one sha256-checked download before and after each storm).');
  console.log('Every request opens its own connection. Download p50/p99: whole response per download. TTFB: connect to response head.');
  console.log('server CPU: the server and its children (cgroup); other CPU: the rest of the machine (kernel softirq included) / the CPU-seconds the run had.');
}

await main();
