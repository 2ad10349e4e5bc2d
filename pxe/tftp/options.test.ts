import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateOptions, type NegotiationLimits } from './options.ts';

const limits: NegotiationLimits = { maxBlksize: 1468, maxWindowsize: 64, timeoutMs: 1000 };
const opts = (o: Record<string, string>) => new Map(Object.entries(o));

test('negotiation table', () => {
  const cases: Array<[string, Record<string, string>, number | undefined, { blksize: number; windowsize: number; timeoutMs: number; oack: Record<string, string> }]> = [
    ['no options: RFC 1350 defaults, no OACK', {}, 100, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: {} }],
    ['EDK2 probe', { tsize: '0', blksize: '1468', windowsize: '4' }, 1_000_000, { blksize: 1468, windowsize: 4, timeoutMs: 1000, oack: { tsize: '1000000', blksize: '1468', windowsize: '4' } }],
    ['iPXE', { blksize: '1432', tsize: '0' }, 7, { blksize: 1432, windowsize: 1, timeoutMs: 1000, oack: { blksize: '1432', tsize: '7' } }],
    ['blksize above the server max is answered with the max', { blksize: '65464' }, 1, { blksize: 1468, windowsize: 1, timeoutMs: 1000, oack: { blksize: '1468' } }],
    ['blksize at the minimum', { blksize: '8' }, 1, { blksize: 8, windowsize: 1, timeoutMs: 1000, oack: { blksize: '8' } }],
    ['blksize far above RFC range still clamps', { blksize: '99999999999' }, 1, { blksize: 1468, windowsize: 1, timeoutMs: 1000, oack: { blksize: '1468' } }],
    ['tsize answers the real size whatever was sent', { tsize: '12345' }, 42, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: { tsize: '42' } }],
    ['tsize omitted when the size is unknown (netascii)', { tsize: '0' }, undefined, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: {} }],
    ['timeout honored', { timeout: '3' }, 1, { blksize: 512, windowsize: 1, timeoutMs: 3000, oack: { timeout: '3' } }],
    ['timeout 255 is the top', { timeout: '255' }, 1, { blksize: 512, windowsize: 1, timeoutMs: 255_000, oack: { timeout: '255' } }],
    ['timeout 0 ignored', { timeout: '0' }, 1, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: {} }],
    ['timeout 256 ignored', { timeout: '256' }, 1, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: {} }],
    ['windowsize clamped to the server max', { windowsize: '65535' }, 1, { blksize: 512, windowsize: 64, timeoutMs: 1000, oack: { windowsize: '64' } }],
    ['unknown options are left out of the OACK', { rollover: '0', utimeout: '5000', multicast: '' }, 1, { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: {} }],
    ['OACK keeps the request order', { windowsize: '8', foo: 'x', blksize: '1024' }, 1, { blksize: 1024, windowsize: 8, timeoutMs: 1000, oack: { windowsize: '8', blksize: '1024' } }],
  ];
  for (const [name, requested, size, want] of cases) {
    const r = negotiateOptions(opts(requested), size, limits);
    assert.ok(r.ok, name);
    const { oack, ...rest } = r.negotiated;
    assert.deepEqual({ ...rest, oack: [...oack] }, { ...want, oack: Object.entries(want.oack) }, name);
  }
});

test('refusals (ERROR 8) name the option', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ blksize: '7' }, 'blksize'],
    [{ blksize: '0' }, 'blksize'],
    [{ blksize: 'big' }, 'blksize'],
    [{ blksize: '-1' }, 'blksize'],
    [{ blksize: '' }, 'blksize'],
    [{ windowsize: '0' }, 'windowsize'],
    [{ tsize: 'x' }, 'tsize'],
    [{ timeout: '1.5' }, 'timeout'],
    [{ tsize: '0', blksize: '1e3' }, 'blksize'],
  ];
  for (const [requested, option] of cases) {
    const r = negotiateOptions(opts(requested), 1, limits);
    assert.equal(r.ok, false, JSON.stringify(requested));
    if (!r.ok) assert.equal(r.option, option);
  }
});

test('a server max above the MTU is honoured (jumbo frames)', () => {
  const r = negotiateOptions(opts({ blksize: '8192' }), 1, { ...limits, maxBlksize: 8952 });
  assert.ok(r.ok);
  assert.equal(r.negotiated.blksize, 8192);
});
