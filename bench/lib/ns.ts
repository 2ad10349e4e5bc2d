// Shared lab plumbing for the benchmarks: a server namespace and a client namespace joined by one
// veth (MTU 1500, so TFTP's blksize 1468 is the largest that does not fragment), N client addresses
// (one per simulated machine), and running a bench client to completion inside the client namespace.
import { chmodSync } from 'node:fs';
import { Lab, type Spawned } from '../../test/lib/lab.ts';

export interface Pair {
  lab: Lab;
  srv: string;
  cli: string;
  serverIp: string;
  /** Client source addresses, one per simulated machine. */
  clientIps: string[];
}

/** `subnet` is the first three octets, e.g. '10.249.1'; the server is .1, clients .10 onwards. */
export function serverClientPair(tag: string, subnet: string, clients: number): Pair {
  if (clients < 1 || clients > 240) throw new RangeError(`clients must be 1..240 (one /24), got ${clients}`);
  const lab = new Lab(tag);
  // Servers that drop privileges (tftpd-hpa's user tftp, dnsmasq's and nginx's nobody) must be able
  // to reach files under the lab's private temp dir.
  chmodSync(lab.dir, 0o755);
  const srv = lab.ns('srv');
  const cli = lab.ns('cli');
  const serverIp = `${subnet}.1`;
  const clientIps = Array.from({ length: clients }, (_, i) => `${subnet}.${10 + i}`);
  lab.veth(cli, 'eth0', srv, 'eth0', { cidrA: `${clientIps[0]}/24`, cidrB: `${serverIp}/24` });
  // One `ip -batch` for the rest: 200 separate `ip netns exec` calls take seconds.
  lab.exec(cli, 'ip', ['-batch', '-'], { input: clientIps.slice(1).map((ip) => `addr add ${ip}/24 dev eth0\n`).join('') });
  return { lab, srv, cli, serverIp, clientIps };
}

/** Runs a bench client (a .ts file taking one JSON argument) in `ns`; resolves with its JSON line. */
export async function runClient<T>(lab: Lab, ns: string, script: string, spec: unknown, timeoutMs = 600_000): Promise<T> {
  const p: Spawned = lab.spawn(ns, process.execPath, [script, JSON.stringify(spec)], { logName: 'client' });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); })]);
  clearTimeout(timer);
  if (code === 'timeout') { p.kill('SIGKILL'); throw new Error(`client timed out after ${timeoutMs} ms`); }
  const last = p.output().trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || !last) throw new Error(`client exited ${code}:\n${p.output().slice(-2000)}`);
  return JSON.parse(last) as T;
}

/** Stops one server we started and waits for it to be gone. */
export async function stop(p: Spawned): Promise<void> {
  p.kill('SIGTERM');
  const gone = await Promise.race([p.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
  if (!gone) { p.kill('SIGKILL'); await p.exited; }
}
