// Option 77, user class. RFC 3004 §4 makes it a list of length-prefixed classes, but iPXE (and
// gPXE before it) sends one bare string, e.g. `iPXE` = 69 50 58 45. The two are told apart by
// parsing: the value is RFC 3004 only if it splits exactly into non-empty length-prefixed items.
// A bare printable string almost never does (its first byte would have to equal the remaining
// length, e.g. 'iPXE' would need 0x69 = 105 more bytes), and the form decoded is kept so that a
// value re-encodes as it came.
import { readLatin1, writeLatin1, type OptionCodec } from './codec.ts';

export type UserClassValue =
  | { readonly form: 'rfc3004'; readonly classes: readonly string[] }
  | { readonly form: 'bare'; readonly text: string };

function parseRfc3004(d: Uint8Array): string[] | undefined {
  const classes: string[] = [];
  for (let i = 0; i < d.length; i += 1 + d[i]) {
    if (d[i] === 0 || i + 1 + d[i] > d.length) return undefined;
    classes.push(readLatin1(d.subarray(i + 1, i + 1 + d[i])));
  }
  return classes.length > 0 ? classes : undefined;
}

export const UserClass: OptionCodec<UserClassValue> = {
  code: 77,
  name: 'user-class',
  decode: (d) => {
    const classes = parseRfc3004(d);
    return classes ? { form: 'rfc3004', classes } : { form: 'bare', text: readLatin1(d) };
  },
  encode: (v) => {
    if (v.form === 'bare') {
      const bytes = writeLatin1(v.text);
      // Such a string would decode as a list: refuse it rather than send something else.
      if (parseRfc3004(bytes)) throw new RangeError(`user-class: bare ${JSON.stringify(v.text)} reads as RFC 3004`);
      return bytes;
    }
    if (v.classes.length === 0) throw new RangeError('user-class: RFC 3004 needs at least one class');
    const parts: number[] = [];
    for (const c of v.classes) {
      const bytes = writeLatin1(c);
      if (bytes.length < 1 || bytes.length > 255) throw new RangeError(`user-class: class of ${bytes.length} bytes`);
      parts.push(bytes.length, ...bytes);
    }
    return Uint8Array.from(parts);
  },
};

/** True when the user class names `name` in either form, e.g. hasUserClass(v, 'iPXE'). */
export function hasUserClass(v: UserClassValue, name: string): boolean {
  return v.form === 'bare' ? v.text === name : v.classes.includes(name);
}
