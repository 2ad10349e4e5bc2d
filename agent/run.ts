// The agent's life in one boot: collect the inventory, report it (retrying while the appliance is
// unreachable), then heartbeat and poll for the next task until told to power off or reboot.
// It never writes a disk: no task it understands in this version touches one.
import { PROTOCOL_VERSION, type Inventory, type TaskAnswer } from './protocol.ts';
import { ApplianceError, backoffMs, heartbeatOf, type ApplianceClient } from './client.ts';
import type { AgentConfig } from './cmdline.ts';

export type PowerAction = 'poweroff' | 'reboot';

export interface AgentDeps {
  client: ApplianceClient;
  collect: () => Promise<Inventory>;
  power: (action: PowerAction) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  log: (msg: string) => void;
  uptimeS: () => number;
  random?: () => number;
}

const TOKEN_REFUSED_RETRY_MS = 60_000;
const DEFAULT_HEARTBEAT_S = 30;

/** Runs until a power action was taken (in a real boot the machine is then gone); returns it. */
export async function runAgent(cfg: AgentConfig, d: AgentDeps): Promise<PowerAction> {
  let heartbeatS = DEFAULT_HEARTBEAT_S;
  let lastHeartbeat = -Infinity;
  let problem: string | undefined;
  const beat = async (phase: 'collecting' | 'reporting' | 'idle' | 'working'): Promise<void> => {
    lastHeartbeat = d.uptimeS();
    try {
      heartbeatS = clampS((await d.client.heartbeat(heartbeatOf(cfg, phase, d.uptimeS(), problem))).intervalS, DEFAULT_HEARTBEAT_S);
    } catch (e) {
      d.log(`heartbeat failed: ${(e as Error).message}`);
    }
  };

  d.log(`agent ${PROTOCOL_VERSION} for ${cfg.mac} (mode ${cfg.mode}), appliance ${cfg.url}, at ${d.uptimeS().toFixed(1)} s`);
  void beat('collecting');
  const t0 = d.uptimeS();
  const inventory = await d.collect();
  d.log(`inventory collected in ${(d.uptimeS() - t0).toFixed(1)} s`);

  let task: TaskAnswer | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await d.client.report({ version: PROTOCOL_VERSION, mac: cfg.mac, inventory });
      d.log(`reported: machine ${answer.machineId} is ${answer.state} (at ${d.uptimeS().toFixed(1)} s)`);
      task = answer.task;
      break;
    } catch (e) {
      if (e instanceof ApplianceError && e.code === 'conflict') {
        d.log('this boot already reported (an earlier answer was lost); going on'); // the token is spent
        break;
      }
      if (e instanceof ApplianceError && (e.status === 401 || e.status === 403)) {
        d.log(`boot token refused (${e.message}); a newer boot of this machine may have replaced it. Retrying in ${TOKEN_REFUSED_RETRY_MS / 1000} s`);
        await d.sleep(TOKEN_REFUSED_RETRY_MS);
        continue;
      }
      if (e instanceof ApplianceError && !e.retryable) {
        problem = `report refused: ${e.message}`;
        d.log(problem); // the same document would be refused again: wait for instructions instead
        break;
      }
      const ms = backoffMs(attempt, d.random);
      d.log(`report failed (${(e as Error).message}); retrying in ${(ms / 1000).toFixed(1)} s`);
      await d.sleep(ms);
    }
  }

  for (let attempt = 0; ;) {
    if (d.uptimeS() - lastHeartbeat >= heartbeatS) await beat('idle');
    if (!task) {
      try {
        task = await d.client.task();
        attempt = 0;
      } catch (e) {
        const ms = backoffMs(attempt++, d.random);
        d.log(`task poll failed (${(e as Error).message}); retrying in ${(ms / 1000).toFixed(1)} s`);
        await d.sleep(ms);
        continue;
      }
    }
    const t: TaskAnswer = task;
    task = null;
    if (t.task === 'poweroff' || t.task === 'reboot') {
      d.log(`task ${t.task}: ${t.reason}`);
      await d.power(t.task);
      return t.task;
    }
    await d.sleep(clampS(t.pollAfterS, 10) * 1000);
  }
}

function clampS(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 3600 ? v : fallback;
}
