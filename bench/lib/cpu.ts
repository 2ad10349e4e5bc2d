// CPU time of a server under test, children included. /proc cannot tell it: the CPU of tftpd-hpa's
// per-transfer children never reaches its counters (0.3 s seen of ~11 s), and nginx's workers run
// beside the master. A cpuacct cgroup (v1) or a cgroup v2 directory counts every process started in
// it. The server is started through `sh -c 'echo $$ > cgroup.procs; exec ...'` so that it is inside
// before it can fork; `ip netns exec` mounts a sysfs of its own, so the group is reached through this
// process's root (/proc/<pid>/root), which still shows the host's /sys. The group is removed at the
// end (and at exit, after the lab killed its processes).
import { mkdirSync, readFileSync, rmdirSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const V1 = '/sys/fs/cgroup/cpuacct';
const V2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'];

export interface CpuGroup {
  /** A command line that joins the group, then execs `cmd` (same PID). */
  wrap(cmd: string, args: string[]): { cmd: string; args: string[] };
  /** CPU seconds (user + system) used in the group so far. */
  seconds(): number;
  remove(): void;
}

export function cpuGroup(tag: string): CpuGroup | undefined {
  const name = `tether-bench-${tag}-${randomBytes(3).toString('hex')}`;
  let dir: string;
  let read: () => number;
  const v2 = V2.find((d) => existsSync(`${d}/cgroup.controllers`));
  try {
    if (existsSync(`${V1}/cpuacct.usage`)) {
      dir = `${V1}/${name}`;
      mkdirSync(dir);
      read = () => Number(readFileSync(`${dir}/cpuacct.usage`, 'utf8')) / 1e9;
    } else if (v2) {
      dir = `${v2}/${name}`;
      mkdirSync(dir);
      read = () => Number(/usage_usec (\d+)/.exec(readFileSync(`${dir}/cpu.stat`, 'utf8'))?.[1]) / 1e6;
    } else {
      return undefined;
    }
  } catch {
    return undefined; // no permission, read-only cgroupfs: CPU is then not reported
  }
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    // Killed processes leave the group a moment after the signal: retry briefly.
    for (let i = 0; i < 50; i++) {
      try { rmdirSync(dir); removed = true; return; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); }
    }
  };
  process.once('exit', remove);
  return {
    wrap: (cmd, args) => ({ cmd: 'sh', args: ['-c', `echo $$ > /proc/${process.pid}/root${dir}/cgroup.procs && exec "$@"`, 'sh', cmd, ...args] }),
    seconds: read,
    remove,
  };
}

/** Busy CPU seconds of the whole machine so far (all cores): shows load from outside the benchmark. */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ
}

/**
 * Waits (up to `maxMs`) for a second in which the rest of the machine used less than `cores` of CPU,
 * so that a run does not start in the middle of someone else's build. Resolves with the load seen.
 */
export async function awaitQuiet(maxMs = 60_000, cores = 0.3): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const b0 = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const load = machineBusySeconds() - b0;
    if (load < cores || Date.now() > deadline) return load;
  }
}
