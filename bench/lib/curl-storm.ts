// The download storm's load generator: curl's parallel mode, N downloads of one URL at once, bodies to
// /dev/null, one line per transfer with its status, size and time. curl rather than a Node client:
// the client shares 2 cores with the server, and a Node client spends ~2.5 CPU-s per GiB received
// where curl spends ~0.8 (measured here against nginx), which would hide most of the difference
// between the servers. wrk measures for a duration, not N whole downloads.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Lab } from '../../test/lib/lab.ts';
import type { CpuGroup } from './cpu.ts';
import type { HttpRunResult } from './http-client.ts';

/** curl ignores --parallel-max above 300 (and falls back to 50): split larger storms. */
const PER_CURL = 250;
const RESULT = /^\d{3} \d+ [\d.]+ \d+$/;

export async function curlStorm(lab: Lab, ns: string, o: { url: string; count: number; concurrency: number; size: number; cpu?: CpuGroup }): Promise<HttpRunResult> {
  const procs = Math.ceil(o.concurrency / PER_CURL);
  const r: HttpRunResult = { ok: 0, failed: 0, errors: {}, ms: [], bytes: 0, hashed: 0, wallMs: 0, cpuMs: 0 };
  const cpu0 = o.cpu?.seconds() ?? Number.NaN;
  const t0 = performance.now();
  const runs = Array.from({ length: procs }, (_, i) => {
    const count = Math.floor(o.count / procs) + (i < o.count % procs ? 1 : 0);
    const config = join(lab.dir, `curl-${i}.cfg`);
    writeFileSync(config, `url = "${o.url}"\noutput = "/dev/null"\n`.repeat(count));
    const args = ['--silent', '--no-progress-meter', '--parallel', '--parallel-immediate', '--parallel-max', String(Math.ceil(o.concurrency / procs)),
      '--max-time', '600', '--config', config, '--write-out', '%{http_code} %{size_download} %{time_total} %{exitcode}\\n'];
    const c = o.cpu ? o.cpu.wrap('curl', args) : { cmd: 'curl', args };
    const p = lab.spawn(ns, c.cmd, c.args, { logName: 'curl' });
    return p.exited.then(() => p.output());
  });
  for (const out of await Promise.all(runs)) {
    // The output holds stderr too (curl's parallel progress meter, redrawn with \r): keep result lines.
    for (const line of out.split(/[\r\n]+/).filter((l) => RESULT.test(l))) {
      const [status, size, seconds, exit] = line.split(' ');
      const why = exit !== '0' ? `curl exit ${exit}` : status !== '200' ? `HTTP ${status}` : Number(size) !== o.size ? 'wrong length' : undefined;
      if (why) {
        r.failed++;
        r.errors[why] = (r.errors[why] ?? 0) + 1;
      } else {
        r.ok++;
        r.bytes += Number(size);
        r.ms.push(Number(seconds) * 1000);
      }
    }
  }
  const missing = o.count - r.ok - r.failed;
  if (missing > 0) { r.failed += missing; r.errors['no result line'] = missing; }
  r.wallMs = performance.now() - t0;
  r.cpuMs = ((o.cpu?.seconds() ?? Number.NaN) - cpu0) * 1000;
  return r;
}
