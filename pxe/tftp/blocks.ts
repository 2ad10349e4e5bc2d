// Cuts an open file into DATA blocks, in order. A transfer ends with the first block shorter than
// blksize — an empty one when the size is a multiple of blksize (RFC 1350) — and a producer never
// yields anything after it. Files are read with positional reads of as many blocks as the transfer
// asks for (a window, or 64 KiB of read-ahead), never whole.
import type { OpenFile } from './source.ts';

/** Returns up to `count` next blocks; calls must not overlap. */
export type BlockProducer = (count: number) => Promise<Buffer[]>;

export function octetBlocks(file: OpenFile, blksize: number): BlockProducer {
  const total = Math.floor(file.size / blksize) + 1;
  let next = 0;
  return async (count) => {
    const n = Math.min(count, total - next);
    if (n <= 0) return [];
    const offset = next * blksize;
    const want = Math.min(n * blksize, file.size - offset);
    const data = await file.read(offset, want);
    // tsize was announced from the size at open: a file cut short under us must not end early.
    if (data.length !== want) throw new Error(`file shrank: got ${data.length} of ${want} octets at ${offset}`);
    const blocks: Buffer[] = [];
    for (let i = 0; i < n; i++) blocks.push(data.subarray(i * blksize, Math.min((i + 1) * blksize, data.length)));
    next += n;
    return blocks;
  };
}

const NETASCII_CHUNK = 64 * 1024;

/** RFC 1350 netascii: the file's size on the wire is only known at its end, so no tsize is offered. */
export function netasciiBlocks(file: OpenFile, blksize: number): BlockProducer {
  let raw = 0;
  let pending = Buffer.alloc(0);
  let finished = false;
  return async (count) => {
    const blocks: Buffer[] = [];
    while (blocks.length < count && !finished) {
      if (pending.length >= blksize) {
        blocks.push(pending.subarray(0, blksize));
        pending = pending.subarray(blksize);
      } else if (raw >= file.size) {
        blocks.push(pending);
        finished = true;
      } else {
        const chunk = await file.read(raw, Math.min(NETASCII_CHUNK, file.size - raw));
        if (chunk.length === 0) throw new Error(`file shrank: nothing at ${raw}`);
        raw += chunk.length;
        pending = Buffer.concat([pending, toNetascii(chunk)]);
      }
    }
    return blocks;
  };
}

/** LF becomes CR LF and a bare CR becomes CR NUL (RFC 764's NVT rules, which netascii follows). */
export function toNetascii(bytes: Buffer): Buffer {
  let extra = 0;
  for (const b of bytes) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.alloc(bytes.length + extra);
  let at = 0;
  for (const b of bytes) {
    if (b === 0x0a) { out[at++] = 0x0d; out[at++] = 0x0a; }
    else if (b === 0x0d) { out[at++] = 0x0d; out[at++] = 0x00; }
    else out[at++] = b;
  }
  return out;
}
