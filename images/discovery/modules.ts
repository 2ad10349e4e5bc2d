// The kernel modules the discovery OS carries: drivers for the NICs and disk controllers servers
// and the lab VMs have, and what inventory needs (efivarfs for Secure Boot, IPMI for the BMC).
// TPM TIS/CRB are built into Debian's kernel. NICs whose drivers need firmware files from non-free
// packages (ice, mlx5, r8169) are left out; the size budget is 40 MB for the whole initrd.
import { execa } from 'execa';
import type { DebianKernel } from '../debian/kernel.ts';

/** In load order: virtio_ring before virtio before the virtio drivers (the lab found it needed). */
export const DISCOVERY_MODULES = [
  'virtio_ring', 'virtio', 'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi',
  'e1000', 'e1000e', 'igb', 'ixgbe', 'i40e', 'bnxt_en', 'tg3',
  'ahci', 'ata_piix', 'sd_mod', 'nvme', 'megaraid_sas', 'mpt3sas',
  'ext4', 'efivarfs', 'ipmi_si', 'ipmi_devintf',
] as const;

/**
 * The module files (relative to the kernel's lib/modules/<version>) for `names` with everything
 * they depend on, asking kmod's own resolver; names built into the kernel need no file.
 */
export async function moduleFiles(kernel: DebianKernel, names: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  const outputs = await Promise.all(names.map(async (name) => ({ name, stdout: (await execa('modprobe', ['-d', kernel.root, '-S', kernel.version, '--show-depends', name])).stdout })));
  for (const { name, stdout } of outputs) {
    for (const line of stdout.split('\n')) {
      const m = /^insmod (\S+)/.exec(line.trim());
      if (!m) continue;
      if (!m[1].startsWith(`${kernel.modules}/`)) throw new Error(`modprobe resolved ${name} outside the kernel tree: ${m[1]}`);
      files.add(m[1].slice(kernel.modules.length + 1));
    }
  }
  return [...files].sort();
}
