// Shared by the cloud link's tests: Debian's real kubectl (1.20, unpacked, never the one on PATH),
// a throwaway CA made by openssl, a fresh store with a machine in a given state, a silent log.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { unpackDeb } from '../../images/debian/debs.ts';
import { Store } from '../store/store.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import type { MachineState } from '../lifecycle/states.ts';
import type { CloudLog } from './log.ts';

export async function debianKubectl(): Promise<string> {
  const { root } = await unpackDeb('kubernetes-client', join(process.cwd(), '.cache', 'debs'));
  return join(root, 'usr', 'bin', 'kubectl');
}

export async function opensslCa(dir: string, cn = 'kubernetes'): Promise<string> {
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', `/CN=${cn}`, '-days', '2'], { cwd: dir });
  return readFileSync(join(dir, 'ca.crt'), 'utf8');
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A machine placed directly in `state` (the test setup event is the store's, not a lifecycle move). */
export function machineIn(store: Store, state: MachineState, n: number, o: { hostname?: string; zone?: string; rack?: string } = {}): string {
  const mac = `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  const { machine } = discover(store, { mac, actor: 'dhcp', zone: o.zone ?? 'zone-a', rack: o.rack ?? null, hostname: o.hostname ?? null });
  if (state !== 'discovered') store.transition(machine.id, () => ({ to: state, actor: 'system', reason: 'test setup' }));
  return machine.id;
}

export const silentLog: CloudLog = { debug() {}, info() {}, warn() {}, error() {} };

/** A log that keeps what was said, for printing when a test fails. */
export function recordingLog(): CloudLog & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (obj: object, msg?: string) => { lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`); };
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

/** Polls until `check` returns a truthy value; prints how long it took (tests never assert on time). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) {
      console.log(`  waited ${Date.now() - t0} ms for ${what}`);
      return v as NonNullable<T>;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Short intervals for tests: probes every 100 ms, down after 2 misses, rounds every 100 ms. */
export const FAST = { probeMs: 100, probeTimeoutMs: 2000, maxBackoffMs: 400, downAfter: 2, verifyMs: 100, tunnelRecheckMs: 60_000, cacheMs: 60_000 };
