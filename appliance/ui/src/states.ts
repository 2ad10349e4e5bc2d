// How each lifecycle state looks and reads for the people in the datacenter: a colour they can
// spot across a rack view and a sentence that says what is happening and what comes next.
import { STATES, type MachineState } from '../../lifecycle/states.ts';

export { STATES, type MachineState };

export interface StateLook { label: string; /** fits a rack tile */ short: string; color: string; text: string; meaning: string }

export const STATE_LOOK: Record<MachineState, StateLook> = {
  discovered: { label: 'Discovered', short: 'Discovered', color: '#94a3b8', text: '#0f172a', meaning: 'Seen on the network; waiting for its hardware report.' },
  inventoried: { label: 'Waiting for approval', short: 'Needs approval', color: '#f59e0b', text: '#1f1300', meaning: 'Hardware reported; an operator must approve it before anything is installed.' },
  approved: { label: 'Approved', short: 'Approved', color: '#7dd3fc', text: '#082f49', meaning: 'Will install the node OS at its next network boot.' },
  installing: { label: 'Installing', short: 'Installing', color: '#2563eb', text: '#ffffff', meaning: 'Writing the node OS image to its disk.' },
  installed: { label: 'Installed', short: 'Installed', color: '#0d9488', text: '#ffffff', meaning: 'Node OS on disk; boots from its own disk.' },
  joining: { label: 'Joining', short: 'Joining', color: '#8b5cf6', text: '#ffffff', meaning: 'The kubelet is joining the cluster.' },
  enrolled: { label: 'Enrolled', short: 'Enrolled', color: '#4ade80', text: '#052e16', meaning: 'The cluster knows this node; not yet Ready or reachable.' },
  ready: { label: 'Ready', short: 'Ready', color: '#15803d', text: '#ffffff', meaning: 'A working node of the cluster.' },
  failed: { label: 'Failed', short: 'Failed', color: '#dc2626', text: '#ffffff', meaning: 'Something went wrong; see the reason and the history.' },
  headless: { label: 'Headless (link down)', short: 'Headless', color: '#ea580c', text: '#ffffff', meaning: 'Running its workloads, but the cloud link is down.' },
  wiping: { label: 'Wiping', short: 'Wiping', color: '#9d174d', text: '#ffffff', meaning: 'Erasing its disks; it comes back as a new machine.' },
  rescue: { label: 'Rescue', short: 'Rescue', color: '#a16207', text: '#ffffff', meaning: 'Booted into the discovery OS for troubleshooting; nothing is installed.' },
};

export function lookOf(state: string): StateLook {
  return (STATE_LOOK as Record<string, StateLook>)[state] ?? { label: state, short: state, color: '#e2e8f0', text: '#0f172a', meaning: '' };
}
