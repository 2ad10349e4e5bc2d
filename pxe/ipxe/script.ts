// iPXE scripts, rendered per machine from what the boot decision chose. Pure text builders: no
// store, no HTTP. iPXE's own quirks drive the shape:
// - Debian's 2019 ipxe.efi only hands the initrd to the kernel's EFI stub when the command line
//   names it (`initrd=<name>`), so the initrd gets an explicit --name and the cmdline uses it;
// - downloads fail on flaky links and at boot storms: every fetch retries, and after a few failed
//   rounds the script re-runs DHCP (a proxy offer may have been missed: iPXE waits only ~2 s).

export interface LinuxBoot {
  kernelUrl: string;
  initrdUrl: string;
  /** Kernel command line without the initrd= part (added here). */
  cmdline: string;
}

export type LocalBootMethod = 'exit' | 'sanboot' | 'grub';

const INITRD_NAME = 'initrd.img';
const ATTEMPTS = 5;

/** Text in an iPXE `echo` or comment line: no newlines, no `${` expansions of untrusted data. */
function plain(s: string): string {
  return s.replace(/[\r\n]/g, ' ').replace(/\$\{/g, '$ {');
}

/** A URL or argument iPXE would otherwise expand or split: refuse rather than mangle. */
function checkArg(s: string, what: string): string {
  if (/[\s"'$]/.test(s)) throw new RangeError(`${what} must not contain spaces, quotes or $: ${JSON.stringify(s)}`);
  return s;
}

export function linuxScript(o: LinuxBoot & { title: string }): string {
  checkArg(o.kernelUrl, 'kernel URL');
  checkArg(o.initrdUrl, 'initrd URL');
  if (/[\r\n$]/.test(o.cmdline)) throw new RangeError('kernel command line must not contain newlines or $');
  return [
    '#!ipxe',
    `# ${plain(o.title)}`,
    `echo ${plain(o.title)}`,
    'set attempt:int32 0',
    ':fetch',
    'inc attempt',
    `iseq \${attempt} ${ATTEMPTS + 1} && goto failed ||`,
    // Halfway through, a fresh DHCP: the address or route may have changed under us.
    `iseq \${attempt} ${Math.ceil(ATTEMPTS / 2) + 1} && dhcp ||`,
    'imgfree',
    `kernel ${o.kernelUrl} initrd=${INITRD_NAME} ${o.cmdline} || goto fetch`,
    `initrd --name ${INITRD_NAME} ${o.initrdUrl} || goto fetch`,
    'boot || goto fetch',
    ':failed',
    `echo Tether: could not load the boot files after ${ATTEMPTS} attempts, rebooting to try again`,
    'reboot',
    '',
  ].join('\n');
}

/**
 * Boots the machine's own disk.
 * - `sanboot --drive 0x80` boots the first BIOS disk directly (right for BIOS, where returning to
 *   the option ROM may loop back into PXE);
 * - `grub` chains Tether's GRUB local-disk booter (images/ipxe/localboot.ts), which chainloads the
 *   disk's EFI loader (right for UEFI with Debian's iPXE, whose `exit` hangs instead of returning);
 * - `exit` hands control back to the firmware, which moves on to the next boot device (UEFI
 *   firmware with an iPXE that returns cleanly). It is also every method's last resort.
 */
export function localDiskScript(o: { title: string; method: LocalBootMethod; chainUrl?: string }): string {
  let boot: string[];
  if (o.method === 'sanboot') boot = ['sanboot --no-describe --drive 0x80 || goto failed'];
  else if (o.method === 'grub') {
    if (!o.chainUrl) throw new RangeError('the grub local boot needs the URL of the local-disk booter');
    boot = [`chain --autofree ${checkArg(o.chainUrl, 'local-disk booter URL')} || goto failed`];
  } else boot = ['exit'];
  return [
    '#!ipxe',
    `# ${plain(o.title)}`,
    `echo ${plain(o.title)}`,
    ...boot,
    ':failed',
    'echo Tether: booting the local disk failed; exiting to the firmware',
    'exit',
    '',
  ].join('\n');
}

/** For machines Tether will not boot (unknown arch, refused): say why on the console, then exit. */
export function refusalScript(why: string): string {
  return ['#!ipxe', `echo Tether: ${plain(why)}`, 'prompt --timeout 10000 Press any key to continue booting from other devices ||', 'exit', ''].join('\n');
}
