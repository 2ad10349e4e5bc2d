// The agent protocol: the one shared, versioned definition of what the discovery agent sends and
// what the appliance answers. Both sides import this module; the appliance validates every report
// against these JSON schemas (ajv, no type coercion) and the agent's own output is tested against
// them. Every string and array is bounded: a report is untrusted input.
//
// A fact the agent could not read is never guessed: it is `{ absent: '<why>' }`, e.g.
// `{ absent: 'dmidecode not found' }`, so the UI can say "unknown because …" instead of "0".
//
// Changing a shape incompatibly means bumping PROTOCOL_VERSION; the appliance refuses other versions.

import { manifestProblems, type ImageManifest } from '../images/manifest.ts';

export const PROTOCOL_VERSION = 1;

/** Where the agent talks to the appliance (relative to `tether.url`). */
export const AGENT_PATHS = {
  report: '/agent/v1/report',
  heartbeat: '/agent/v1/heartbeat',
  task: '/agent/v1/task',
  /** Install/wipe progress, about once a second. */
  progress: '/agent/v1/progress',
  /** The end of an install or wipe task: done, or failed with the reason. */
  result: '/agent/v1/result',
  /** Per-machine files to stage on the written disk (hostname, network, first-boot, join files). */
  files: '/agent/v1/files',
  /** The installed OS's first boot: "I came up from my disk". */
  phoneHome: '/agent/v1/phone-home',
  /** An installed node that got no join files at install asks for them later, with its phone-home token. */
  join: '/agent/v1/join',
} as const;

/** The largest report the appliance accepts (route bodyLimit); a 2-socket box with 48 DIMMs is ~30 KiB. */
export const MAX_REPORT_BYTES = 256 * 1024;

// --- facts -----------------------------------------------------------------------------------------

export interface Absent { absent: string }
export type Fact<T> = T | Absent;

export function isAbsent(f: unknown): f is Absent {
  return typeof f === 'object' && f !== null && !Array.isArray(f) && typeof (f as Absent).absent === 'string';
}

/** The value of a fact, or null when it is absent. */
export function factValue<T>(f: Fact<T>): T | null {
  return isAbsent(f) ? null : f;
}

export const LIMITS = {
  text: 256, // DMI strings are at most 64 bytes by spec; firmware vendors still overrun
  reason: 256,
  flags: 512,
  flag: 64,
  dimms: 512,
  disks: 512,
  nics: 256,
} as const;

// --- inventory document ------------------------------------------------------------------------------

export interface DmiSystem { vendor: Fact<string>; product: Fact<string>; version: Fact<string>; serial: Fact<string>; uuid: Fact<string> }
export interface DmiBoard { vendor: Fact<string>; product: Fact<string>; version: Fact<string>; serial: Fact<string> }
export interface DmiChassis { vendor: Fact<string>; type: Fact<string>; serial: Fact<string>; assetTag: Fact<string> }

export interface Firmware {
  mode: Fact<'bios' | 'uefi'>;
  vendor: Fact<string>;
  version: Fact<string>;
  date: Fact<string>;
  /** Under legacy BIOS boot this is false: Secure Boot does not exist there. */
  secureBoot: Fact<boolean>;
}

export interface Cpu {
  model: Fact<string>;
  vendor: Fact<string>;
  sockets: Fact<number>;
  /** Physical cores, all sockets. */
  cores: Fact<number>;
  /** Logical CPUs (hardware threads), all sockets. */
  threads: Fact<number>;
  flags: Fact<string[]>;
}

export interface Dimm {
  slot: string;
  sizeBytes: number;
  type: Fact<string>;
  /** Configured speed in MT/s (what the board runs it at), else the module's rated speed. */
  speedMTs: Fact<number>;
  vendor: Fact<string>;
  partNumber: Fact<string>;
  serial: Fact<string>;
}

export interface Memory {
  /** Installed memory: the DIMMs' sum, else the kernel's memory blocks. */
  totalBytes: Fact<number>;
  /** What the kernel can use (MemTotal): less than installed (firmware and kernel reservations). */
  usableBytes: Fact<number>;
  dimms: Fact<Dimm[]>;
}

export interface Disk {
  name: string;
  model: Fact<string>;
  serial: Fact<string>;
  wwn: Fact<string>;
  sizeBytes: number;
  rotational: Fact<boolean>;
  /** sata, sas, nvme, virtio, usb, … */
  transport: Fact<string>;
  removable: Fact<boolean>;
}

export interface LldpNeighbour { chassisId: Fact<string>; portId: Fact<string>; systemName: Fact<string> }

export interface Nic {
  name: string;
  mac: string;
  driver: Fact<string>;
  /** PCI address (domain:bus:device.function) of the NIC. */
  pci: Fact<string>;
  speedMbps: Fact<number>;
  link: Fact<'up' | 'down'>;
  firmware: Fact<string>;
  lldp: Fact<LldpNeighbour>;
}

export interface Bmc {
  /** An IPMI device is described in the SMBIOS tables (type 38). */
  present: Fact<boolean>;
  address: Fact<string>;
}

export interface Tpm {
  present: Fact<boolean>;
  version: Fact<'1.2' | '2.0'>;
}

export interface Inventory {
  collectedAt: string;
  agentVersion: string;
  kernel: Fact<string>;
  system: DmiSystem;
  board: DmiBoard;
  chassis: DmiChassis;
  firmware: Firmware;
  cpu: Cpu;
  memory: Memory;
  disks: Fact<Disk[]>;
  nics: Fact<Nic[]>;
  bmc: Bmc;
  tpm: Tpm;
}

// --- messages --------------------------------------------------------------------------------------

/** POST /agent/v1/report. Authenticated by `Authorization: Bearer <boot token>` (or `bootToken`). */
export interface Report {
  version: typeof PROTOCOL_VERSION;
  /** The boot MAC from `tether.mac`: the NIC this boot came in on. */
  mac: string;
  bootToken?: string;
  inventory: Inventory;
}

export type AgentPhase = 'collecting' | 'reporting' | 'idle' | 'working';

/** POST /agent/v1/heartbeat: "this boot is alive", with what it is doing. */
export interface Heartbeat {
  version: typeof PROTOCOL_VERSION;
  mac: string;
  phase: AgentPhase;
  uptimeS: number;
  message?: string;
}

export interface HeartbeatAnswer { version: typeof PROTOCOL_VERSION; intervalS: number }

/**
 * GET /agent/v1/task: what the agent should do next. An agent that sees a kind it does not know,
 * or a destructive task whose fields do not check out, waits: it never guesses at a disk write.
 */
export type TaskKind = 'none' | 'wait' | 'poweroff' | 'reboot' | 'install' | 'wipe';

/**
 * A disk named by the appliance from this machine's inventory. The agent writes it only if a disk
 * with this kernel name exists now AND its size, serial and WWN (where known) still match: names
 * such as `sda` can move between boots, and a wrong match must refuse, not write.
 */
export interface DiskRef {
  name: string;
  sizeBytes: number;
  serial: string | null;
  wwn: string | null;
}

export interface InstallSpec {
  /** The install attempt; echoed in progress, result and files calls. */
  id: string;
  /** The compressed image (zstd frames, see images/manifest.ts), absolute URL, served with Range. */
  imageUrl: string;
  manifest: ImageManifest;
  /** The appliance's image-signing public key (SPKI PEM): the manifest must verify with it. */
  publicKey: string;
  target: DiskRef;
}

export interface WipeSpec {
  id: string;
  disks: DiskRef[];
  /** Overwrite every byte with zeros, not only signatures and partition tables. */
  full: boolean;
}

export interface TaskAnswer {
  version: typeof PROTOCOL_VERSION;
  task: TaskKind;
  reason: string;
  /** When to ask again. */
  pollAfterS: number;
  /** Present exactly when task is `install`. */
  install?: InstallSpec;
  /** Present exactly when task is `wipe`. */
  wipe?: WipeSpec;
}

export type ProgressPhase = 'downloading' | 'verifying' | 'staging' | 'wiping';

/** POST /agent/v1/progress. */
export interface Progress {
  version: typeof PROTOCOL_VERSION;
  mac: string;
  taskId: string;
  phase: ProgressPhase;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last interval. */
  rateBps: number;
  message?: string;
}

/** POST /agent/v1/result. */
export interface TaskResult {
  version: typeof PROTOCOL_VERSION;
  mac: string;
  taskId: string;
  kind: 'install' | 'wipe';
  ok: boolean;
  /** Why it failed, in words an operator can act on ("sha256 mismatch in chunk 3 ..."). */
  reason?: string;
  /** Install: the sha256 of what was read back from the disk over the image length. */
  rawSha256?: string;
  bytesWritten?: number;
}

/** One file for the written disk, relative to the root partition, e.g. `etc/hostname`. */
export interface StagedFile { path: string; mode: number; contentBase64: string }

/** GET /agent/v1/files?mac=&taskId= */
export interface FilesAnswer { version: typeof PROTOCOL_VERSION; files: StagedFile[] }

/**
 * POST /agent/v1/phone-home from the installed OS's first boot, authenticated with the phone-home
 * token staged in `etc/tether/firstboot.json` (one per install).
 */
export interface PhoneHome { version: typeof PROTOCOL_VERSION; mac: string; installId: string; bootId?: string; kernel?: string }

export interface ReportAnswer {
  version: typeof PROTOCOL_VERSION;
  machineId: string;
  state: string;
  task: TaskAnswer;
}

// --- JSON schemas (ajv, fastify) ---------------------------------------------------------------------

export const macPattern = '^([0-9a-f]{2}:){5}[0-9a-f]{2}$';

const absentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['absent'],
  properties: { absent: { type: 'string', minLength: 1, maxLength: LIMITS.reason } },
} as const;

const fact = <S extends object>(s: S) => ({ anyOf: [s, absentSchema] }) as const;
const text = { type: 'string', maxLength: LIMITS.text } as const;
const count = { type: 'integer', minimum: 0, maximum: 1_000_000 } as const;
const bytes = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const obj = <P extends Record<string, object>>(properties: P) => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties) as Array<keyof P & string>,
  properties,
}) as const;

const dmiSystemSchema = obj({ vendor: fact(text), product: fact(text), version: fact(text), serial: fact(text), uuid: fact(text) });
const dmiBoardSchema = obj({ vendor: fact(text), product: fact(text), version: fact(text), serial: fact(text) });
const dmiChassisSchema = obj({ vendor: fact(text), type: fact(text), serial: fact(text), assetTag: fact(text) });
const firmwareSchema = obj({
  mode: fact({ type: 'string', enum: ['bios', 'uefi'] }),
  vendor: fact(text), version: fact(text), date: fact(text), secureBoot: fact({ type: 'boolean' }),
});
const cpuSchema = obj({
  model: fact(text), vendor: fact(text), sockets: fact(count), cores: fact(count), threads: fact(count),
  flags: fact({ type: 'array', maxItems: LIMITS.flags, items: { type: 'string', maxLength: LIMITS.flag } }),
});
const dimmSchema = obj({
  slot: text, sizeBytes: bytes, type: fact(text), speedMTs: fact(count), vendor: fact(text), partNumber: fact(text), serial: fact(text),
});
const memorySchema = obj({
  totalBytes: fact(bytes), usableBytes: fact(bytes), dimms: fact({ type: 'array', maxItems: LIMITS.dimms, items: dimmSchema }),
});
const diskSchema = obj({
  name: { type: 'string', minLength: 1, maxLength: 64 }, model: fact(text), serial: fact(text), wwn: fact(text), sizeBytes: bytes,
  rotational: fact({ type: 'boolean' }), transport: fact({ type: 'string', maxLength: 32 }), removable: fact({ type: 'boolean' }),
});
const lldpSchema = obj({ chassisId: fact(text), portId: fact(text), systemName: fact(text) });
const nicSchema = obj({
  name: { type: 'string', minLength: 1, maxLength: 15 }, // IFNAMSIZ - 1
  mac: { type: 'string', pattern: macPattern },
  driver: fact({ type: 'string', maxLength: 64 }),
  pci: fact({ type: 'string', maxLength: 32 }),
  speedMbps: fact(count),
  link: fact({ type: 'string', enum: ['up', 'down'] }),
  firmware: fact(text),
  lldp: fact(lldpSchema),
});
const bmcSchema = obj({ present: fact({ type: 'boolean' }), address: fact(text) });
const tpmSchema = obj({ present: fact({ type: 'boolean' }), version: fact({ type: 'string', enum: ['1.2', '2.0'] }) });

export const inventorySchema = obj({
  collectedAt: { type: 'string', maxLength: 40 },
  agentVersion: { type: 'string', maxLength: 64 },
  kernel: fact(text),
  system: dmiSystemSchema,
  board: dmiBoardSchema,
  chassis: dmiChassisSchema,
  firmware: firmwareSchema,
  cpu: cpuSchema,
  memory: memorySchema,
  disks: fact({ type: 'array', maxItems: LIMITS.disks, items: diskSchema }),
  nics: fact({ type: 'array', maxItems: LIMITS.nics, items: nicSchema }),
  bmc: bmcSchema,
  tpm: tpmSchema,
});

/** Boot token format of appliance/auth/boot-tokens.ts, bounded here so a body field cannot be huge. */
const bootTokenSchema = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const reportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'mac', 'inventory'],
  properties: {
    version: { const: PROTOCOL_VERSION },
    mac: { type: 'string', pattern: macPattern },
    bootToken: bootTokenSchema,
    inventory: inventorySchema,
  },
} as const;

export const heartbeatSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'mac', 'phase', 'uptimeS'],
  properties: {
    version: { const: PROTOCOL_VERSION },
    mac: { type: 'string', pattern: macPattern },
    phase: { type: 'string', enum: ['collecting', 'reporting', 'idle', 'working'] },
    uptimeS: { type: 'number', minimum: 0, maximum: 1e9 },
    message: { type: 'string', maxLength: 1024 },
  },
} as const;

export const taskQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mac'],
  properties: { mac: { type: 'string', pattern: macPattern } },
} as const;

const taskIdSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const sha256Schema = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export const progressSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'mac', 'taskId', 'phase', 'bytesDone', 'bytesTotal', 'rateBps'],
  properties: {
    version: { const: PROTOCOL_VERSION },
    mac: { type: 'string', pattern: macPattern },
    taskId: taskIdSchema,
    phase: { type: 'string', enum: ['downloading', 'verifying', 'staging', 'wiping'] },
    bytesDone: bytes,
    bytesTotal: bytes,
    rateBps: { type: 'number', minimum: 0, maximum: 1e12 },
    message: { type: 'string', maxLength: 1024 },
  },
} as const;

export const resultSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'mac', 'taskId', 'kind', 'ok'],
  properties: {
    version: { const: PROTOCOL_VERSION },
    mac: { type: 'string', pattern: macPattern },
    taskId: taskIdSchema,
    kind: { type: 'string', enum: ['install', 'wipe'] },
    ok: { type: 'boolean' },
    reason: { type: 'string', maxLength: 2048 },
    rawSha256: sha256Schema,
    bytesWritten: bytes,
  },
} as const;

export const filesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mac', 'taskId'],
  properties: { mac: { type: 'string', pattern: macPattern }, taskId: taskIdSchema },
} as const;

export const phoneHomeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'mac', 'installId'],
  properties: {
    version: { const: PROTOCOL_VERSION },
    mac: { type: 'string', pattern: macPattern },
    installId: taskIdSchema,
    bootId: { type: 'string', maxLength: 64 },
    kernel: { type: 'string', maxLength: LIMITS.text },
  },
} as const;

export const TASK_KINDS: readonly TaskKind[] = ['none', 'wait', 'poweroff', 'reboot', 'install', 'wipe'];

const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

function diskRefProblem(d: unknown): string | null {
  const o = d as Partial<DiskRef> | null;
  if (typeof o !== 'object' || o === null) return 'disk is not an object';
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.name)) return 'disk name is malformed';
  if (typeof o.sizeBytes !== 'number' || !Number.isSafeInteger(o.sizeBytes) || o.sizeBytes <= 0) return 'disk size is malformed';
  if (o.serial !== null && typeof o.serial !== 'string') return 'disk serial is malformed';
  if (o.wwn !== null && typeof o.wwn !== 'string') return 'disk wwn is malformed';
  return null;
}

/** Why an install spec from the appliance cannot be acted on, or null. */
export function installSpecProblem(x: unknown): string | null {
  const o = x as Partial<InstallSpec> | null;
  if (typeof o !== 'object' || o === null) return 'install spec missing';
  if (typeof o.id !== 'string' || !TASK_ID.test(o.id)) return 'install id is malformed';
  try {
    const u = new URL(String(o.imageUrl));
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'image URL is not http(s)';
  } catch { return 'image URL is not a URL'; }
  if (typeof o.publicKey !== 'string' || !o.publicKey.includes('PUBLIC KEY')) return 'public key missing';
  const mp = manifestProblems(o.manifest);
  if (mp.length) return `manifest: ${mp.join('; ')}`;
  return diskRefProblem(o.target);
}

/** Why a wipe spec from the appliance cannot be acted on, or null. */
export function wipeSpecProblem(x: unknown): string | null {
  const o = x as Partial<WipeSpec> | null;
  if (typeof o !== 'object' || o === null) return 'wipe spec missing';
  if (typeof o.id !== 'string' || !TASK_ID.test(o.id)) return 'wipe id is malformed';
  if (typeof o.full !== 'boolean') return 'wipe.full is not a boolean';
  if (!Array.isArray(o.disks) || o.disks.length === 0 || o.disks.length > LIMITS.disks) return 'wipe names no disks';
  for (const d of o.disks) { const p = diskRefProblem(d); if (p) return p; }
  return null;
}

/**
 * Reads a task answer defensively on the agent side (it has no ajv): anything it does not
 * understand — a newer kind, a broken body, an install without a sound spec — becomes `wait`,
 * never a guess at a destructive act.
 */
export function readTaskAnswer(x: unknown): TaskAnswer {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  const pollAfterS = typeof o.pollAfterS === 'number' && o.pollAfterS >= 1 && o.pollAfterS <= 3600 ? o.pollAfterS : 10;
  const reason = typeof o.reason === 'string' ? o.reason.slice(0, 1024) : '';
  const wait = (why: string): TaskAnswer => ({ version: PROTOCOL_VERSION, task: 'wait', reason: why, pollAfterS });
  if (o.version !== PROTOCOL_VERSION || !TASK_KINDS.includes(o.task as TaskKind)) {
    return wait(`unknown task ${JSON.stringify(o.task ?? null)} (protocol ${String(o.version)}); waiting`);
  }
  const task = o.task as TaskKind;
  if (task === 'install') {
    const p = installSpecProblem(o.install);
    return p ? wait(`install task refused: ${p}; waiting`) : { version: PROTOCOL_VERSION, task, reason, pollAfterS, install: o.install as InstallSpec };
  }
  if (task === 'wipe') {
    const p = wipeSpecProblem(o.wipe);
    return p ? wait(`wipe task refused: ${p}; waiting`) : { version: PROTOCOL_VERSION, task, reason, pollAfterS, wipe: o.wipe as WipeSpec };
  }
  return { version: PROTOCOL_VERSION, task, reason, pollAfterS };
}
