// The TFTP server inside a network namespace against real clients (curl, tftp-hpa, atftp) and the
// scripted client for what they cannot do (EDK2's probe, a retransmitted RRQ, source checks).
// Lab: namespace srv (10.252.1.1/24 and 10.252.2.1/24 on one link, like a host with an address per
// zone) and namespace cli (10.252.1.2/24, plus .100-.199 for a boot storm from 100 machines; it
// reaches 10.252.2.0/24 over the same link, so a server replying from a socket on 0.0.0.0 would
// answer from 10.252.1.1 — the routing table's choice — where 10.252.2.1 was asked).
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import type { GetResult } from './fixtures/client.ts';

const SERVE = join(import.meta.dirname, 'fixtures', 'serve.ts');
const CLIENT = join(import.meta.dirname, 'fixtures', 'client.ts');
const ZONE_A = '10.252.1.1';
const ZONE_B = '10.252.2.1';

let lab: Lab;
let srv: string;
let cli: string;
let server: Spawned;
let root: string;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const fileSha = (name: string): string => sha(readFileSync(join(root, name)));

/** A command in the client namespace; returns its status and output instead of throwing. */
function run(cmd: string, args: string[], timeoutMs = 30_000): { status: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', cli, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The scripted client, run in the client namespace. */
function scripted(spec: Record<string, unknown>): Array<Omit<GetResult, 'data'> & { sha256?: string; bytes?: number }> {
  const r = run(process.execPath, [CLIENT, JSON.stringify({ server: ZONE_A, ...spec })]);
  assert.equal(r.status, 0, r.out);
  return r.out.trim().split('\n').map((l) => JSON.parse(l));
}

function serverLines(): Array<Record<string, unknown>> {
  return server.output().split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l));
}

/** The server's stdout is a pipe: its log lines arrive a little after the client is done. */
async function logged(what: string, pred: (lines: Array<Record<string, unknown>>) => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred(serverLines())) {
    if (Date.now() > deadline) assert.fail(`no server log line: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Fetches with a real client, prints its time, checks the bytes. */
function fetchIdentical(t: { diagnostic(m: string): void }, what: string, file: string, cmd: string, args: (out: string) => string[], timeoutMs?: number): void {
  const out = join(lab.dir, `out-${randomBytes(4).toString('hex')}`);
  const started = performance.now();
  const r = run(cmd, args(out), timeoutMs);
  t.diagnostic(`${what}: ${Math.round(performance.now() - started)} ms`);
  assert.equal(r.status, 0, `${what}: ${r.out}`);
  assert.equal(sha(readFileSync(out)), fileSha(file), what);
}

describe('tftp server in a network namespace with real clients', { timeout: 60_000 }, () => {
  before(async () => {
    lab = new Lab('tftp');
    srv = lab.ns('srv');
    cli = lab.ns('cli');
    lab.veth(cli, 'eth0', srv, 'eth0', { cidrA: '10.252.1.2/24', cidrB: `${ZONE_A}/24` });
    lab.exec(srv, 'ip', ['addr', 'add', `${ZONE_B}/24`, 'dev', 'eth0']);
    for (let i = 100; i < 200; i++) lab.exec(cli, 'ip', ['addr', 'add', `10.252.1.${i}/24`, 'dev', 'eth0']);
    lab.exec(cli, 'ip', ['route', 'add', '10.252.2.0/24', 'dev', 'eth0', 'src', '10.252.1.2']);
    root = join(lab.dir, 'root');
    mkdirSync(join(root, 'a'), { recursive: true });
    writeFileSync(join(root, 'big.bin'), randomBytes(3 * 1024 * 1024 + 123));
    writeFileSync(join(root, 'dup.bin'), randomBytes(512 * 1024));
    writeFileSync(join(root, 'storm.bin'), randomBytes(1024 * 1024 + 7));
    writeFileSync(join(root, 'huge.bin'), randomBytes(33 * 1024 * 1024)); // 67584 blocks of 512
    writeFileSync(join(root, 'grub.cfg'), 'set timeout=1\nmenuentry "node" {\n  linux /vmlinuz\n}\n'.repeat(50));
    symlinkSync('/etc/passwd', join(root, 'passwd'));
    server = lab.spawn(srv, process.execPath, [SERVE, root, `${ZONE_A},${ZONE_B}`], { logName: 'tftp-server' });
    await server.waitFor('"ready"');
  });
  after(async () => {
    await lab?.teardown();
  });

  test('curl fetches byte-identical files at blksize 512 and 1468', (t) => {
    fetchIdentical(t, 'curl blksize 512', 'big.bin', 'curl', (out) => ['-sS', '--tftp-blksize', '512', '-o', out, `tftp://${ZONE_A}/big.bin`]);
    fetchIdentical(t, 'curl blksize 1468', 'big.bin', 'curl', (out) => ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${ZONE_A}/big.bin`]);
  });

  test('tftp-hpa fetches byte-identical files (octet), and text in netascii', (t) => {
    fetchIdentical(t, 'tftp-hpa octet', 'big.bin', 'tftp', (out) => ['-m', 'binary', ZONE_A, '-c', 'get', 'big.bin', out]);
    // tftp-hpa's default mode is netascii: it turns our CR LF back into LF.
    fetchIdentical(t, 'tftp-hpa netascii', 'grub.cfg', 'tftp', (out) => [ZONE_A, '-c', 'get', 'grub.cfg', out]);
  });

  test('atftp fetches byte-identical files at blksize 1468 and windowsize 16', (t) => {
    fetchIdentical(t, 'atftp blksize 1468', 'big.bin', 'atftp', (out) => ['--option', 'blksize 1468', '-g', '-r', 'big.bin', '-l', out, ZONE_A]);
    fetchIdentical(t, 'atftp windowsize 16', 'big.bin', 'atftp', (out) => ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', 'big.bin', '-l', out, ZONE_A]);
  });

  test('a file over 65535 blocks rolls block numbers over (curl, blksize 512)', (t) => {
    fetchIdentical(t, 'curl 33 MiB at blksize 512', 'huge.bin', 'curl', (out) => ['-sS', '--tftp-blksize', '512', '-o', out, `tftp://${ZONE_A}/huge.bin`], 40_000);
  });

  test('traversal attempts get an ERROR and a log line each', async () => {
    const attempts: Array<[string, number, string]> = [
      ['../etc/passwd', 2, 'access-violation'],
      ['/etc/passwd', 1, 'not-found'], // a leading slash means the root: there is no etc/ in it
      ['a/../../x', 2, 'access-violation'],
      ['passwd', 2, 'access-violation'], // a symlink in the root pointing at /etc/passwd
      ['..\\..\\etc\\passwd', 2, 'access-violation'],
    ];
    for (const [file, code, reason] of attempts) {
      const [r] = scripted({ file });
      assert.equal(r.error?.code, code, file);
      await logged(file, (lines) => lines.some((l) => l.file === file && l.reason === reason && String(l.client).startsWith('10.252.1.2:')));
    }
    // And as a real client sees it.
    const hpa = run('tftp', ['-m', 'binary', ZONE_A, '-c', 'get', 'passwd', join(lab.dir, 'stolen')]);
    assert.match(hpa.out, /Error code 2/);
    assert.doesNotMatch(readFileSync(join(lab.dir, 'stolen'), 'utf8'), /root:/);
  });

  test('a missing file is ERROR 1 and the server keeps serving', (t) => {
    const missing = run('curl', ['-sS', '-o', '/dev/null', `tftp://${ZONE_A}/missing.efi`]);
    assert.equal(missing.status, 68, missing.out); // curl: "TFTP: File Not Found"
    const atftp = run('atftp', ['-g', '-r', 'missing.efi', '-l', join(lab.dir, 'm'), ZONE_A]);
    assert.match(atftp.out, /no such file/);
    fetchIdentical(t, 'curl after a miss', 'big.bin', 'curl', (out) => ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${ZONE_A}/big.bin`]);
  });

  test('write requests are refused', async () => {
    const src = join(lab.dir, 'upload.bin');
    writeFileSync(src, 'payload');
    const curl = run('curl', ['-sS', '-T', src, `tftp://${ZONE_A}/upload.bin`]);
    assert.notEqual(curl.status, 0, curl.out);
    const hpa = run('tftp', ['-m', 'binary', ZONE_A, '-c', 'put', src, 'upload.bin']);
    assert.match(hpa.out, /Error code 2: writes are not allowed/);
    assert.equal(existsSync(join(root, 'upload.bin')), false);
    await logged('two write refusals', (lines) => lines.filter((l) => l.reason === 'write-refused').length === 2);
  });

  test('100 concurrent curl clients from 100 addresses all get identical bytes', async (t) => {
    const started = performance.now();
    const outs = Array.from({ length: 100 }, (_, i) => join(lab.dir, `storm-${i}`));
    const procs = outs.map((out, i) => lab.spawn(cli, 'curl', ['-sS', '--interface', `10.252.1.${100 + i}`, '--tftp-blksize', '1468', '-o', out, `tftp://${ZONE_A}/storm.bin`], { logName: 'storm' }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    t.diagnostic(`100 × ${readFileSync(join(root, 'storm.bin')).length} octets: ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(codes, Array(100).fill(0), procs.map((p) => p.output()).join(''));
    const want = fileSha('storm.bin');
    for (const out of outs) assert.equal(sha(readFileSync(out)), want, out);
  });

  test('EDK2 probe: OACK with tsize, ERROR 8, re-request completes; the server stays healthy', () => {
    const size = readFileSync(join(root, 'big.bin')).length;
    const [probe] = scripted({ file: 'big.bin', options: { tsize: '0', blksize: '1468', windowsize: '4' }, probe: true });
    assert.deepEqual(probe.oack, { tsize: String(size), blksize: '1468', windowsize: '4' });
    const [real] = scripted({ file: 'big.bin', options: { blksize: '1468', windowsize: '4' } });
    assert.equal(real.sha256, fileSha('big.bin'));
    const [ipxe] = scripted({ file: 'big.bin', options: { blksize: '1432', tsize: '0' } });
    assert.equal(ipxe.sha256, fileSha('big.bin'));
    assert.equal(server.proc.exitCode, null);
    assert.ok(!serverLines().some((l) => l.level === 'error'));
  });

  test('a retransmitted RRQ from the same port does not start a second transfer', async () => {
    const [r] = scripted({ file: 'dup.bin', options: { blksize: '1468' }, duplicateRequest: true });
    assert.equal(r.sha256, fileSha('dup.bin'));
    assert.equal(r.sources.length, 1, `answered from ${r.sources.join(', ')}`);
    await logged('duplicate-request', (lines) => lines.some((l) => l.reason === 'duplicate-request'));
    const transfers = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.event === 'transfer' && l.file === 'dup.bin').length;
    await logged('one transfer', (lines) => transfers(lines) === 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(transfers(serverLines()), 1);
  });

  test('replies come from the address the request was sent to', async () => {
    // Control: a socket on 0.0.0.0 in the server namespace answers from the routing table's choice.
    const echo = lab.spawn(srv, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(7007,'0.0.0.0',()=>console.log('ready'))`]);
    await echo.waitFor('ready');
    const control = run(process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log(r.address);process.exit(0)});s.send('x',7007,'${ZONE_B}');setTimeout(()=>process.exit(2),3000)`]);
    assert.equal(control.out.trim(), ZONE_A, 'the lab must make a wildcard socket answer from the wrong address');
    echo.kill();
    for (const [to, options] of [[ZONE_B, {}], [ZONE_B, { blksize: '1468', windowsize: '8', tsize: '0' }], [ZONE_A, { blksize: '1468' }]] as const) {
      const [r] = scripted({ server: to, file: 'big.bin', options });
      assert.equal(r.sha256, fileSha('big.bin'));
      assert.equal(r.sources.length, 1);
      assert.match(r.sources[0], new RegExp(`^${to.replaceAll('.', '\\.')}:\\d+$`), `reply to a request for ${to}`);
    }
    // The virtual per-machine file sees which address was asked, and who asked.
    const out = join(lab.dir, 'machine.ipxe');
    assert.equal(run('curl', ['-sS', '-o', out, `tftp://${ZONE_B}/machine.ipxe`]).status, 0);
    assert.equal(readFileSync(out, 'utf8'), `#!ipxe\necho 10.252.1.2 asked ${ZONE_B}\n`);
  });
});
