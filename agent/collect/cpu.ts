// CPUs from `lscpu -J` (topology as the kernel sees it), with /proc/cpuinfo as the fallback when
// lscpu is missing or leaves a field out. Totals are over all sockets.
import { LIMITS, type Cpu, type Fact } from '../protocol.ts';
import { absent, countFact, textFact } from './facts.ts';

interface LscpuEntry { field?: string; data?: string | null; children?: LscpuEntry[] }

/** "Model name:" → value, flattened over lscpu's nested sections (util-linux ≥ 2.37 nests them). */
export function parseLscpu(json: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (entries: LscpuEntry[] | undefined): void => {
    for (const e of entries ?? []) {
      if (e.field && typeof e.data === 'string') out[e.field.replace(/:$/, '').trim()] = e.data;
      walk(e.children);
    }
  };
  const doc = JSON.parse(json) as { lscpu?: LscpuEntry[] };
  if (!Array.isArray(doc.lscpu)) throw new Error('lscpu -J printed no "lscpu" list');
  walk(doc.lscpu);
  return out;
}

export interface CpuinfoSummary { model?: string; vendor?: string; sockets: number; cores?: number; threads: number; flags?: string[] }

/** /proc/cpuinfo on x86: one block per logical CPU; cores = Σ over packages of "cpu cores". */
export function parseCpuinfo(text: string): CpuinfoSummary {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const coresByPackage = new Map<string, number>();
  let model: string | undefined;
  let vendor: string | undefined;
  let flags: string[] | undefined;
  for (const b of blocks) {
    const kv = new Map<string, string>();
    for (const l of b.split('\n')) {
      const i = l.indexOf(':');
      if (i > 0) kv.set(l.slice(0, i).trim(), l.slice(i + 1).trim());
    }
    model ??= kv.get('model name');
    vendor ??= kv.get('vendor_id');
    flags ??= kv.get('flags')?.split(/\s+/).filter(Boolean);
    const pkg = kv.get('physical id');
    const cores = Number(kv.get('cpu cores'));
    if (pkg !== undefined && Number.isInteger(cores)) coresByPackage.set(pkg, cores);
  }
  const cores = coresByPackage.size ? [...coresByPackage.values()].reduce((a, b) => a + b, 0) : undefined;
  return { model, vendor, sockets: Math.max(coresByPackage.size, blocks.length ? 1 : 0), cores, threads: blocks.length, flags };
}

function flagsFact(raw: string[] | undefined, why: string): Fact<string[]> {
  if (!raw?.length) return absent(why);
  return [...new Set(raw)].filter((f) => f.length <= LIMITS.flag).slice(0, LIMITS.flags);
}

/**
 * Field by field: lscpu first, cpuinfo where lscpu has nothing. Either source may be an Error
 * (tool missing, file unreadable); the reason then shows in the fields neither could fill.
 */
export function cpuFrom(lscpu: Record<string, string> | Error, cpuinfo: CpuinfoSummary | Error): Cpu {
  const l = lscpu instanceof Error ? {} : lscpu;
  const c = cpuinfo instanceof Error ? null : cpuinfo;
  const why = [lscpu instanceof Error ? lscpu.message : 'lscpu does not say', cpuinfo instanceof Error ? cpuinfo.message : 'nor does /proc/cpuinfo'].join('; ');
  const sockets = countFact(l['Socket(s)'], why);
  const perSocket = countFact(l['Core(s) per socket'], why);
  const lscpuCores = typeof sockets === 'number' && typeof perSocket === 'number' ? sockets * perSocket : null;
  const num = (v: number | undefined | null) => (typeof v === 'number' && v > 0 ? v : absent(why));
  return {
    model: textFact(l['Model name'] ?? c?.model, why),
    vendor: textFact(l['Vendor ID'] ?? c?.vendor, why),
    sockets: typeof sockets === 'number' ? sockets : num(c?.sockets),
    cores: lscpuCores ?? num(c?.cores),
    threads: typeof countFact(l['CPU(s)'], why) === 'number' ? Number(l['CPU(s)']) : num(c?.threads),
    flags: flagsFact(l.Flags?.split(/\s+/).filter(Boolean) ?? c?.flags, why),
  };
}
