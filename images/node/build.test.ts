// The CLI's refusals, which happen before anything is built (the build itself: boot.test.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

const CLI = new URL('./build.ts', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tether-node-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const cli = (...args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });

test('without --out: usage, exit 2', async () => {
  const r = await cli();
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /^usage: node images\/node\/build.ts --out DIR/);
});

test('a bad recipe file is refused with the field named, exit 2, nothing built', async () => {
  const recipe = join(work, 'recipe.json');
  writeFileSync(recipe, JSON.stringify({ kubelet: { binaries: 'relative/dir' } }));
  const r = await cli('--out', join(work, 'out'), '--key', join(work, 'key.pem'), '--recipe', recipe);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /recipe\.kubelet\.binaries: a directory must be an absolute path/);

  writeFileSync(recipe, '{ not json');
  const bad = await cli('--out', join(work, 'out'), '--recipe', recipe);
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /cannot read the recipe .*recipe\.json/);
});
