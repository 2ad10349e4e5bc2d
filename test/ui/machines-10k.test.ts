// The machines table at 10,000 machines: it renders, filters, searches and scrolls to the last row.
// Timings are printed for the reader, never asserted (tests do not judge wall-clock time).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, mac, type UiAppliance } from '../lib/ui.ts';
import { discover } from '../../appliance/lifecycle/lifecycle.ts';

const N = 10_000;
const RACKS_PER_ZONE = 25;
let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;

const rackOf = (i: number) => `${i % 2 ? 'b' : 'a'}-r${String(Math.floor(i / 2) % RACKS_PER_ZONE + 1).padStart(2, '0')}`;

before(async () => {
  t = await uiAppliance();
  const started = performance.now();
  // One transaction for the whole seed: 10,000 commits would measure the disk, not the UI.
  t.store.db.transaction(() => {
    for (let i = 0; i < N; i++) {
      discover(t.store, { mac: mac(0x10000 + i), zone: i % 2 ? 'zone-b' : 'zone-a', rack: rackOf(i), hostname: `node-${String(i).padStart(5, '0')}`, actor: 'dhcp' });
    }
  })();
  console.log(`machines-10k: seeded ${N} machines in ${Math.round(performance.now() - started)} ms`);
  b = await browser();
  page = await b.newPage();
});
after(async () => { await b?.dispose(); await t?.close(); });

const count = () => page.getByTestId('machine-count');

test('ui: the site view places 10,000 machines', async () => {
  const t0 = performance.now();
  await logIn(page, t.url, 'viewer');
  const tLoggedIn = performance.now();
  await page.getByText('site site · 10000 machines').waitFor({ timeout: 60_000 });
  await page.locator('[data-rack="b-r25"] .tile').first().waitFor();
  console.log(`machines-10k: logged in after ${Math.round(tLoggedIn - t0)} ms`);
  // Where the time went: the one tiles request (server + transfer) versus everything else (log in,
  // page load, parsing, React placing the tiles).
  const fetched = await page.evaluate(() => {
    const e = performance.getEntriesByType('resource').find((x) => x.name.endsWith('/api/v1/site/tiles')) as PerformanceResourceTiming | undefined;
    return e ? { ms: Math.round(e.responseEnd - e.requestStart), kib: Math.round(e.encodedBodySize / 1024) } : null;
  });
  assert.ok(fetched, 'the site view loads its tiles in one request');
  console.log(`machines-10k: site view (log in, fetch and place 10,000 tiles) ${Math.round(performance.now() - t0)} ms, of which the tiles request ${fetched.ms} ms (${fetched.kib} KiB)`);
  assert.equal(await page.locator('.tile').count(), N);
  await screenshot(page, 'site-10k');
});

test('ui: the machines table renders 10,000 machines and filters them on the server', async () => {
  let t0 = performance.now();
  await page.goto(`${t.url}/ui/machines`);
  await count().filter({ hasText: '10,000 machines' }).waitFor();
  await page.locator('[role=row][data-machine-id]').first().waitFor();
  const rendered = Math.round(performance.now() - t0);
  const rows = await page.locator('[role=row][data-machine-id]').count();
  assert.ok(rows > 10 && rows < 200, `only the visible rows are in the page (${rows})`);
  assert.equal(await page.locator('[role=row][data-machine-id] [role=cell]').first().textContent(), 'node-00000');

  t0 = performance.now();
  await page.getByLabel('rack').fill('a-r07');
  await count().filter({ hasText: '200 machines' }).waitFor();
  const filtered = Math.round(performance.now() - t0);
  assert.equal(await page.locator('[role=row][data-machine-id]').first().locator('[role=cell]').nth(3).textContent(), 'a-r07');
  await page.getByLabel('rack').fill('');
  await count().filter({ hasText: '10,000 machines' }).waitFor();

  t0 = performance.now();
  await page.getByLabel('search').fill('node-09999');
  await count().filter({ hasText: /^1 machine$/ }).waitFor();
  const searched = Math.round(performance.now() - t0);
  await page.getByLabel('search').fill('');
  await count().filter({ hasText: '10,000 machines' }).waitFor();

  // Sort descending by name and jump to the end of the list: the last page is fetched on demand.
  await page.getByRole('button', { name: 'Name' }).click();
  await page.getByRole('button', { name: 'Name ▼' }).waitFor();
  // The new order's first page must be in before the scroll: until it is, the table is empty (a
  // new sort starts at the top) and a scroll to its end goes nowhere.
  await page.locator('[role=row][aria-rowindex="1"][data-machine-id]').filter({ hasText: 'node-09999' }).waitFor();
  t0 = performance.now();
  await page.getByTestId('machines-scroller').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await page.locator('[role=row][aria-rowindex="10000"][data-machine-id]').waitFor();
  const scrolled = Math.round(performance.now() - t0);
  assert.equal(await page.locator('[role=row][aria-rowindex="10000"] [role=cell]').first().textContent(), 'node-00000');
  console.log(`machines-10k: table first render (page load included) ${rendered} ms, rack filter ${filtered} ms (incl. 250 ms typing debounce), search ${searched} ms (incl. debounce), scroll to row 10,000 ${scrolled} ms`);
  await page.getByTestId('machines-scroller').evaluate((el) => { el.scrollTop = 0; });
  await page.locator('[role=row][aria-rowindex="1"][data-machine-id]').waitFor();
  await screenshot(page, 'machines-10k');
});
