// The competitors come from Debian packages. Installing a server package on Debian starts its
// service on the host's interfaces (tftpd-hpa on :69, nginx on :80); a benchmark must never serve
// there, so `--install` installs them with a policy-rc.d that forbids starting services, then checks
// that nothing of theirs runs outside the namespaces this benchmark makes.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

export interface Tool { binary: string; pkg: string }

const POLICY = '/usr/sbin/policy-rc.d';
const SERVERS = ['in.tftpd', 'nginx', 'dnsmasq'];

function onPath(binary: string): boolean {
  if (binary.startsWith('/')) return existsSync(binary);
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes named `names` in the host's own network namespace (none of ours live there). */
function hostServers(names: string[]): string[] {
  const own = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim();
  const ps = execFileSync('ps', ['-eo', 'pid=,comm='], { encoding: 'utf8' });
  return ps.split('\n').map((l) => l.trim().split(/\s+/)).filter(([pid, comm]) => pid && names.includes(comm)).filter(([pid]) => {
    try { return execFileSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).trim() === own; } catch { return false; }
  }).map(([pid, comm]) => `${comm}[${pid}]`);
}

/** Exits with instructions when a tool is missing, or installs the missing packages under `--install`. */
export function ensureTools(tools: Tool[], install: boolean): void {
  const missing = tools.filter((t) => !onPath(t.binary));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (!install) {
    process.stderr.write(`missing: ${missing.map((t) => t.binary).join(', ')}\n` +
      `run again with --install (as root) to install ${pkgs.join(' ')} without starting their services\n`);
    process.exit(2);
  }
  const before = hostServers(SERVERS);
  const ours = !existsSync(POLICY); // an existing policy belongs to the admin: leave it as it is
  if (ours) writeFileSync(POLICY, '#!/bin/sh\n# tether bench: install packages without starting their services\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } finally {
    if (ours) rmSync(POLICY, { force: true });
  }
  const started = hostServers(SERVERS).filter((p) => !before.includes(p));
  if (started.length > 0) {
    process.stderr.write(`the install started ${started.join(', ')} in the host's network namespace; stop that service, then run again\n`);
    process.exit(2);
  }
}
