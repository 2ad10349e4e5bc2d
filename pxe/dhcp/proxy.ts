// proxyDHCP (PXE 2.1 §2.2.5): beside the site's own DHCP server, answer network-boot clients only,
// with boot information and never an address (yiaddr 0.0.0.0). A proxy OFFER on port 67 answers
// the client's DISCOVER; clients that then ask the boot server on port 4011 (UEFI PXE, iPXE) get
// the same information in an ACK there. REQUESTs on port 67 belong to the site's server.
import { echoBootItem, type BootOptions } from './boot.ts';
import { bootRefusal, drop, type Exchange, type Verdict } from './exchange.ts';
import { MSG } from './options/basic.ts';
import { PXE_PORT, replyFrom, withServerId } from './reply.ts';

export async function answerProxy(x: Exchange): Promise<Verdict> {
  if (x.kind === 'plain') return drop('not-a-boot-client', 'debug');
  const atBootServer = x.localPort === PXE_PORT;
  if (!atBootServer && x.msgType !== MSG.Discover) {
    return drop(x.msgType === MSG.Request ? 'proxy-assigns-no-address' : 'unsupported-message', 'debug');
  }
  // EDK2 and iPXE send REQUEST to 4011; some ROMs send INFORM there.
  if (atBootServer && x.msgType !== MSG.Request && x.msgType !== MSG.Inform) return drop('unsupported-message', 'debug');
  const boot: BootOptions = await x.boot();
  if (!boot.ok) return bootRefusal(boot);
  const reply = atBootServer
    ? replyFrom(x.request, MSG.Ack, withServerId(x.serverIp), ...boot.modifiers, echoBootItem)
    : replyFrom(x.request, MSG.Offer, withServerId(x.serverIp), ...boot.modifiers);
  return { reply, rule: atBootServer ? 'boot-server-ack' : 'proxy-offer', boot };
}
