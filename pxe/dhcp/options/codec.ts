// Typed option values. A packet keeps every option as raw bytes (instances of one code already
// concatenated, RFC 3396); a codec is a typed view of one code, so an option we cannot parse never
// stops a packet from decoding, and an option we do not know survives untouched.
import { readIpv4, writeIpv4 } from '../../net/ipv4.ts';

export type Options = ReadonlyMap<number, Uint8Array>;

export type OptionCodec<T> = {
  readonly code: number;
  readonly name: string;
  /** undefined when the bytes hold no valid value. Never throws. */
  decode(data: Uint8Array): T | undefined;
  /** Throws RangeError for a value the wire cannot carry: a programming error, never input. */
  encode(value: T): Uint8Array;
};

export function getOption<T>(options: Options, codec: OptionCodec<T>): T | undefined {
  const data = options.get(codec.code);
  return data === undefined ? undefined : codec.decode(data);
}

/** A copy of `options` with `codec`'s value set; an existing code keeps its position. */
export function setOption<T>(options: Options, codec: OptionCodec<T>, value: T): Map<number, Uint8Array> {
  return new Map(options).set(codec.code, codec.encode(value));
}

/** A sub-option inside an encapsulating option, e.g. the relay agent's circuit-id inside 82. */
export function getSubOption<T>(options: Options, outer: OptionCodec<Options>, inner: OptionCodec<T>): T | undefined {
  const sub = getOption(options, outer);
  return sub === undefined ? undefined : getOption(sub, inner);
}

// Option text is bytes (RFC 2132 says NVT ASCII, firmware sends what it likes): latin1 maps each
// byte to one character and back, so nothing is lost either way.
export function readLatin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export function writeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`not latin1 text: ${JSON.stringify(text)}`);
    out[i] = c;
  }
  return out;
}

/** A plain Uint8Array copy: slicing a Buffer would give a Buffer (or, with Buffer#slice, a view of
 *  the receive pool), and values compare and deep-equal as plain byte arrays. */
export function copyBytes(bytes: Uint8Array, start?: number, end?: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

export function checkUint(value: number, bits: 8 | 16 | 32, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${what}: ${value} is not a uint${bits}`);
  }
  return value;
}

export function ipv4Option(code: number, name: string): OptionCodec<string> {
  return {
    code,
    name,
    decode: (d) => (d.length === 4 ? readIpv4(d, 0) : undefined),
    encode: (ip) => {
      const out = new Uint8Array(4);
      writeIpv4(ip, out, 0);
      return out;
    },
  };
}

export function ipv4ListOption(code: number, name: string): OptionCodec<string[]> {
  return {
    code,
    name,
    decode: (d) => {
      if (d.length % 4 !== 0) return undefined;
      const ips: string[] = [];
      for (let i = 0; i < d.length; i += 4) ips.push(readIpv4(d, i));
      return ips;
    },
    encode: (ips) => {
      const out = new Uint8Array(ips.length * 4);
      ips.forEach((ip, i) => writeIpv4(ip, out, i * 4));
      return out;
    },
  };
}

function uintOption(code: number, name: string, size: 1 | 2 | 4): OptionCodec<number> {
  return {
    code,
    name,
    decode: (d) => {
      if (d.length !== size) return undefined;
      let v = 0;
      for (const b of d) v = v * 256 + b;
      return v;
    },
    encode: (v) => {
      checkUint(v, (size * 8) as 8 | 16 | 32, name);
      const out = new Uint8Array(size);
      for (let i = size - 1; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
      return out;
    },
  };
}

export const uint8Option = (code: number, name: string): OptionCodec<number> => uintOption(code, name, 1);
export const uint16Option = (code: number, name: string): OptionCodec<number> => uintOption(code, name, 2);
export const uint32Option = (code: number, name: string): OptionCodec<number> => uintOption(code, name, 4);

export function int8Option(code: number, name: string): OptionCodec<number> {
  return {
    code,
    name,
    decode: (d) => (d.length === 1 ? (d[0] << 24) >> 24 : undefined),
    encode: (v) => {
      if (!Number.isInteger(v) || v < -128 || v > 127) throw new RangeError(`${name}: ${v} is not an int8`);
      return Uint8Array.of(v & 0xff);
    },
  };
}

export function uint8ListOption(code: number, name: string): OptionCodec<number[]> {
  return {
    code,
    name,
    decode: (d) => [...d],
    encode: (list) => Uint8Array.from(list, (v) => checkUint(v, 8, name)),
  };
}

export function uint16ListOption(code: number, name: string): OptionCodec<number[]> {
  return {
    code,
    name,
    decode: (d) => {
      if (d.length % 2 !== 0) return undefined;
      const list: number[] = [];
      for (let i = 0; i < d.length; i += 2) list.push(d[i] * 256 + d[i + 1]);
      return list;
    },
    encode: (list) => {
      const out = new Uint8Array(list.length * 2);
      list.forEach((v, i) => {
        checkUint(v, 16, name);
        out[i * 2] = v >> 8;
        out[i * 2 + 1] = v & 0xff;
      });
      return out;
    },
  };
}

/** RFC 2132 §2: text options carry no trailing NUL, but receivers must drop one if present. */
export function textOption(code: number, name: string): OptionCodec<string> {
  return {
    code,
    name,
    decode: (d) => {
      let end = d.length;
      while (end > 0 && d[end - 1] === 0) end--;
      return readLatin1(d.subarray(0, end));
    },
    encode: (text) => {
      if (text.endsWith('\0')) throw new RangeError(`${name}: trailing NUL would be dropped on decode`);
      return writeLatin1(text);
    },
  };
}

export function bytesOption(code: number, name: string): OptionCodec<Uint8Array> {
  return { code, name, decode: (d) => copyBytes(d), encode: (v) => copyBytes(v) };
}

/**
 * Sub-options inside one option: PXE's vendor options in 43 (PXE 2.1), iPXE's 175, the relay
 * agent's 82 (RFC 3046 §2.0). `padEnd`: codes 0 and 255 are pad and end as in the options field
 * itself (PXE, iPXE); RFC 3046 sub-options have neither. `terminate`: encode closes with an end
 * (PXE 2.1 asks for one; iPXE sends none). Repeated sub-options concatenate and long ones split,
 * the RFC 3396 rule for options, so any map round-trips.
 */
export function encapsulatedOption(
  code: number,
  name: string,
  framing: { readonly padEnd: boolean; readonly terminate: boolean },
): OptionCodec<Options> {
  return {
    code,
    name,
    decode: (d) => {
      const sub = new Map<number, Uint8Array>();
      for (let i = 0; i < d.length; ) {
        const c = d[i];
        if (framing.padEnd && c === 0) {
          i++;
          continue;
        }
        if (framing.padEnd && c === 255) break;
        if (i + 2 > d.length || i + 2 + d[i + 1] > d.length) return undefined;
        const data = d.subarray(i + 2, i + 2 + d[i + 1]);
        const seen = sub.get(c);
        sub.set(c, seen === undefined ? copyBytes(data) : joinBytes([seen, data]));
        i += 2 + d[i + 1];
      }
      return sub;
    },
    encode: (sub) => {
      const parts: number[] = [];
      for (const [c, data] of sub) {
        if (!Number.isInteger(c) || c < 0 || c > 255 || (framing.padEnd && (c === 0 || c === 255))) {
          throw new RangeError(`${name}: sub-option code ${c} cannot be carried`);
        }
        let at = 0;
        do {
          const chunk = data.subarray(at, at + 255);
          parts.push(c, chunk.length, ...chunk);
          at += 255;
        } while (at < data.length);
      }
      if (framing.terminate) parts.push(255);
      return Uint8Array.from(parts);
    },
  };
}

export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
