// Builds the node OS image: debootstrap (cached) → configured tree → ESP + ext4 root → GPT disk file
// → chunked zstd + signed manifest (images/compress.ts). The agent writes the raw image to a
// server's disk as is; the manifest says which partition is the root it stages per-machine files in.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compressImage, imageFileName } from '../compress.ts';
import { unpackDeb, withCacheLock } from '../debian/debs.ts';
import { loadOrCreateSigningKey, keyIdOf, MANIFEST_FILE, manifestProblems, signManifest, type ImageManifest } from '../manifest.ts';
import { CONFIG_LABEL, ROOT_LABEL } from './config.ts';
import { assembleDisk, buildEsp, buildRootFs, SYSTEMD_BOOT_EFI } from './disk.ts';
import { diskLayout, MiB, rootFilesystem } from './layout.ts';
import { allPackages, KUBE_BINARIES, parseRecipe, type NodeRecipe } from './recipe.ts';
import { bootFiles, configureTree, debootstrapTarball, extractTree, installedPackages, removeStaleWork, removeTree, stageKubeBinaries, treeUsage, withBuildLock, workDir } from './rootfs.ts';

const REPO = new URL('../../', import.meta.url).pathname;
/** The code that decides what the image contains: a change to it is a change of input. */
const BUILDER_SOURCES = ['builder.ts', 'config.ts', 'disk.ts', 'firstboot.ts', 'layout.ts', 'recipe.ts', 'rootfs.ts'].map((f) => `images/node/${f}`);

type Log = (msg: string) => void;


/** The disk image's bytes after the config partition (the backup GPT), base64 for the manifest's tail. */
function readTail(raw: string, from: number, to: number): string {
  const buf = Buffer.alloc(to - from);
  const fd = openSync(raw, 'r');
  try { readSync(fd, buf, 0, buf.length, from); } finally { closeSync(fd); }
  return buf.toString('base64');
}

export interface NodeBuildOptions {
  recipe: NodeRecipe;
  /** Receives `<name>.raw.zst` and manifest.json. */
  out: string;
  /** Shared between builds: debootstrap's .debs and tree tarball, unpacked bootloader packages, scratch space. */
  cache: string;
  signingKey: KeyObject;
  log?: Log;
}

export interface NodeBuildResult {
  manifest: ImageManifest;
  /** Bytes: the configured tree, the root filesystem and the whole raw disk, the compressed image. */
  sizes: { tree: number; rootFs: number; raw: number; compressed: number };
  tookMs: number;
}

const mib = (n: number): string => (n < MiB ? `${(n / 1024).toFixed(0)} KiB` : `${(n / MiB).toFixed(0)} MiB`);

export async function buildNodeImage(o: NodeBuildOptions): Promise<NodeBuildResult> {
  const t0 = Date.now();
  const log = (msg: string): void => o.log?.(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  const r = o.recipe;
  const [tarball, systemdBoot] = await Promise.all([
    debootstrapTarball(r, o.cache, log),
    unpackDeb('systemd-boot-efi', join(o.cache, 'debs'), log),
  ]);
  mkdirSync(o.out, { recursive: true });
  await removeStaleWork(join(o.cache, 'node-image'));
  // Builds may run side by side on one cache: each works in its own directory.
  const work = workDir(join(o.cache, 'node-image'), 'build');
  try {
    const tree = join(work, 'root');
    log(`extracting ${tarball}`);
    await extractTree(tarball, tree);
    await configureTree(tree, r);
    const kube = r.kubelet.binaries ? await stageKubeBinaries(tree, r.kubelet.binaries, log) : [];
    log(kube.length ? `staged ${kube.map((k) => `${k.name} (${mib(k.bytes)})`).join(', ')} from ${r.kubelet.binaries}` : 'no kubelet binaries in the recipe: /usr/bin/kubelet left empty');
    const boot = bootFiles(tree);
    const packages = await installedPackages(tree);
    const usage = treeUsage(tree);
    const fs = rootFilesystem(usage, r.rootHeadroomMiB * MiB);
    const layout = diskLayout(fs.bytes);
    log(`tree ${mib(usage.bytes)} in ${usage.inodes} inodes, kernel ${boot.version}; root ext4 ${mib(fs.bytes)}, disk ${mib(layout.bytes)}`);

    const esp = join(work, 'esp.img');
    const rootImg = join(work, 'root.img');
    await Promise.all([
      buildEsp(esp, layout.esp.bytes, layout.esp.startSector, { vmlinuz: boot.vmlinuz, initrd: boot.initrd, systemdBoot: join(systemdBoot.root, SYSTEMD_BOOT_EFI) }, work),
      buildRootFs(rootImg, tree, fs),
    ]);
    const raw = join(work, 'disk.raw');
    await assembleDisk(raw, layout, esp, rootImg);
    log(`disk image assembled (${mib(layout.bytes)}); compressing (zstd -${r.level}, ${mib(r.chunkBytes)} chunks)`);

    const contents: Record<string, string> = {
      suite: r.suite,
      mirror: r.mirror,
      kernel: boot.version,
      bootloaders: `syslinux (BIOS), systemd-boot ${systemdBoot.version} (UEFI)`,
      kubelet: r.kubelet.binaries ?? 'none (the recipe supplies no kubelet binaries)',
    };
    const kernelPackage = `linux-image-${boot.version}`;
    for (const p of [...allPackages(r), kernelPackage]) contents[`deb:${p}`] = packages.get(p) ?? 'not installed';
    for (const k of kube) contents[`${k.name}.sha256`] = k.sha256;
    let lastPct = -1;
    const manifest = await compressImage({
      raw, outDir: o.out, name: r.name, signingKey: o.signingKey, contents, level: r.level, chunkBytes: r.chunkBytes,
      root: { partition: layout.root.number, label: ROOT_LABEL, fs: 'ext4' },
      boot: { bios: true, uefi: true },
      rawSize: layout.config.offset,
      config: { partition: layout.config.number, label: CONFIG_LABEL, offset: layout.config.offset, size: layout.config.bytes },
      tail: { offset: layout.config.offset + layout.config.bytes, base64: readTail(raw, layout.config.offset + layout.config.bytes, layout.bytes) },
      onProgress: (done, total) => {
        const pct = Math.floor((done / total) * 4) * 25;
        if (pct !== lastPct) { lastPct = pct; log(`compressed ${pct}%`); }
      },
    });
    log(`${imageFileName(r.name)}: raw ${mib(manifest.raw.size)} → zstd ${mib(manifest.compressed.size)}`);
    return {
      manifest, tookMs: Date.now() - t0,
      sizes: { tree: usage.bytes, rootFs: fs.bytes, raw: manifest.raw.size, compressed: manifest.compressed.size },
    };
  } finally {
    await removeTree(work);
    log('scratch space removed');
  }
}

// --- cached builds (tests, the appliance's first start) -------------------------------------------

export interface EnsureOptions {
  /** The project cache (`.cache`): images go to `<cacheDir>/node-image/<name>-<inputs>/`. */
  cacheDir: string;
  /** The image-signing key: a PEM path (created on first use, as the appliance does) or the key itself. */
  key: string | KeyObject;
  /** Default: parseRecipe({}) — no kubelet binaries, so nothing is downloaded besides Debian. */
  recipe?: NodeRecipe;
  log?: Log;
}

export interface EnsuredImage { dir: string; manifest: ImageManifest; built: boolean }

const sha256 = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

/** Everything the image is made from, as far as it can be known without building it. */
export function nodeImageInputs(r: NodeRecipe): string {
  const kube = r.kubelet.binaries && !/^https?:/.test(r.kubelet.binaries)
    ? KUBE_BINARIES.map((b) => join(r.kubelet.binaries!, b)).filter((p) => existsSync(p)).map((p) => [p, sha256(readFileSync(p))])
    : [];
  return sha256(JSON.stringify({ recipe: r, kube, builder: BUILDER_SOURCES.map((f) => sha256(readFileSync(join(REPO, f)))) }));
}

async function signingKeyOf(key: string | KeyObject): Promise<KeyObject> {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw new TypeError('ensureNodeImage: key must be the private image-signing key (or its PEM path)');
    return key;
  }
  // Creating the key is a race between parallel callers: the file must end up holding the key that signed.
  mkdirSync(dirname(key), { recursive: true });
  return withCacheLock(`${key}.lock`, async () => loadOrCreateSigningKey(key).privateKey);
}

/** The image in `dir` when it is whole: a sound manifest and a compressed file of its size. */
function cached(dir: string): ImageManifest | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ImageManifest;
    if (manifestProblems(m).length) return null;
    return statSync(join(dir, m.compressed.file)).size === m.compressed.size ? m : null;
  } catch {
    return null;
  }
}

/** Images of this name built from other inputs (an older builder or recipe): each is hundreds of MiB. */
function pruneOlderBuilds(base: string, name: string, keep: string): void {
  const mine = new RegExp(`^${name.replace(/[.]/g, '\\.')}-[0-9a-f]{16}$`);
  for (const e of readdirSync(base)) {
    const p = join(base, e);
    if (mine.test(e) && p !== keep) rmSync(p, { recursive: true, force: true });
  }
}

/**
 * The node image for a recipe, built once and then reused while the recipe and this builder's
 * sources are unchanged. Safe under concurrent callers (test files run in parallel): one builds,
 * the others wait on its lock and then use its result. A cached image signed by another key is
 * re-signed (the signature covers the manifest, not the image bytes).
 */
export async function ensureNodeImage(o: EnsureOptions): Promise<EnsuredImage> {
  const recipe = o.recipe ?? parseRecipe({});
  const base = join(o.cacheDir, 'node-image');
  mkdirSync(base, { recursive: true });
  const dir = join(base, `${recipe.name}-${nodeImageInputs(recipe).slice(0, 16)}`);
  const signingKey = await signingKeyOf(o.key);
  const keyId = keyIdOf(createPublicKey(signingKey));
  return withBuildLock(`${dir}.lock`, async () => {
    let manifest = cached(dir);
    let built = false;
    if (!manifest) {
      const tmp = `${dir}.tmp-${process.pid}`;
      await removeTree(tmp);
      await removeTree(dir);
      const res = await buildNodeImage({ recipe, out: tmp, cache: o.cacheDir, signingKey, log: o.log });
      renameSync(tmp, dir);
      manifest = res.manifest;
      built = true;
      pruneOlderBuilds(base, recipe.name, dir);
    } else if (manifest.signature?.keyId !== keyId) {
      o.log?.(`re-signing the cached ${recipe.name} manifest with key ${keyId}`);
      manifest = signManifest({ ...manifest, signature: undefined }, signingKey);
      const path = join(dir, MANIFEST_FILE);
      writeFileSync(`${path}.tmp-${process.pid}`, `${JSON.stringify(manifest, null, 2)}\n`);
      renameSync(`${path}.tmp-${process.pid}`, path);
    }
    return { dir, manifest, built };
  });
}
