// The discovery OS's LLDP listener (bundled as /lldp-listener.mjs; /init starts it in the background
// once the NIC links are up): node lldp-listener.mjs [DIR] [NIC...]. Writes DIR/<nic>.pcap (default
// /run/lldp) for every NIC named, or for every hardware NIC (rescanned: drivers can load late).
// Runs until killed. See agent/collect/lldp-capture.ts.
import process from 'node:process';
import { listenLldp } from '../../agent/collect/lldp-capture.ts';

const [dir = '/run/lldp', ...names] = process.argv.slice(2);
await listenLldp({
  dir,
  ...(names.length ? { nics: () => names } : {}),
  log: (m) => process.stdout.write(`tether-lldp: ${m}\n`),
});
