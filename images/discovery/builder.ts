// Builds the discovery OS: Debian's kernel plus a zstd initramfs holding busybox, the Node runtime
// (stripped), the bundled agent and LLDP listener, the inventory tools (dmidecode, lsblk, lscpu,
// ethtool) with their libraries, and the driver modules. LLDP capture and the BMC's LAN address need
// no tool: the agent uses node:ffi (packet sockets, IPMI ioctls). The initrd is two zstd segments,
// the rootfs and the (cached, highly compressed) runtime. Every input is hashed first; when the hash
// matches the last build's manifest and its files are intact, the build is a no-op. Outputs go to
// `out` as vmlinuz, initrd.img and manifest.json (the appliance serves <dataDir>/artifacts/discovery/).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpackDeb, withCacheLock, type Unpacked } from '../debian/debs.ts';
import { debianKernel } from '../debian/kernel.ts';
import { writeCpio } from '../initrd/cpio.ts';
import { compress, entriesFromDir } from '../initrd/tree.ts';
import { PROTOCOL_VERSION } from '../../agent/protocol.ts';
import { DISCOVERY_MODULES, moduleFiles } from './modules.ts';
import { initScript, UDHCPC_SCRIPT } from './init.ts';
import { Rootfs, sharedLibraries } from './rootfs.ts';

const REPO = new URL('../../', import.meta.url).pathname;
/** The code that decides what the image contains: a change to it is a change of input. */
const BUILDER_SOURCES = ['images/discovery/builder.ts', 'images/discovery/init.ts', 'images/discovery/lldp-listener.ts', 'images/discovery/modules.ts', 'images/discovery/rootfs.ts', 'images/initrd/cpio.ts', 'images/initrd/tree.ts'];
export const SIZE_GOAL_BYTES = 40 * 1024 * 1024;
/**
 * The Node runtime (~110 MB of the ~140 MB rootfs) is its own initramfs segment — the kernel unpacks
 * concatenated compressed cpio archives one after the other — compressed at this level once per
 * runtime and cached (`<cache>/discovery/runtime-*.cpio.zst`): ~31 MB at 19 vs ~39 MB at 3, and a
 * build that only changed the agent or init does not pay for it again. Measured here (2 cores, zstd
 * 1.5.4): -19 takes 60-75 s once; then the whole initrd is ~38 MB with the rest at level 3.
 */
export const RUNTIME_LEVEL = 19;

/** The inventory tools, from which Debian package, at which path inside it. */
const TOOLS: ReadonlyArray<{ pkg: string; path: string }> = [
  { pkg: 'dmidecode', path: '/usr/sbin/dmidecode' },
  { pkg: 'util-linux', path: '/bin/lsblk' },
  { pkg: 'util-linux', path: '/usr/bin/lscpu' },
  { pkg: 'ethtool', path: '/sbin/ethtool' },
];

export interface DiscoveryOptions {
  out: string;
  /** Downloads, unpacked packages, the stripped runtime, staging. Shared between builds. */
  cache: string;
  /** zstd level of the initrd without the runtime: 19 for a release, lower in tests (speed). */
  level?: number;
  /** zstd level of the (cached) Node runtime segment; default RUNTIME_LEVEL. */
  runtimeLevel?: number;
  /** The Node runtime to embed (a Node 26 binary); default the one running the build. */
  node?: string;
  log?: (msg: string) => void;
}

export interface FileInfo { size: number; sha256: string }

export interface DiscoveryManifest {
  name: 'tether-discovery';
  /** sha256 over every input: equal inputs, equal image (and no rebuild). */
  inputs: string;
  kernel: { package: string; version: string };
  node: { version: string; sha256: string };
  agent: { protocol: number; sha256: string };
  /** The LLDP listener bundle (/lldp-listener.mjs). */
  lldpListener: { sha256: string };
  packages: Record<string, string>;
  /** Libraries copied from the build host, with the Debian package that owns each. */
  hostFiles: Array<{ path: string; package: string | null; sha256: string }>;
  modules: string[];
  compression: { format: 'zstd'; level: number; runtimeLevel: number };
  files: { vmlinuz: FileInfo; 'initrd.img': FileInfo };
  builtAt: string;
  buildMs: number;
}

export interface BuildResult { manifest: DiscoveryManifest; skipped: boolean; tookMs: number }

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/** esbuild from the project's devDependencies once there, else npm's cache of the pinned minor. */
function esbuildCommand(): [string, string[]] {
  const local = join(REPO, 'node_modules/.bin/esbuild');
  return existsSync(local) ? [local, []] : ['npx', ['--yes', 'esbuild@0.28']];
}

/** Bundles an entry (default agent/main.ts) and its imports into one ESM file for the image's Node. */
export async function bundleAgent(outfile: string, entry = 'agent/main.ts'): Promise<void> {
  const [cmd, pre] = esbuildCommand();
  await execa(cmd, [...pre, entry, '--bundle', '--platform=node', '--target=node26', '--format=esm',
    '--legal-comments=none', '--log-level=warning', `--outfile=${outfile}`], { cwd: REPO });
}

/** The LLDP listener /init starts (images/discovery/lldp-listener.ts). */
export const LLDP_LISTENER_ENTRY = 'images/discovery/lldp-listener.ts';

/**
 * `strip --strip-all` of the runtime (150 MB → ~115 MB), cached under the original's path, size
 * and mtime, with the stripped file's sha256 beside it so a no-op build hashes nothing this big.
 */
async function strippedNode(node: string, cache: string): Promise<{ path: string; version: string; sha256: string }> {
  const { stdout: version } = await execa(node, ['--version']);
  const major = Number(/^v(\d+)\./.exec(version)?.[1]);
  if (!(major >= 26)) throw new Error(`the discovery image embeds Node 26 or newer; ${node} is ${version} (run the build through npm, or pass --node)`);
  const st = statSync(node);
  const key = sha256(`${realpathSync(node)}:${st.size}:${st.mtimeMs}`).slice(0, 16);
  const path = join(cache, `node-${version}-${key}.stripped`);
  if (!existsSync(path) || !existsSync(`${path}.sha256`)) {
    const tmp = `${path}.${process.pid}.tmp`;
    await execa('strip', ['--strip-all', '-o', tmp, node]);
    writeFileSync(`${path}.sha256`, await sha256File(tmp));
    renameSync(tmp, path);
  }
  return { path, version, sha256: readFileSync(`${path}.sha256`, 'utf8').trim() };
}

/**
 * The installed Debian packages owning host files ("libc6:amd64 2.36-9+deb12u14"; null when dpkg
 * does not know one), in two dpkg-query calls. Merged /usr: dpkg may list a file under /lib or /usr/lib.
 */
async function owningPackages(paths: string[]): Promise<Map<string, string | null>> {
  const variants = (p: string) => [p, p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`];
  const { stdout } = await execa('dpkg-query', ['-S', ...paths.flatMap(variants)], { reject: false });
  const owner = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([^:\s,]+(?::[a-z0-9]+)?): (\/\S+)$/.exec(line.trim());
    if (m) owner.set(m[2], m[1]);
  }
  const pkgs = [...new Set(owner.values())];
  const versions = new Map<string, string>();
  if (pkgs.length) {
    const { stdout: v } = await execa('dpkg-query', ['-W', '-f=${Package}:${Architecture} ${Version}\n', ...pkgs], { reject: false });
    for (const line of v.split('\n')) {
      const [name, version] = line.split(' ');
      if (name && version) { versions.set(name, version); versions.set(name.replace(/:all$/, ''), version); }
    }
  }
  return new Map(paths.map((p) => {
    const pkg = variants(p).map((x) => owner.get(x)).find(Boolean);
    return [p, pkg ? `${pkg} ${versions.get(pkg) ?? versions.get(`${pkg}:amd64`) ?? '?'}` : null];
  }));
}

/**
 * The runtime's initramfs segment (usr/bin/node and its directories, zstd at `level`), made once
 * per runtime and level and then read from the cache. Builds sharing the cache wait for each other.
 */
async function runtimeSegment(node: { path: string; sha256: string }, work: string, level: number, log: (msg: string) => void): Promise<Buffer> {
  const path = join(work, `runtime-${node.sha256.slice(0, 16)}-zstd${level}.cpio.zst`);
  return withCacheLock(`${path}.lock`, async () => {
    if (existsSync(path)) return readFileSync(path);
    log(`compressing the Node runtime segment (zstd -${level}), once for this runtime: later builds reuse it`);
    const t = Date.now();
    const z = await compress(writeCpio([
      { kind: 'dir', path: 'usr' }, { kind: 'dir', path: 'usr/bin' }, { kind: 'file', path: 'usr/bin/node', data: readFileSync(node.path), mode: 0o755 },
    ]), 'zstd', level);
    const tmpFile = `${path}.${process.pid}.tmp`;
    writeFileSync(tmpFile, z);
    renameSync(tmpFile, path);
    log(`runtime segment ${(z.length / 1048576).toFixed(1)} MiB in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return z;
  });
}

async function fileInfo(path: string): Promise<FileInfo> {
  return { size: statSync(path).size, sha256: await sha256File(path) };
}

/** True when `out` holds exactly what `manifest` describes. */
async function intact(out: string, manifest: DiscoveryManifest): Promise<boolean> {
  for (const [name, want] of Object.entries(manifest.files)) {
    const p = join(out, name);
    if (!existsSync(p) || statSync(p).size !== want.size || (await sha256File(p)) !== want.sha256) return false;
  }
  return true;
}

export async function buildDiscovery(o: DiscoveryOptions): Promise<BuildResult> {
  const t0 = Date.now();
  const log = (msg: string): void => o.log?.(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  const level = o.level ?? 19;
  const runtimeLevel = o.runtimeLevel ?? RUNTIME_LEVEL;
  const debs = join(o.cache, 'debs');
  const work = join(o.cache, 'discovery');
  mkdirSync(work, { recursive: true });
  mkdirSync(o.out, { recursive: true });
  // Builds may run side by side on one cache (tests do): each stages in its own directory.
  const tmp = mkdtempSync(join(work, 'build-'));
  try {
    return await build(o, { t0, log, level, runtimeLevel, debs, work, tmp });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function build(o: DiscoveryOptions, c: { t0: number; log: (msg: string) => void; level: number; runtimeLevel: number; debs: string; work: string; tmp: string }): Promise<BuildResult> {
  const { t0, log, level, runtimeLevel, debs, work, tmp } = c;
  // --- inputs (independent: gathered in parallel; apt-cache alone takes seconds per call) ---------
  const agentFile = join(tmp, 'agent.mjs');
  const listenerFile = join(tmp, 'lldp-listener.mjs');
  const [kernel, unpackedList, node] = await Promise.all([
    debianKernel(debs, log),
    Promise.all(['busybox-static', ...new Set(TOOLS.map((t) => t.pkg))].map((pkg) => unpackDeb(pkg, debs, log))),
    strippedNode(o.node ?? process.execPath, work),
    bundleAgent(agentFile),
    bundleAgent(listenerFile, LLDP_LISTENER_ENTRY),
  ]);
  const unpacked = new Map<string, Unpacked>(unpackedList.map((u) => [u.name, u]));
  log(`kernel ${kernel.package} (${kernel.version}); ${unpackedList.map((u) => `${u.name} ${u.version}`).join(', ')}`);
  log(`node ${node.version} stripped to ${(statSync(node.path).size / 1048576).toFixed(0)} MiB; agent bundled (${(statSync(agentFile).size / 1024).toFixed(0)} KiB)`);
  const tools = TOOLS.map((t) => ({ ...t, src: join(unpacked.get(t.pkg)!.root, t.path) }));
  const [agentSha, listenerSha, modules, libraryLists] = await Promise.all([
    sha256File(agentFile),
    sha256File(listenerFile),
    moduleFiles(kernel, DISCOVERY_MODULES),
    Promise.all([node.path, ...tools.map((t) => t.src)].map(sharedLibraries)),
  ]);
  const libraries = [...new Set(libraryLists.flat())].sort();
  const owners = await owningPackages(libraries);
  const hostFiles = await Promise.all(libraries.map(async (path) => ({ path, package: owners.get(path) ?? null, sha256: await sha256File(path) })));
  const init = initScript(DISCOVERY_MODULES);
  const inputs = sha256(JSON.stringify({
    builder: BUILDER_SOURCES.map((f) => sha256(readFileSync(join(REPO, f)))), level, runtimeLevel, kernel: [kernel.package, kernel.version], node: node.sha256, agentSha, listenerSha, modules, hostFiles, init, UDHCPC_SCRIPT,
    packages: [...unpacked.values()].map((u) => [u.name, u.version]), tools: TOOLS,
    vmlinuz: await sha256File(kernel.vmlinuz),
  }));

  const manifestPath = join(o.out, 'manifest.json');
  if (existsSync(manifestPath)) {
    const previous = JSON.parse(readFileSync(manifestPath, 'utf8')) as DiscoveryManifest;
    if (previous.inputs === inputs && (await intact(o.out, previous))) {
      log(`up to date: nothing changed since the build of ${previous.builtAt}`);
      return { manifest: previous, skipped: true, tookMs: Date.now() - t0 };
    }
  }

  // --- rootfs ---------------------------------------------------------------------------------------
  const stage = join(tmp, 'root');
  const root = new Rootfs(stage);
  root.dir('proc', 'sys', 'dev', 'run', 'tmp', 'root', 'mnt', 'etc', 'bin', 'sbin', 'usr/bin', 'usr/sbin');
  const busybox = join(unpacked.get('busybox-static')!.root, 'bin/busybox');
  root.copy(busybox, '/bin/busybox', 0o755);
  for (const t of tools) root.copy(t.src, t.path, 0o755);
  // /usr/bin/node comes in the runtime segment.
  for (const lib of libraries) root.copy(lib, lib, 0o755);
  // Applets after the real tools: a real binary at the same path wins.
  const { stdout: applets } = await execa(busybox, ['--list-full']);
  for (const a of applets.split('\n').filter(Boolean)) root.symlink('/bin/busybox', a);
  root.copy(agentFile, '/agent.mjs', 0o644);
  root.copy(listenerFile, '/lldp-listener.mjs', 0o644);
  root.file('/init', init, 0o755);
  root.file('/usr/share/udhcpc/default.script', UDHCPC_SCRIPT, 0o755);
  root.file('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  root.file('/etc/group', 'root:x:0:\n');
  root.file('/etc/hostname', 'tether-discovery\n');
  const modDir = `/lib/modules/${kernel.version}`;
  for (const m of modules) root.copy(join(kernel.modules, m), `${modDir}/${m}`, 0o644);
  for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) root.copy(join(kernel.modules, f), `${modDir}/${f}`, 0o644);
  await execa('depmod', ['-b', stage, kernel.version]);
  log(`rootfs staged: ${modules.length} modules, ${libraries.length} libraries`);

  // --- outputs -------------------------------------------------------------------------------------
  rmSync(manifestPath, { force: true }); // from here on the old manifest no longer describes out/
  const archive = writeCpio(entriesFromDir(stage));
  const runtime = await runtimeSegment(node, work, runtimeLevel, log);
  log(`initramfs ${(archive.length / 1048576).toFixed(0)} MiB + the runtime; compressing (zstd -${level})`);
  // Rootfs first, then the runtime: the kernel unpacks the segments in order into one tmpfs.
  const initrd = Buffer.concat([await compress(archive, 'zstd', level), runtime]);
  // Each output appears whole (rename within `out`), never half-written under its served name.
  const part = (name: string) => join(o.out, `.${name}.${process.pid}.part`);
  writeFileSync(part('initrd.img'), initrd);
  renameSync(part('initrd.img'), join(o.out, 'initrd.img'));
  copyFileSync(kernel.vmlinuz, part('vmlinuz'));
  renameSync(part('vmlinuz'), join(o.out, 'vmlinuz'));
  const manifest: DiscoveryManifest = {
    name: 'tether-discovery',
    inputs,
    kernel: { package: kernel.package, version: kernel.version },
    node: { version: node.version, sha256: node.sha256 },
    agent: { protocol: PROTOCOL_VERSION, sha256: agentSha },
    lldpListener: { sha256: listenerSha },
    packages: Object.fromEntries([...unpacked.values()].map((u) => [u.name, u.version])),
    hostFiles,
    modules,
    compression: { format: 'zstd', level, runtimeLevel },
    files: { vmlinuz: await fileInfo(join(o.out, 'vmlinuz')), 'initrd.img': await fileInfo(join(o.out, 'initrd.img')) },
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - t0,
  };
  // Written last: a build that dies half-way leaves no manifest, so the next one starts over.
  writeFileSync(part('manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(part('manifest.json'), manifestPath);
  const size = manifest.files['initrd.img'].size;
  log(`initrd.img ${(size / 1048576).toFixed(1)} MiB${size > SIZE_GOAL_BYTES ? ` — over the ${SIZE_GOAL_BYTES / 1048576} MiB goal` : ''}; vmlinuz ${(manifest.files.vmlinuz.size / 1048576).toFixed(1)} MiB`);
  return { manifest, skipped: false, tookMs: Date.now() - t0 };
}
