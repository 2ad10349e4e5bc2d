// The web UI as an operator uses it, in headless Chromium: log in, read the site, approve with a
// confirmation, watch changes arrive live, follow an install, work the approval queue, log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, seedMachine, advance, mac, type UiAppliance } from '../lib/ui.ts';
import type { Machine } from '../../appliance/store/store.ts';
import { waitFor } from '../lib/wait.ts';

let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;
const seeded: Record<string, Machine> = {};

// Two zones, racks as a technician cabled them; states chosen so every view has something to show.
const LAYOUT = [
  { hostname: 'a1-node-01', zone: 'zone-a', rack: 'a1', state: 'ready' },
  { hostname: 'a1-node-02', zone: 'zone-a', rack: 'a1', state: 'installed' },
  { hostname: 'a1-node-03', zone: 'zone-a', rack: 'a1', state: 'inventoried' },
  { hostname: 'a2-node-01', zone: 'zone-a', rack: 'a2', state: 'discovered' },
  { hostname: 'a2-node-02', zone: 'zone-a', rack: 'a2', state: 'failed' },
  { hostname: 'b1-node-01', zone: 'zone-b', rack: 'b1', state: 'inventoried' },
  { hostname: 'b1-node-02', zone: 'zone-b', rack: 'b1', state: 'inventoried' },
  { hostname: 'b1-node-03', zone: 'zone-b', rack: 'b1', state: 'installing' },
  { hostname: 'b2-node-01', zone: 'zone-b', rack: 'b2', state: 'ready' },
] as const;

before(async () => {
  t = await uiAppliance();
  LAYOUT.forEach((m, i) => { seeded[m.hostname] = seedMachine(t.store, { ...m, mac: mac(0x100 + i) }); });
  // A boot timeline for one machine: what the boot observers record.
  const id = seeded['a1-node-03'].id;
  for (const step of ['dhcp', 'tftp', 'script', 'kernel', 'initrd']) {
    t.store.appendEvent({ machineId: id, kind: 'boot', actor: step === 'dhcp' ? 'dhcp' : step === 'tftp' ? 'tftp' : 'http', reason: `${step}: ok`, data: { step } });
  }
  b = await browser();
  page = await b.newPage();
});
after(async () => { await b?.dispose(); await t?.close(); });

const tile = (hostname: string) => page.locator(`[data-machine-id="${seeded[hostname].id}"].tile`);

test('ui: log in; the site shows both zones side by side, machines in their racks, coloured by state', async () => {
  await page.goto(`${t.url}/`);
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  await screenshot(page, 'login');
  await logIn(page, t.url, 'operator');
  for (const m of LAYOUT) {
    const where = page.locator(`[data-zone="${m.zone}"] [data-rack="${m.rack}"] [data-machine-id="${seeded[m.hostname].id}"]`);
    await where.waitFor();
    assert.equal(await where.getAttribute('data-state'), m.state, m.hostname);
  }
  const zones = await page.locator('section.zone').evaluateAll((els) => els.map((e) => [e.getAttribute('data-zone'), Math.round(e.getBoundingClientRect().top)]));
  assert.deepEqual(zones.map((z) => z[0]), ['zone-a', 'zone-b']);
  assert.equal(zones[0][1], zones[1][1], 'zones side by side');
  assert.equal(await page.locator('[data-count-state="inventoried"]').textContent(), '3');
  assert.equal(await page.getByTestId('cloud-link').textContent(), 'cloud link: not configured (machines install but are not enrolled)');
  await screenshot(page, 'site');
});

test('ui: approve a machine behind a confirmation; changes by others arrive live, without reload', async () => {
  await tile('a1-node-03').click();
  await page.getByRole('heading', { name: 'a1-node-03' }).waitFor();
  assert.equal(await page.locator('[data-step="initrd"]').getAttribute('data-status'), 'reached');
  assert.equal(await page.locator('[data-step="agent"]').getAttribute('data-status'), 'waiting');
  assert.match(await page.getByTestId('inventory').textContent() ?? '', /Not yet reported/);
  // A marker on the page's global object: a reload would drop it.
  await page.evaluate(() => { (globalThis as unknown as { notReloaded: boolean }).notReloaded = true; });
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const words = await dialog.textContent() ?? '';
  assert.match(words, /a1-node-03/);
  assert.match(words, /disks will be erased/);
  await screenshot(page, 'confirm-approve');
  await dialog.getByRole('button', { name: 'Approve a1-node-03' }).click();
  await page.locator('.page-head .badge[data-state="approved"]').waitFor();
  assert.equal(t.store.mustGetMachine(seeded['a1-node-03'].id).state, 'approved');
  assert.equal(t.store.listEvents({ machineId: seeded['a1-node-03'].id })[0].actorName, 'operator');

  // Now another writer (here: the agent, through the lifecycle) changes machines while the site
  // view is open; the tiles follow without a reload.
  await page.getByRole('link', { name: 'Site' }).click();
  await tile('b1-node-01').waitFor();
  advance(t.store, seeded['b1-node-01'].id, ['approved']);
  advance(t.store, seeded['a2-node-01'].id, ['inventoried']);
  await page.locator(`[data-machine-id="${seeded['b1-node-01'].id}"][data-state="approved"]`).waitFor();
  await page.locator(`[data-machine-id="${seeded['a2-node-01'].id}"][data-state="inventoried"]`).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
});

test('ui: the install progress bar moves as the agent reports bytes written', async () => {
  const m = seeded['b1-node-03'];
  const total = 4 * 1024 ** 3;
  t.store.appendEvent({ machineId: m.id, kind: 'install', actor: 'agent', reason: 'writing image', data: { bytes: 0, total, rate: 0 } });
  await page.goto(`${t.url}/ui/machines/${m.id}`);
  const bar = page.getByRole('progressbar');
  await bar.waitFor();
  const seen: number[] = [Number(await bar.getAttribute('aria-valuenow'))];
  for (let step = 1; step <= 3; step++) {
    t.store.appendEvent({ machineId: m.id, kind: 'install', actor: 'agent', reason: 'writing image', data: { bytes: step * total / 4, total, rate: 120 * 1024 ** 2 } });
    // Polled from here: the page's CSP (rightly) forbids the string eval a waitForFunction would need.
    const before = seen.at(-1)!;
    let now = before;
    await waitFor(`the bar to move past ${before}%`, async () => (now = Number(await bar.getAttribute('aria-valuenow'))) > before, { everyMs: 50, seen: () => now });
    seen.push(now);
  }
  assert.deepEqual(seen, [0, 25, 50, 75]);
  assert.match(await page.locator('.progress-text').textContent() ?? '', /3\.0 GiB of 4\.0 GiB · 120 MiB\/s · about 9 s left/);
  await screenshot(page, 'machine-installing');
});

test('ui: the approval queue groups waiting machines by zone and rack and approves a rack at once', async () => {
  await page.getByRole('link', { name: 'Approval queue' }).click();
  const rack = page.locator('[data-rack="b1"]');
  await rack.waitFor();
  assert.equal(await rack.locator('tbody tr').count(), 1, 'b1-node-02 (b1-node-01 was approved above)');
  await screenshot(page, 'approvals');
  await rack.getByRole('button', { name: 'Approve rack b1' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Approve b1-node-02' }).click();
  await page.getByRole('status').filter({ hasText: '1 of 1 approved.' }).waitFor();
  await rack.waitFor({ state: 'detached' });
  assert.equal(t.store.mustGetMachine(seeded['b1-node-02'].id).state, 'approved');
});

test('ui: the audit view shows operator actions and filters by kind and actor', async () => {
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.locator('tr[data-kind="transition"]').first().waitFor();
  await page.getByLabel('kind').selectOption('auth');
  await page.locator('tr[data-kind="auth"]').first().waitFor();
  // The filtered page replaces the unfiltered one when its fetch lands: wait for that, then check.
  await page.waitForFunction((sel) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll(sel).length === 0, 'tbody tr:not([data-kind="auth"])', { timeout: 10_000 });
  assert.equal(await page.locator('tbody tr:not([data-kind="auth"])').count(), 0);
  await page.getByLabel('kind').selectOption('transition');
  await page.getByLabel('actor').selectOption('operator');
  await page.locator('tr[data-kind="transition"]').filter({ hasText: 'operator (operator)' }).first().waitFor();
  await screenshot(page, 'audit');
});

test('ui: a state-changing request without the CSRF header is refused, even with the session cookie', async () => {
  const id = seeded['a2-node-01'].id;
  const r = await page.evaluate(async (path) => {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    return { status: res.status, body: await res.json() as { error: string } };
  }, `/api/v1/machines/${id}/actions/approve`);
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'csrf_failed');
  assert.equal(t.store.mustGetMachine(id).state, 'inventoried');
});

test('ui: log out ends the session', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  const status = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
  assert.equal(status, 401);
});
