// A pseudo-terminal for the console channel's shells, without node-pty: that is a native addon, and
// the agent is one bundled agent.mjs (images/discovery/builder.ts) in an initrd without a compiler.
// Node 26's node:ffi makes the three ioctls (unlock the slave, its number, the window size) on
// /dev/ptmx; the shell runs under `setsid -c` (busybox has it, as util-linux does), which makes the
// pty slave its controlling terminal — without one there is no job control, ^C does not reach the
// foreground job and a resize sends no SIGWINCH.
//
// Reads go through a tty.ReadStream on the master (libuv polls it: no thread waits on a read);
// writes through fs.write with a queue, retried on EAGAIN, as node-pty does (the net.Socket write
// path hides EAGAIN and can stall).
import { closeSync, constants as fsc, openSync, write as fsWrite } from 'node:fs';
import { constants as osc } from 'node:os';
import { ReadStream } from 'node:tty';
import { spawn } from 'node:child_process';

// include/uapi/asm-generic/ioctls.h: the numbers of x86-64 and arm64 (not powerpc, mips, sparc).
const TIOCSWINSZ = 0x5414n;
const TIOCGPTN = 0x80045430n; // _IOR('T', 0x30, unsigned int)
const TIOCSPTLCK = 0x40045431n; // _IOW('T', 0x31, int)
/** After the shell exited, output still in the master is read until EOF, or this long (a background job may hold the slave open). */
const DRAIN_MS = 250;
/** After a close, a shell still running this long (it ignores SIGHUP) is killed. */
const KILL_AFTER_MS = 2000;
/** Input queued for a shell that does not read: beyond this it is dropped (a paste flood, not typing). */
const MAX_QUEUED_INPUT = 256 * 1024;

export interface PtyOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  cols: number;
  rows: number;
}

export interface Pty {
  readonly pid: number;
  /** The slave's path, /dev/pts/N. */
  readonly path: string;
  onData(fn: (data: string) => void): void;
  /** Once, after the output up to the exit was delivered. */
  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** Hangs the terminal up (SIGHUP to the shell, master closed), SIGKILL if the shell outlives it. */
  close(): void;
}

interface Libc { ioctl(fd: number, request: bigint, arg: Buffer): number; errno(): number }
let libc: Libc | null = null;

async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  const ffi = await import('node:ffi');
  const { functions: f } = ffi.dlopen(null, {
    ioctl: { arguments: ['i32', 'u64', 'buffer'], return: 'i32' },
    __errno_location: { arguments: [], return: 'pointer' },
  });
  libc = { ioctl: (fd, r, a) => f.ioctl(fd, r, a), errno: () => ffi.getInt32(f.__errno_location()) };
  return libc;
}

const errnoName = new Map(Object.entries(osc.errno).reverse().map(([k, v]) => [v, k]));

function winsize(cols: number, rows: number): Buffer {
  const b = Buffer.alloc(8); // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
  b.writeUInt16LE(rows, 0);
  b.writeUInt16LE(cols, 2);
  return b;
}

export async function openPty(o: PtyOptions): Promise<Pty> {
  const c = await loadLibc();
  const ioctl = (fd: number, name: string, request: bigint, arg: Buffer): void => {
    if (c.ioctl(fd, request, arg) < 0) {
      const e = c.errno();
      throw new Error(`ioctl ${name} on the pty: ${errnoName.get(e) ?? `errno ${e}`}`);
    }
  };
  // O_NOCTTY: the agent itself must not take the terminal; the shell's setsid -c does.
  const master = openSync('/dev/ptmx', fsc.O_RDWR | fsc.O_NOCTTY);
  let slave = -1;
  let path = '';
  try {
    ioctl(master, 'TIOCSPTLCK', TIOCSPTLCK, Buffer.alloc(4)); // unlockpt
    const n = Buffer.alloc(4);
    ioctl(master, 'TIOCGPTN', TIOCGPTN, n);
    path = `/dev/pts/${n.readUInt32LE(0)}`;
    ioctl(master, 'TIOCSWINSZ', TIOCSWINSZ, winsize(o.cols, o.rows));
    slave = openSync(path, fsc.O_RDWR | fsc.O_NOCTTY);
  } catch (e) {
    closeSync(master);
    throw e;
  }
  const child = spawn('setsid', ['-c', o.command, ...o.args], { stdio: [slave, slave, slave], env: o.env, cwd: o.cwd });
  try {
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  } catch (e) {
    closeSync(slave);
    closeSync(master);
    throw new Error(`could not start ${o.command} on ${path}: ${(e as Error).message}`);
  } finally {
    // Only the shell holds the slave now: when it and its children are gone, the master reads EOF.
    if (child.pid !== undefined) closeSync(slave);
  }

  const reader = new ReadStream(master);
  reader.setEncoding('utf8');
  const dataFns: Array<(d: string) => void> = [];
  const exitFns: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  reader.on('data', (d: string) => { for (const fn of dataFns) fn(d); });
  // EIO is how a pty master says the last slave fd closed; anything else ends reading too.
  reader.on('error', () => {});
  let eof = false;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let reported = false;
  let closed = false;
  const report = (): void => {
    if (reported || !exited) return;
    reported = true;
    if (!closed) { closed = true; reader.destroy(); }
    for (const fn of exitFns) fn(exited.code, exited.signal);
  };
  reader.on('close', () => { eof = true; closed = true; report(); });
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    if (eof) report();
    else setTimeout(report, DRAIN_MS).unref();
  });

  const queue: Buffer[] = [];
  let queued = 0;
  let writing = false;
  const pump = (): void => {
    if (writing || closed || queue.length === 0) return;
    writing = true;
    const head = queue[0];
    fsWrite(master, head, 0, head.length, null, (err, n) => {
      writing = false;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') { setTimeout(pump, 10).unref(); return; }
        queue.length = 0; // EIO: the shell is gone; its exit is on the way
        queued = 0;
        return;
      }
      queued -= n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      pump();
    });
  };

  return {
    pid: child.pid!,
    path,
    onData: (fn) => { dataFns.push(fn); },
    onExit: (fn) => { exitFns.push(fn); },
    write(data) {
      const b = Buffer.from(data, 'utf8');
      if (closed || b.length === 0 || queued + b.length > MAX_QUEUED_INPUT) return;
      queue.push(b);
      queued += b.length;
      pump();
    },
    resize(cols, rows) {
      if (!closed) ioctl(master, 'TIOCSWINSZ', TIOCSWINSZ, winsize(cols, rows)); // the kernel sends SIGWINCH
    },
    pause: () => { reader.pause(); },
    resume: () => { reader.resume(); },
    close() {
      if (exited) return;
      try { child.kill('SIGHUP'); } catch { /* gone meanwhile */ }
      if (!closed) { closed = true; reader.destroy(); }
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, KILL_AFTER_MS);
      t.unref();
    },
  };
}
