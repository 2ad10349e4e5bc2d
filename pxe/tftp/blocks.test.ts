import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netasciiBlocks, octetBlocks, toNetascii, type BlockProducer } from './blocks.ts';
import type { OpenFile } from './source.ts';

const fileOf = (data: Buffer): OpenFile => ({
  size: data.length,
  read: async (offset, length) => data.subarray(offset, offset + length),
  close: async () => {},
});

async function drain(produce: BlockProducer, count: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    const blocks = await produce(count);
    if (blocks.length === 0) return out;
    out.push(...blocks);
  }
}

test('octet blocks: a short last block, empty when the size is a multiple of blksize', async () => {
  const cases: Array<[number, number, number[]]> = [
    [0, 512, [0]],
    [1, 512, [1]],
    [511, 512, [511]],
    [512, 512, [512, 0]],
    [513, 512, [512, 1]],
    [1024, 512, [512, 512, 0]],
    [20, 8, [8, 8, 4]],
  ];
  for (const [size, blksize, lengths] of cases) {
    const data = Buffer.from(Array.from({ length: size }, (_, i) => i & 0xff));
    for (const count of [1, 2, 64]) {
      const blocks = await drain(octetBlocks(fileOf(data), blksize), count);
      assert.deepEqual(blocks.map((b) => b.length), lengths, `${size}/${blksize}/${count}`);
      assert.deepEqual(Buffer.concat(blocks), data);
    }
  }
});

test('octet blocks: a file that shrank after open is an error, never an early end', async () => {
  const file = { ...fileOf(Buffer.alloc(1000)), size: 2000 };
  await assert.rejects(drain(octetBlocks(file, 512), 4), /file shrank/);
});

test('netascii: LF becomes CR LF, CR becomes CR NUL', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  assert.deepEqual(toNetascii(Buffer.alloc(0)), Buffer.alloc(0));
});

test('netascii blocks: translated stream cut into blocks, short last block', async () => {
  const text = Buffer.from('line one\nline two\n'.repeat(100));
  const wire = toNetascii(text);
  for (const count of [1, 3]) {
    const blocks = await drain(netasciiBlocks(fileOf(text), 512), count);
    assert.deepEqual(Buffer.concat(blocks), wire);
    assert.ok(blocks.slice(0, -1).every((b) => b.length === 512));
    assert.equal(blocks.at(-1)!.length, wire.length % 512);
  }
  const exact = Buffer.from('x'.repeat(512));
  assert.deepEqual((await drain(netasciiBlocks(fileOf(exact), 512), 8)).map((b) => b.length), [512, 0]);
});
