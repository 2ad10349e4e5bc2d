// Collects the inventory document from the machine the agent runs on. Every collector runs in
// parallel and on its own: one that fails leaves its facts absent with the reason and the rest
// of the document intact — a missing tool must never cost the whole report.
import { PROTOCOL_VERSION, type Fact, type Inventory, type Dimm } from './protocol.ts';
import type { Host } from './host.ts';
import { absent, attempt, reasonOf } from './collect/facts.ts';
import { dmiFromId, readDmiId } from './collect/dmi.ts';
import { dimmsFrom, ipmiDevicePresent, parseDmidecode, sawSmbios, type DmiRecord } from './collect/dmidecode.ts';
import { cpuFrom, parseCpuinfo, parseLscpu } from './collect/cpu.ts';
import { memoryBlocksBytes, memoryFrom, parseMemTotal } from './collect/memory.ts';
import { collectDisks } from './collect/disks.ts';
import { collectNics, type LldpWaitOptions } from './collect/nics.ts';
import { collectBmc, collectTpm, firmwareMode, secureBoot, type IpmiOpener } from './collect/platform.ts';

export const AGENT_VERSION = `tether-agent/${PROTOCOL_VERSION}`;

/** `dmidecode -t 17,38` once: records, or the reason there are none. */
async function smbiosRecords(host: Host): Promise<DmiRecord[] | Error> {
  try {
    const out = await host.run('dmidecode', ['-t', '17,38']);
    if (!sawSmbios(out)) return new Error('dmidecode found no SMBIOS tables');
    return parseDmidecode(out);
  } catch (e) {
    return new Error(reasonOf(e));
  }
}

export interface CollectOptions {
  now?: () => Date;
  lldp?: LldpWaitOptions;
  /** How the BMC is reached (default: /dev/ipmi0 through node:ffi). */
  ipmi?: IpmiOpener;
}

export async function collectInventory(host: Host, o: CollectOptions = {}): Promise<Inventory> {
  const smbios = smbiosRecords(host);
  // The BMC is asked as soon as the SMBIOS tables say whether there is one, alongside the rest.
  const ipmiOf = (records: DmiRecord[] | Error): Fact<boolean> => (records instanceof Error ? absent(records.message) : ipmiDevicePresent(records));
  const bmcP = smbios.then((r) => collectBmc(host, ipmiOf(r), o.ipmi)).catch((e: unknown) => ({ present: absent(reasonOf(e)), address: absent(reasonOf(e)) }));
  const [dmiId, records, mode, lscpu, cpuinfo, memTotal, blocksBytes, disks, nics, tpm, kernel] = await Promise.all([
    readDmiId(host),
    smbios,
    attempt(() => firmwareMode(host)),
    host.run('lscpu', ['-J']).then(parseLscpu).catch((e: unknown) => new Error(reasonOf(e))),
    host.readText('/proc/cpuinfo').then(parseCpuinfo).catch((e: unknown) => new Error(reasonOf(e))),
    attempt(async () => parseMemTotal(await host.readText('/proc/meminfo')) ?? absent('/proc/meminfo has no MemTotal')),
    memoryBlocksBytes(host),
    attempt(() => collectDisks(host)),
    attempt(() => collectNics(host, o.lldp)),
    collectTpm(host).catch((e: unknown) => ({ present: absent(reasonOf(e)), version: absent(reasonOf(e)) })),
    attempt(async () => (await host.readText('/proc/sys/kernel/osrelease')).trim()),
  ]);
  const dmi = dmiFromId(dmiId);
  const dimms: Fact<Dimm[]> = records instanceof Error ? absent(records.message) : dimmsFrom(records);
  const bmc = await bmcP;
  return {
    collectedAt: (o.now?.() ?? new Date()).toISOString(),
    agentVersion: AGENT_VERSION,
    kernel,
    system: dmi.system,
    board: dmi.board,
    chassis: dmi.chassis,
    firmware: {
      mode,
      vendor: dmi.bios.vendor,
      version: dmi.bios.version,
      date: dmi.bios.date,
      secureBoot: typeof mode === 'string' ? await secureBoot(host, mode) : absent('firmware mode unknown'),
    },
    cpu: cpuFrom(lscpu, cpuinfo),
    memory: memoryFrom({ dimms, blocksBytes, memTotal }),
    disks,
    nics,
    bmc,
    tpm,
  };
}
