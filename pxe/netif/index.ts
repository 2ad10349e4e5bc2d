// Per-interface UDP sockets for servers that must answer on the interface a broadcast came in on
// (DHCP/proxyDHCP on a host with one interface per zone). See netif.c for why dgram alone cannot.
import dgram from 'node:dgram';
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const ADDON_PATH = fileURLToPath(new URL('./build/netif.node', import.meta.url));

export interface NetifAddon {
  /** A non-blocking, close-on-exec UDP socket with SO_REUSEADDR, SO_BROADCAST and SO_BINDTODEVICE, bound to addr (default 0.0.0.0):port. */
  openUdpSocket(ifname: string, port: number, addr?: string): number;
}

export interface BindOptions {
  /** Local address to bind; default 0.0.0.0, the only one that also receives 255.255.255.255. */
  address?: string;
  /** SO_RCVBUF, e.g. larger for a boot storm (hundreds of clients asking at once). */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface InterfaceIPv4 {
  address: string;
  netmask: string;
  /** e.g. 10.251.1.1/24 */
  cidr: string;
  mac: string;
}

type NetifError = Error & { code?: string; errno?: number; syscall?: string };

let cached: NetifAddon | undefined;

/** Loads the compiled helper; `path` is for tests. */
export function loadAddon(path: string = ADDON_PATH): NetifAddon {
  if (path === ADDON_PATH && cached) return cached;
  let addon: NetifAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NetifAddon;
  } catch (e) {
    const code = (e as NetifError).code;
    const what = code === 'MODULE_NOT_FOUND' ? `${path} is missing` : `${path} failed to load (${(e as Error).message})`;
    throw Object.assign(
      new Error(`netif: the native per-interface socket helper is not built: ${what}. Run \`npm ci\` (its postinstall builds it) or \`node pxe/netif/build.ts --force\``, { cause: e }),
      { code: 'ERR_NETIF_NOT_BUILT' },
    );
  }
  if (path === ADDON_PATH) cached = addon;
  return addon;
}

/**
 * A dgram socket bound to `ifname` on 0.0.0.0:`port`: it receives only what arrives on that
 * interface (255.255.255.255 broadcasts included) and everything it sends, broadcasts included,
 * leaves by that interface. Several such sockets may share a port on different interfaces.
 * Closing the returned socket closes the underlying fd. The socket is already bound when the promise
 * resolves: dgram emits 'listening' synchronously inside bind({ fd }), before any caller could listen.
 */
export async function bindToInterface(ifname: string, port: number, opts: BindOptions = {}): Promise<dgram.Socket> {
  if (typeof ifname !== 'string' || ifname.length === 0 || Buffer.byteLength(ifname) > 15) {
    throw Object.assign(new TypeError(`netif: interface name must be 1-15 bytes, got ${JSON.stringify(ifname)}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new RangeError(`netif: port must be an integer 0-65535, got ${port}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const addon = loadAddon();
  let fd: number;
  try {
    fd = addon.openUdpSocket(ifname, port, opts.address);
  } catch (e) {
    throw explain(e as NetifError, ifname, port);
  }
  const socket = dgram.createSocket('udp4');
  try {
    // exclusive: inside a cluster worker dgram would otherwise hand the fd to the primary process.
    socket.bind({ fd, exclusive: true });
  } catch (e) {
    // dgram did not take the fd over (bind({ fd }) throws before adopting it), so close it here.
    closeSync(fd);
    socket.close();
    throw e;
  }
  try {
    // Set after bind, not through createSocket's options: dgram applies those inside bind({ fd })
    // after adopting the fd, and a failure there would leave it unclear who closes what.
    if (opts.recvBufferSize) socket.setRecvBufferSize(opts.recvBufferSize);
    if (opts.sendBufferSize) socket.setSendBufferSize(opts.sendBufferSize);
    // SO_BROADCAST is already on from C; said through dgram too, so the socket does not depend on how
    // its fd was made.
    socket.setBroadcast(true);
  } catch (e) {
    socket.close();
    throw e;
  }
  return socket;
}

/** Adds what the kernel's errno alone does not say: which interfaces exist, which privilege is missing. */
function explain(e: NetifError, ifname: string, port: number): NetifError {
  let hint = '';
  if (e.code === 'ENODEV') {
    const known = Object.keys(os.networkInterfaces()).join(', ') || 'none';
    hint = `no interface named ${ifname} in this network namespace (interfaces with addresses: ${known})`;
  } else if (e.code === 'EACCES' && e.syscall === 'bind') {
    hint = `port ${port} is privileged: run as root or grant CAP_NET_BIND_SERVICE`;
  } else if (e.code === 'EPERM' && e.syscall === 'setsockopt') {
    hint = 'binding a socket to a device needs CAP_NET_RAW on kernels before 5.7';
  } else if (e.code === 'EADDRINUSE') {
    hint = `another socket bound port ${port} on all interfaces or on ${ifname} without SO_REUSEADDR (e.g. a plain dgram socket on 0.0.0.0:${port})`;
  }
  if (!hint) return e;
  return Object.assign(new Error(`netif: ${hint}: ${e.message}`, { cause: e }), { code: e.code, errno: e.errno, syscall: e.syscall });
}

/**
 * The first (primary) IPv4 address of `ifname` as this process sees it (inside a network namespace:
 * that namespace's interfaces), i.e. the one the kernel uses as the source of a broadcast sent from a
 * socket bound to that interface. undefined when the interface does not exist or has no IPv4 address.
 */
export function interfaceIPv4(ifname: string): InterfaceIPv4 | undefined {
  // Asked of the kernel with `ip`, not os.networkInterfaces(): libuv lists only interfaces that are
  // up *and* running, so a zone bridge whose ports have no carrier yet (a VM not started, a cable
  // not plugged) would look address-less and the appliance would refuse a valid zone.
  let links: Array<{ address?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
  try {
    links = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return undefined; // no such device
  }
  const a = links[0]?.addr_info?.find((x) => x.family === 'inet');
  if (!a) return undefined;
  const netmask = prefixToNetmask(a.prefixlen);
  return { address: a.local, netmask, cidr: `${a.local}/${a.prefixlen}`, mac: links[0].address ?? '00:00:00:00:00:00' };
}

function prefixToNetmask(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join('.');
}

