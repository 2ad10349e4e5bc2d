import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPackages, BASE_PACKAGES, DEFAULT_RECIPE, parseRecipe, RecipeError } from './recipe.ts';
import { debootstrapArgs, debootstrapKey } from './rootfs.ts';

/** The field a bad recipe is rejected for. */
function rejected(input: unknown): string {
  try {
    parseRecipe(input);
  } catch (e) {
    assert.ok(e instanceof RecipeError, String(e));
    assert.ok(e.message.startsWith(`recipe.${e.field}: `), e.message);
    return e.field;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

test('an empty recipe is the default one: Debian 12 from deb.debian.org, no kubelet, zstd -3', () => {
  const r = parseRecipe({});
  assert.deepEqual(r, DEFAULT_RECIPE);
  assert.deepEqual(parseRecipe(), DEFAULT_RECIPE);
  assert.equal(r.name, 'debian-12-node');
  assert.equal(r.suite, 'bookworm');
  assert.equal(r.mirror, 'http://deb.debian.org/debian');
  assert.equal(r.kubelet.binaries, null);
  assert.equal(r.level, 3);
  for (const p of ['systemd-sysv', 'udev', 'kmod', 'linux-image-amd64', 'initramfs-tools', 'containerd', 'runc', 'containernetworking-plugins',
    'iproute2', 'iptables', 'conntrack', 'ethtool', 'socat', 'curl', 'ca-certificates']) assert.ok(r.packages.includes(p), p);
});

test('parseRecipe does not share the defaults: changing one recipe leaves the next alone', () => {
  const a = parseRecipe({});
  a.packages.push('x');
  a.kubelet.binaries = '/tmp';
  assert.deepEqual(parseRecipe({}), DEFAULT_RECIPE);
});

test('given fields are taken, normalised, and extra packages join the base list once', () => {
  const r = parseRecipe({
    name: 'site-node', mirror: 'http://mirror.example/debian/', extraPackages: ['jq', 'curl', 'jq', 'open-iscsi'],
    kubelet: { binaries: 'https://dl.k8s.io/release/v1.31.0/bin/linux/amd64/' }, level: 19, chunkBytes: 16 * 1024 * 1024, rootHeadroomMiB: 2048,
  });
  assert.equal(r.name, 'site-node');
  assert.equal(r.mirror, 'http://mirror.example/debian');
  assert.deepEqual(r.extraPackages, ['jq', 'open-iscsi']);
  assert.equal(r.kubelet.binaries, 'https://dl.k8s.io/release/v1.31.0/bin/linux/amd64');
  assert.equal(parseRecipe({ kubelet: { binaries: '/opt/k8s/bin/' } }).kubelet.binaries, '/opt/k8s/bin');
  assert.deepEqual(allPackages(r), [...new Set([...BASE_PACKAGES, 'jq', 'open-iscsi'])].sort());
});

test('every invalid field is refused with an error that names it', () => {
  const cases: Array<[unknown, string]> = [
    [[], '(root)'],
    ['bookworm', '(root)'],
    [{ nmae: 'x' }, 'nmae'],
    [{ packages: ['vim'] }, 'packages'],
    [{ name: 'Debian 12' }, 'name'],
    [{ name: '' }, 'name'],
    [{ suite: 'Bookworm!' }, 'suite'],
    [{ mirror: 'deb.debian.org/debian' }, 'mirror'],
    [{ mirror: 'ftp://deb.debian.org/debian' }, 'mirror'],
    [{ extraPackages: 'jq' }, 'extraPackages'],
    [{ extraPackages: ['jq', 'Bad_Name'] }, 'extraPackages[1]'],
    [{ extraPackages: ['jq', '--force-yes'] }, 'extraPackages[1]'],
    [{ kubelet: '/opt/bin' }, 'kubelet'],
    [{ kubelet: { binaries: 'opt/bin' } }, 'kubelet.binaries'],
    [{ kubelet: { binaries: 'ftp://host/bin' } }, 'kubelet.binaries'],
    [{ kubelet: { binaries: 42 } }, 'kubelet.binaries'],
    [{ kubelet: { binaries: null, version: '1.31' } }, 'kubelet.version'],
    [{ level: 0 }, 'level'],
    [{ level: 22 }, 'level'],
    [{ level: '3' }, 'level'],
    [{ chunkBytes: 1000 }, 'chunkBytes'],
    [{ chunkBytes: 1024 * 1024 + 1 }, 'chunkBytes'],
    [{ rootHeadroomMiB: -1 }, 'rootHeadroomMiB'],
    [{ rootHeadroomMiB: 1.5 }, 'rootHeadroomMiB'],
  ];
  for (const [input, field] of cases) assert.equal(rejected(input), field, JSON.stringify(input));
});

test('the debootstrap cache key follows the package set, suite and mirror, not names or compression', () => {
  const base = debootstrapKey(parseRecipe({}));
  assert.equal(debootstrapKey(parseRecipe({ name: 'other', level: 19, kubelet: { binaries: '/x' } })), base);
  assert.equal(debootstrapKey(parseRecipe({ extraPackages: ['curl'] })), base, 'a base package listed again changes nothing');
  assert.notEqual(debootstrapKey(parseRecipe({ extraPackages: ['jq'] })), base);
  assert.notEqual(debootstrapKey(parseRecipe({ mirror: 'http://mirror.example/debian' })), base);
  assert.notEqual(debootstrapKey(parseRecipe({ suite: 'trixie' })), base);
});

test('debootstrap runs minbase with the package list, the shared .deb cache, suite, target and mirror', () => {
  const args = debootstrapArgs(parseRecipe({ extraPackages: ['jq'] }), '/w/root', '/c/debootstrap');
  assert.equal(args[0], '--variant=minbase');
  assert.equal(args[1], '--cache-dir=/c/debootstrap');
  assert.ok(args[2].startsWith('--include=') && args[2].split('=')[1].split(',').includes('jq'));
  assert.deepEqual(args.slice(3), ['bookworm', '/w/root', 'http://deb.debian.org/debian']);
});
