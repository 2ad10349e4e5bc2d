// The "newc" cpio format the kernel unpacks an initramfs from (Documentation/driver-api/early-
// userspace/buffer-format.rst): a 110-byte ASCII header per entry, name and data padded to 4 bytes,
// closed by TRAILER!!!. Written here so building an initrd needs no cpio binary and is
// reproducible: fixed mtimes, uid/gid 0, entries in the caller's order.

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number, mtime: number): string {
  return `070701${hex8(ino)}${hex8(mode)}${hex8(0)}${hex8(0)}${hex8(nlink)}${hex8(mtime)}${hex8(size)}${hex8(0)}${hex8(0)}${hex8(0)}${hex8(0)}${hex8(nameSize)}${hex8(0)}`;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Serializes entries into one cpio archive (uncompressed). Paths are relative, without a leading /. */
export function writeCpio(entries: Iterable<CpioEntry>, mtime = 0): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, nlink: number, data: Uint8Array): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    const h = Buffer.from(header(ino++, mode, nlink, data.length, nameBytes.length, mtime), 'ascii');
    parts.push(h, nameBytes, Buffer.alloc(pad4(h.length + nameBytes.length)), Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (!path || path.split('/').includes('..')) throw new RangeError(`bad cpio path: ${e.path}`);
    if (e.kind === 'dir') push(path, S_IFDIR | (e.mode ?? 0o755), 2, new Uint8Array());
    else if (e.kind === 'file') push(path, S_IFREG | (e.mode ?? 0o644), 1, e.data);
    else push(path, S_IFLNK | 0o777, 1, Buffer.from(e.target));
  }
  ino = 0;
  push('TRAILER!!!', 0, 1, new Uint8Array());
  return Buffer.concat(parts);
}
