// The web UI: the single-page app Vite built into appliance/ui/dist (at install, by postinstall),
// served from memory. Static assets and the app's page are the only open routes here — the page
// holds no data; everything it shows comes from /api/v1 with the user's session.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UiOptions {
  /** The built app; defaults to appliance/ui/dist beside this module. */
  root?: string;
}

export const UI_BASE = '/ui/';
export const DEFAULT_UI_ROOT = fileURLToPath(new URL('../ui/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

// The app loads only its own scripts and talks only to its own origin (API, live stream, terminal
// socket). Inline styles are allowed: React style attributes and xterm.js set them.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tether — web UI not built</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto;line-height:1.5">
<h1>The Tether web UI has not been built</h1>
<p>The appliance is running and its API answers under <code>/api/v1</code>, but the pages of the web UI are missing
(<code>appliance/ui/dist</code>). They are built when Tether is installed:</p>
<pre>npm ci          # installs and builds everything
npm run build:ui  # builds only the web UI</pre>
<p>Then restart the appliance.</p></body></html>`;

interface Asset { body: Buffer; type: string }

/** Every file under assets/ by name; Vite puts a content hash in each name, so they never change. */
function loadAssets(root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const dir = join(root, 'assets');
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(dir, name)), type });
  }
  return assets;
}

export default async function uiPlugin(app: FastifyInstance, o: UiOptions = {}): Promise<void> {
  const root = o.root ?? DEFAULT_UI_ROOT;
  const indexPath = join(root, 'index.html');
  const index = existsSync(indexPath) ? readFileSync(indexPath) : null;
  const assets = index ? loadAssets(root) : new Map<string, Asset>();
  if (!index) app.log.warn({ root }, 'web UI not built: serving a page that says how to build it');

  const page = (reply: FastifyReply) => reply.status(index ? 200 : 503).headers(PAGE_HEADERS).send(index ?? NOT_BUILT);

  app.get('/', { config: { access: 'open' } }, async (_request, reply) => reply.redirect(UI_BASE));

  // Any path of the app (/ui/site, /ui/machines/m-…) gets the page; the app routes on the client.
  // `/ui` too: with ignoreTrailingSlash, `/ui/` arrives as `/ui`, which `/ui/*` does not match.
  for (const url of ['/ui', `${UI_BASE}*`]) app.get(url, { config: { access: 'open' } }, async (_request, reply) => page(reply));

  app.get(`${UI_BASE}assets/:file`, { config: { access: 'open' } }, async (request, reply) => {
    const a = assets.get((request.params as { file: string }).file);
    if (!a) return reply.status(404).send({ error: 'not_found', message: 'no such UI asset', details: null });
    return reply.headers({ 'content-type': a.type, 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' }).send(a.body);
  });
}
