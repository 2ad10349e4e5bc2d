// LLDP (IEEE 802.1AB) as the discovery agent reads it: the frames the switch a NIC is cabled to
// sends, captured into a pcap file per NIC (/run/lldp/<nic>.pcap, see lldp-capture.ts), decoded
// here. The frames come off the wire from whatever is plugged in: every length is checked, every
// field bounded, and a bad frame or file is a typed error — never an exception.
//
// What the agent reports per NIC is the neighbour's chassis ID, port ID and system name (the
// appliance maps switch + port to a rack, appliance/boot/placement.ts); the decoder also keeps
// TTL, port and system description and management addresses for tests and the console.

export const ETHERTYPE_LLDP = 0x88cc;
/** The nearest-bridge group address every LLDP agent sends to. */
export const LLDP_MULTICAST = '01:80:c2:00:00:0e';
/** An LLDPDU fits one untagged Ethernet frame (1500 bytes of payload); jumbo ones are refused. */
export const MAX_FRAME = 1522;

export const LLDP_ERROR = {
  TooShort: 'frame-too-short',
  TooLong: 'frame-too-long',
  NotLldp: 'not-lldp',
  TlvTruncated: 'tlv-truncated',
  BadTlvLength: 'bad-tlv-length',
  MissingMandatory: 'missing-mandatory-tlv',
  Duplicate: 'duplicate-tlv',
  BadId: 'bad-id',
  NoEnd: 'no-end-tlv',
} as const;

export const PCAP_ERROR = {
  TooShort: 'pcap-too-short',
  BadMagic: 'pcap-bad-magic',
  BadLinkType: 'pcap-bad-link-type',
  RecordTruncated: 'pcap-record-truncated',
  RecordTooLong: 'pcap-record-too-long',
  TooManyRecords: 'pcap-too-many-records',
} as const;

export interface LldpDecodeError {
  readonly code: (typeof LLDP_ERROR)[keyof typeof LLDP_ERROR];
  readonly message: string;
  /** Byte offset in the frame, where one applies. */
  readonly offset?: number;
}

export interface PcapDecodeError {
  readonly code: (typeof PCAP_ERROR)[keyof typeof PCAP_ERROR];
  readonly message: string;
  readonly offset?: number;
}

/** A chassis or port ID: `value` is text for names, aa:bb:.. for MACs, an IP for network addresses. */
export interface LldpId {
  /** The 802.1AB subtype number. */
  subtype: number;
  kind: 'mac' | 'ip' | 'text' | 'bytes';
  value: string;
}

export interface LldpNeighbourFrame {
  /** Source MAC of the frame (the switch port's). */
  source: string;
  /** 802.1Q VLAN the frame was tagged with, if any. */
  vlan: number | null;
  chassisId: LldpId;
  portId: LldpId;
  /** Seconds the information stays valid; 0 = the neighbour is going away (shutdown LLDPDU). */
  ttl: number;
  /** Text TLVs as text, or as hex when the switch sent bytes that are not UTF-8 text. */
  portDescription: string | null;
  systemName: string | null;
  systemDescription: string | null;
  managementAddresses: string[];
}

export type LldpDecodeResult = { readonly ok: true; readonly frame: LldpNeighbourFrame } | { readonly ok: false; readonly error: LldpDecodeError };

const TLV = { End: 0, ChassisId: 1, PortId: 2, Ttl: 3, PortDescription: 4, SystemName: 5, SystemDescription: 6, Capabilities: 7, ManagementAddress: 8, OrgSpecific: 127 } as const;
/** TLV types a valid LLDPDU carries at most once (management addresses and org TLVs may repeat). */
const ONCE = new Set<number>([TLV.ChassisId, TLV.PortId, TLV.Ttl, TLV.PortDescription, TLV.SystemName, TLV.SystemDescription, TLV.Capabilities]);
/** At most this many TLVs in one frame (a 1500-byte LLDPDU holds at most 750 empty ones). */
const MAX_TLVS = 256;

const fail = (code: LldpDecodeError['code'], message: string, offset?: number): LldpDecodeResult => ({
  ok: false,
  error: offset === undefined ? { code, message } : { code, message, offset },
});

export const hex = (b: Uint8Array, sep = ':'): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(sep);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes a switch sent as a name: UTF-8 without control characters, trimmed of trailing NULs and
 * whitespace; anything else is not text and is shown as hex (never guessed at).
 */
export function lldpText(b: Uint8Array): { kind: 'text' | 'bytes'; value: string } {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  try {
    const s = utf8.decode(b.subarray(0, end)).trim();
    // C0 and C1 controls and DEL: a name with them is binary, not text.
    if (s && !/[\u0000-\u001f\u007f-\u009f]/.test(s)) return { kind: 'text', value: s };
  } catch { /* not UTF-8 */ }
  return { kind: 'bytes', value: hex(b) };
}

function ipv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Longest run of zero groups (at least two) becomes "::" (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** An IANA address-family-numbered address (1 = IPv4, 2 = IPv6, 6 = 802 MAC); null when malformed. */
function networkAddress(b: Uint8Array): string | null {
  if (b.length < 1) return null;
  const family = b[0];
  const a = b.subarray(1);
  if (family === 1 && a.length === 4) return [...a].join('.');
  if (family === 2 && a.length === 16) return ipv6(a);
  if (family === 6 && a.length === 6) return hex(a);
  return null;
}

/** Chassis ID (1) and port ID (2) by subtype. */
function decodeId(tlv: 1 | 2, v: Uint8Array): LldpId | string {
  if (v.length < 2 || v.length > 256) return `length ${v.length}, must be 2..256`;
  const subtype = v[0];
  const body = v.subarray(1);
  const MAC = tlv === TLV.ChassisId ? 4 : 3;
  const NET = tlv === TLV.ChassisId ? 5 : 4;
  if (subtype < 1 || subtype > 7) return `reserved subtype ${subtype}`; // 1..7 for both
  if (subtype === MAC) {
    if (body.length !== 6) return `MAC subtype with ${body.length} bytes`;
    return { subtype, kind: 'mac', value: hex(body) };
  }
  if (subtype === NET) {
    const addr = networkAddress(body);
    if (addr === null) return `network address subtype with a malformed address (${body.length} bytes)`;
    return { subtype, kind: body[0] === 6 ? 'mac' : 'ip', value: addr };
  }
  // Port ID subtype 6 is the agent circuit ID (RFC 3046): binary, not a name.
  if (tlv === TLV.PortId && subtype === 6) return { subtype, kind: 'bytes', value: hex(body) };
  return { subtype, ...lldpText(body) };
}

/** Decodes one Ethernet frame carrying an LLDPDU (optionally 802.1Q-tagged). */
export function decodeLldpFrame(frame: Uint8Array): LldpDecodeResult {
  if (frame.length > MAX_FRAME) return fail(LLDP_ERROR.TooLong, `${frame.length} bytes, at most ${MAX_FRAME}`);
  if (frame.length < 14) return fail(LLDP_ERROR.TooShort, `${frame.length} bytes, an Ethernet header is 14`);
  const b = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  const source = hex(b.subarray(6, 12));
  let at = 12;
  let vlan: number | null = null;
  let type = (b[at] << 8) | b[at + 1];
  if (type === 0x8100) {
    if (b.length < 18) return fail(LLDP_ERROR.TooShort, `${frame.length} bytes, a tagged Ethernet header is 18`);
    vlan = ((b[14] << 8) | b[15]) & 0x0fff;
    at = 16;
    type = (b[at] << 8) | b[at + 1];
  }
  if (type !== ETHERTYPE_LLDP) return fail(LLDP_ERROR.NotLldp, `ethertype 0x${type.toString(16).padStart(4, '0')}`, at);
  at += 2;

  const seen = new Set<number>();
  let chassisId: LldpId | null = null;
  let portId: LldpId | null = null;
  let ttl: number | null = null;
  let portDescription: string | null = null;
  let systemName: string | null = null;
  let systemDescription: string | null = null;
  const managementAddresses: string[] = [];
  const textOf = (v: Uint8Array): string | null => (v.length ? lldpText(v).value : null);

  for (let n = 0; ; n++) {
    if (n >= MAX_TLVS) return fail(LLDP_ERROR.BadTlvLength, `more than ${MAX_TLVS} TLVs`, at);
    if (at + 2 > b.length) return fail(LLDP_ERROR.NoEnd, 'the LLDPDU ends without an End TLV', at);
    const t = b[at] >> 1;
    const len = ((b[at] & 1) << 8) | b[at + 1];
    const start = at;
    if (at + 2 + len > b.length) return fail(LLDP_ERROR.TlvTruncated, `TLV ${t} of ${len} bytes runs past the frame`, at);
    const v = b.subarray(at + 2, at + 2 + len);
    at += 2 + len;
    // 802.1AB: chassis ID, port ID and TTL are the first three TLVs, in that order.
    const mandatory = [TLV.ChassisId, TLV.PortId, TLV.Ttl][n];
    if (mandatory !== undefined && t !== mandatory) {
      return fail(LLDP_ERROR.MissingMandatory, `TLV ${n + 1} is type ${t}, expected ${mandatory}`, start);
    }
    if (ONCE.has(t)) {
      if (seen.has(t)) return fail(LLDP_ERROR.Duplicate, `TLV type ${t} appears twice`, start);
      seen.add(t);
    }
    if (t === TLV.End) {
      if (len !== 0) return fail(LLDP_ERROR.BadTlvLength, `End TLV with length ${len}`, start);
      break;
    }
    if (t === TLV.ChassisId || t === TLV.PortId) {
      const id = decodeId(t, v);
      if (typeof id === 'string') return fail(len < 2 || len > 256 ? LLDP_ERROR.BadTlvLength : LLDP_ERROR.BadId, `${t === TLV.ChassisId ? 'chassis' : 'port'} ID: ${id}`, start);
      if (t === TLV.ChassisId) chassisId = id; else portId = id;
    } else if (t === TLV.Ttl) {
      if (len < 2) return fail(LLDP_ERROR.BadTlvLength, `TTL TLV with length ${len}`, start);
      ttl = (v[0] << 8) | v[1];
    } else if (t === TLV.PortDescription || t === TLV.SystemName || t === TLV.SystemDescription) {
      if (len > 255) return fail(LLDP_ERROR.BadTlvLength, `TLV ${t} with length ${len}, at most 255`, start);
      const s = textOf(v);
      if (t === TLV.PortDescription) portDescription = s;
      else if (t === TLV.SystemName) systemName = s;
      else systemDescription = s;
    } else if (t === TLV.ManagementAddress) {
      // address string length (1 + address), family, address, then interface numbering and an OID.
      if (len < 9 || len > 167) return fail(LLDP_ERROR.BadTlvLength, `management address TLV with length ${len}, must be 9..167`, start);
      const alen = v[0];
      if (alen < 2 || alen > 32 || 1 + alen + 6 > len) return fail(LLDP_ERROR.BadTlvLength, `management address of ${alen} bytes in a TLV of ${len}`, start);
      const addr = networkAddress(v.subarray(1, 1 + alen));
      if (addr !== null && managementAddresses.length < 8) managementAddresses.push(addr);
    }
    // Capabilities, organisation-specific and reserved TLVs are skipped (lengths already checked).
  }
  if (!chassisId || !portId || ttl === null) return fail(LLDP_ERROR.MissingMandatory, 'chassis ID, port ID and TTL are mandatory');
  return { ok: true, frame: { source, vlan, chassisId, portId, ttl, portDescription, systemName, systemDescription, managementAddresses } };
}

// --- pcap ------------------------------------------------------------------------------------------

export const PCAP_LINKTYPE_ETHERNET = 1;
const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** The files are small (a few frames per NIC); a capture with more records than this is not ours. */
export const MAX_PCAP_RECORDS = 1024;

export interface PcapRecord { seconds: number; micros: number; originalLength: number; data: Uint8Array }

export type PcapDecodeResult = { readonly ok: true; readonly records: PcapRecord[] } | { readonly ok: false; readonly error: PcapDecodeError };

/**
 * A classic pcap file (libpcap format: 24-byte global header, 16-byte record headers), either byte
 * order, micro- or nanosecond timestamps, Ethernet link type. A record cut short at the end of the
 * file — a capture still being written — is not an error: the complete records before it count.
 */
export function decodePcap(file: Uint8Array): PcapDecodeResult {
  const failure = (code: PcapDecodeError['code'], message: string, offset?: number): PcapDecodeResult =>
    ({ ok: false, error: offset === undefined ? { code, message } : { code, message, offset } });
  if (file.length < 24) return failure(PCAP_ERROR.TooShort, `${file.length} bytes, the pcap header is 24`);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magicBE = dv.getUint32(0, false);
  let little: boolean;
  if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) little = false;
  else if (dv.getUint32(0, true) === PCAP_MAGIC_US || dv.getUint32(0, true) === PCAP_MAGIC_NS) little = true;
  else return failure(PCAP_ERROR.BadMagic, `magic 0x${magicBE.toString(16).padStart(8, '0')} is not pcap`, 0);
  const nanos = dv.getUint32(0, little) === PCAP_MAGIC_NS;
  const snaplen = dv.getUint32(16, little);
  const link = dv.getUint32(20, little) & 0x0fffffff; // the top bits carry FCS information
  if (link !== PCAP_LINKTYPE_ETHERNET) return failure(PCAP_ERROR.BadLinkType, `link type ${link}, expected Ethernet (1)`, 20);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    if (records.length >= MAX_PCAP_RECORDS) return failure(PCAP_ERROR.TooManyRecords, `more than ${MAX_PCAP_RECORDS} records`, at);
    const seconds = dv.getUint32(at, little);
    const frac = dv.getUint32(at + 4, little);
    const incl = dv.getUint32(at + 8, little);
    const orig = dv.getUint32(at + 12, little);
    if (incl > 65535 || (snaplen > 0 && incl > Math.max(snaplen, MAX_FRAME))) {
      return failure(PCAP_ERROR.RecordTooLong, `record of ${incl} bytes (snaplen ${snaplen})`, at);
    }
    if (at + 16 + incl > file.length) break; // being written: the next read sees it whole
    records.push({ seconds, micros: nanos ? Math.floor(frac / 1000) : frac, originalLength: orig, data: file.subarray(at + 16, at + 16 + incl) });
    at += 16 + incl;
  }
  return { ok: true, records };
}

/** The pcap global header the capture writes (little endian, microseconds, Ethernet). */
export function pcapHeader(snaplen = MAX_FRAME): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(PCAP_MAGIC_US, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(PCAP_LINKTYPE_ETHERNET, 20);
  return h;
}

export function pcapRecord(data: Uint8Array, at: Date, originalLength = data.length): Buffer {
  const h = Buffer.alloc(16 + data.length);
  const ms = at.getTime();
  h.writeUInt32LE(Math.floor(ms / 1000), 0);
  h.writeUInt32LE((ms % 1000) * 1000, 4);
  h.writeUInt32LE(data.length, 8);
  h.writeUInt32LE(originalLength, 12);
  h.set(data, 16);
  return h;
}

export const NO_FRAME_YET = 'no LLDP frame received yet';

/**
 * The neighbour a capture file shows: the last LLDP frame in it that decodes (the newest word from
 * the switch), or why there is none. Frames that fail to decode are skipped, with the last reason
 * kept for the absent fact.
 */
export function neighbourFromPcap(file: Uint8Array): { ok: true; frame: LldpNeighbourFrame; frames: number } | { ok: false; why: string } {
  const p = decodePcap(file);
  if (!p.ok) return { ok: false, why: `capture unreadable: ${p.error.code} (${p.error.message})` };
  let lastError: LldpDecodeError | null = null;
  for (let i = p.records.length - 1; i >= 0; i--) {
    const r = decodeLldpFrame(p.records[i].data);
    if (r.ok) return { ok: true, frame: r.frame, frames: p.records.length };
    lastError ??= r.error;
  }
  if (lastError) return { ok: false, why: `${p.records.length} LLDP frame(s) seen, none valid: ${lastError.code} (${lastError.message})` };
  return { ok: false, why: NO_FRAME_YET };
}

// --- encoding (tests, and a host that wants to announce itself) ------------------------------------

export interface LldpTlv { type: number; value: Uint8Array }

/** One LLDP Ethernet frame from TLVs (an End TLV is appended); source MAC as aa:bb:... */
export function encodeLldpFrame(source: string, tlvs: readonly LldpTlv[]): Buffer {
  const parts: Buffer[] = [Buffer.from(LLDP_MULTICAST.split(':').map((x) => parseInt(x, 16))), Buffer.from(source.split(':').map((x) => parseInt(x, 16))), Buffer.from([0x88, 0xcc])];
  for (const t of [...tlvs, { type: TLV.End, value: new Uint8Array(0) }]) {
    if (t.value.length > 511 || t.type > 127) throw new RangeError(`TLV ${t.type} of ${t.value.length} bytes cannot be encoded`);
    parts.push(Buffer.from([(t.type << 1) | (t.value.length >> 8), t.value.length & 0xff]), Buffer.from(t.value));
  }
  return Buffer.concat(parts);
}

export const lldpTlv = {
  chassisMac: (mac: string): LldpTlv => ({ type: TLV.ChassisId, value: Buffer.from([4, ...mac.split(':').map((x) => parseInt(x, 16))]) }),
  chassis: (subtype: number, value: Uint8Array | string): LldpTlv => ({ type: TLV.ChassisId, value: Buffer.concat([Buffer.from([subtype]), Buffer.from(value)]) }),
  port: (subtype: number, value: Uint8Array | string): LldpTlv => ({ type: TLV.PortId, value: Buffer.concat([Buffer.from([subtype]), Buffer.from(value)]) }),
  ttl: (s: number): LldpTlv => ({ type: TLV.Ttl, value: Buffer.from([s >> 8, s & 0xff]) }),
  text: (type: 4 | 5 | 6, s: string): LldpTlv => ({ type, value: Buffer.from(s) }),
};
