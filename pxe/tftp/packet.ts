// TFTP packet codec: RFC 1350 (RRQ, WRQ, DATA, ACK, ERROR) and RFC 2347 (options, OACK).
// Every packet comes from the network and is untrusted: decodeTftp never throws, it returns a typed
// error with a stable code. encodeTftp throws only on a packet this program built wrongly.

export type TransferMode = 'netascii' | 'octet' | 'mail';

/** Option names are lowercased on decode (RFC 2347: case-insensitive); the Map keeps wire order. */
export type TftpOptions = Map<string, string>;

export type TftpPacket =
  | { op: 'RRQ'; filename: string; mode: TransferMode; options: TftpOptions }
  | { op: 'WRQ'; filename: string; mode: TransferMode; options: TftpOptions }
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: TftpOptions };

export type DecodeErrorCode =
  | 'too-short'
  | 'unknown-opcode'
  | 'request-too-long'
  | 'unterminated-string'
  | 'bad-string'
  | 'empty-filename'
  | 'bad-mode'
  | 'missing-option-value'
  | 'duplicate-option'
  | 'trailing-bytes'
  | 'bad-length';

export interface DecodeError { code: DecodeErrorCode; message: string }
export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; error: DecodeError };

/** RFC 1350 error codes, plus 8 from RFC 2347. */
export const TftpError = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionRefused: 8,
} as const;

const OPCODES = ['RRQ', 'WRQ', 'DATA', 'ACK', 'ERROR', 'OACK'] as const;
/** RFC 2347: a request, options included, must fit in 512 octets. */
export const MAX_REQUEST = 512;
/** RFC 2348's largest block size. */
export const MAX_DATA = 65464;
const MODES: readonly TransferMode[] = ['netascii', 'octet', 'mail'];

export function decodeTftp(buf: Uint8Array): DecodeResult {
  if (buf.length < 2) return fail('too-short', `${buf.length} bytes`);
  const opcode = (buf[0] << 8) | buf[1];
  const op = OPCODES[opcode - 1];
  switch (op) {
    case 'RRQ':
    case 'WRQ':
      return decodeRequest(op, buf);
    case 'DATA': {
      if (buf.length < 4) return fail('too-short', `DATA of ${buf.length} bytes`);
      if (buf.length > 4 + MAX_DATA) return fail('bad-length', `DATA payload of ${buf.length - 4} bytes`);
      return { ok: true, packet: { op, block: u16(buf, 2), data: Buffer.from(buf.subarray(4)) } };
    }
    case 'ACK':
      if (buf.length !== 4) return fail('bad-length', `ACK of ${buf.length} bytes`);
      return { ok: true, packet: { op, block: u16(buf, 2) } };
    case 'ERROR': {
      if (buf.length < 4) return fail('too-short', `ERROR of ${buf.length} bytes`);
      return { ok: true, packet: { op, code: u16(buf, 2), message: errorMessage(buf.subarray(4)) } };
    }
    case 'OACK': {
      const options = decodeOptions(buf, 2);
      return options.ok ? { ok: true, packet: { op, options: options.options } } : options;
    }
    default:
      return fail('unknown-opcode', `opcode ${opcode}`);
  }
}

function decodeRequest(op: 'RRQ' | 'WRQ', buf: Uint8Array): DecodeResult {
  if (buf.length > MAX_REQUEST) return fail('request-too-long', `${op} of ${buf.length} bytes`);
  const filename = readString(buf, 2);
  if (!filename.ok) return filename;
  if (filename.value === '') return fail('empty-filename', `${op} without a filename`);
  const mode = readString(buf, filename.next);
  if (!mode.ok) return mode;
  const m = mode.value.toLowerCase() as TransferMode;
  if (!MODES.includes(m)) return fail('bad-mode', `mode ${JSON.stringify(mode.value)}`);
  const options = decodeOptions(buf, mode.next);
  if (!options.ok) return options;
  return { ok: true, packet: { op, filename: filename.value, mode: m, options: options.options } };
}

// Options are name/value string pairs to the end of the packet. Some PXE ROMs pad requests with
// NULs (tftp-hpa tolerates it too), so an empty name ends the list if only NULs follow it.
function decodeOptions(buf: Uint8Array, at: number): { ok: true; options: TftpOptions } | { ok: false; error: DecodeError } {
  const options: TftpOptions = new Map();
  while (at < buf.length) {
    if (buf[at] === 0) {
      if (buf.subarray(at).some((b) => b !== 0)) return fail('trailing-bytes', `junk after a NUL at offset ${at}`);
      break;
    }
    const name = readString(buf, at);
    if (!name.ok) return name;
    if (name.next >= buf.length) return fail('missing-option-value', `option ${JSON.stringify(name.value)} has no value`);
    const value = readString(buf, name.next);
    if (!value.ok) return value;
    const key = name.value.toLowerCase();
    if (options.has(key)) return fail('duplicate-option', `option ${JSON.stringify(key)} given twice`);
    options.set(key, value.value);
    at = value.next;
  }
  return { ok: true, options };
}

// Filenames, modes and options are NUL-terminated netascii: printable ASCII only, so nothing a
// client sends can smuggle control characters into paths or logs.
function readString(buf: Uint8Array, at: number): { ok: true; value: string; next: number } | { ok: false; error: DecodeError } {
  const end = buf.indexOf(0, at);
  if (end < 0) return fail('unterminated-string', `no NUL after offset ${at}`);
  for (let i = at; i < end; i++) {
    if (buf[i] < 0x20 || buf[i] > 0x7e) return fail('bad-string', `byte 0x${buf[i].toString(16)} at offset ${i}`);
  }
  return { ok: true, value: Buffer.from(buf.subarray(at, end)).toString('latin1'), next: end + 1 };
}

// An ERROR's message is only ever logged. It is read leniently (some clients omit the NUL or send
// UTF-8) so that a peer's abort is never lost to a strict parse; unprintable bytes become '?'.
function errorMessage(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  let s = '';
  for (const b of end < 0 ? bytes : bytes.subarray(0, end)) s += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '?';
  return s;
}

export function encodeTftp(p: TftpPacket): Buffer {
  const opcode = OPCODES.indexOf(p.op) + 1;
  switch (p.op) {
    case 'RRQ':
    case 'WRQ': {
      const buf = Buffer.concat([u16be(opcode), cstring(p.filename), cstring(p.mode), encodeOptions(p.options)]);
      if (buf.length > MAX_REQUEST) throw new RangeError(`${p.op} of ${buf.length} bytes exceeds ${MAX_REQUEST}`);
      return buf;
    }
    case 'DATA':
      if (p.data.length > MAX_DATA) throw new RangeError(`DATA payload of ${p.data.length} bytes`);
      return Buffer.concat([u16be(opcode), u16be(p.block), p.data]);
    case 'ACK':
      return Buffer.concat([u16be(opcode), u16be(p.block)]);
    case 'ERROR':
      return Buffer.concat([u16be(opcode), u16be(p.code), cstring(p.message)]);
    case 'OACK':
      return Buffer.concat([u16be(opcode), encodeOptions(p.options)]);
  }
}

function encodeOptions(options: TftpOptions): Buffer {
  return Buffer.concat([...options].flatMap(([name, value]) => [cstring(name), cstring(value)]));
}

function cstring(s: string): Buffer {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new RangeError(`not printable netascii: ${JSON.stringify(s)}`);
  return Buffer.from(`${s}\0`, 'latin1');
}

function u16be(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`not a 16-bit number: ${n}`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

function fail(code: DecodeErrorCode, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { code, message } };
}
