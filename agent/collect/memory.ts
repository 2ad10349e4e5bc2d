// Memory: installed (DIMMs from SMBIOS, else the kernel's memory blocks) and usable (MemTotal).
// MemTotal alone under-reports installed RAM by the firmware's and kernel's reservations, which
// would make "≥ 64 GiB" approval rules miss machines that have exactly 64 GiB.
import type { Dimm, Fact, Memory } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf } from './facts.ts';

export function parseMemTotal(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

const MEMORY_DIR = '/sys/devices/system/memory';

/** Σ of the kernel's memory blocks (present, online or not) × the block size. */
export async function memoryBlocksBytes(host: Host): Promise<Fact<number>> {
  try {
    const size = Number.parseInt((await host.readText(`${MEMORY_DIR}/block_size_bytes`)).trim(), 16);
    const blocks = (await host.list(MEMORY_DIR)).filter((n) => /^memory\d+$/.test(n)).length;
    if (!Number.isSafeInteger(size) || size <= 0 || blocks === 0) return absent(`${MEMORY_DIR} lists no memory blocks`);
    return size * blocks;
  } catch (e) {
    return absent(reasonOf(e));
  }
}

export function memoryFrom(o: { dimms: Fact<Dimm[]>; blocksBytes: Fact<number>; memTotal: Fact<number> }): Memory {
  const fromDimms = Array.isArray(o.dimms) && o.dimms.length ? o.dimms.reduce((a, d) => a + d.sizeBytes, 0) : null;
  return { totalBytes: fromDimms ?? o.blocksBytes, usableBytes: o.memTotal, dimms: o.dimms };
}
