// A shell on a machine in the discovery OS, from its page in the browser: the machine's agent is the
// real console channel (agent/shell/channel.ts, its pty running this host's /bin/sh) connected to
// the appliance with the machine's boot token. Admins get a Shell section while the agent is
// connected; nobody else does, and a machine without a connected agent shows none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { uiAppliance, browser, logIn, screenshot, seedMachine, mac, type UiAppliance } from '../lib/ui.ts';
import type { Machine } from '../../appliance/store/store.ts';
import { mintBootToken } from '../../appliance/auth/boot-tokens.ts';
import { consoleChannel, type ConsoleChannel } from '../../agent/shell/channel.ts';
import { waitFor } from '../lib/wait.ts';

let t: UiAppliance;
let b: BrowserContext & { dispose(): Promise<void> };
let page: Page;
let inDiscovery: Machine;
let installed: Machine;
let agent: ConsoleChannel;

const until = (pred: () => boolean, what: string) => waitFor(what, pred, { quiet: true });

before(async () => {
  t = await uiAppliance();
  inDiscovery = seedMachine(t.store, { mac: mac(0x300), zone: 'zone-a', rack: 'a9', hostname: 'a9-node-01', state: 'inventoried' });
  installed = seedMachine(t.store, { mac: mac(0x301), zone: 'zone-a', rack: 'a9', hostname: 'a9-node-02', state: 'ready' });
  agent = consoleChannel({ url: t.url, token: mintBootToken(t.store, inDiscovery.id), mac: inDiscovery.bootMac, mode: 'discovery', write: false }, { log: () => {} });
  agent.start();
  await until(() => agent.connected, 'the agent\'s console channel');
  b = await browser();
  page = await b.newPage();
});
after(async () => { await agent?.stop('test over'); await b?.dispose(); await t?.close(); });

test('ui: an operator sees no Shell on a machine, even while its agent is connected', { timeout: 60_000 }, async () => {
  await logIn(page, t.url, 'operator');
  await page.goto(`${t.url}/ui/machines/${inDiscovery.id}`);
  await page.getByRole('region', { name: 'history' }).waitFor();
  await page.getByRole('region', { name: 'actions' }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'shell' }).count(), 0);
  await page.getByRole('button', { name: 'Log out' }).click();
});

test('ui: an admin opens a shell on a machine in the discovery OS from its page, runs a command, and the session is audited', { timeout: 90_000 }, async () => {
  await logIn(page, t.url, 'admin');
  // No agent, no shell: the installed machine boots from its disk.
  await page.goto(`${t.url}/ui/machines/${installed.id}`);
  await page.getByRole('region', { name: 'history' }).waitFor();
  await new Promise((r) => setTimeout(r, 500)); // the agent status answer is in by now
  assert.equal(await page.getByRole('region', { name: 'shell' }).count(), 0);

  await page.goto(`${t.url}/ui/machines/${inDiscovery.id}`);
  const shell = page.getByRole('region', { name: 'shell' });
  await shell.getByRole('button', { name: 'Open a shell on a9-node-01' }).click();
  await shell.getByTestId('terminal-status').filter({ hasText: 'Shell on a9-node-01 · session t-' }).waitFor();
  assert.equal(agent.sessions, 1);
  await shell.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type('echo tether-$((6*7))\n');
  await shell.locator('.xterm-rows').filter({ hasText: 'tether-42' }).waitFor({ timeout: 10_000 });
  // The opening is in the machine's own history, live.
  await page.getByRole('region', { name: 'history' }).getByText('terminal session opened').waitFor();
  await screenshot(page, 'machine-terminal');

  const opened = t.store.listEvents({ kind: 'terminal', machineId: inDiscovery.id }).find((e) => e.reason === 'terminal session opened')!;
  assert.equal(opened.actorName, 'admin');
  const transcript = opened.data!.transcript as string;
  assert.ok(transcript.startsWith(`${t.dataDir}/terminal/`), transcript);

  await shell.getByRole('button', { name: 'Close the shell' }).click();
  await until(() => agent.sessions === 0, 'the shell on the machine to end');
  await until(() => t.store.listEvents({ kind: 'terminal', machineId: inDiscovery.id })[0].reason === 'terminal session closed: browser disconnected', 'the close event');
  assert.match(await readFile(transcript, 'utf8'), /tether-42/);
  await shell.getByRole('button', { name: 'Open a shell on a9-node-01' }).waitFor();
});
