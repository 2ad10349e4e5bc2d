// The LLDP listener for real: Debian's lldpd plays the switch on one end of a veth pair inside a
// network namespace this test creates; the discovery OS's listener (images/discovery/lldp-listener.ts,
// AF_PACKET through node:ffi) runs on the other end in the same namespace and writes pcap files,
// which the agent's collector then reads. lldpd gets a private /run (tmpfs) from `ip netns exec`'s
// own mount namespace, so nothing on the host is touched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../../test/lib/lab.ts';
import { labLldpd } from '../../test/lib/vms.ts';
import { realHost } from '../host.ts';
import { decodePcap, decodeLldpFrame, neighbourFromPcap } from './lldp.ts';
import { collectLldp, LLDP_LISTEN_S } from './nics.ts';

const LISTENER = new URL('../../images/discovery/lldp-listener.ts', import.meta.url).pathname;
const missing = (() => {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try { execFileSync('lldpd', ['-v']); return null; } catch { return 'lldpd is not installed (test/debian-packages.sh)'; }
})();

let lab: Lab | undefined;
after(async () => { await lab?.teardown(); });

test('lldp listener: frames lldpd sends arrive in <nic>.pcap and the collector reads the neighbour', { skip: missing ?? false, timeout: 60_000 }, async () => {
  const l = new Lab('lldp');
  lab = l;
  const ns = l.ns('wire');
  l.veth(ns, 'eth0', ns, 'sw0', { macA: '52:54:00:aa:00:01' });
  const out = join(l.dir, 'run-lldp');
  // Listening starts before the switch speaks: the first frame (sent at lldpd's start) must be caught.
  const listener = l.spawn(ns, process.execPath, ['--disable-warning=ExperimentalWarning', LISTENER, out, 'eth0'], { logName: 'listener' });
  await listener.waitFor('listening on eth0', 20_000);
  const t0 = performance.now();
  const lldpd = labLldpd(l, ns, 'sw0', [
    'configure system hostname tor-r07', 'configure system chassisid SW-R07', 'configure lldp portidsubtype ifname', 'configure lldp tx-interval 5',
  ]);
  const pcap = join(out, 'eth0.pcap');
  let neighbour: ReturnType<typeof neighbourFromPcap> = { ok: false, why: 'not yet' };
  while (performance.now() - t0 < 30_000) {
    neighbour = existsSync(pcap) ? neighbourFromPcap(readFileSync(pcap)) : neighbour;
    if (neighbour.ok && neighbour.frame.systemName === 'tor-r07') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`lldp listener: first configured frame ${((performance.now() - t0) / 1000).toFixed(1)} s after lldpd started`);
  assert.ok(neighbour.ok, `${neighbour.ok ? '' : neighbour.why}\n${lldpd.output()}\n${listener.output()}`);
  assert.deepEqual([neighbour.frame.chassisId.value, neighbour.frame.portId.value, neighbour.frame.systemName], ['SW-R07', 'sw0', 'tor-r07']);
  assert.ok(readFileSync(join(out, 'eth0.since'), 'utf8').trim().match(/^\d+\.\d\d$/));

  // The agent's view of the same directory (real files, real clock): no waiting, the neighbour.
  const got = await collectLldp(realHost(), [{ name: 'eth0', link: 'up' }], { dir: out });
  assert.deepEqual(got.get('eth0'), { chassisId: 'SW-R07', portId: 'sw0', systemName: 'tor-r07' });

  // Every record in the file is a whole LLDP frame, at most KEEP of them.
  const p = decodePcap(readFileSync(pcap));
  assert.ok(p.ok && p.records.length >= 1 && p.records.length <= 4);
  for (const r of p.records) assert.ok(decodeLldpFrame(r.data).ok);
  assert.ok(LLDP_LISTEN_S > 0);
});
