// The BOOTP/DHCP message: RFC 2131 §2's fixed header, RFC 2132's options after the magic cookie,
// RFC 2132 §9.3's option overload (options continued in `file` and `sname`) and RFC 3396's long
// options (several instances of one code, concatenated). Decoding never throws: a datagram off the
// wire either decodes or yields a typed error the packet loop can log and move past.
import { readIpv4, writeIpv4 } from '../net/ipv4.ts';
import { checkUint, joinBytes, readLatin1, writeLatin1, type Options } from './options/codec.ts';

export const OP = { Request: 1, Reply: 2 } as const;
/** RFC 2131 §2 figure 2: the client cannot receive unicast before it has its address. */
export const BROADCAST_FLAG = 0x8000;
/** RFC 951's message size (its vend field is 64 bytes), which RFC 1542 keeps as the minimum and
 *  some PXE ROMs and relays still enforce. */
export const BOOTP_MIN_SIZE = 300;

const SNAME = 44; // 64 bytes
const FILE = 108; // 128 bytes
const COOKIE = 236; // 99.130.83.99, RFC 2131 §3
const OPTIONS = 240;
const MAX_SIZE = 65535; // the largest UDP payload; option 57 allows no more either
const OVERLOAD = 52; // RFC 2132 §9.3: 1 = file holds options, 2 = sname, 3 = both
const PAD = 0;
const END = 255;

export type Packet = {
  readonly op: number;
  readonly htype: number;
  readonly hlen: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  /** The whole 16-byte field as decoded (encode zero-pads a shorter one); see hwAddr. */
  readonly chaddr: Uint8Array;
  /** Up to the first NUL; '' when the field carries options (overload). */
  readonly sname: string;
  readonly file: string;
  /** Raw option bytes by code, in order of first appearance; instances of one code concatenated
   *  (RFC 3396). Option 52 is framing, not content: it lives in `framing`. */
  readonly options: Options;
  /** Set by decodePacket only. */
  readonly framing?: Framing;
};

/**
 * How a decoded packet was laid out: pads, how each option was split, overload, bytes after the
 * end option, whatever followed the NUL in sname/file. encodePacket replays it as long as it still
 * fits the packet's content, so a packet off the wire re-encodes byte for byte; where the content
 * changed it lays the packet out afresh. The option bytes themselves always come from `options`.
 */
export type Framing = {
  readonly sname: Uint8Array;
  readonly file: Uint8Array;
  /** A plain BOOTP packet (RFC 951): no magic cookie, the vendor area kept as it came. */
  readonly vend?: Uint8Array;
  /** The options field, then file and sname when overloaded: RFC 3396 §5's aggregate order. */
  readonly areas: readonly OptionArea[];
};

export type OptionArea = { readonly field: 'options' | 'file' | 'sname'; readonly items: readonly AreaItem[]; readonly trailer: Uint8Array };
/** A run of pads, one option instance of `length` bytes, the overload option, or the end option. */
export type AreaItem = { readonly pad: number } | { readonly code: number; readonly length: number } | { readonly overload: number } | 'end';

export const DECODE_ERROR = {
  TooShort: 'packet-too-short',
  TooLong: 'packet-too-long',
  OptionTruncated: 'option-truncated',
  BadOverload: 'bad-option-overload',
} as const;

export type DhcpDecodeError = {
  readonly code: (typeof DECODE_ERROR)[keyof typeof DECODE_ERROR];
  readonly message: string;
  /** Byte offset in the datagram, where one applies. */
  readonly offset?: number;
};

export type DecodeResult = { readonly ok: true; readonly packet: Packet } | { readonly ok: false; readonly error: DhcpDecodeError };

const failure = (code: DhcpDecodeError['code'], message: string, offset?: number): DecodeResult => ({
  ok: false,
  error: offset === undefined ? { code, message } : { code, message, offset },
});

export function decodePacket(datagram: Uint8Array): DecodeResult {
  if (datagram.length < OPTIONS) return failure(DECODE_ERROR.TooShort, `${datagram.length} bytes, need at least ${OPTIONS}`);
  if (datagram.length > MAX_SIZE) return failure(DECODE_ERROR.TooLong, `${datagram.length} bytes, at most ${MAX_SIZE}`);
  // A plain view: a Buffer's slice() would alias the receive buffer instead of copying.
  const b = new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const header = {
    op: b[0],
    htype: b[1],
    hlen: b[2],
    hops: b[3],
    xid: ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0,
    secs: (b[8] << 8) | b[9],
    flags: (b[10] << 8) | b[11],
    ciaddr: readIpv4(b, 12),
    yiaddr: readIpv4(b, 16),
    siaddr: readIpv4(b, 20),
    giaddr: readIpv4(b, 24),
    chaddr: b.slice(28, 44),
  };
  const sname = b.slice(SNAME, FILE);
  const file = b.slice(FILE, COOKIE);
  if (b[COOKIE] !== 99 || b[COOKIE + 1] !== 130 || b[COOKIE + 2] !== 83 || b[COOKIE + 3] !== 99) {
    const framing: Framing = { sname, file, vend: b.slice(COOKIE), areas: [] };
    return { ok: true, packet: { ...header, sname: cString(sname), file: cString(file), options: new Map(), framing } };
  }

  const chunks = new Map<number, Uint8Array[]>();
  const areas: OptionArea[] = [];
  const main = readArea(b, 'options', OPTIONS, b.length, chunks);
  if ('code' in main) return { ok: false, error: main };
  areas.push(main.area);
  const overload = main.overload;
  // RFC 2132 §9.3 / RFC 3396 §5: file is read before sname.
  for (const [bit, field, start, end] of [[1, 'file', FILE, COOKIE], [2, 'sname', SNAME, FILE]] as const) {
    if ((overload & bit) === 0) continue;
    const more = readArea(b, field, start, end, chunks);
    if ('code' in more) return { ok: false, error: more };
    areas.push(more.area);
  }
  const options = new Map<number, Uint8Array>();
  for (const [code, parts] of chunks) options.set(code, joinBytes(parts));
  return {
    ok: true,
    packet: {
      ...header,
      sname: overload & 2 ? '' : cString(sname),
      file: overload & 1 ? '' : cString(file),
      options,
      framing: { sname, file, areas },
    },
  };
}

function readArea(
  b: Uint8Array,
  field: OptionArea['field'],
  start: number,
  end: number,
  chunks: Map<number, Uint8Array[]>,
): { area: OptionArea; overload: number } | DhcpDecodeError {
  const items: AreaItem[] = [];
  let overload = 0;
  let i = start;
  while (i < end) {
    const code = b[i];
    if (code === PAD) {
      const last = items.at(-1);
      if (typeof last === 'object' && 'pad' in last) items[items.length - 1] = { pad: last.pad + 1 };
      else items.push({ pad: 1 });
      i++;
      continue;
    }
    if (code === END) {
      items.push('end');
      return { area: { field, items, trailer: b.slice(i + 1, end) }, overload };
    }
    if (i + 2 > end || i + 2 + b[i + 1] > end) {
      return { code: DECODE_ERROR.OptionTruncated, message: `option ${code} in ${field} runs past the field`, offset: i };
    }
    const length = b[i + 1];
    if (code === OVERLOAD) {
      const value = b[i + 2];
      if (field !== 'options' || overload !== 0 || length !== 1 || value < 1 || value > 3) {
        return { code: DECODE_ERROR.BadOverload, message: `option 52 in ${field}: length ${length}, value ${value}`, offset: i };
      }
      overload = value;
      items.push({ overload: value });
    } else {
      items.push({ code, length });
      const data = b.subarray(i + 2, i + 2 + length);
      const seen = chunks.get(code);
      if (seen) seen.push(data);
      else chunks.set(code, [data]);
    }
    i += 2 + length;
  }
  // No end option: tolerated when the options exactly fill the field.
  return { area: { field, items, trailer: new Uint8Array(0) }, overload };
}

/**
 * Fresh layout: the fixed header, the options in map order (split into 255-byte instances,
 * RFC 3396), an end option, then zeros up to `minSize` (default 300, the BOOTP minimum some
 * clients still enforce). A decoded packet whose options, sname and file still match its framing
 * re-encodes exactly as it came instead, at its own size. Throws RangeError for a value the wire
 * cannot carry (bad address, oversized field, option code 0, 52 or 255): a programming error.
 */
export function encodePacket(p: Packet, { minSize = BOOTP_MIN_SIZE }: { minSize?: number } = {}): Uint8Array {
  const framed = p.framing && replayFraming(p, p.framing);
  const body = framed ?? freshBody(p, minSize);
  writeHeader(p, body);
  return body;
}

function writeHeader(p: Packet, b: Uint8Array): void {
  b[0] = checkUint(p.op, 8, 'op');
  b[1] = checkUint(p.htype, 8, 'htype');
  b[2] = checkUint(p.hlen, 8, 'hlen');
  b[3] = checkUint(p.hops, 8, 'hops');
  const xid = checkUint(p.xid, 32, 'xid');
  b[4] = xid >>> 24;
  b[5] = (xid >>> 16) & 0xff;
  b[6] = (xid >>> 8) & 0xff;
  b[7] = xid & 0xff;
  b[8] = checkUint(p.secs, 16, 'secs') >> 8;
  b[9] = p.secs & 0xff;
  b[10] = checkUint(p.flags, 16, 'flags') >> 8;
  b[11] = p.flags & 0xff;
  writeIpv4(p.ciaddr, b, 12);
  writeIpv4(p.yiaddr, b, 16);
  writeIpv4(p.siaddr, b, 20);
  writeIpv4(p.giaddr, b, 24);
  if (p.chaddr.length > 16) throw new RangeError(`chaddr: ${p.chaddr.length} bytes, the field holds 16`);
  b.fill(0, 28, 44);
  b.set(p.chaddr, 28);
}

function freshBody(p: Packet, minSize: number): Uint8Array {
  const opts: number[] = [];
  for (const [code, data] of p.options) {
    if (!Number.isInteger(code) || code <= PAD || code >= END || code === OVERLOAD) {
      throw new RangeError(`option code ${code} is framing, not an option`);
    }
    for (let at = 0; at === 0 || at < data.length; at += 255) {
      const chunk = data.subarray(at, at + 255);
      opts.push(code, chunk.length, ...chunk);
    }
  }
  opts.push(END);
  const size = Math.max(minSize, OPTIONS + opts.length);
  if (size > MAX_SIZE) throw new RangeError(`packet of ${size} bytes exceeds ${MAX_SIZE}`);
  const b = new Uint8Array(size);
  b.set(fieldBytes(p.sname, 64, 'sname'), SNAME);
  b.set(fieldBytes(p.file, 128, 'file'), FILE);
  b.set([99, 130, 83, 99], COOKIE);
  b.set(opts, OPTIONS);
  return b;
}

/** The packet laid out as its framing says, or undefined once the content no longer fits it. */
function replayFraming(p: Packet, f: Framing): Uint8Array | undefined {
  if (f.vend) {
    if (p.options.size > 0) return undefined;
    const b = new Uint8Array(COOKIE + f.vend.length);
    b.set(keptField(f.sname, p.sname, 64, 'sname'), SNAME);
    b.set(keptField(f.file, p.file, 128, 'file'), FILE);
    b.set(f.vend, COOKIE);
    return b;
  }
  const written = new Map<number, number>(); // bytes of each option's value laid out so far
  const laid: Partial<Record<OptionArea['field'], Uint8Array>> = {};
  for (const area of f.areas) {
    const out = new Uint8Array(area.items.reduce((n, item) => n + itemSize(item), area.trailer.length));
    let at = 0;
    for (const item of area.items) {
      if (item === 'end') out[at] = END;
      else if ('overload' in item) out.set([OVERLOAD, 1, item.overload], at);
      else if ('code' in item) {
        const data = p.options.get(item.code);
        const done = written.get(item.code) ?? 0;
        if (!data || done + item.length > data.length) return undefined;
        out.set([item.code, item.length], at);
        out.set(data.subarray(done, done + item.length), at + 2);
        written.set(item.code, done + item.length);
      } // pads: already zero
      at += itemSize(item);
    }
    out.set(area.trailer, at);
    laid[area.field] = out;
  }
  // Every option fully laid out, first seen in the order the map holds them.
  if (written.size !== p.options.size) return undefined;
  const order = [...written.keys()];
  let k = 0;
  for (const [code, data] of p.options) if (order[k++] !== code || written.get(code) !== data.length) return undefined;
  if ((laid.file && (p.file !== '' || laid.file.length !== 128)) || (laid.sname && (p.sname !== '' || laid.sname.length !== 64))) {
    return undefined;
  }
  const options = laid.options ?? new Uint8Array(0);
  const b = new Uint8Array(OPTIONS + options.length);
  b.set(laid.sname ?? keptField(f.sname, p.sname, 64, 'sname'), SNAME);
  b.set(laid.file ?? keptField(f.file, p.file, 128, 'file'), FILE);
  b.set([99, 130, 83, 99], COOKIE);
  b.set(options, OPTIONS);
  return b;
}

function itemSize(item: AreaItem): number {
  if (item === 'end') return 1;
  if ('pad' in item) return item.pad;
  if ('overload' in item) return 3;
  return 2 + item.length;
}

/** The field as it came (bytes after the NUL included) while its text is unchanged. */
function keptField(raw: Uint8Array, text: string, size: number, name: string): Uint8Array {
  return raw.length === size && cString(raw) === text ? raw : fieldBytes(text, size, name);
}

function fieldBytes(text: string, size: number, name: string): Uint8Array {
  const bytes = writeLatin1(text);
  if (bytes.length > size || bytes.includes(0)) throw new RangeError(`${name}: ${JSON.stringify(text)} does not fit ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(bytes);
  return out;
}

function cString(field: Uint8Array): string {
  const nul = field.indexOf(0);
  return readLatin1(nul === -1 ? field : field.subarray(0, nul));
}

/** The client's hardware address as `aa:bb:cc:dd:ee:ff`: the first hlen bytes of chaddr. */
export function hwAddr(p: Packet): string {
  return [...p.chaddr.subarray(0, Math.min(p.hlen, 16))].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
