// What a machine boots, decided from its lifecycle state alone (pixiecore's Booter idea): the
// server, not the BIOS boot order, chooses. Protocol code (DHCP, TFTP, HTTP) only renders this.
import type { Machine } from '../store/store.ts';
import { BOOTS_FROM_DISK, type MachineState } from '../lifecycle/states.ts';
// The agent parses what this renders: one definition of the modes, so they cannot drift apart.
import type { BootMode } from '../../agent/cmdline.ts';

export type BootDecision =
  | { kind: 'local-disk' }
  /** The in-memory discovery OS; `allowWrite` only when the install/wipe task may touch disks. */
  | { kind: 'discovery'; mode: Exclude<BootMode, 'rescue'>; allowWrite: boolean }
  | { kind: 'rescue' };

/**
 * `diskWritten`: the machine's install task wrote and verified the image; its next boot is the
 * first from disk (whose phone-home then makes it `installed`).
 */
export function decideBoot(machine: Pick<Machine, 'state'>, o: { diskWritten?: boolean } = {}): BootDecision {
  const state = machine.state as MachineState;
  if (BOOTS_FROM_DISK.has(state)) return { kind: 'local-disk' };
  if (state === 'installing' && o.diskWritten) return { kind: 'local-disk' };
  if (state === 'rescue') return { kind: 'rescue' };
  // The kernel command line is the second lock on disk writes (the task is the first): only the
  // boots that exist to write a disk carry it.
  if (state === 'approved' || state === 'installing') return { kind: 'discovery', mode: 'install', allowWrite: true };
  if (state === 'wiping') return { kind: 'discovery', mode: 'wipe', allowWrite: true };
  return { kind: 'discovery', mode: 'discovery', allowWrite: false };
}
