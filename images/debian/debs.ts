// Debian packages as build inputs: downloaded with apt-get (never installed on the build host)
// and unpacked with dpkg-deb into a cache, so a rebuild with nothing changed downloads nothing.
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Unpacked { name: string; version: string; deb: string; root: string }

/** The candidate version apt would install, e.g. "1:1.35.0-4+deb12u1+b1". */
export async function candidateVersion(name: string): Promise<string> {
  const { stdout } = await execa('apt-cache', ['policy', name]);
  const v = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
  if (!v || v === '(none)') throw new Error(`Debian package ${name} has no installable candidate (run apt-get update?)`);
  return v;
}

/**
 * Downloads (once) and unpacks (once) a package into `<cache>/<name>_<version>/root`. Safe when
 * several builds share the cache at the same time (test files run in parallel): each works in a
 * private temp dir and publishes with an atomic rename; a loser of the race uses the winner's copy.
 */
export async function unpackDeb(name: string, cache: string, log: (msg: string) => void = () => {}): Promise<Unpacked> {
  const version = await candidateVersion(name);
  const dir = join(cache, `${name}_${version.replace(/[:/]/g, '_')}`);
  const root = join(dir, 'root');
  mkdirSync(dir, { recursive: true });
  const findDeb = (d: string) => readdirSync(d).find((f) => f.endsWith('.deb'));
  let deb = findDeb(dir);
  if (!deb) {
    log(`downloading ${name} ${version}`);
    const tmp = mkdtempSync(join(dir, '.dl-'));
    try {
      await execa('apt-get', ['download', `${name}=${version}`], { cwd: tmp });
      const got = findDeb(tmp);
      if (!got) throw new Error(`apt-get download ${name} produced no .deb`);
      renameSync(join(tmp, got), join(dir, got));
      deb = got;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (!existsSync(join(root, '.unpacked'))) {
    log(`unpacking ${deb}`);
    const tmp = mkdtempSync(join(dir, '.unpack-'));
    try {
      await execa('dpkg-deb', ['-x', join(dir, deb), tmp]);
      writeFileSync(join(tmp, '.unpacked'), '');
      try {
        renameSync(tmp, root);
      } catch (e) {
        // Another build published first (rename onto a non-empty dir fails): use its copy.
        if (!existsSync(join(root, '.unpacked'))) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { name, version, deb: join(dir, deb), root };
}

/** Runs `fn` while holding a lock directory (mkdir is atomic), for steps that write into a shared cache in place. */
export async function withCacheLock<T>(lock: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try { mkdirSync(lock); break; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try { return await fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}
