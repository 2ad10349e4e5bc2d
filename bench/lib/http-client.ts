// HTTP load for the benchmarks, run inside the client namespace:
//   node http-client.ts '{"mode":"download","url":"http://10.249.2.1:8080/artifacts/big.bin",...}'
//   node http-client.ts '{"mode":"script","base":"http://10.249.2.1:8080","macs":[...],...}'
// prints one JSON line. Every request is a new connection, as every booting machine opens its own.
//
// download: `count` GETs of one file, `concurrency` at a time, each body checked for length and sha256
//   (the storm itself runs with curl, see curl-storm.ts; this checks the bytes before and after it).
// script: GET /boot/ipxe?mac=... once per MAC, `concurrency` at a time; time to first byte is the
//   time from opening the connection to the response head.
import { request, type IncomingMessage } from 'node:http';
import { createHash, type Hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export interface DownloadSpec { mode: 'download'; url: string; count: number; concurrency: number; size: number; sha256: string }
export interface ScriptSpec { mode: 'script'; base: string; macs: string[]; concurrency: number }

export interface HttpRunResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** download: whole response per download; script: time to the response head. */
  ms: number[];
  bytes: number;
  /** Bodies whose sha256 was checked. */
  hashed: number;
  wallMs: number;
  cpuMs: number;
}

function get(url: string, onResponse: (res: IncomingMessage) => void, onError: (e: Error) => void): void {
  // agent: false — a fresh connection per request, closed after it.
  const req = request(url, { agent: false }, onResponse);
  req.on('error', onError);
  req.end();
}

function fetchOne(url: string, expectSize: number | undefined, hash: Hash | undefined, headMs?: (ms: number) => void): Promise<{ bytes: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    get(url, (res) => {
      headMs?.(performance.now() - t0);
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); return; }
      const declared = Number(res.headers['content-length']);
      let bytes = 0;
      const text: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (hash) hash.update(c);
        else if (expectSize === undefined) text.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (!res.complete) reject(new Error('connection closed mid-body'));
        else if (Number.isFinite(declared) && bytes !== declared) reject(new Error('length differs from content-length'));
        else if (expectSize !== undefined && bytes !== expectSize) reject(new Error('wrong length'));
        else resolve({ bytes, body: expectSize === undefined ? Buffer.concat(text).toString() : undefined });
      });
    }, reject);
  });
}

/** Runs `count` jobs with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => { while (next < count) await job(next++); };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export async function runHttp(spec: DownloadSpec | ScriptSpec): Promise<HttpRunResult> {
  const r: HttpRunResult = { ok: 0, failed: 0, errors: {}, ms: [], bytes: 0, hashed: 0, wallMs: 0, cpuMs: 0 };
  const fail = (e: unknown): void => {
    r.failed++;
    const m = (e as Error).message;
    r.errors[m] = (r.errors[m] ?? 0) + 1;
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (spec.mode === 'download') {
    await pool(spec.count, spec.concurrency, async () => {
      const started = performance.now();
      const hash = createHash('sha256');
      try {
        const { bytes } = await fetchOne(spec.url, spec.size, hash);
        if (hash.digest('hex') !== spec.sha256) throw new Error('sha256 mismatch');
        r.hashed++;
        r.ok++;
        r.bytes += bytes;
        r.ms.push(performance.now() - started);
      } catch (e) { fail(e); }
    });
  } else {
    await pool(spec.macs.length, spec.concurrency, async (i) => {
      let head = Number.NaN;
      try {
        const { body, bytes } = await fetchOne(`${spec.base}/boot/ipxe?mac=${spec.macs[i]}&platform=efi&arch=x86_64`, undefined, undefined, (ms) => { head = ms; });
        if (!body?.startsWith('#!ipxe')) throw new Error('not an iPXE script');
        r.ok++;
        r.bytes += bytes;
        r.ms.push(head);
      } catch (e) { fail(e); }
    });
  }
  r.wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  r.cpuMs = (cpu.user + cpu.system) / 1000;
  return r;
}

if (import.meta.main) {
  const result = await runHttp(JSON.parse(process.argv[2]) as DownloadSpec | ScriptSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
