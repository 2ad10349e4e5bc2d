// Applies lifecycle moves through the store: legality from the transition table, one transaction
// per move with its event. Operator actions (approve, install, ...) are named intents mapped onto
// transitions here so the API carries no state rules of its own.
import type { Actor, EventRecord, Machine, Store } from '../store/store.ts';
import { INITIAL_STATE, STATES, allowedActors, isState, type MachineState } from './states.ts';

export class IllegalTransitionError extends Error {
  readonly from: string;
  readonly to: string;
  readonly actor: Actor;
  constructor(from: string, to: string, actor: Actor, why: string) {
    super(`cannot move machine from ${from} to ${to} as ${actor}: ${why}`);
    this.name = 'IllegalTransitionError';
    this.from = from;
    this.to = to;
    this.actor = actor;
  }
}

export interface Who { actor: Actor; actorName?: string | null }

/** Checks a move against the table; throws IllegalTransitionError naming both states. */
export function checkTransition(from: string, to: string, actor: Actor): void {
  if (!isState(from)) throw new IllegalTransitionError(from, to, actor, `unknown state ${from}`);
  if (!isState(to)) throw new IllegalTransitionError(from, to, actor, `unknown state ${to}; states: ${STATES.join(', ')}`);
  if (from === to) throw new IllegalTransitionError(from, to, actor, `the machine is already ${to}`);
  const actors = allowedActors(from, to);
  if (actors.length === 0) throw new IllegalTransitionError(from, to, actor, 'no such transition in the lifecycle');
  if (!actors.includes(actor)) throw new IllegalTransitionError(from, to, actor, `only ${actors.join(' or ')} may make this move`);
}

export function transition(store: Store, machineId: string, to: MachineState, who: Who & { reason?: string; data?: Record<string, unknown>; expectFrom?: readonly MachineState[] }): { machine: Machine; event: EventRecord } {
  return store.transition(machineId, (m) => {
    if (who.expectFrom && !who.expectFrom.includes(m.state as MachineState)) {
      throw new IllegalTransitionError(m.state, to, who.actor, `expected the machine to be ${who.expectFrom.join(' or ')}`);
    }
    checkTransition(m.state, to, who.actor);
    return { to, actor: who.actor, actorName: who.actorName, reason: who.reason ?? null, data: who.data ?? null };
  });
}

/** A machine first seen by a boot observer or registered by an operator. */
export function discover(store: Store, o: Who & { mac: string; zone?: string | null; rack?: string | null; hostname?: string | null; reason?: string }) {
  return store.createMachine({ bootMac: o.mac, state: INITIAL_STATE, zone: o.zone, rack: o.rack, hostname: o.hostname, actor: o.actor, actorName: o.actorName, reason: o.reason });
}

export const ACTIONS = ['approve', 'install', 'reinstall', 'wipe', 'rescue'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * What each operator action means, as (allowed from-states → target). `approve` accepts an
 * inventoried machine for install; `install` is the same move also allowed as a retry from
 * failed/rescue; `reinstall` sends an installed machine back through the discovery OS.
 */
export const ACTION_MOVES: Record<Action, { to: MachineState; from: readonly MachineState[] | '*' }> = {
  approve: { to: 'approved', from: ['inventoried'] },
  install: { to: 'approved', from: ['inventoried', 'failed', 'rescue'] },
  reinstall: { to: 'approved', from: ['installed', 'joining', 'enrolled', 'ready', 'headless', 'failed', 'rescue'] },
  wipe: { to: 'wiping', from: '*' },
  rescue: { to: 'rescue', from: '*' },
};

/** `full` (wipe only): overwrite whole disks; the wipe task reads it from this event. */
export function applyAction(store: Store, machineId: string, action: Action, who: { actorName: string; reason?: string; full?: boolean }): { machine: Machine; event: EventRecord } {
  const move = ACTION_MOVES[action];
  return transition(store, machineId, move.to, {
    actor: 'operator',
    actorName: who.actorName,
    reason: who.reason ?? `operator action: ${action}`,
    data: action === 'wipe' ? { action, full: who.full === true } : { action },
    expectFrom: move.from === '*' ? undefined : move.from,
  });
}
