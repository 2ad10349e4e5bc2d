// The Machine page shows the hardware the agent reported: identity, CPU, memory, each disk and NIC,
// and facts the agent could not read as "unknown" with its reason — never as a made-up value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, seedMachine, mac, type UiAppliance } from '../lib/ui.ts';
import { collectInventory } from '../../agent/inventory.ts';
import { fakeHost, loadFixture } from '../../agent/fixtures/fake-host.ts';
import { factValue, type Disk, type Inventory } from '../../agent/protocol.ts';
import { saveInventory } from '../../appliance/store/inventory.ts';

let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;
let inv: Inventory;
let id: string;

before(async () => {
  t = await uiAppliance();
  inv = await collectInventory(fakeHost(loadFixture('server-uefi')), { now: () => new Date('2026-05-01T00:00:00Z') });
  // One fact the agent could not read, as the firmware sometimes denies it.
  inv = { ...inv, tpm: { ...inv.tpm, version: { absent: 'no /sys/class/tpm/tpm0' } } };
  const m = seedMachine(t.store, { mac: mac(0x900), zone: 'zone-a', rack: 'a9', hostname: 'inv-node-01', state: 'inventoried' });
  saveInventory(t.store, m.id, inv, { uuid: null, serial: factValue(inv.system.serial), nics: [] });
  id = m.id;
  b = await browser();
  page = await b.newPage();
});
after(async () => { await b?.dispose(); await t?.close(); });

test('ui: the machine page lists the reported hardware, unknown facts with the agent\'s reason', async () => {
  await logIn(page, t.url, 'viewer');
  await page.goto(`${t.url}/ui/machines/${id}`);
  const section = page.getByTestId('inventory');
  await page.getByTestId('disks').waitFor();
  const text = await section.textContent() ?? '';
  assert.ok(text.includes(String(factValue(inv.cpu.model))), 'CPU model shown');
  for (const d of factValue(inv.disks) as Disk[]) {
    const serial = factValue(d.serial);
    if (serial) assert.ok((await page.getByTestId('disks').textContent())!.includes(serial), `disk ${serial}`);
  }
  assert.equal(await page.getByTestId('disks').locator('tbody tr').count(), (factValue(inv.disks) as Disk[]).length);
  assert.equal(await page.getByTestId('nics').locator('tbody tr').count(), factValue(inv.nics)!.length);
  assert.match(text, /unknown \(no \/sys\/class\/tpm\/tpm0\)/);
  await screenshot(page, 'machine-inventory');
});
