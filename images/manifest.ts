// The node OS image manifest: what the builder (images/node) writes beside a compressed disk image,
// what the appliance's catalog serves, and what the agent checks before and while it writes a disk.
//
// The compressed image is a sequence of independent zstd frames, one per chunk of the raw image
// (concatenated frames are still one valid .zst file for `zstd -d`). A dropped download therefore
// resumes with an HTTP Range request at the start of the first chunk not yet verified, instead of
// from byte zero, and every chunk has its own sha256 so a bad byte is caught at the chunk it is in.
//
// Per-machine files (hostname, network, first-boot credentials, join files) never go inside the
// image bytes: the image's GPT reserves a small `config` partition that starts at or after
// raw.size, and the backup GPT that describes it sits after it (`tail`). The agent writes the raw
// image, verifies it by re-reading, then writes a newc cpio of the files into the config
// partition and the tail. So the disk's sha256 over the image length still equals raw.sha256 after
// an install, and the node OS unpacks the cpio at boot.
//
// The signature is ed25519 over the canonical JSON of the manifest without its `signature` field
// (keys sorted, no whitespace), by the appliance's image-signing key.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const MANIFEST_FORMAT = 'tether-image/1';
export const MANIFEST_FILE = 'manifest.json';
/** Raw bytes per chunk: large enough for long sequential writes, small enough that a resume loses little. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
/** A manifest is untrusted input on the agent and in the catalog: a 1 TiB image in 64 MiB chunks is 16k chunks. */
export const MAX_CHUNKS = 65_536;
/** The config partition holds a few small files; the tail is a backup GPT (33 sectors). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
export const MAX_TAIL_BYTES = 64 * 1024;

export interface ImageChunk {
  /** Where the chunk's bytes go on the disk (and sit in the raw image). */
  rawOffset: number;
  rawSize: number;
  /** Where its zstd frame sits in the compressed file. */
  offset: number;
  size: number;
  /** sha256 (hex) of the chunk's raw bytes. */
  sha256: string;
}

export interface ImageManifest {
  format: typeof MANIFEST_FORMAT;
  /** Catalog name, e.g. `debian-12-node`. */
  name: string;
  createdAt: string;
  raw: { size: number; sha256: string };
  compressed: { file: string; codec: 'zstd'; size: number; sha256: string };
  chunks: ImageChunk[];
  /** The partition that receives per-machine files after the write (hostname, network, join files). */
  root: { partition: number; label: string; fs: 'ext4' };
  /** The reserved partition for per-machine files, outside the image bytes (offset ≥ raw.size). */
  config?: { partition: number; label: string; offset: number; size: number };
  /** Bytes that belong on the disk after the image and the config partition: the backup GPT. */
  tail?: { offset: number; base64: string };
  /** Which firmware the image boots under. */
  boot: { bios: boolean; uefi: boolean };
  /** What went into the image (packages, kubelet source), for the UI and the audit trail. */
  contents?: Record<string, string>;
  signature?: { alg: 'ed25519'; keyId: string; value: string };
}

/** JSON with object keys sorted at every level: the bytes that are signed. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function signedBytes(m: ImageManifest): Buffer {
  const { signature: _, ...rest } = m;
  return Buffer.from(canonicalJson(rest));
}

/** First 16 hex digits of the sha256 of the public key (SPKI DER): names the key in a signature. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signManifest(m: ImageManifest, privateKey: KeyObject): ImageManifest {
  const publicKey = createPublicKey(privateKey);
  const value = sign(null, signedBytes(m), privateKey).toString('base64');
  return { ...m, signature: { alg: 'ed25519', keyId: keyIdOf(publicKey), value } };
}

/** Why the manifest's signature does not hold for this key, or null when it does. */
export function signatureProblem(m: ImageManifest, publicKey: KeyObject): string | null {
  const s = m.signature;
  if (!s) return 'the manifest is not signed';
  if (s.alg !== 'ed25519') return `unknown signature algorithm ${JSON.stringify(s.alg)}`;
  if (s.keyId !== keyIdOf(publicKey)) return `signed by key ${s.keyId}, not by this appliance's key ${keyIdOf(publicKey)}`;
  let ok = false;
  try { ok = verify(null, signedBytes(m), publicKey, Buffer.from(s.value, 'base64')); } catch { ok = false; }
  return ok ? null : 'the manifest signature does not verify (the manifest was changed after signing)';
}

const HEX64 = /^[0-9a-f]{64}$/;
const safeInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Checks an untrusted manifest's shape and arithmetic (the agent has no ajv): chunks are contiguous
 * in both files, sizes add up, hashes look like hashes. Returns the problems, empty when sound.
 */
export function manifestProblems(x: unknown): string[] {
  const p: string[] = [];
  const m = x as Partial<ImageManifest> | null;
  if (typeof m !== 'object' || m === null) return ['the manifest is not an object'];
  if (m.format !== MANIFEST_FORMAT) p.push(`format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (typeof m.name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(m.name)) p.push('name is not an image name');
  if (!m.raw || !safeInt(m.raw.size) || m.raw.size === 0 || !HEX64.test(String(m.raw.sha256))) p.push('raw.size/raw.sha256 missing or malformed');
  const c = m.compressed;
  if (!c || c.codec !== 'zstd' || !safeInt(c.size) || !HEX64.test(String(c.sha256)) || typeof c.file !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(c.file)) {
    p.push('compressed.{file,codec,size,sha256} missing or malformed');
  }
  const r = m.root;
  if (!r || !Number.isInteger(r.partition) || r.partition < 1 || r.partition > 128 || typeof r.label !== 'string' || r.label.length > 64 || r.fs !== 'ext4') p.push('root partition missing or malformed');
  const cfg = m.config;
  if (cfg !== undefined) {
    if (!cfg || !Number.isInteger(cfg.partition) || cfg.partition < 1 || cfg.partition > 128 || typeof cfg.label !== 'string' || cfg.label.length > 36 || !safeInt(cfg.offset) || !safeInt(cfg.size) || cfg.size === 0 || cfg.size > MAX_CONFIG_BYTES) {
      p.push('config partition malformed');
    } else if (m.raw && safeInt(m.raw.size) && cfg.offset < m.raw.size) p.push('config partition overlaps the image bytes');
  }
  const tail = m.tail;
  if (tail !== undefined) {
    if (!tail || !safeInt(tail.offset) || typeof tail.base64 !== 'string' || tail.base64.length > (MAX_TAIL_BYTES * 4) / 3 + 4) p.push('tail malformed');
    else if (m.raw && safeInt(m.raw.size) && tail.offset < m.raw.size) p.push('tail overlaps the image bytes');
    else if (cfg && safeInt(cfg.offset) && safeInt(cfg.size) && tail.offset < cfg.offset + cfg.size) p.push('tail overlaps the config partition');
  }
  if (!m.boot || typeof m.boot.bios !== 'boolean' || typeof m.boot.uefi !== 'boolean') p.push('boot.{bios,uefi} missing');
  if (!Array.isArray(m.chunks) || m.chunks.length === 0 || m.chunks.length > MAX_CHUNKS) {
    p.push(`chunks must be a list of 1..${MAX_CHUNKS}`);
    return p;
  }
  let raw = 0;
  let comp = 0;
  for (const [i, ch] of m.chunks.entries()) {
    if (!ch || !safeInt(ch.rawOffset) || !safeInt(ch.rawSize) || !safeInt(ch.offset) || !safeInt(ch.size) || !HEX64.test(String(ch.sha256)) || ch.rawSize === 0 || ch.size === 0) {
      p.push(`chunk ${i} is malformed`);
      return p;
    }
    if (ch.rawOffset !== raw || ch.offset !== comp) { p.push(`chunk ${i} is not contiguous with the one before`); return p; }
    raw += ch.rawSize;
    comp += ch.size;
  }
  if (m.raw && raw !== m.raw.size) p.push(`chunks cover ${raw} raw bytes, raw.size says ${m.raw.size}`);
  if (c && comp !== c.size) p.push(`chunks cover ${comp} compressed bytes, compressed.size says ${c.size}`);
  return p;
}

export interface SigningKey { privateKey: KeyObject; publicKey: KeyObject; keyId: string; publicPem: string }

/**
 * The appliance's image-signing key: an ed25519 PKCS#8 PEM at `path`, created (mode 0600) on
 * first use. Written to a temp file and renamed, so a crash never leaves half a key.
 */
export function loadOrCreateSigningKey(path: string): SigningKey {
  let privateKey: KeyObject;
  if (existsSync(path)) {
    privateKey = createPrivateKey(readFileSync(path));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is a ${privateKey.asymmetricKeyType} key; the image-signing key must be ed25519`);
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    renameSync(tmp, path);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
