import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLdd } from './rootfs.ts';

test('ldd: libraries with paths, the loader, no vDSO; missing ones named', () => {
  // ldd of Node 26 from the npm `node` package, on this machine.
  const node = `\tlinux-vdso.so.1 (0x00007f17fe991000)
\tlibatomic.so.1 => /lib/x86_64-linux-gnu/libatomic.so.1 (0x00007f17fe973000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f17fe600000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f17fe41e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f17fe993000)
`;
  assert.deepEqual(parseLdd(node), {
    libraries: ['/lib/x86_64-linux-gnu/libatomic.so.1', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'],
    missing: [],
  });
  assert.deepEqual(parseLdd('\tlibmnl.so.0 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n'), { libraries: ['/lib/x86_64-linux-gnu/libc.so.6'], missing: ['libmnl.so.0'] });
  assert.deepEqual(parseLdd('\tnot a dynamic executable\n'), { libraries: [], missing: [] });
});
