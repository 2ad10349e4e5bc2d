// Entry point of the bundled agent (`node /agent.js`, started by the discovery OS's /init).
// Exit 2: the kernel command line does not configure an agent (nothing to retry).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseCmdline } from './cmdline.ts';
import { applianceClient } from './client.ts';
import { realHost } from './host.ts';
import { collectInventory } from './inventory.ts';
import { collectDisks } from './collect/disks.ts';
import { isAbsent } from './protocol.ts';
import { realStageTools, stageOnDisk } from './install/stage.ts';
import { writeConfigPartition } from './install/config-partition.ts';
import { open } from 'node:fs/promises';
import { runAgent, type DiskDeps, type PowerAction } from './run.ts';
import { consoleChannel } from './shell/channel.ts';

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

// Install and wipe: run.ts refuses both unless the command line says tether.write=1.
const stageTools = realStageTools();
const disks: DiskDeps = {
  list: async () => {
    const d = await collectDisks(host); // a fresh lsblk + sysfs listing, not the reported inventory
    if (isAbsent(d)) throw new Error(d.absent);
    return d;
  },
  // Tether's images reserve a config partition outside the image bytes (a cpio, no mount); an image
  // without one gets its files on the mounted root filesystem instead.
  stage: async (o) => {
    if (!o.manifest.config) { await stageOnDisk({ ...o, tools: stageTools }); return; }
    const fh = await open(o.disk, 'r+');
    try {
      const { archiveBytes } = await writeConfigPartition(fh, o.manifest, o.files);
      o.log(`staged ${o.files.length} files (${archiveBytes} bytes) in the ${o.manifest.config.label} partition`);
    } finally {
      await fh.close();
    }
  },
  // BLKFLSBUF: writes back and drops the device's page cache, so the re-read comes from the disk.
  beforeVerify: async (path) => { await host.run('blockdev', ['--flushbufs', path]); },
};
await runAgent(cfg, {
  client: applianceClient(cfg),
  collect: () => collectInventory(host),
  power,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  log,
  uptimeS: () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]),
  disks,
  console: consoleChannel(cfg, { log }),
});
