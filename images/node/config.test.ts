import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  aptSources, BOOT_STATUS_SCRIPT, BOOT_STATUS_SERVICE, CONTAINERD_CONFIG, FIRSTBOOT_SERVICE, FSTAB, KERNEL_CMDLINE, KUBELET_SERVICE, LOADER_CONF, LOADER_ENTRY, MODULES_LOAD,
  NETWORK_DHCP, ROOT_LABEL, ESP_LABEL, SYSCTL_KUBELET, SYSLINUX_CFG, WAIT_ONLINE_DROPIN,
} from './config.ts';

/** A systemd unit file as section → key → values (keys may repeat). */
function unit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { current = new Map(); sections.set(s[1], current); continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && current, `not a unit file line: ${line}`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2]]);
  }
  return sections;
}

test('kernel command line: root by label, read-only until fsck, serial console last (it becomes /dev/console)', () => {
  assert.equal(KERNEL_CMDLINE, 'root=LABEL=tether-root ro console=tty0 console=ttyS0,115200 systemd.show_status=1');
  assert.ok(SYSLINUX_CFG.includes(`APPEND ${KERNEL_CMDLINE}\n`));
  assert.match(SYSLINUX_CFG, /^\s+LINUX \/vmlinuz$/m);
  assert.match(SYSLINUX_CFG, /^\s+INITRD \/initrd.img$/m);
  assert.match(SYSLINUX_CFG, /^DEFAULT tether$/m);
  assert.ok(LOADER_ENTRY.includes(`options ${KERNEL_CMDLINE}\n`));
  assert.match(LOADER_ENTRY, /^linux \/vmlinuz$/m);
  assert.match(LOADER_ENTRY, /^initrd \/initrd.img$/m);
  assert.match(LOADER_CONF, /^default tether.conf$/m);
  assert.match(LOADER_CONF, /^editor no$/m, 'nobody edits the command line at the console (init=/bin/sh)');
});

test('fstab: root and ESP by label, no swap', () => {
  const lines = FSTAB.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/));
  assert.deepEqual(lines.map((l) => l.slice(0, 3)), [[`LABEL=${ROOT_LABEL}`, '/', 'ext4'], [`LABEL=${ESP_LABEL}`, '/boot/efi', 'vfat']]);
  assert.ok(lines[1][3].split(',').includes('nofail'));
  assert.ok(!/swap/.test(FSTAB));
  assert.ok(ESP_LABEL.length <= 11, 'FAT volume labels have 11 characters');
});

test('kernel settings a kubelet needs: forwarding, bridge netfilter, and the modules those sysctls live in', () => {
  const sysctl = Object.fromEntries(SYSCTL_KUBELET.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s*=\s*/)));
  assert.equal(sysctl['net.ipv4.ip_forward'], '1');
  assert.equal(sysctl['net.bridge.bridge-nf-call-iptables'], '1');
  assert.equal(sysctl['net.bridge.bridge-nf-call-ip6tables'], '1');
  assert.deepEqual(MODULES_LOAD.trim().split('\n'), ['overlay', 'br_netfilter']);
});

test('containerd: systemd cgroups for runc, CNI plugins in /opt/cni/bin', () => {
  assert.match(CONTAINERD_CONFIG, /^version = 2$/m);
  assert.match(CONTAINERD_CONFIG, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]\n\s+SystemdCgroup = true\n/);
  assert.match(CONTAINERD_CONFIG, /bin_dir = "\/opt\/cni\/bin"/);
});

test('network: DHCP on Ethernet ports except the ones CNI plugins create; online when any link is', () => {
  const n = unit(NETWORK_DHCP);
  assert.deepEqual(n.get('Match')?.get('Type'), ['ether']);
  const names = n.get('Match')!.get('Name')![0];
  assert.ok(names.startsWith('!') && !names.slice(1).includes('!'), 'one leading ! negates the whole list');
  assert.ok(names.split(' ').includes('cali*') && names.includes('veth*'));
  assert.deepEqual(n.get('Network')?.get('DHCP'), ['yes']);
  assert.deepEqual(unit(WAIT_ONLINE_DROPIN).get('Service')?.get('ExecStart'), ['', '/lib/systemd/systemd-networkd-wait-online --any']);
});

test('kubelet.service: the documented files and flags, dormant until binary and config exist', () => {
  const u = unit(KUBELET_SERVICE);
  const exec = u.get('Service')!.get('ExecStart')![0];
  assert.ok(exec.startsWith('/usr/bin/kubelet '));
  for (const flag of ['--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf', '--kubeconfig=/etc/kubernetes/kubelet.conf', '--config=/var/lib/kubelet/config.yaml', '$KUBELET_EXTRA_ARGS']) {
    assert.ok(exec.split(' ').includes(flag), flag);
  }
  assert.deepEqual(u.get('Service')!.get('EnvironmentFile'), ['-/etc/default/kubelet']);
  assert.deepEqual(u.get('Unit')!.get('ConditionPathExists'), ['/usr/bin/kubelet', '/var/lib/kubelet/config.yaml']);
  assert.deepEqual(u.get('Install')!.get('WantedBy'), ['multi-user.target']);
  // Without default dependencies, multi-user.target does not wait for the network on its behalf.
  assert.deepEqual(u.get('Unit')!.get('DefaultDependencies'), ['no']);
  assert.ok(u.get('Unit')!.get('After')!.join(' ').split(' ').includes('network-online.target'));
});

test('tether-firstboot.service: once per install, after the network, logging to the console, not blocking boot', () => {
  const u = unit(FIRSTBOOT_SERVICE);
  assert.deepEqual(u.get('Unit')!.get('ConditionPathExists'), ['/etc/tether/firstboot.json', '!/var/lib/tether/firstboot.done']);
  assert.ok(u.get('Unit')!.get('After')!.join(' ').split(' ').includes('network-online.target'));
  assert.deepEqual(u.get('Service')!.get('ExecStart'), ['/usr/lib/tether/firstboot']);
  assert.deepEqual(u.get('Service')!.get('Type'), ['exec'], 'not oneshot: a long retry must not hold up multi-user.target');
  assert.deepEqual(u.get('Service')!.get('StandardOutput'), ['kmsg'], 'every console shows it, and systemd keeps printing its status');
  assert.deepEqual(u.get('Service')!.get('SyslogLevel'), ['notice'], 'journald forwards to the kernel log only up to notice');
  assert.deepEqual(u.get('Install')!.get('WantedBy'), ['multi-user.target']);
});

test('boot status: one kernel-log line once multi-user.target is reached, in the words systemd uses', async () => {
  const u = unit(BOOT_STATUS_SERVICE);
  assert.deepEqual(u.get('Unit')!.get('DefaultDependencies'), ['no']);
  assert.deepEqual(u.get('Unit')!.get('After'), ['multi-user.target']);
  assert.deepEqual(u.get('Install')!.get('WantedBy'), ['multi-user.target']);
  assert.deepEqual(u.get('Service')!.get('ExecStart'), ['/usr/lib/tether/boot-status']);
  // Run the script with /dev/kmsg and /proc swapped for files: the line it would log.
  const dir = mkdtempSync(join(tmpdir(), 'tether-boot-status-'));
  try {
    const script = BOOT_STATUS_SCRIPT.replace('/proc/sys/kernel/hostname', join(dir, 'hostname')).replace('/proc/uptime', join(dir, 'uptime')).replace('/dev/kmsg', join(dir, 'kmsg'));
    writeFileSync(join(dir, 'hostname'), 'node-a1\n');
    writeFileSync(join(dir, 'uptime'), '41.73 30.02\n');
    // systemctl as the script sees it: first with nothing failed, then with two failed units.
    writeFileSync(join(dir, 'systemctl'), '#!/bin/sh\n[ -e "$0.failed" ] && printf "containerd.service loaded failed failed containerd\\nx.mount loaded failed failed X\\n"\nexit 0\n', { mode: 0o755 });
    const env = { PATH: `${dir}:${process.env.PATH}` };
    await execa('sh', ['-c', script], { env });
    const line = readFileSync(join(dir, 'kmsg'), 'utf8');
    assert.equal(line, '<5>tether: Reached target multi-user.target - Multi-User System (node-a1, up 41.73 s; failed units: none)\n');
    assert.match(line, /Reached target.*Multi-User System/, 'what the lab tests wait for');
    writeFileSync(join(dir, 'systemctl.failed'), '');
    await execa('sh', ['-c', script], { env });
    assert.match(readFileSync(join(dir, 'kmsg'), 'utf8'), /; failed units: containerd\.service x\.mount\)\n$/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('apt sources: the recipe mirror plus updates and security', () => {
  const s = aptSources('http://mirror.example/debian', 'bookworm');
  assert.match(s, /^URIs: http:\/\/mirror.example\/debian\nSuites: bookworm bookworm-updates$/m);
  assert.match(s, /^Suites: bookworm-security$/m);
});
