// /boot/ipxe: the iPXE script for one machine, from its lifecycle state (decideBoot) and a fresh
// one-time boot token. Open: the firmware holds no credential. A machine seen here first is
// created `discovered`; every served script lands on the machine's boot timeline.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Store } from '../store/store.ts';
import type { TetherConfig } from '../config/load.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import { decideBoot } from '../boot/decide.ts';
import { mintBootToken } from '../auth/boot-tokens.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linuxScript, localDiskScript, type LocalBootMethod } from '../../pxe/ipxe/script.ts';
import { LOCALBOOT_DIR, LOCALBOOT_FILES } from '../../images/ipxe/localboot.ts';
import { artifactsDir } from '../config/paths.ts';
import { macPattern } from './schemas.ts';
import { normalizeMac } from '../store/store.ts';
import { openDiskTask } from '../store/disk-tasks.ts';

export interface BootOptions { store: Store; config: TetherConfig }

const MAC = new RegExp(macPattern);
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/;

/** The address the machine reached us at: the one it can fetch kernels and images from. */
export function baseUrlOf(request: FastifyRequest, config: TetherConfig): string {
  const host = request.headers.host && HOST.test(request.headers.host) ? request.headers.host : config.http.listen;
  return `http://${host}`;
}

export default async function bootPlugin(app: FastifyInstance, o: BootOptions): Promise<void> {
  if (!o.store || !o.config) throw new Error('boot plugin needs a store and the config');
  const { store, config } = o;
  const zones = new Set(config.zones.map((z) => z.name));

  app.get('/boot/ipxe', {
    config: { access: 'open' },
    schema: {
      querystring: {
        type: 'object',
        required: ['mac'],
        properties: {
          mac: { type: 'string', pattern: macPattern },
          // iPXE's ${platform} (pcbios, efi) and ${buildarch} (i386, x86_64, arm64)
          platform: { type: 'string', pattern: '^[a-z0-9_-]{1,16}$' },
          arch: { type: 'string', pattern: '^[a-z0-9_-]{1,16}$' },
          zone: { type: 'string', maxLength: 63 },
        },
      },
    },
  }, async (request, reply) => {
    const q = request.query as { mac: string; platform?: string; arch?: string; zone?: string };
    const mac = normalizeMac(q.mac);
    const zone = q.zone && zones.has(q.zone) ? q.zone : null;
    // One commit (one fsync) for the machine, its token and the timeline entry: at a boot storm
    // the script's latency is the commit's.
    const script = store.transaction(() => {
      const machine = store.getMachine(mac) ?? discover(store, { mac, zone, actor: 'http', reason: 'first seen fetching its boot script' }).machine;
      const base = baseUrlOf(request, config);
      const decision = decideBoot(machine, { diskWritten: openDiskTask(store, machine.id)?.status === 'written' });
      const firmware = q.platform === 'efi' ? 'efi' : 'bios';
      let script: string;
      if (decision.kind === 'local-disk') {
        let method: LocalBootMethod = config.boot.localBoot[firmware];
        let chainUrl: string | undefined;
        if (method === 'grub') {
          // Only when the booter for this CPU was built (`tether boot-files`); else the firmware's turn.
          const file = LOCALBOOT_FILES[q.arch ?? ''];
          if (file && existsSync(join(artifactsDir(config), LOCALBOOT_DIR, file))) chainUrl = `${base}/artifacts/${LOCALBOOT_DIR}/${file}?mac=${mac}&step=localboot`;
          else method = 'exit';
        }
        script = localDiskScript({ title: `Tether: ${machine.id} is ${machine.state}, booting its local disk`, method, chainUrl });
      } else {
        const mode = decision.kind === 'rescue' ? 'rescue' : decision.mode;
        const write = decision.kind === 'discovery' && decision.allowWrite;
        const token = mintBootToken(store, machine.id, { write });
        const d = config.boot.discovery;
        const art = (p: string, step: string) => `${base}/artifacts/${p}?mac=${mac}&step=${step}`;
        script = linuxScript({
          title: `Tether: ${machine.id} is ${machine.state}, booting the ${mode === 'rescue' ? 'rescue' : 'discovery'} OS`,
          kernelUrl: art(d.kernel, 'kernel'),
          initrdUrl: art(d.initrd, 'initrd'),
          cmdline: `${d.cmdline} tether.url=${base} tether.mac=${mac} tether.token=${token} tether.mode=${mode} tether.write=${write ? 1 : 0}`.trim(),
        });
      }
      store.appendEvent({ machineId: machine.id, kind: 'boot', actor: 'http', reason: `script: ${decision.kind === 'discovery' ? decision.mode : decision.kind}`, data: { step: 'script', decision: decision.kind, platform: q.platform ?? null, arch: q.arch ?? null, ip: request.ip } });
      return script;
    });
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(script);
  });
}

/** Records a kernel/initrd fetch on the machine's boot timeline (the artifacts plugin's observer). */
export function recordArtifactFetch(store: Store, f: { path: string; mac?: string; step?: string; status: number; bytes: number; ip: string }): void {
  if (!f.mac || !f.step || f.status >= 300 || !MAC.test(f.mac)) return;
  const m = store.getMachine(f.mac);
  if (!m) return;
  store.appendEvent({ machineId: m.id, kind: 'boot', actor: 'http', reason: `${f.step}: ${f.path}`, data: { step: f.step, path: f.path, status: f.status, bytes: f.bytes, ip: f.ip } });
}
