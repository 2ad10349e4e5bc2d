// The simulated boot storm for bench/dhcp.ts, run inside the client namespace:
//   node bench/dhcp-client.ts <clients> <concurrency> <timeoutMs>
// Each simulated client is a BIOS PXE ROM with a random MAC: DISCOVER → OFFER → REQUEST → ACK, all
// broadcast from port 68 with the broadcast flag set (as PXE ROMs do, so dnsmasq cannot unicast to
// a MAC that does not exist), replies matched by xid. Prints one JSON line with the results.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { BootfileName, MaxMessageSize, MessageType, MSG, ParameterRequestList, RequestedIp, ServerId } from '../pxe/dhcp/options/basic.ts';
import { getOption, setOption } from '../pxe/dhcp/options/codec.ts';
import { ClientArch, VendorClass } from '../pxe/dhcp/options/pxe.ts';
import { BROADCAST_FLAG, decodePacket, encodePacket, OP, type Packet } from '../pxe/dhcp/packet.ts';

const [clients, concurrency, timeoutMs] = process.argv.slice(2).map(Number);

type Transaction = { xid: number; chaddr: Uint8Array; started: number; state: 'discover' | 'request'; timer: NodeJS.Timeout; done: (outcome: Outcome) => void };
type Outcome = { ok: true; ms: number; file: string } | { ok: false; why: 'timeout' | 'nak' };

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const live = new Map<number, Transaction>();

function discover(t: Transaction): Packet {
  let options = setOption(new Map(), MessageType, MSG.Discover);
  options = setOption(options, MaxMessageSize, 1472);
  options = setOption(options, ClientArch, [0]);
  options = setOption(options, VendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  options = setOption(options, ParameterRequestList, [1, 3, 6, 43, 60, 66, 67]);
  return {
    op: OP.Request, htype: 1, hlen: 6, hops: 0, xid: t.xid, secs: 0, flags: BROADCAST_FLAG,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: t.chaddr, sname: '', file: '', options,
  };
}

const send = (p: Packet): void => socket.send(encodePacket(p), 67, '255.255.255.255');

socket.on('message', (msg) => {
  const r = decodePacket(msg);
  if (!r.ok || r.packet.op !== OP.Reply) return;
  const t = live.get(r.packet.xid);
  if (!t) return;
  const type = getOption(r.packet.options, MessageType);
  if (t.state === 'discover' && type === MSG.Offer) {
    t.state = 'request';
    const serverId = getOption(r.packet.options, ServerId);
    let options = setOption(discover(t).options, MessageType, MSG.Request);
    options = setOption(options, RequestedIp, r.packet.yiaddr);
    if (serverId) options = setOption(options, ServerId, serverId);
    send({ ...discover(t), options });
  } else if (t.state === 'request' && type === MSG.Ack) {
    t.done({ ok: true, ms: performance.now() - t.started, file: r.packet.file || (getOption(r.packet.options, BootfileName) ?? '') });
  } else if (t.state === 'request' && type === MSG.Nak) {
    t.done({ ok: false, why: 'nak' });
  }
});

function transaction(): Promise<Outcome> {
  return new Promise((resolve) => {
    let xid: number;
    do xid = randomBytes(4).readUInt32BE(0);
    while (live.has(xid));
    const chaddr = new Uint8Array(16);
    chaddr.set([0x02, ...randomBytes(5)]);
    const t: Transaction = {
      xid, chaddr, started: performance.now(), state: 'discover',
      timer: setTimeout(() => t.done({ ok: false, why: 'timeout' }), timeoutMs),
      done: (outcome) => {
        clearTimeout(t.timer);
        live.delete(xid);
        resolve(outcome);
      },
    };
    live.set(xid, t);
    send(discover(t));
  });
}

await new Promise<void>((resolve) => socket.bind(68, '0.0.0.0', resolve));
socket.setBroadcast(true);
socket.setRecvBufferSize(8 << 20);

const outcomes: Outcome[] = [];
let next = 0;
const t0 = performance.now();
async function worker(): Promise<void> {
  while (next < clients) {
    next++;
    outcomes.push(await transaction());
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, clients) }, worker));
const wallMs = performance.now() - t0;
socket.close();

const ok = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
const ms = ok.map((o) => o.ms).sort((a, b) => a - b);
const pct = (p: number): number => (ms.length ? ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)] : NaN);
console.log(JSON.stringify({
  clients, concurrency, wallMs, completed: ok.length, lost: outcomes.length - ok.length,
  naks: outcomes.filter((o) => !o.ok && o.why === 'nak').length,
  perSecond: (ok.length / wallMs) * 1000, p50: pct(50), p99: pct(99), max: ms.at(-1) ?? NaN,
  bootFiles: [...new Set(ok.map((o) => o.file))],
}));
