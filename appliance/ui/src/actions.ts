// Operator actions as a technician reads them: what the action does and what will be lost. Which
// action applies to which state comes from the lifecycle itself, never from a copy of its rules.
import { ACTIONS, ACTION_MOVES, type Action } from '../../lifecycle/lifecycle.ts';

export { ACTIONS, type Action };

export interface ActionText {
  label: string;
  /** What will happen and what will be lost, shown in the confirmation. */
  consequence: string;
  /** Destroys data on the machine: the confirmation asks for the machine's name to be typed. */
  destructive: boolean;
}

export const ACTION_TEXT: Record<Action, ActionText> = {
  approve: { label: 'Approve', consequence: 'It will install the node OS at its next network boot. Everything on its disks will be erased when the install starts.', destructive: false },
  install: { label: 'Install', consequence: 'It will install the node OS at its next network boot. Everything on its disks will be erased when the install starts.', destructive: false },
  reinstall: { label: 'Re-install', consequence: 'The installed OS and everything on its disks will be erased at its next network boot, and its node leaves the cluster until it joins again. Workloads on it stop.', destructive: true },
  wipe: { label: 'Wipe', consequence: 'All its disks will be erased. It then comes back as a newly discovered machine that must be approved again. Workloads on it stop.', destructive: true },
  rescue: { label: 'Rescue', consequence: 'It will boot the discovery OS for troubleshooting instead of its own disk. Nothing on its disks is erased, but workloads on it stop until it leaves rescue.', destructive: false },
};

export function actionsFor(state: string): Action[] {
  const allowed = ACTIONS.filter((a) => {
    const move = ACTION_MOVES[a];
    if (state === move.to) return false;
    return move.from === '*' || (move.from as readonly string[]).includes(state);
  });
  // `install` is `approve` under another name where both apply; one button is enough.
  return allowed.includes('approve') ? allowed.filter((a) => a !== 'install') : allowed;
}
