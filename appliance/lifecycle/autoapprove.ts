// Zone auto-approve rules (tether.yaml zones[].autoApprove): an inventoried machine that matches a
// rule of its zone is approved by the `rule` actor, with the rule named in the event. A rule
// matches when every condition it states holds; a fact the agent could not read fails the
// condition (never guessed). No rules (the default) means every machine waits for an operator.
import type { Inventory } from '../../agent/protocol.ts';
import { factValue } from '../../agent/protocol.ts';
import type { TetherConfig, ZoneConfig } from '../config/schema.ts';
import type { Machine, Store } from '../store/store.ts';
import { transition } from './lifecycle.ts';

type Rule = ZoneConfig['autoApprove'][number];

export function describeRule(r: Rule): string {
  const parts = [
    r.minMemoryGiB !== undefined && `memory ≥ ${r.minMemoryGiB} GiB`,
    r.minDisks !== undefined && `disks ≥ ${r.minDisks}`,
    r.minCpuThreads !== undefined && `CPU threads ≥ ${r.minCpuThreads}`,
    r.vendor !== undefined && `vendor "${r.vendor}"`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'any machine';
}

/** Why a rule does not match, or null when it does. */
export function ruleMismatch(r: Rule, inv: Inventory): string | null {
  if (r.minMemoryGiB !== undefined) {
    const bytes = factValue(inv.memory.totalBytes);
    if (bytes === null || bytes < r.minMemoryGiB * 2 ** 30) return `memory ${bytes === null ? 'unknown' : `${(bytes / 2 ** 30).toFixed(1)} GiB`} < ${r.minMemoryGiB} GiB`;
  }
  if (r.minDisks !== undefined) {
    const disks = factValue(inv.disks)?.filter((d) => factValue(d.removable) !== true);
    if (!disks || disks.length < r.minDisks) return `${disks ? disks.length : 'unknown'} disks < ${r.minDisks}`;
  }
  if (r.minCpuThreads !== undefined) {
    const threads = factValue(inv.cpu.threads);
    if (threads === null || threads < r.minCpuThreads) return `${threads ?? 'unknown'} CPU threads < ${r.minCpuThreads}`;
  }
  if (r.vendor !== undefined) {
    const vendor = factValue(inv.system.vendor);
    if (!vendor || vendor.toLowerCase() !== r.vendor.toLowerCase()) return `vendor ${vendor ?? 'unknown'} is not ${r.vendor}`;
  }
  return null;
}

/** Approves `machine` if it is inventoried and a rule of its zone matches; returns the rule used. */
export function autoApprove(store: Store, config: TetherConfig, machine: Machine, inv: Inventory): { rule: number; description: string } | null {
  if (machine.state !== 'inventoried' || !machine.zone) return null;
  const rules = config.zones.find((z) => z.name === machine.zone)?.autoApprove ?? [];
  const index = rules.findIndex((r) => ruleMismatch(r, inv) === null);
  if (index < 0) return null;
  const description = describeRule(rules[index]);
  transition(store, machine.id, 'approved', {
    actor: 'rule',
    actorName: `${machine.zone}/autoApprove[${index}]`,
    reason: `auto-approved by zone ${machine.zone} rule ${index}: ${description}`,
    expectFrom: ['inventoried'],
  });
  return { rule: index, description };
}
