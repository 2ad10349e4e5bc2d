import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxScript, localDiskScript, refusalScript } from './script.ts';

test('ipxe: linux script names the initrd on the command line and retries every fetch', () => {
  const s = linuxScript({ title: 'discovery for m-1', kernelUrl: 'http://10.0.0.1:8080/artifacts/discovery/vmlinuz?mac=52:54:00:00:00:01', initrdUrl: 'http://10.0.0.1:8080/artifacts/discovery/initrd.img', cmdline: 'console=ttyS0 tether.token=abc' });
  assert.ok(s.startsWith('#!ipxe\n'));
  assert.match(s, /^kernel http:\/\/10\.0\.0\.1:8080\/artifacts\/discovery\/vmlinuz\?mac=52:54:00:00:00:01 initrd=initrd\.img console=ttyS0 tether\.token=abc \|\| goto fetch$/m);
  assert.match(s, /^initrd --name initrd\.img http:\/\/10\.0\.0\.1:8080\/artifacts\/discovery\/initrd\.img \|\| goto fetch$/m);
  assert.match(s, /^boot \|\| goto fetch$/m);
  assert.match(s, /^iseq \$\{attempt\} 6 && goto failed \|\|$/m);
  assert.match(s, /^iseq \$\{attempt\} 4 && dhcp \|\|$/m);
  assert.match(s, /^reboot$/m);
});

test('ipxe: untrusted text cannot inject commands or expansions', () => {
  const s = linuxScript({ title: 'evil\nchain http://x/${net0/mac}', kernelUrl: 'http://a/k', initrdUrl: 'http://a/i', cmdline: 'x' });
  assert.ok(!/^chain/m.test(s));
  assert.ok(!s.includes('${net0'));
  assert.throws(() => linuxScript({ title: 't', kernelUrl: 'http://a/k x', initrdUrl: 'http://a/i', cmdline: '' }), /kernel URL must not contain/);
  assert.throws(() => linuxScript({ title: 't', kernelUrl: 'http://a/k', initrdUrl: 'http://a/i', cmdline: 'a\nshell' }), /command line/);
});

test('ipxe: local disk per firmware, refusal', () => {
  assert.match(localDiskScript({ title: 'm-1 installed', method: 'sanboot' }), /^sanboot --no-describe --drive 0x80 \|\| goto failed$/m);
  const efi = localDiskScript({ title: 'm-1 installed', method: 'exit' });
  assert.match(efi, /^exit$/m);
  assert.ok(!efi.includes('sanboot'));
  const grub = localDiskScript({ title: 'm-1 installed', method: 'grub', chainUrl: 'http://10.0.0.1:8080/artifacts/localboot/localboot-x86_64.efi?mac=52:54:00:00:00:01&step=localboot' });
  assert.match(grub, /^chain --autofree http:\/\/10\.0\.0\.1:8080\/artifacts\/localboot\/localboot-x86_64\.efi\?mac=52:54:00:00:00:01&step=localboot \|\| goto failed$/m);
  assert.match(grub, /^:failed\n.*\nexit$/m, 'a failed chain still hands back to the firmware');
  assert.throws(() => localDiskScript({ title: 't', method: 'grub' }), /needs the URL/);
  assert.throws(() => localDiskScript({ title: 't', method: 'grub', chainUrl: 'http://a/b c' }), /must not contain/);
  assert.match(refusalScript('no boot file for arch 25'), /^echo Tether: no boot file for arch 25$/m);
});
