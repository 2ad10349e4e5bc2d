// /api/v1/images: the artifact catalog an operator checks before racking servers — which node OS
// images can be installed (and why not, when one cannot), which zone each is the default for, and
// the discovery OS the boot path serves (its manifest: kernel, Node, agent, sizes, sha256).
import type { FastifyInstance } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TetherConfig } from '../../config/load.ts';
import { artifactsDir } from '../../config/paths.ts';
import type { Catalog } from '../../install/catalog.ts';
import { errorResponses } from '../errors.ts';

export interface ImagesApiOptions { config: TetherConfig; catalog: Catalog }

/** The discovery OS's manifest beside its kernel, or why there is none. */
function discoveryManifest(config: TetherConfig): { manifest: Record<string, unknown> | null; problem: string | null } {
  const path = join(artifactsDir(config), dirname(config.boot.discovery.initrd), 'manifest.json');
  if (!existsSync(path)) return { manifest: null, problem: `no ${path}: build it with images/discovery/build.ts --out ${dirname(path)}` };
  try {
    return { manifest: JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>, problem: null };
  } catch (e) {
    return { manifest: null, problem: `${path} is not JSON: ${(e as Error).message}` };
  }
}

export default async function imagesApi(app: FastifyInstance, o: ImagesApiOptions): Promise<void> {
  if (!o.config || !o.catalog) throw new Error('images API needs the config and the catalog');
  app.get('/api/v1/images', { config: { access: 'viewer' }, schema: { response: errorResponses } }, async () => ({
    images: o.catalog.images.map((i) => ({
      name: i.name,
      zones: i.zones,
      installable: i.problem === null,
      problem: i.problem,
      createdAt: i.manifest?.createdAt ?? null,
      raw: i.manifest?.raw ?? null,
      compressed: i.manifest ? { size: i.manifest.compressed.size, sha256: i.manifest.compressed.sha256 } : null,
      signedBy: i.manifest?.signature?.keyId ?? null,
      contents: i.manifest?.contents ?? {},
    })),
    defaults: Object.fromEntries(o.config.zones.map((z) => {
      const c = o.catalog.forZone(z.name);
      return [z.name, 'image' in c ? c.image.name : null];
    })),
    discovery: discoveryManifest(o.config),
  }));
}
