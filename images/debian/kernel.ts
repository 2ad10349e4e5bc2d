// Debian's own kernel for boot images: the package linux-image-amd64 points at, unpacked, with
// modules.dep generated (the .deb ships none: depmod -b).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unpackDeb, withCacheLock } from './debs.ts';

export interface DebianKernel { version: string; package: string; vmlinuz: string; root: string; modules: string }

export async function kernelPackageName(): Promise<string> {
  const { stdout } = await execa('apt-cache', ['depends', 'linux-image-amd64']);
  const name = /Depends:\s*(linux-image-\d\S*)/.exec(stdout)?.[1];
  if (!name) throw new Error('cannot find the kernel package linux-image-amd64 depends on (run apt-get update?)');
  return name;
}

export async function debianKernel(cache: string, log?: (msg: string) => void): Promise<DebianKernel> {
  const pkg = await kernelPackageName();
  const { root } = await unpackDeb(pkg, cache, log);
  const version = readdirSync(join(root, 'lib/modules'))[0];
  const modules = join(root, 'lib/modules', version);
  if (!existsSync(join(modules, 'modules.dep'))) {
    // depmod writes into the shared unpacked tree: one build at a time, and only once.
    await withCacheLock(`${root}.depmod.lock`, async () => {
      if (existsSync(join(modules, 'modules.dep'))) return;
      log?.(`depmod ${version}`);
      await execa('depmod', ['-b', root, version]);
    });
  }
  return { version, package: pkg, vmlinuz: join(root, 'boot', `vmlinuz-${version}`), root, modules };
}
