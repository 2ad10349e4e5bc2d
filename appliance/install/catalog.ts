// The image catalog: node OS images the appliance can install, from `images.catalog` in the config.
// Each entry is a directory with manifest.json and the compressed image beside it. An image is
// offered only if its manifest is sound and signed by this appliance's key: a manifest copied in
// from elsewhere, or edited after signing, is listed with its problem and never handed to an agent.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TetherConfig } from '../config/load.ts';
import { MANIFEST_FILE, manifestProblems, signatureProblem, type ImageManifest, type SigningKey } from '../../images/manifest.ts';

export interface CatalogImage {
  name: string;
  dir: string;
  zones: string[];
  manifest: ImageManifest | null;
  /** Why the image cannot be installed; null when it can. */
  problem: string | null;
}

export interface Catalog {
  images: CatalogImage[];
  get(name: string): CatalogImage | undefined;
  /** The zone's default image, or why there is none. */
  forZone(zone: string | null): { image: CatalogImage & { manifest: ImageManifest } } | { problem: string };
}

function readEntry(e: { name: string; path: string; zones: string[] }, key: SigningKey): CatalogImage {
  const dir = resolve(e.path);
  const base = { name: e.name, dir, zones: e.zones };
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return { ...base, manifest: null, problem: `no ${MANIFEST_FILE} in ${dir} (build one with images/node/build.ts)` };
  let m: ImageManifest;
  try { m = JSON.parse(readFileSync(path, 'utf8')) as ImageManifest; } catch (err) {
    return { ...base, manifest: null, problem: `${path} is not JSON: ${(err as Error).message}` };
  }
  const problems = manifestProblems(m);
  if (problems.length) return { ...base, manifest: null, problem: `${path}: ${problems.join('; ')}` };
  const sig = signatureProblem(m, key.publicKey);
  if (sig) return { ...base, manifest: m, problem: sig };
  const file = join(dir, m.compressed.file);
  if (!existsSync(file)) return { ...base, manifest: m, problem: `the image file ${file} is missing` };
  if (statSync(file).size !== m.compressed.size) return { ...base, manifest: m, problem: `${file} is ${statSync(file).size} bytes; the manifest says ${m.compressed.size}` };
  return { ...base, manifest: m, problem: null };
}

/** `key` may be null only when the catalog is empty (nothing to verify). */
export function loadCatalog(config: TetherConfig, key: SigningKey | null): Catalog {
  if (!key && config.images.catalog.length) throw new Error('a catalog with images needs the signing key');
  const images = config.images.catalog.map((e) => readEntry(e, key!));
  const byName = new Map(images.map((i) => [i.name, i]));
  const usable = (i: CatalogImage | undefined): i is CatalogImage & { manifest: ImageManifest } => !!i && !i.problem && !!i.manifest;
  return {
    images,
    get: (name) => byName.get(name),
    forZone(zone) {
      // The zone's own default; a catalog of one image is everyone's default.
      const chosen = images.find((i) => zone !== null && i.zones.includes(zone)) ?? (images.length === 1 ? images[0] : undefined);
      if (!chosen) {
        return { problem: images.length === 0 ? 'the image catalog is empty: add a node OS image to images.catalog' : `no default image for zone ${zone ?? '(none)'}: list the zone in one image's images.catalog[].zones` };
      }
      if (!usable(chosen)) return { problem: `image ${chosen.name} cannot be installed: ${chosen.problem}` };
      return { image: chosen };
    },
  };
}
