// node images/node/build.ts --out DIR [--key PATH] [--recipe FILE.json] [--cache DIR]
// Builds the node OS image into DIR: <name>.raw.zst and its signed manifest.json. For the appliance,
// DIR is a catalog entry's path and --key its image-signing key.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import process from 'node:process';
import { loadOrCreateSigningKey } from '../manifest.ts';
import { buildNodeImage } from './builder.ts';
import { parseRecipe, RecipeError } from './recipe.ts';

const USAGE = 'usage: node images/node/build.ts --out DIR [--key PATH] [--recipe FILE.json] [--cache DIR]\n';
const CACHE = new URL('../../.cache', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    key: { type: 'string' },
    recipe: { type: 'string' },
    cache: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.out) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  let input: unknown = {};
  if (values.recipe) {
    try { input = JSON.parse(readFileSync(values.recipe, 'utf8')); } catch (e) { throw new Error(`cannot read the recipe ${values.recipe}: ${(e as Error).message}`); }
  }
  const recipe = parseRecipe(input);
  const key = loadOrCreateSigningKey(resolve(values.key ?? `${CACHE}/keys/image-signing.key`));
  const r = await buildNodeImage({ recipe, out: resolve(values.out), cache: resolve(values.cache ?? CACHE), signingKey: key.privateKey, log: (m) => process.stdout.write(`${m}\n`) });
  process.stdout.write(`built ${recipe.name} in ${(r.tookMs / 1000).toFixed(0)} s: raw ${r.sizes.raw} bytes, compressed ${r.sizes.compressed} bytes (sha256 ${r.manifest.compressed.sha256}), signed by key ${key.keyId}\n`);
} catch (e) {
  process.stderr.write(`node image build failed: ${e instanceof RecipeError ? e.message : (e as Error).message}\n`);
  process.exit(e instanceof RecipeError ? 2 : 1);
}
