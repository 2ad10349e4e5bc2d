// Network-namespace lab for tests: every DHCP/TFTP/HTTP server a test runs lives inside namespaces
// created here, on bridges/veths/taps inside them, and is torn down afterwards — also when the test
// fails or the process is interrupted. Processes are stopped by the PIDs we started, never by name.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<Lab>();
function teardownAll(): void { for (const lab of live) lab.teardownSync(); }
process.once('exit', teardownAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { teardownAll(); process.exit(130); });
}

export interface Spawned {
  proc: ChildProcess;
  /** Collected stdout+stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output (rejects after `ms`). */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

export class Lab {
  readonly id: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs: Spawned[] = [];
  private torn = false;

  /** `tag` is a short word naming the test (it becomes part of namespace names: keep it ≤ 6 chars). */
  constructor(tag: string) {
    if (process.getuid?.() !== 0) throw new Error('lab: network namespaces need root');
    this.id = `${tag}${randomBytes(2).toString('hex')}`;
    this.dir = mkdtempSync(join(tmpdir(), `tether-lab-${this.id}-`));
    live.add(this);
  }

  /** Creates a namespace (named `<lab id>-<name>`) with loopback up; returns its full name. */
  ns(name: string): string {
    const full = `t${this.id}-${name}`;
    sh('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    this.exec(full, 'ip', ['link', 'set', 'lo', 'up']);
    return full;
  }

  /** Runs a command inside a namespace and returns its stdout; throws with stderr on failure. */
  exec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** Creates a bridge inside `ns`, optionally with an address (CIDR), and brings it up. */
  bridge(ns: string, name: string, cidr?: string): void {
    this.exec(ns, 'ip', ['link', 'add', name, 'type', 'bridge']);
    // No STP/forward delay: ports forward at once so DHCP is not lost in the first seconds.
    this.exec(ns, 'ip', ['link', 'set', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    if (cidr) this.exec(ns, 'ip', ['addr', 'add', cidr, 'dev', name]);
    this.exec(ns, 'ip', ['link', 'set', name, 'up']);
  }

  /**
   * A veth pair: end `a` in namespace `nsA`, end `b` in `nsB`. Optional addresses, optional
   * bridge (in nsB) to enslave end `b` to. Both ends are brought up.
   */
  veth(nsA: string, a: string, nsB: string, b: string, o: { cidrA?: string; cidrB?: string; bridgeB?: string; macA?: string } = {}): void {
    const tmpA = `va${randomBytes(3).toString('hex')}`;
    const tmpB = `vb${randomBytes(3).toString('hex')}`;
    sh('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    sh('ip', ['link', 'set', tmpA, 'netns', nsA]);
    sh('ip', ['link', 'set', tmpB, 'netns', nsB]);
    this.exec(nsA, 'ip', ['link', 'set', tmpA, 'name', a]);
    this.exec(nsB, 'ip', ['link', 'set', tmpB, 'name', b]);
    if (o.macA) this.exec(nsA, 'ip', ['link', 'set', a, 'address', o.macA]);
    if (o.cidrA) this.exec(nsA, 'ip', ['addr', 'add', o.cidrA, 'dev', a]);
    if (o.cidrB) this.exec(nsB, 'ip', ['addr', 'add', o.cidrB, 'dev', b]);
    if (o.bridgeB) this.exec(nsB, 'ip', ['link', 'set', b, 'master', o.bridgeB]);
    this.exec(nsA, 'ip', ['link', 'set', a, 'up']);
    this.exec(nsB, 'ip', ['link', 'set', b, 'up']);
  }

  /** A tap device inside `ns`, enslaved to `bridge`, for a qemu VM run in the same namespace. */
  tap(ns: string, name: string, bridge: string): void {
    this.exec(ns, 'ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    this.exec(ns, 'ip', ['link', 'set', name, 'master', bridge]);
    this.exec(ns, 'ip', ['link', 'set', name, 'up']);
  }

  /**
   * Starts a long-running process inside `ns` (e.g. a server under test, dnsmasq, qemu). Its output
   * is kept and also written to `<lab dir>/<logName>.log`. Killed by PID at teardown.
   */
  spawn(ns: string, cmd: string, args: string[], o: { logName?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Spawned {
    const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      env: o.env ?? process.env,
      cwd: o.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so teardown can stop the whole tree it started
    });
    const log = createWriteStream(join(this.dir, `${o.logName ?? cmd.split('/').pop()}-${proc.pid}.log`));
    let out = '';
    const waiters: Array<() => void> = [];
    const onData = (d: Buffer): void => {
      out += d.toString();
      log.write(d);
      for (const w of waiters.splice(0)) w();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    // 'close', not 'exit': output may still arrive after the process exits, and the log must take it.
    let closed = false;
    const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => { closed = true; log.end(); resolve(code); for (const w of waiters.splice(0)) w(); }));
    const s: Spawned = {
      proc,
      output: () => out,
      exited,
      kill: (signal = 'SIGTERM') => { killGroup(proc, signal); },
      waitFor: (pattern, ms = 15_000) => new Promise((resolve, reject) => {
        const test = (): boolean => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out));
        const timer = setTimeout(() => reject(new Error(`lab: timed out after ${ms} ms waiting for ${pattern} in ${cmd} output:\n${out.slice(-2000)}`)), ms);
        const check = (): void => {
          if (test()) { clearTimeout(timer); resolve(out); return; }
          if (closed) { clearTimeout(timer); reject(new Error(`lab: ${cmd} exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}:\n${out.slice(-2000)}`)); return; }
          waiters.push(check);
        };
        check();
      }),
    };
    this.procs.push(s);
    return s;
  }

  /** Stops every process we started (by PID), deletes the namespaces and the temp dir. */
  async teardown(): Promise<void> {
    if (this.torn) return;
    for (const p of this.procs) p.kill('SIGTERM');
    await Promise.race([
      Promise.all(this.procs.map((p) => p.exited)),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
    this.teardownSync();
  }

  teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    live.delete(this);
    for (const p of this.procs) p.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) {
      // Anything still inside a namespace we created was started by this lab.
      try {
        const pids = sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      } catch { /* namespace already gone */ }
      try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    }
    if (!process.env.KEEP_LAB) rmSync(this.dir, { recursive: true, force: true });
  }
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try { process.kill(-proc.pid, signal); } catch { try { proc.kill(signal); } catch { /* gone */ } }
}

function sh(cmd: string, args: string[], o: { timeoutMs?: number; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: o.timeoutMs ?? 30_000, input: o.input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}
