import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasUserClass, UserClass, type UserClassValue } from './userclass.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

test("iPXE's bare `iPXE` decodes as bare and re-encodes as the same four bytes", () => {
  const v = UserClass.decode(bytes('69505845'));
  assert.deepEqual(v, { form: 'bare', text: 'iPXE' });
  assert.ok(hasUserClass(v!, 'iPXE'));
  assert.deepEqual(UserClass.encode(v!), bytes('69505845'));
});

test('RFC 3004 form from the tcpdump capture: three length-prefixed classes', () => {
  const wire = bytes('077375626f707431117375626f7074322d3132333435363738390a7375626f7074332d3132');
  const v = UserClass.decode(wire);
  assert.deepEqual(v, { form: 'rfc3004', classes: ['subopt1', 'subopt2-123456789', 'subopt3-12'] });
  assert.ok(!hasUserClass(v!, 'iPXE'));
  assert.ok(hasUserClass(v!, 'subopt1'));
  assert.deepEqual(UserClass.encode(v!), wire);
  assert.ok(hasUserClass(UserClass.decode(bytes('04695058450474657374'))!, 'iPXE'), 'iPXE inside an RFC 3004 list');
});

test('anything that does not split exactly into non-empty items is bare', () => {
  const table: [string, UserClassValue][] = [
    ['', { form: 'bare', text: '' }],
    ['00', { form: 'bare', text: '\0' }],
    ['0361', { form: 'bare', text: '\x03a' }],
    ['016100', { form: 'bare', text: '\x01a\0' }],
    ['0161', { form: 'rfc3004', classes: ['a'] }],
  ];
  for (const [hex, want] of table) assert.deepEqual(UserClass.decode(bytes(hex)), want, hex);
});

test('encode refuses values decode would read differently', () => {
  assert.throws(() => UserClass.encode({ form: 'bare', text: '\x01a' }), RangeError);
  assert.throws(() => UserClass.encode({ form: 'rfc3004', classes: [] }), RangeError);
  assert.throws(() => UserClass.encode({ form: 'rfc3004', classes: [''] }), RangeError);
  assert.throws(() => UserClass.encode({ form: 'rfc3004', classes: ['x'.repeat(256)] }), RangeError);
});
