// The node's root tree: debootstrap (cached), then configured by writing files into the tree rather
// than by running scripts in a chroot: what a file write does is visible here and in the tests.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { withCacheLock } from '../debian/debs.ts';
import {
  aptSources, BOOT_STATUS_SCRIPT, CONFIG_SCRIPT, CONFIG_SCRIPT_PATH, CONFIG_SERVICE, BOOT_STATUS_SERVICE, CONTAINERD_CONFIG, DPKG_EXCLUDES, FIRSTBOOT_PATHS, FIRSTBOOT_SERVICE, FSTAB, KUBELET_SERVICE, MODULES_LOAD,
  NETWORK_DHCP, SYSCTL_KUBELET, WAIT_ONLINE_DROPIN,
} from './config.ts';
import { FIRSTBOOT_SCRIPT } from './firstboot.ts';
import { alignUp, FS_BLOCK_BYTES, type TreeUsage } from './layout.ts';
import { allPackages, KUBE_BINARIES, type NodeRecipe } from './recipe.ts';

type Log = (msg: string) => void;

const sha256 = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

/** Everything debootstrap's result depends on: equal key, equal tree (up to the mirror's updates). */
export function debootstrapKey(r: NodeRecipe): string {
  return sha256(JSON.stringify({ suite: r.suite, mirror: r.mirror, variant: 'minbase', packages: allPackages(r) })).slice(0, 16);
}

export function debootstrapArgs(r: NodeRecipe, target: string, debCache: string): string[] {
  return ['--variant=minbase', `--cache-dir=${debCache}`, `--include=${allPackages(r).join(',')}`, r.suite, target, r.mirror];
}

/** Run `rm -rf` that stays on one filesystem: a tree debootstrap left something mounted in is not followed into. */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await unmountBelow(dir);
  await execa('rm', ['-rf', '--one-file-system', '--', dir]);
}

/** debootstrap mounts /proc and /sys in the target and unmounts them unless it is killed: undo what is left. */
async function unmountBelow(dir: string): Promise<void> {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => !!p && p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await execa('umount', ['-l', p]);
}

/** A build lock that a dead builder does not hold forever: its PID is kept inside, and checked. */
export async function withBuildLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    if (pid > 0 && pid !== process.pid && !alive(pid)) rmSync(lock, { recursive: true, force: true });
  } catch { /* no lock, or one being taken right now: withCacheLock waits for it */ }
  return withCacheLock(lock, async () => {
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return fn();
  }, 3_600_000);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** A private work directory in `dir`, named with this process's PID so that removeStaleWork can tell when it is orphaned. */
export const workDir = (dir: string, prefix: string): string => mkdtempSync(join(dir, `${prefix}-${process.pid}-`));

/** Work directories of builds that died (killed tests, ^C): gigabytes each. */
export async function removeStaleWork(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) {
    const pid = Number(/^(?:build|debootstrap)-(\d+)-|\.tmp-(\d+)$/.exec(e)?.slice(1).find(Boolean));
    if (pid > 0 && pid !== process.pid && !alive(pid)) await removeTree(join(dir, e));
  }
}

/**
 * The debootstrapped tree as a tarball in `<cache>/node-image/`, made once per package set. The
 * downloaded .debs stay in `<cache>/debootstrap`, so even a new package set downloads only what is
 * new. A tarball rather than a directory: each build extracts a private copy to configure.
 */
export async function debootstrapTarball(r: NodeRecipe, cache: string, log: Log): Promise<string> {
  const dir = join(cache, 'node-image');
  const debCache = join(cache, 'debootstrap');
  mkdirSync(dir, { recursive: true });
  mkdirSync(debCache, { recursive: true });
  const tarball = join(dir, `debootstrap-${r.suite}-${debootstrapKey(r)}.tar.zst`);
  if (existsSync(tarball)) return tarball;
  // One debootstrap at a time, whatever its packages: they share the .deb cache.
  return withBuildLock(join(dir, 'debootstrap.lock'), async () => {
    if (existsSync(tarball)) return tarball;
    const work = workDir(dir, 'debootstrap');
    const target = join(work, 'root');
    try {
      log(`debootstrap ${r.suite} from ${r.mirror} (${allPackages(r).length} packages on minbase; takes minutes)`);
      const t0 = Date.now();
      const p = execa('debootstrap', debootstrapArgs(r, target, debCache), { all: true, reject: false });
      const seen = new Set<string>();
      p.all?.on('data', (d: Buffer) => {
        // Progress without flooding: the first line of each debootstrap phase (it retrieves and
        // validates package by package, alternating).
        for (const line of d.toString().split('\n')) {
          const m = /^I: (Resolving dependencies of base packages|(Retrieving) \S+ \S+$|(Extracting) \S+\.\.\.$|Installing core packages|Unpacking required packages|Configuring required packages|Unpacking the base system|Configuring the base system|Base system installed successfully)/.exec(line);
          const phase = m?.[2] ?? m?.[3] ?? m?.[1];
          if (phase && !seen.has(phase)) { seen.add(phase); log(`debootstrap: ${line.slice(3).trim()}`); }
        }
      });
      const res = await p;
      if (res.exitCode !== 0) {
        const tail = String(res.all ?? '').split('\n').slice(-15).join('\n');
        const logFile = join(target, 'debootstrap/debootstrap.log');
        const more = existsSync(logFile) ? `\n--- debootstrap.log (end) ---\n${readFileSync(logFile, 'utf8').split('\n').slice(-25).join('\n')}` : '';
        throw new Error(`debootstrap failed (exit ${res.exitCode}):\n${tail}${more}`);
      }
      await unmountBelow(target);
      log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; archiving the tree`);
      const tmp = `${tarball}.tmp-${process.pid}`;
      // Without the .debs debootstrap leaves in the tree: they are in debCache already.
      await execa('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--exclude=./var/cache/apt/archives/*.deb',
        '-I', 'zstd -T0 -3', '-C', target, '-cf', tmp, '.']);
      renameSync(tmp, tarball);
      return tarball;
    } finally {
      await removeTree(work);
    }
  });
}

export async function extractTree(tarball: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await execa('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-I', 'zstd', '-C', dir, '-xpf', tarball]);
}

// --- configuration ------------------------------------------------------------------------------

/** Writes `text` at the tree path `p` (absolute inside the tree), replacing a file or symlink there. */
export function writeIn(tree: string, p: string, text: string, mode = 0o644): void {
  const f = join(tree, p);
  mkdirSync(dirname(f), { recursive: true });
  rmSync(f, { force: true });
  writeFileSync(f, text, { mode });
  chmodSync(f, mode); // writeFileSync's mode is filtered by the umask
}

export function symlinkIn(tree: string, p: string, target: string): void {
  const f = join(tree, p);
  mkdirSync(dirname(f), { recursive: true });
  rmSync(f, { force: true });
  symlinkSync(target, f);
}

/** Empties a directory of the tree, keeping the directory (and its owner and mode). */
function emptyDir(tree: string, p: string, keep: string[] = []): void {
  const d = join(tree, p);
  if (!existsSync(d)) return;
  for (const e of readdirSync(d)) if (!keep.includes(e)) rmSync(join(d, e), { recursive: true, force: true });
}

/** The node's configuration, written into a debootstrapped tree (see config.ts for each text's why). */
export async function configureTree(tree: string, r: NodeRecipe): Promise<void> {
  writeIn(tree, '/etc/fstab', FSTAB);
  mkdirSync(join(tree, 'boot/efi'), { recursive: true });
  writeIn(tree, '/etc/sysctl.d/90-tether-kubelet.conf', SYSCTL_KUBELET);
  writeIn(tree, '/etc/modules-load.d/tether-kubelet.conf', MODULES_LOAD);
  writeIn(tree, '/etc/containerd/config.toml', CONTAINERD_CONFIG);
  // Per-plugin symlinks in a real directory, not one symlink for the directory: CNI installers
  // (Calico, Flannel, Cilium) drop their own plugins into /opt/cni/bin, which must not land
  // among dpkg's files in /usr/lib/cni.
  const cni = join(tree, 'usr/lib/cni');
  if (existsSync(cni)) for (const p of readdirSync(cni)) symlinkIn(tree, `/opt/cni/bin/${p}`, `/usr/lib/cni/${p}`);
  mkdirSync(join(tree, 'etc/cni/net.d'), { recursive: true });

  writeIn(tree, '/etc/systemd/network/99-dhcp.network', NETWORK_DHCP);
  writeIn(tree, '/etc/systemd/system/systemd-networkd-wait-online.service.d/tether-any.conf', WAIT_ONLINE_DROPIN);
  // resolved's stub, fed by networkd with the DNS servers DHCP hands out (debootstrap left the build host's copy here).
  symlinkIn(tree, '/etc/resolv.conf', '../run/systemd/resolve/stub-resolv.conf');
  // No swap unit may start even if someone adds one: a kubelet fails with swap on.
  symlinkIn(tree, '/etc/systemd/system/swap.target', '/dev/null');
  // The empty machine-id below makes every node's first boot a systemd "first boot", and the
  // interactive First Boot Wizard would then wait at the console for locale and password answers.
  symlinkIn(tree, '/etc/systemd/system/systemd-firstboot.service', '/dev/null');

  writeIn(tree, '/usr/lib/systemd/system/kubelet.service', KUBELET_SERVICE);
  writeIn(tree, '/usr/lib/systemd/system/tether-config.service', CONFIG_SERVICE);
  writeIn(tree, CONFIG_SCRIPT_PATH, CONFIG_SCRIPT, 0o755);
  writeIn(tree, '/usr/lib/systemd/system/tether-firstboot.service', FIRSTBOOT_SERVICE);
  writeIn(tree, FIRSTBOOT_PATHS.script, FIRSTBOOT_SCRIPT, 0o755);
  writeIn(tree, '/usr/lib/systemd/system/tether-boot-status.service', BOOT_STATUS_SERVICE);
  writeIn(tree, '/usr/lib/tether/boot-status', BOOT_STATUS_SCRIPT, 0o755);
  mkdirSync(join(tree, 'etc/tether'), { recursive: true, mode: 0o700 });
  mkdirSync(join(tree, 'etc/kubernetes/pki'), { recursive: true });
  mkdirSync(join(tree, 'var/lib/kubelet'), { recursive: true });
  await execa('systemctl', [`--root=${tree}`, 'enable', '--quiet',
    'systemd-networkd.service', 'systemd-resolved.service', 'systemd-timesyncd.service', 'containerd.service',
    'serial-getty@ttyS0.service', 'tether-boot-status.service', 'kubelet.service', 'tether-config.service', 'tether-firstboot.service']);
  // A server has no graphical session to wait for.
  await execa('systemctl', [`--root=${tree}`, 'set-default', '--quiet', 'multi-user.target']);

  // Identity: none baked in. An empty machine-id means "first boot": systemd makes a new one per
  // machine (it also seeds the DHCP client id), instead of every node sharing the build's.
  writeIn(tree, '/etc/machine-id', '', 0o444);
  rmSync(join(tree, 'var/lib/dbus/machine-id'), { force: true });
  rmSync(join(tree, 'var/lib/systemd/random-seed'), { force: true });
  rmSync(join(tree, 'var/lib/systemd/credential.secret'), { force: true });
  writeIn(tree, '/etc/hostname', 'tether-node\n');
  lockRootPassword(tree);

  writeIn(tree, '/etc/apt/sources.list.d/debian.sources', aptSources(r.mirror, r.suite));
  rmSync(join(tree, 'etc/apt/sources.list'), { force: true });
  writeIn(tree, '/etc/dpkg/dpkg.cfg.d/tether-nodoc', DPKG_EXCLUDES);
  slim(tree);
}

/** `!` in front of the hash: no password logs in as root (console access is the BMC's business). */
export function lockRootPassword(tree: string): void {
  const f = join(tree, 'etc/shadow');
  const lines = readFileSync(f, 'utf8').split('\n').map((l) => {
    const fields = l.split(':');
    if (fields[0] !== 'root') return l;
    if (!fields[1].startsWith('!')) fields[1] = `!${fields[1]}`;
    return fields.join(':');
  });
  writeFileSync(f, lines.join('\n'));
}

/** What a node never reads: docs (keeping copyright files), man pages, translations, apt's caches, build logs. */
function slim(tree: string): void {
  const doc = join(tree, 'usr/share/doc');
  if (existsSync(doc)) {
    for (const pkg of readdirSync(doc)) {
      const d = join(doc, pkg);
      if (!lstatSync(d).isDirectory()) continue;
      for (const f of readdirSync(d)) if (f !== 'copyright') rmSync(join(d, f), { recursive: true, force: true });
    }
  }
  for (const p of ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/linda']) emptyDir(tree, p);
  emptyDir(tree, 'usr/share/locale', ['locale.alias']);
  emptyDir(tree, 'var/cache/apt/archives', ['partial', 'lock']);
  for (const f of ['pkgcache.bin', 'srcpkgcache.bin']) rmSync(join(tree, 'var/cache/apt', f), { force: true });
  emptyDir(tree, 'var/lib/apt/lists', ['partial', 'lock']);
  for (const f of ['config.dat-old', 'templates.dat-old', 'passwords.dat-old']) rmSync(join(tree, 'var/cache/debconf', f), { force: true });
  for (const f of ['bootstrap.log', 'dpkg.log', 'alternatives.log']) rmSync(join(tree, 'var/log', f), { force: true });
  emptyDir(tree, 'var/log/apt');
  emptyDir(tree, 'run');
  emptyDir(tree, 'tmp');
  emptyDir(tree, 'var/tmp');
  rmSync(join(tree, 'debootstrap'), { recursive: true, force: true });
}

// --- kubelet ------------------------------------------------------------------------------------

export interface StagedBinary { name: string; sha256: string; bytes: number }

/**
 * Copies the user's kubelet (required) and kubeadm/kubectl (when present) into the tree's
 * /usr/bin, from a directory or an http(s) URL prefix. Returns what was staged.
 */
export async function stageKubeBinaries(tree: string, source: string, log: Log): Promise<StagedBinary[]> {
  const staged: StagedBinary[] = [];
  const remote = /^https?:\/\//.test(source);
  for (const name of KUBE_BINARIES) {
    const dest = join(tree, 'usr/bin', name);
    const tmp = `${dest}.tether-tmp`;
    if (remote) {
      const url = `${source}/${name}`;
      const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(600_000) });
      if (res.status === 404 && name !== 'kubelet') { await res.body?.cancel(); continue; }
      if (!res.ok || !res.body) { await res.body?.cancel(); throw new Error(`kubelet.binaries: GET ${url} answered HTTP ${res.status}`); }
      log(`downloading ${url}`);
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(tmp));
    } else {
      const src = join(source, name);
      if (!existsSync(src)) {
        if (name === 'kubelet') throw new Error(`kubelet.binaries: ${source} has no kubelet`);
        continue;
      }
      if (!statSync(src).isFile()) throw new Error(`kubelet.binaries: ${src} is not a regular file`);
      copyFileSync(src, tmp);
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
    const data = readFileSync(dest);
    staged.push({ name, sha256: sha256(data), bytes: data.length });
  }
  return staged;
}

// --- facts about the tree -----------------------------------------------------------------------

/** The tree's size as ext4 would store it (TreeUsage); hard links count once. */
export function treeUsage(root: string): TreeUsage {
  let bytes = 0;
  let inodes = 0;
  const seen = new Set<number>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.nlink > 1 && !st.isDirectory()) {
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
      }
      inodes++;
      if (st.isDirectory()) { bytes += Math.max(FS_BLOCK_BYTES, alignUp(st.size, FS_BLOCK_BYTES)); walk(p); }
      else if (st.isFile()) bytes += alignUp(st.size, FS_BLOCK_BYTES);
      // ext4 keeps a symlink target of up to 59 bytes in the inode itself.
      else if (st.isSymbolicLink() && readlinkSync(p).length > 59) bytes += FS_BLOCK_BYTES;
    }
  };
  walk(root);
  return { bytes, inodes };
}

/** Installed packages and versions, from the tree's dpkg database. */
export async function installedPackages(tree: string): Promise<Map<string, string>> {
  const { stdout } = await execa('dpkg-query', [`--admindir=${join(tree, 'var/lib/dpkg')}`, '-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n']);
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.startsWith('ii')) m.set(name, version);
  }
  return m;
}

/** The kernel and initramfs debootstrap installed (the newest, should there be several). */
export function bootFiles(tree: string): { version: string; vmlinuz: string; initrd: string } {
  const boot = join(tree, 'boot');
  const versions = readdirSync(boot).map((f) => /^vmlinuz-(.+)$/.exec(f)?.[1]).filter((v): v is string => !!v)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  if (!version) throw new Error(`no kernel in ${boot} (is linux-image-amd64 in the package list?)`);
  const initrd = join(boot, `initrd.img-${version}`);
  if (!existsSync(initrd)) throw new Error(`no initramfs for ${version} in ${boot} (is initramfs-tools in the package list?)`);
  return { version, vmlinuz: join(boot, `vmlinuz-${version}`), initrd };
}
