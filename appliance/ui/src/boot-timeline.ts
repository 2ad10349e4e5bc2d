// The boot timeline of a machine's latest network boot, from its events of kind `boot`: each step
// (data.step) with when it was reached. A boot starts at a DHCP step; BIOS iPXE ROMs go straight
// from DHCP to the HTTP script, so a missing TFTP step before a later one is "skipped", not a fault.
import type { EventRecord } from './api.ts';

export const BOOT_STEPS = ['dhcp', 'tftp', 'script', 'kernel', 'initrd', 'agent'] as const;
export type BootStep = (typeof BOOT_STEPS)[number];

export const STEP_LABEL: Record<BootStep, string> = {
  dhcp: 'DHCP', tftp: 'TFTP (iPXE)', script: 'Boot script', kernel: 'Kernel', initrd: 'Initrd', agent: 'Agent',
};

export interface TimelineStep { step: BootStep; at: number | null; status: 'reached' | 'skipped' | 'waiting'; detail: string | null }

/** `events` in any order; only kind `boot` with a known data.step counts. */
export function bootTimeline(events: readonly EventRecord[]): TimelineStep[] | null {
  const boots = events
    .filter((e) => e.kind === 'boot' && BOOT_STEPS.includes(e.data?.step as BootStep))
    .sort((a, b) => a.id - b.id);
  if (boots.length === 0) return null;
  let start = 0;
  boots.forEach((e, i) => { if (e.data!.step === 'dhcp') start = i; });
  // DHCP retransmits and iPXE's second DHCP belong to the same boot: start at the first DHCP of
  // the last run of DHCP steps.
  while (start > 0 && boots[start - 1].data!.step === 'dhcp') start--;
  const latest = boots.slice(start);
  const reached = new Map<BootStep, EventRecord>();
  for (const e of latest) if (!reached.has(e.data!.step as BootStep)) reached.set(e.data!.step as BootStep, e);
  const lastIndex = Math.max(...[...reached.keys()].map((s) => BOOT_STEPS.indexOf(s)));
  return BOOT_STEPS.map((step, i) => {
    const e = reached.get(step);
    if (e) return { step, at: e.at, status: 'reached', detail: e.reason };
    return { step, at: null, status: i < lastIndex ? 'skipped' : 'waiting', detail: null };
  });
}
