// Debian packages as build inputs: downloaded with apt-get (never installed on the build host)
// and unpacked with dpkg-deb into a cache, so a rebuild with nothing changed downloads nothing.
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface Unpacked { name: string; version: string; deb: string; root: string }

/** The candidate version apt would install, e.g. "1:1.35.0-4+deb12u1+b1". */
export async function candidateVersion(name: string): Promise<string> {
  const { stdout } = await execa('apt-cache', ['policy', name]);
  const v = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
  if (!v || v === '(none)') throw new Error(`Debian package ${name} has no installable candidate (run apt-get update?)`);
  return v;
}

/** Downloads (once) and unpacks (once) a package into `<cache>/<name>_<version>/root`. */
export async function unpackDeb(name: string, cache: string, log: (msg: string) => void = () => {}): Promise<Unpacked> {
  const version = await candidateVersion(name);
  const dir = join(cache, `${name}_${version.replace(/[:/]/g, '_')}`);
  const root = join(dir, 'root');
  mkdirSync(dir, { recursive: true });
  let deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) {
    log(`downloading ${name} ${version}`);
    await execa('apt-get', ['download', `${name}=${version}`], { cwd: dir });
    deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${name} produced no .deb`);
  }
  if (!existsSync(join(root, '.unpacked'))) {
    log(`unpacking ${deb}`);
    const tmp = `${root}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await execa('dpkg-deb', ['-x', join(dir, deb), tmp]);
    await execa('touch', [join(tmp, '.unpacked')]);
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
  }
  return { name, version, deb: join(dir, deb), root };
}
