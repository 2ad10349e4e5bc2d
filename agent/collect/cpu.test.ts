import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FIXTURES } from '../fixtures/fake-host.ts';
import { cpuFrom, parseCpuinfo, parseLscpu } from './cpu.ts';

const fc = (f: string) => readFileSync(`${FIXTURES}/firecracker/${f}`, 'utf8');

test('cpu: lscpu -J (captured on this machine) gives model, topology and flags', () => {
  const cpu = cpuFrom(parseLscpu(fc('lscpu.json')), parseCpuinfo(fc('cpuinfo.txt')));
  assert.equal(cpu.model, 'AMD EPYC');
  assert.equal(cpu.vendor, 'AuthenticAMD');
  assert.equal(cpu.sockets, 1);
  assert.equal(cpu.cores, 2);
  assert.equal(cpu.threads, 2);
  assert.ok(Array.isArray(cpu.flags) && cpu.flags.includes('avx2') && cpu.flags.includes('lm'));
});

test('cpu: without lscpu, /proc/cpuinfo fills in: 2 sockets × 1 core, 4 threads', () => {
  const info = parseCpuinfo(readFileSync(`${FIXTURES}/server-uefi/cpuinfo.txt`, 'utf8'));
  const cpu = cpuFrom(new Error('lscpu not found'), info);
  assert.deepEqual({ ...cpu, flags: undefined }, {
    model: 'Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz', vendor: 'GenuineIntel', sockets: 2, cores: 2, threads: 4, flags: undefined,
  });
});

test('cpu: with neither source every field is absent and says why', () => {
  const cpu = cpuFrom(new Error('lscpu not found'), new Error('/proc/cpuinfo: no such file'));
  for (const v of Object.values(cpu)) assert.deepEqual(v, { absent: 'lscpu not found; /proc/cpuinfo: no such file' });
});

test('cpu: lscpu of util-linux ≥ 2.37 nests fields in sections', () => {
  const nested = JSON.stringify({ lscpu: [{ field: 'Architecture:', data: 'x86_64', children: [{ field: 'CPU op-mode(s):', data: '64-bit' }] },
    { field: 'Vendor ID:', data: 'GenuineIntel', children: [{ field: 'Model name:', data: 'Xeon', children: [{ field: 'Socket(s):', data: '2' }, { field: 'Core(s) per socket:', data: '16' }] }] },
    { field: 'CPU(s):', data: '64' }] });
  const cpu = cpuFrom(parseLscpu(nested), new Error('unused'));
  assert.equal(cpu.cores, 32);
  assert.equal(cpu.sockets, 2);
  assert.equal(cpu.threads, 64);
  assert.throws(() => parseLscpu('{}'), /no "lscpu" list/);
});
