// The enrollment checks on a Machine view, as staff read them: a failing tunnel check with what to
// do about it, turning ok live — without a reload — when the cloud link's next verification
// writes new checks (seeded here through the same store function the cloud link uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, seedMachine, mac, type UiAppliance } from '../lib/ui.ts';
import type { Machine } from '../../appliance/store/store.ts';
import { saveEnrollmentChecks } from '../../appliance/store/enrollment-checks.ts';
import { nodeChecks, tunnelChecks } from '../../appliance/cloud/checks.ts';
import { tunnelFailure } from '../../appliance/cloud/verify.ts';
import { agentPod, fixture, nodeWithReady } from '../../appliance/cloud/testkit.ts';

let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;
let m: Machine;

const NODE = 'c1-node-01';
const HEALTHZ_OK = { status: 'ok', detail: 'Node proxy healthz through the API server answered ok', fix: null } as const;

/** What a verification pass of this node finds, the second replica's tunnel as given. */
function pass(second: 'no-agent' | 'ok') {
  const base = nodeChecks({
    nodeName: NODE, node: nodeWithReady('True', 'KubeletReady', 'kubelet is posting ready status', NODE), joining: null,
    agentPod: agentPod(NODE, 'Running'), now: Date.now(),
  });
  const noAgent = tunnelFailure(NODE, `konnectivity-agent-${NODE}`, 500, JSON.stringify(fixture('status-node-proxy-no-agent.json')));
  return [...base, ...tunnelChecks(2, [HEALTHZ_OK, second === 'ok' ? HEALTHZ_OK : noAgent])];
}

before(async () => {
  t = await uiAppliance();
  m = seedMachine(t.store, { mac: mac(0x300), zone: 'zone-a', rack: 'c1', hostname: NODE, state: 'enrolled' });
  saveEnrollmentChecks(t.store, m.id, NODE, pass('no-agent'), Date.now());
  b = await browser();
  page = await b.newPage();
});
after(async () => { await b?.dispose(); await t?.close(); });

test('ui: a viewer sees the machine\'s enrollment checks, the failing one with its fix, and it turns ok live', async () => {
  await logIn(page, t.url, 'viewer');
  await page.goto(`${t.url}/ui/machines/${m.id}`);
  const checks = page.getByTestId('enrollment-checks');
  const tunnel2 = checks.locator('[data-check="tunnel-2"]');
  await tunnel2.and(page.locator('[data-status="failing"]')).waitFor();
  assert.deepEqual(
    await checks.locator('[data-check]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-check')}:${e.getAttribute('data-status')}`)),
    ['node-registered:ok', 'node-ready:ok', 'agent-pod:ok', 'tunnel-1:ok', 'tunnel-2:failing'],
  );
  const text = await tunnel2.textContent() ?? '';
  assert.match(text, /Cloud reaches the node through the tunnel \(request 2 of 2\)/);
  assert.match(text, /No agent available: the konnectivity agent on c1-node-01 is not connected/);
  assert.match(text, /What to do: Check that the node can reach the konnectivity server's port \(usually 8132\)/);
  assert.equal(await checks.getByText('What to do').count(), 1, 'a fix only where something is wrong');
  await screenshot(page, 'machine-enrollment-failing');

  // A marker on the page's global object: a reload would drop it.
  await page.evaluate(() => { (globalThis as unknown as { notReloaded: boolean }).notReloaded = true; });
  assert.equal(saveEnrollmentChecks(t.store, m.id, NODE, pass('ok'), Date.now()), true, 'a change, so an event for the live feed');
  await tunnel2.and(page.locator('[data-status="ok"]')).waitFor();
  assert.equal(await checks.getByText('What to do').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
  await screenshot(page, 'machine-enrollment-ok');
});
