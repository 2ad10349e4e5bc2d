// Staging the discovery OS's root directory: files, symlinks, and binaries with the shared
// libraries `ldd` says they load (copied from this build host at the same paths, so the dynamic
// loader finds them where the binary was linked to look).
import { execa } from 'execa';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface LddResult { libraries: string[]; missing: string[] }

/**
 * `ldd` output → the absolute paths of the libraries (the loader included) and the names it could
 * not find. The vDSO is the kernel's and has no file; a static binary needs nothing.
 */
export function parseLdd(text: string): LddResult {
  const libraries: string[] = [];
  const missing: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || /not a dynamic executable|statically linked/.test(line) || line.startsWith('linux-vdso')) continue;
    const notFound = /^(\S+) => not found$/.exec(line);
    if (notFound) { missing.push(notFound[1]); continue; }
    const m = /=> (\/\S+) \(0x/.exec(line) ?? /^(\/\S+) \(0x/.exec(line);
    if (m) libraries.push(m[1]);
  }
  return { libraries, missing };
}

export async function sharedLibraries(binary: string): Promise<string[]> {
  const r = await execa('ldd', [binary], { reject: false });
  const { libraries, missing } = parseLdd(`${r.stdout}\n${r.stderr}`);
  if (missing.length) throw new Error(`${binary} needs ${missing.join(', ')}, which this build host does not have: install the Debian packages that ship them`);
  return libraries;
}

export class Rootfs {
  readonly root: string;
  constructor(root: string) { this.root = root; }

  private at(path: string): string {
    const rel = path.replace(/^\/+/, '');
    if (!rel || rel.split('/').includes('..')) throw new RangeError(`bad rootfs path ${path}`);
    return join(this.root, rel);
  }

  dir(...paths: string[]): void { for (const p of paths) mkdirSync(this.at(p), { recursive: true }); }

  file(path: string, data: string | Uint8Array, mode = 0o644): void {
    const dest = this.at(path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, data);
    chmodSync(dest, mode);
  }

  /** Copies a file's contents (symlinks resolved) to `path` in the rootfs. */
  copy(src: string, path: string, mode?: number): void {
    const dest = this.at(path);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(src), dest);
    if (mode !== undefined) chmodSync(dest, mode);
  }

  symlink(target: string, path: string): void {
    const dest = this.at(path);
    if (this.has(path)) return;
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(target, dest);
  }

  /** Whether the rootfs has an entry at `path` (a symlink counts, wherever it points). */
  has(path: string): boolean { return lstatSync(this.at(path), { throwIfNoEntry: false }) !== undefined; }
}
