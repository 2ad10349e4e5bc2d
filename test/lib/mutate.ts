// Byte-level mutations of golden inputs for the decoders' fuzz tests: bit flips, overwrites,
// truncations, insertions and deletions, as fast-check arbitraries (so failures shrink).
import fc from 'fast-check';

const byte = fc.integer({ min: 0, max: 255 });

export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: byte }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: byte }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

export function mutate(original: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = [...original];
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip') b[at] ^= 1 << m.bit;
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b.splice(at, 0, m.value);
    else b.splice(at, 1);
  }
  return Uint8Array.from(b);
}
