// Roles in the browser: a viewer sees no action (and the API refuses one anyway); an admin manages
// users and opens the audited terminal on the appliance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, seedMachine, mac, type UiAppliance } from '../lib/ui.ts';
import type { Machine } from '../../appliance/store/store.ts';

let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;
let waiting: Machine;

before(async () => {
  t = await uiAppliance();
  waiting = seedMachine(t.store, { mac: mac(0x200), zone: 'zone-a', rack: 'a7', hostname: 'a7-node-01', state: 'inventoried' });
  seedMachine(t.store, { mac: mac(0x201), zone: 'zone-b', rack: 'b7', hostname: 'b7-node-01', state: 'ready' });
  b = await browser();
  page = await b.newPage();
});
after(async () => { await b?.dispose(); await t?.close(); });

test('ui: a viewer sees no action buttons, and the API refuses the action anyway', async () => {
  await logIn(page, t.url, 'viewer');
  await page.goto(`${t.url}/ui/machines/${waiting.id}`);
  await page.getByRole('heading', { name: 'a7-node-01' }).waitFor();
  await page.getByRole('region', { name: 'history' }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'actions' }).count(), 0);
  for (const name of ['Approve', 'Install', 'Wipe', 'Rescue', 'Re-install']) assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, name);
  await screenshot(page, 'machine-as-viewer');
  await page.getByRole('link', { name: 'Approval queue' }).click();
  await page.locator(`tr[data-machine-id="${waiting.id}"]`).waitFor();
  assert.equal(await page.getByRole('button', { name: /Approve/ }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Terminal' }).count(), 0);

  // The viewer's own session, with a valid CSRF token: still refused, by role.
  const r = await page.evaluate(async (id) => {
    const s = await (await fetch('/api/v1/session')).json() as { csrfToken: string };
    const res = await fetch(`/api/v1/machines/${id}/actions/approve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: '{}' });
    return { status: res.status, body: await res.json() as { error: string } };
  }, waiting.id);
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'forbidden');
  assert.equal(t.store.mustGetMachine(waiting.id).state, 'inventoried');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
});

test('ui: an admin adds a user and sees the generated password once', async () => {
  await logIn(page, t.url, 'admin');
  await page.getByRole('link', { name: 'Users' }).click();
  await page.locator('tr[data-user="viewer"]').waitFor();
  await page.getByLabel('new user name').fill('dana');
  await page.getByLabel('new user role').selectOption('operator');
  await page.getByRole('button', { name: 'Add user' }).click();
  const shown = page.getByTestId('new-password');
  await shown.waitFor();
  assert.match(await shown.textContent() ?? '', /Password for dana: \S{20} /);
  await page.locator('tr[data-user="dana"]').waitFor();
  assert.equal(t.store.getUser('dana')?.role, 'operator');
  await screenshot(page, 'users');
});

test('ui: the admin terminal runs a command on the appliance; the session is audited with a transcript', async () => {
  await page.getByRole('link', { name: 'Terminal' }).click();
  await page.getByTestId('terminal-status').filter({ hasText: 'session t-' }).waitFor();
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type('echo tether-$((6*7))\n');
  await page.locator('.xterm-rows').filter({ hasText: 'tether-42' }).waitFor({ timeout: 10_000 });
  await screenshot(page, 'terminal');
  const opened = t.store.listEvents({ kind: 'terminal' }).find((e) => e.reason === 'terminal session opened')!;
  assert.equal(opened.actorName, 'admin');
  const transcript = opened.data!.transcript as string;
  assert.ok(transcript.startsWith(`${t.dataDir}/terminal/`), transcript);

  // Leaving the page closes the shell and writes the closing event with the transcript.
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.getByLabel('kind').selectOption('terminal');
  await page.locator('tr[data-kind="terminal"]').filter({ hasText: 'terminal session closed' }).waitFor({ timeout: 10_000 });
  const closed = t.store.listEvents({ kind: 'terminal' })[0];
  assert.equal(closed.data!.transcript, transcript);
  assert.match(await readFile(transcript, 'utf8'), /tether-42/);
  await screenshot(page, 'audit-terminal');
});
