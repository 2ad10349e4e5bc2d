// The README's test command. Runs every *.test.ts under the project's source dirs with node's own
// runner and fails when nothing ran: a green run that executed 0 tests proves nothing.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { glob } from 'node:fs/promises';
import process from 'node:process';

const roots = ['appliance', 'pxe', 'images', 'agent', 'test'];
const only = process.argv.slice(2);
const files: string[] = [];
for (const root of roots) {
  for await (const f of glob(`${root}/**/*.test.ts`)) {
    if (f.includes('node_modules')) continue;
    if (only.length && !only.some((o) => f.includes(o))) continue;
    files.push(f);
  }
}
files.sort();

// Failure until proven otherwise: if the run never reaches 'end' (a test left a promise pending and
// the event loop drained), the process must not exit 0.
process.exitCode = 1;
let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: Number(process.env.TEST_CONCURRENCY ?? 2) });
stream.on('test:pass', (t) => { if (t.details.type !== 'suite') passed++; });
stream.on('test:fail', (t) => { if (t.details.type !== 'suite') failed++; });
stream.compose(spec).pipe(process.stdout);
stream.on('end', () => {
  if (passed + failed === 0) {
    console.error('test/run: 0 tests ran; refusing to report success');
    process.exitCode = 1;
  } else {
    process.exitCode = failed > 0 ? 1 : 0;
  }
});
