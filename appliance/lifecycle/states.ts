// The machine lifecycle of DESIGN.md as data: one table of allowed transitions and who may make
// each. Everything else (API actions, DHCP observers, the agent, the cloud link) goes through it.
import type { Actor } from '../store/store.ts';

export const STATES = [
  'discovered', 'inventoried', 'approved', 'installing', 'installed', 'joining', 'enrolled', 'ready',
  'failed', 'headless', 'wiping', 'rescue',
] as const;
export type MachineState = (typeof STATES)[number];

/** The first state of a machine: every boot observer creates machines here. */
export const INITIAL_STATE: MachineState = 'discovered';

/** States whose PXE boot goes to the local disk rather than the discovery OS (DESIGN.md). */
export const BOOTS_FROM_DISK: ReadonlySet<MachineState> = new Set(['installed', 'joining', 'enrolled', 'ready', 'headless']);

type Rule = readonly [from: MachineState | '*', to: MachineState, actors: readonly Actor[]];

const OBSERVERS = ['dhcp', 'tftp', 'http'] as const;

/**
 * from → to, and the actors allowed to make that move. `*` is any state other than `to` itself.
 * The agent reports from the discovery OS (inventory, install progress, wipe done) and from the
 * installed OS (first-boot phone-home); the cloud link reports what the API server sees.
 */
export const TRANSITIONS: readonly Rule[] = [
  ['discovered', 'inventoried', ['agent']],
  ['inventoried', 'approved', ['operator', 'rule']],
  ['approved', 'installing', ['agent']],
  ['installing', 'installed', ['agent', 'http']],
  ['installing', 'failed', ['agent', 'operator']],
  ['installed', 'joining', ['agent', 'cloud']],
  ['installed', 'failed', ['agent', 'cloud', 'operator']],
  ['joining', 'enrolled', ['cloud']],
  ['joining', 'failed', ['cloud', 'operator']],
  ['enrolled', 'ready', ['cloud']],
  ['ready', 'enrolled', ['cloud']], // the Node lost Ready or the tunnel check failed
  ['enrolled', 'failed', ['cloud']],
  ['enrolled', 'headless', ['cloud']],
  ['ready', 'headless', ['cloud']],
  ['headless', 'enrolled', ['cloud']],
  ['headless', 'ready', ['cloud']],
  ['failed', 'approved', ['operator']], // retry the install
  ['failed', 'inventoried', ['agent']], // a failed machine rebooted into discovery and reported again
  ['rescue', 'approved', ['operator']], // leave rescue by (re)installing
  ['rescue', 'inventoried', ['operator']], // leave rescue without installing
  ['installed', 'approved', ['operator']], // re-install
  ['joining', 'approved', ['operator']],
  ['enrolled', 'approved', ['operator']],
  ['ready', 'approved', ['operator']],
  ['headless', 'approved', ['operator']],
  ['*', 'wiping', ['operator']],
  ['wiping', 'discovered', ['agent']],
  ['wiping', 'failed', ['agent']],
  ['*', 'rescue', ['operator']],
  // A machine that was forgotten by its observers (e.g. disk replaced) boots as new hardware again.
  ['installed', 'discovered', [...OBSERVERS]],
];

export function allowedActors(from: MachineState, to: MachineState): readonly Actor[] {
  if (from === to) return [];
  const actors = new Set<Actor>();
  for (const [f, t, a] of TRANSITIONS) {
    if (t === to && (f === from || f === '*')) a.forEach((x) => actors.add(x));
  }
  return [...actors];
}

export function isState(s: string): s is MachineState {
  return (STATES as readonly string[]).includes(s);
}
