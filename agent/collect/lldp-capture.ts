// The LLDP listener of the discovery OS: one AF_PACKET socket per NIC (bound to the interface,
// LLDP ethertype only, joined to the LLDP multicast group), each frame appended to
// `<dir>/<nic>.pcap` (classic pcap, rewritten whole with a rename, so a reader never sees half a
// record), the newest KEEP frames kept. /init starts it as soon as the NIC links are up (switches
// send LLDP right after link-up, then every 30 s) and the agent reads the files when it collects
// (nics.ts). `<dir>/<nic>.since` holds the uptime (seconds) at which listening on the NIC began.
//
// Node has no packet sockets of its own; Node 26's built-in FFI (node:ffi) calls libc's socket(2),
// bind(2), setsockopt(2) and recv(2) directly, so the image needs no capture tool (tcpdump and its
// libpcap/dbus/systemd/crypto libraries would cost ~4 MB of the 40 MB budget). The socket is
// non-blocking and polled from a timer: no call here ever blocks the event loop.
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { ETHERTYPE_LLDP, LLDP_MULTICAST, MAX_FRAME, pcapHeader, pcapRecord } from './lldp.ts';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_MULTICAST = 0;
const MSG_TRUNC = 0x20;
const EAGAIN = constants.errno.EAGAIN;
const EINTR = constants.errno.EINTR;
/** Frames kept per NIC: the newest tells the neighbour; a few more show what changed. */
export const KEEP_FRAMES = 4;

// The first name of each number (EAGAIN, not EWOULDBLOCK).
const errnoName = new Map(Object.entries(constants.errno).reverse().map(([k, v]) => [v, k]));

/** One NIC's LLDP socket: `recv` returns a frame, or null when none is waiting. */
export interface LldpSocket {
  readonly ifname: string;
  recv(): { data: Buffer; originalLength: number } | null;
  close(): void;
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  recv(fd: number, buf: Buffer, len: bigint, flags: number): bigint;
  close(fd: number): number;
  if_nametoindex(name: Buffer): number;
  errno(): number;
}

let libc: Libc | null = null;

/** libc through node:ffi, resolved from the running process (node links libc already). */
async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  const ffi = await import('node:ffi');
  const { functions: f } = ffi.dlopen(null, {
    socket: { arguments: ['i32', 'i32', 'i32'], return: 'i32' },
    bind: { arguments: ['i32', 'buffer', 'u32'], return: 'i32' },
    setsockopt: { arguments: ['i32', 'i32', 'i32', 'buffer', 'u32'], return: 'i32' },
    recv: { arguments: ['i32', 'buffer', 'u64', 'i32'], return: 'i64' },
    close: { arguments: ['i32'], return: 'i32' },
    if_nametoindex: { arguments: ['buffer'], return: 'u32' },
    __errno_location: { arguments: [], return: 'pointer' },
  });
  libc = {
    socket: (d, t, p) => f.socket(d, t, p),
    bind: (fd, a, l) => f.bind(fd, a, l),
    setsockopt: (fd, lv, n, v, l) => f.setsockopt(fd, lv, n, v, l),
    recv: (fd, b, l, fl) => f.recv(fd, b, l, fl),
    close: (fd) => f.close(fd),
    if_nametoindex: (n) => f.if_nametoindex(n),
    errno: () => ffi.getInt32(f.__errno_location()),
  };
  return libc;
}

function sysError(call: string, ifname: string, errno: number): Error {
  return new Error(`${call} on ${ifname}: ${errnoName.get(errno) ?? `errno ${errno}`}`);
}

const htons = (x: number): number => ((x & 0xff) << 8) | (x >> 8);

/** Opens the LLDP socket of one interface (needs CAP_NET_RAW: the discovery OS runs as root). */
export async function openLldpSocket(ifname: string): Promise<LldpSocket> {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(ifname)) throw new Error(`bad interface name ${JSON.stringify(ifname)}`);
  const c = await loadLibc();
  const index = c.if_nametoindex(Buffer.from(`${ifname}\0`));
  if (!index) throw sysError('if_nametoindex', ifname, c.errno());
  const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETHERTYPE_LLDP));
  if (fd < 0) throw sysError('socket(AF_PACKET)', ifname, c.errno());
  try {
    // struct sockaddr_ll: family, protocol (network order), ifindex; the rest zero.
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(ETHERTYPE_LLDP, 2);
    sll.writeInt32LE(index, 4);
    if (c.bind(fd, sll, sll.length) < 0) throw sysError('bind', ifname, c.errno());
    // struct packet_mreq: ifindex, type, address length, address[8]. Without joining the group a
    // NIC's multicast filter may drop LLDP before the kernel sees it.
    const mreq = Buffer.alloc(16);
    mreq.writeInt32LE(index, 0);
    mreq.writeUInt16LE(PACKET_MR_MULTICAST, 4);
    mreq.writeUInt16LE(6, 6);
    Buffer.from(LLDP_MULTICAST.split(':').map((x) => parseInt(x, 16))).copy(mreq, 8);
    if (c.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, mreq.length) < 0) throw sysError('PACKET_ADD_MEMBERSHIP', ifname, c.errno());
  } catch (e) {
    c.close(fd);
    throw e;
  }
  const buf = Buffer.alloc(MAX_FRAME);
  let open = true;
  return {
    ifname,
    recv() {
      if (!open) return null;
      for (;;) {
        // MSG_TRUNC: the return value is the frame's real length even when it did not fit.
        const n = Number(c.recv(fd, buf, BigInt(buf.length), MSG_TRUNC));
        if (n >= 0) return { data: Buffer.from(buf.subarray(0, Math.min(n, buf.length))), originalLength: n };
        const e = c.errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) return null;
        throw sysError('recv', ifname, e);
      }
    },
    close() { if (open) { open = false; c.close(fd); } },
  };
}

/** Ethernet interfaces backed by a device (the same rule as nics.ts). */
export function hardwareNics(sysNet = '/sys/class/net'): string[] {
  return readdirSync(sysNet).filter((n) => {
    try {
      realpathSync(join(sysNet, n, 'device'));
      return readFileSync(join(sysNet, n, 'type'), 'utf8').trim() === '1';
    } catch { return false; }
  }).sort();
}

export interface ListenOptions {
  dir: string;
  /** Which interfaces to listen on; rescanned every `rescanMs` (NICs can appear late). */
  nics?: () => string[];
  pollMs?: number;
  rescanMs?: number;
  keep?: number;
  log?: (msg: string) => void;
  /** Stops listening and closes the sockets. */
  signal?: AbortSignal;
  /** Seconds since boot, written to `<nic>.since`. */
  uptime?: () => number;
  now?: () => Date;
}

function writeAtomic(path: string, data: Buffer | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Listens until `signal` aborts; resolves then. Never throws for one NIC's trouble: it logs and retries. */
export async function listenLldp(o: ListenOptions): Promise<void> {
  const { dir, pollMs = 200, rescanMs = 2000, keep = KEEP_FRAMES, log = () => {} } = o;
  const nics = o.nics ?? (() => hardwareNics());
  const uptime = o.uptime ?? (() => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]));
  const now = o.now ?? (() => new Date());
  mkdirSync(dir, { recursive: true });
  const open = new Map<string, { sock: LldpSocket; frames: Buffer[] }>();
  const failed = new Map<string, string>();

  const rescan = async (): Promise<void> => {
    let names: string[];
    try { names = nics(); } catch (e) { log(`listing NICs failed: ${(e as Error).message}`); return; }
    for (const name of names) {
      if (open.has(name)) continue;
      try {
        const sock = await openLldpSocket(name);
        open.set(name, { sock, frames: [] });
        failed.delete(name);
        writeAtomic(join(dir, `${name}.pcap`), pcapHeader());
        writeAtomic(join(dir, `${name}.since`), `${uptime().toFixed(2)}\n`);
        log(`listening on ${name}`);
      } catch (e) {
        const why = (e as Error).message;
        if (failed.get(name) !== why) log(`cannot listen on ${name}: ${why}`);
        failed.set(name, why);
      }
    }
  };

  const poll = (): void => {
    for (const [name, nic] of open) {
      let got = false;
      try {
        for (let i = 0; i < 64; i++) { // bounded per tick: a flood cannot starve the loop
          const f = nic.sock.recv();
          if (!f) break;
          nic.frames.push(pcapRecord(f.data, now(), f.originalLength));
          if (nic.frames.length > keep) nic.frames.shift();
          got = true;
        }
      } catch (e) {
        log(`${(e as Error).message}; closing ${name}`);
        nic.sock.close();
        open.delete(name);
        continue;
      }
      if (got) {
        try { writeAtomic(join(dir, `${name}.pcap`), Buffer.concat([pcapHeader(), ...nic.frames])); } catch (e) { log(`writing ${name}.pcap: ${(e as Error).message}`); }
      }
    }
  };

  await rescan();
  await new Promise<void>((resolve) => {
    const pollTimer = setInterval(poll, pollMs);
    const rescanTimer = setInterval(() => { void rescan(); }, rescanMs);
    const stop = (): void => {
      clearInterval(pollTimer);
      clearInterval(rescanTimer);
      poll();
      for (const nic of open.values()) nic.sock.close();
      open.clear();
      resolve();
    };
    if (o.signal?.aborted) stop();
    else o.signal?.addEventListener('abort', stop, { once: true });
  });
}
