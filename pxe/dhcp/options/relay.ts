// Option 82, relay agent information (RFC 3046). The relay (often the access switch) adds it on
// the way in; for Tether it is the rack location: which switch, which port. Sub-options are plain
// code/length/value with no pad or end (§2.0); servers echo the whole option back (§2.2).
import { bytesOption, encapsulatedOption } from './codec.ts';

export const RelayAgentInfo = encapsulatedOption(82, 'relay-agent-information', { padEnd: false, terminate: false });

/** §3.1: the port the request came in on, in the relay's own format (text like `Gi1/0/12`,
 *  or binary vlan/module/port). */
export const CircuitId = bytesOption(1, 'agent-circuit-id');
/** §3.2: which relay, in its own format (often its MAC or a configured string). */
export const RemoteId = bytesOption(2, 'agent-remote-id');
