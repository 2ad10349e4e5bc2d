// The machine the agent inspects, behind a small interface: the real one reads /sys, /proc and runs
// tools; tests pass a fake built from fixture files. Errors carry messages fit for an absent fact
// ("dmidecode not found", "/sys/class/dmi/id/product_serial: no such file").
import { execFile } from 'node:child_process';
import { readFile, readdir, realpath, access } from 'node:fs/promises';

export interface Host {
  readText(path: string): Promise<string>;
  readBytes(path: string): Promise<Buffer>;
  list(dir: string): Promise<string[]>;
  realpath(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /** Runs a tool, resolves with stdout; rejects with "<tool> not found" or "<tool> failed: <stderr>". */
  run(cmd: string, args: string[]): Promise<string>;
}

const TOOL_TIMEOUT_MS = 20_000;
const TOOL_MAX_OUTPUT = 8 * 1024 * 1024;

function fsError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EINVAL' ? 'not readable now (EINVAL)' : (e as Error).message;
  return new Error(`${path}: ${why}`);
}

export function realHost(): Host {
  return {
    readText: (p) => readFile(p, 'utf8').catch((e) => { throw fsError(p, e); }),
    readBytes: (p) => readFile(p).catch((e) => { throw fsError(p, e); }),
    list: (d) => readdir(d).catch((e) => { throw fsError(d, e); }),
    realpath: (p) => realpath(p).catch((e) => { throw fsError(p, e); }),
    exists: (p) => access(p).then(() => true, () => false),
    run: (cmd, args) => new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout: TOOL_TIMEOUT_MS, maxBuffer: TOOL_MAX_OUTPUT, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return reject(new Error(`${cmd} not found`));
        if (err.killed) return reject(new Error(`${cmd} timed out after ${TOOL_TIMEOUT_MS / 1000} s`));
        reject(new Error(`${cmd} failed: ${(stderr || err.message).trim().split('\n').at(-1)}`));
      });
    }),
  };
}
