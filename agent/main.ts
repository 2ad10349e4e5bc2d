// Entry point of the bundled agent (`node /agent.js`, started by the discovery OS's /init).
// Exit 2: the kernel command line does not configure an agent (nothing to retry).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseCmdline } from './cmdline.ts';
import { applianceClient } from './client.ts';
import { realHost } from './host.ts';
import { collectInventory } from './inventory.ts';
import { runAgent, type PowerAction } from './run.ts';

const log = (msg: string): void => { console.log(`tether-agent: ${msg}`); };

async function power(action: PowerAction): Promise<void> {
  spawnSync('sync', { stdio: 'inherit' });
  // -f: straight to the reboot(2) syscall; there is no init system to stop in the discovery OS.
  spawnSync(action, ['-f'], { stdio: 'inherit' });
}

const parsed = parseCmdline(readFileSync('/proc/cmdline', 'utf8'));
if (!parsed.ok) {
  for (const p of parsed.problems) log(`kernel command line: ${p}`);
  process.exit(2);
}
const cfg = parsed.config;
const host = realHost();
await runAgent(cfg, {
  client: applianceClient(cfg),
  collect: () => collectInventory(host),
  power,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  log,
  uptimeS: () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]),
});
