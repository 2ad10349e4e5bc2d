import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { initScript, UDHCPC_SCRIPT } from './init.ts';
import { DISCOVERY_MODULES } from './modules.ts';

const busybox = (() => { try { execFileSync('busybox', ['true']); return true; } catch { return false; } })();

test('init: the scripts are valid busybox sh', { skip: !busybox && 'busybox is not installed' }, () => {
  for (const script of [initScript(DISCOVERY_MODULES), UDHCPC_SCRIPT]) execFileSync('busybox', ['sh', '-n'], { input: script });
});

test('init: loads virtio_ring before virtio, mounts no disk, runs the agent', () => {
  const init = initScript(DISCOVERY_MODULES);
  assert.match(init, /for m in virtio_ring virtio virtio_pci /);
  assert.doesNotMatch(init, /mount [^\n]*\/dev\/(sd|vd|nvme|hd)/);
  assert.doesNotMatch(init, /\bdd\b|mkfs|wipefs|sfdisk/);
  assert.match(init, /node \/agent\.mjs/);
});

test('init: the LLDP listener starts in the background once the links are up, before DHCP', () => {
  const init = initScript(DISCOVERY_MODULES);
  const up = init.indexOf('ip link set "$n" up');
  const listener = init.search(/node [^\n]*\/lldp-listener\.mjs \/run\/lldp &\n/);
  assert.ok(up > 0 && listener > up, 'after the links are up');
  assert.ok(listener < init.indexOf('udhcpc -i'), 'before DHCP (which can take a while)');
});
