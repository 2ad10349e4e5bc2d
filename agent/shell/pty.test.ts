// The console channel's pseudo-terminal on this host: a real /bin/sh through node:ffi's ioctls and
// `setsid -c` — the same calls the discovery OS makes (there with busybox's sh and setsid).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPty, type Pty } from './pty.ts';
import { waitFor } from '../../test/lib/wait.ts';

const env = { TERM: 'xterm-256color', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/', PS1: '$ ' };

function watch(p: Pty) {
  let out = '';
  p.onData((d) => { out += d; });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => p.onExit((code, signal) => resolve({ code, signal })));
  const until = (re: RegExp) => waitFor(String(re), () => re.test(out), { quiet: true, seen: () => out });
  return { out: () => out, exit, until };
}

test('pty: a login shell on its own terminal runs commands, sees resizes, and exits with its status', async () => {
  const p = await openPty({ command: '/bin/sh', args: ['-l'], env, cwd: '/', cols: 100, rows: 30 });
  assert.match(p.path, /^\/dev\/pts\/\d+$/);
  assert.ok(p.pid > 0);
  const w = watch(p);
  // The pty is the shell's controlling terminal (setsid -c): `tty` names it, and the size set before
  // the shell started is the one it sees.
  p.write('tty; stty size; echo tether-$((6*7))\n');
  await w.until(/tether-42/);
  assert.match(w.out(), new RegExp(`${p.path}\\r\\n`));
  assert.match(w.out(), /30 100\r\n/);
  // The echo is the terminal's (cooked mode): the typed line comes back, then the output.
  assert.match(w.out(), /echo tether-\$\(\(6\*7\)\)/);

  p.resize(132, 43);
  p.write('stty size\n');
  await w.until(/43 132\r\n/);

  p.write('exit 7\n');
  assert.deepEqual(await w.exit, { code: 7, signal: null });
});

test('pty: ^C reaches the foreground job, not the shell; close hangs the shell up', async () => {
  const p = await openPty({ command: '/bin/sh', args: [], env, cwd: '/', cols: 80, rows: 24 });
  const w = watch(p);
  p.write('sleep 30; echo after-$((1+1))\n');
  await new Promise((r) => setTimeout(r, 300));
  p.write('\x03'); // the terminal turns ^C into SIGINT for the foreground process group only
  p.write('echo alive-$((2+3))\n');
  await w.until(/alive-5/);
  assert.doesNotMatch(w.out(), /after-2/);
  p.close();
  const e = await w.exit;
  assert.equal(e.signal, 'SIGHUP', JSON.stringify(e));
});

test('pty: output written just before the exit is not lost', async () => {
  const p = await openPty({ command: '/bin/sh', args: ['-c', 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exit 3'], env, cwd: '/', cols: 80, rows: 24 });
  const w = watch(p);
  assert.deepEqual(await w.exit, { code: 3, signal: null });
  assert.match(w.out(), /line-1999\r\n$/);
});

test('pty: a command that does not exist is an error, not a hang', async () => {
  const p = await openPty({ command: '/nonexistent/shell', args: [], env, cwd: '/', cols: 80, rows: 24 });
  // setsid itself starts; it is exec that fails, so the "shell" exits at once with a failure status.
  const w = watch(p);
  const e = await w.exit;
  assert.notEqual(e.code, 0);
});
