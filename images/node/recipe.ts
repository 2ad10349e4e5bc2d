// The node OS image recipe: what goes into the disk image the agent writes to a server. A recipe is
// user input (a JSON file given to the CLI, or the appliance's config), so it is validated field by
// field, every error names the field, and everything not given takes the default below.
import { DEFAULT_CHUNK_BYTES } from '../manifest.ts';

export interface NodeRecipe {
  /** Catalog name, also the compressed file's name (`<name>.raw.zst`). */
  name: string;
  /** Debian suite debootstrap installs. */
  suite: string;
  /** Debian mirror debootstrap downloads from. */
  mirror: string;
  /** Debian packages beyond debootstrap's minbase: BASE_PACKAGES plus the recipe's `extraPackages`. */
  packages: string[];
  extraPackages: string[];
  kubelet: {
    /**
     * Where the user's kubelet (and optionally kubeadm, kubectl) binaries are: a directory on the
     * build host or an http(s) URL prefix (e.g. https://dl.k8s.io/release/v1.31.0/bin/linux/amd64).
     * null leaves /usr/bin/kubelet out: kubelet.service then stays inactive (ConditionPathExists).
     */
    binaries: string | null;
  };
  /** zstd level of the compressed image: 3 builds fast; a release may use 19. */
  level: number;
  /** Raw bytes per chunk of the compressed image (a multiple of 4096). */
  chunkBytes: number;
  /** Free space the root filesystem gets beyond what the tree needs, in MiB. */
  rootHeadroomMiB: number;
}

/**
 * What a kubelet node needs from Debian. systemd-resolved and systemd-timesyncd are separate
 * packages in bookworm: without the first, the DNS servers DHCP hands out reach no resolv.conf;
 * without the second, a clock that is off makes the kubelet's TLS bootstrap fail. resolved needs a
 * system bus (`default-dbus-system-bus | dbus-system-bus`), an alternative debootstrap does not
 * resolve by itself: hence dbus. e2fsprogs: the root's fsck at boot.
 */
export const BASE_PACKAGES: readonly string[] = [
  'systemd-sysv', 'udev', 'kmod', 'linux-image-amd64', 'initramfs-tools', 'containerd', 'runc',
  'containernetworking-plugins', 'iproute2', 'iptables', 'conntrack', 'ethtool', 'socat', 'curl',
  'ca-certificates', 'dbus', 'systemd-resolved', 'systemd-timesyncd', 'e2fsprogs',
];

export const KUBE_BINARIES = ['kubelet', 'kubeadm', 'kubectl'] as const;

export const DEFAULT_RECIPE: NodeRecipe = {
  name: 'debian-12-node',
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  packages: [...BASE_PACKAGES],
  extraPackages: [],
  kubelet: { binaries: null },
  level: 3,
  chunkBytes: DEFAULT_CHUNK_BYTES,
  rootHeadroomMiB: 256,
};

export class RecipeError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`recipe.${field}: ${message}`);
    this.name = 'RecipeError';
    this.field = field;
  }
}

const KEYS = new Set(['name', 'suite', 'mirror', 'extraPackages', 'kubelet', 'level', 'chunkBytes', 'rootHeadroomMiB']);
// Debian policy §5.6.1: package names are lower case letters, digits, + - . and at least two characters.
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RecipeError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function httpUrl(field: string, v: string): URL {
  let u: URL;
  try { u = new URL(v); } catch { throw new RecipeError(field, `${JSON.stringify(v)} is not a URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RecipeError(field, `must be an http(s) URL, got ${u.protocol}`);
  return u;
}

/** A recipe from untrusted JSON (an object, or undefined for all defaults), with defaults filled in. */
export function parseRecipe(input: unknown = {}): NodeRecipe {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RecipeError('(root)', 'must be a JSON object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === 'packages') throw new RecipeError('packages', 'the base package list is fixed; add packages with extraPackages');
    if (!KEYS.has(k)) throw new RecipeError(k, `unknown field (known: ${[...KEYS].join(', ')})`);
  }
  const r: NodeRecipe = { ...DEFAULT_RECIPE, packages: [...BASE_PACKAGES], kubelet: { ...DEFAULT_RECIPE.kubelet } };
  if (o.name !== undefined) {
    // The manifest's own rule for image names (images/manifest.ts), so the catalog accepts it.
    if (typeof o.name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(o.name)) throw new RecipeError('name', 'must be 1-63 of a-z 0-9 . _ -, starting with a letter or digit');
    r.name = o.name;
  }
  if (o.suite !== undefined) {
    if (typeof o.suite !== 'string' || !/^[a-z][a-z0-9-]{1,30}$/.test(o.suite)) throw new RecipeError('suite', 'must be a Debian suite name such as bookworm');
    r.suite = o.suite;
  }
  if (o.mirror !== undefined) {
    if (typeof o.mirror !== 'string') throw new RecipeError('mirror', 'must be a string');
    r.mirror = httpUrl('mirror', o.mirror).href.replace(/\/$/, '');
  }
  if (o.extraPackages !== undefined) {
    if (!Array.isArray(o.extraPackages)) throw new RecipeError('extraPackages', 'must be a list of Debian package names');
    for (const [i, p] of o.extraPackages.entries()) {
      if (typeof p !== 'string' || !PACKAGE.test(p)) throw new RecipeError(`extraPackages[${i}]`, `${JSON.stringify(p)} is not a Debian package name`);
    }
    r.extraPackages = [...new Set(o.extraPackages as string[])].filter((p) => !BASE_PACKAGES.includes(p));
  }
  if (o.kubelet !== undefined) {
    if (typeof o.kubelet !== 'object' || o.kubelet === null || Array.isArray(o.kubelet)) throw new RecipeError('kubelet', 'must be an object like {"binaries": "/path/or/url"}');
    const k = o.kubelet as Record<string, unknown>;
    for (const key of Object.keys(k)) if (key !== 'binaries') throw new RecipeError(`kubelet.${key}`, 'unknown field (known: binaries)');
    const b = k.binaries;
    if (b === null || b === undefined) r.kubelet.binaries = null;
    else if (typeof b !== 'string' || b.length === 0) throw new RecipeError('kubelet.binaries', 'must be a directory path, an http(s) URL prefix, or null');
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(b)) r.kubelet.binaries = httpUrl('kubelet.binaries', b).href.replace(/\/+$/, '');
    else if (!b.startsWith('/')) throw new RecipeError('kubelet.binaries', `a directory must be an absolute path, got ${JSON.stringify(b)}`);
    else r.kubelet.binaries = b.replace(/\/+$/, '') || '/';
  }
  if (o.level !== undefined) r.level = intIn('level', o.level, 1, 19);
  if (o.chunkBytes !== undefined) {
    r.chunkBytes = intIn('chunkBytes', o.chunkBytes, 1024 * 1024, 1024 * 1024 * 1024);
    if (r.chunkBytes % 4096 !== 0) throw new RecipeError('chunkBytes', 'must be a multiple of 4096 (disk writes stay aligned)');
  }
  if (o.rootHeadroomMiB !== undefined) r.rootHeadroomMiB = intIn('rootHeadroomMiB', o.rootHeadroomMiB, 16, 1024 * 1024);
  return r;
}

/** Every package debootstrap installs on top of minbase, sorted (the order is not an input). */
export const allPackages = (r: NodeRecipe): string[] => [...new Set([...r.packages, ...r.extraPackages])].sort();
