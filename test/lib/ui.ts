// Browser tests of the web UI: a real appliance app on a loopback port (in-memory store, temp data
// dir) and Debian's headless Chromium driven by playwright-core — no browser download.
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_UI_ROOT } from '../../appliance/http/ui.ts';
import { testAppliance, PASSWORD, type TestAppliance } from './appliance.ts';
import { allowedActors, type MachineState } from '../../appliance/lifecycle/states.ts';
import { transition, discover } from '../../appliance/lifecycle/lifecycle.ts';
import type { Machine, Role, Store } from '../../appliance/store/store.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = 'test-results/screenshots';

export interface UiAppliance extends TestAppliance { url: string; dataDir: string }

export async function uiAppliance(): Promise<UiAppliance> {
  if (!existsSync(join(DEFAULT_UI_ROOT, 'index.html'))) throw new Error('the web UI is not built: run `npm run build:ui` (npm ci does it)');
  const dataDir = await mkdtemp(join(tmpdir(), 'tether-ui-'));
  const t = await testAppliance({ dataDir });
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...t, url, dataDir, close: async () => { await t.close(); await rm(dataDir, { recursive: true, force: true }); } };
}

/** Chromium with a new empty profile; closing it removes the profile. */
export async function browser(): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'tether-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return Object.assign(ctx, { dispose: async () => { await ctx.close(); await rm(profile, { recursive: true, force: true }); } });
}

export async function logIn(page: Page, url: string, user: Role): Promise<void> {
  await page.goto(`${url}/ui/site`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(`${user} · ${user}`).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Moves a machine to `to` through the lifecycle, one legal step at a time, each by an actor allowed to make it. */
export function advance(store: Store, id: string, path: MachineState[]): Machine {
  let m = store.mustGetMachine(id);
  for (const to of path) {
    const actor = allowedActors(m.state as MachineState, to)[0];
    if (!actor) throw new Error(`no actor may move ${id} from ${m.state} to ${to}`);
    m = transition(store, id, to, { actor, actorName: actor === 'operator' ? 'seed' : null, reason: `seeded: ${to}` }).machine;
  }
  return m;
}

export const PATH_TO: Record<string, MachineState[]> = {
  discovered: [],
  inventoried: ['inventoried'],
  approved: ['inventoried', 'approved'],
  installing: ['inventoried', 'approved', 'installing'],
  installed: ['inventoried', 'approved', 'installing', 'installed'],
  enrolled: ['inventoried', 'approved', 'installing', 'installed', 'joining', 'enrolled'],
  ready: ['inventoried', 'approved', 'installing', 'installed', 'joining', 'enrolled', 'ready'],
  failed: ['inventoried', 'approved', 'installing', 'failed'],
};

export function seedMachine(store: Store, o: { mac: string; zone: string; rack: string; hostname: string; state: keyof typeof PATH_TO }): Machine {
  const { machine } = discover(store, { mac: o.mac, zone: o.zone, rack: o.rack, hostname: o.hostname, actor: 'dhcp' });
  return advance(store, machine.id, PATH_TO[o.state]);
}

export const mac = (n: number): string => `52:54:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
