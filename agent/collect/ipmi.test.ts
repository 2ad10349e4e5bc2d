import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fakeHost, FIXTURES } from '../fixtures/fake-host.ts';
import { bmcAddressFrom, ipFrom, lanChannelFrom, type IpmiRequest } from './ipmi.ts';
import { collectBmc } from './platform.ts';

// Real replies of ipmi_sim (fixtures/ipmi), keyed "netfn cmd data..." in hex.
const sim = JSON.parse(readFileSync(`${FIXTURES}/ipmi/ipmi_sim-replies.json`, 'utf8')) as { replies: Record<string, string> };
const h = (n: number) => n.toString(16).padStart(2, '0');
const bytes = (s: string) => Uint8Array.from(s.split(' ').map((x) => parseInt(x, 16)));

function replay(replies: Record<string, string>, asked: string[] = []): IpmiRequest {
  return async (netfn, cmd, data) => {
    const key = [netfn, cmd, ...data].map(h).join(' ');
    asked.push(key);
    return bytes(replies[key] ?? 'cb');
  };
}

test('ipmi: the address ipmi_sim gives is the one `ipmitool lan print` shows', async () => {
  const asked: string[] = [];
  const addr = await bmcAddressFrom(replay(sim.replies, asked));
  const lanPrint = readFileSync(`${FIXTURES}/ipmi/ipmi_sim-lan-print.txt`, 'utf8');
  assert.equal(addr, /^IP Address\s+: (\S+)$/m.exec(lanPrint)?.[1]);
  assert.equal(addr, '192.0.2.45');
  assert.deepEqual(asked, ['06 42 01', '0c 02 01 03 00 00'], 'channel 1 is the LAN channel: one lookup, one parameter read');
});

test('ipmi: a LAN channel further up, no LAN channel, no address, refusals', async () => {
  const lanOn3 = { ...sim.replies, '06 42 01': '00 01 05 09 00', '06 42 03': '00 03 04 01 00 00', '0c 02 03 03 00 00': '00 11 0a 01 02 03' };
  assert.equal(await bmcAddressFrom(replay(lanOn3)), '10.1.2.3');
  assert.deepEqual(await bmcAddressFrom(replay({ '06 42 01': '00 01 05 09 00' })),
    { absent: 'the BMC has no 802.3 LAN channel (channel 1: medium 0x5; channel 2: completion code 0xcb (not present))' });
  const unset = { ...sim.replies, '0c 02 01 03 00 00': '00 11 00 00 00 00', '0c 02 01 04 00 00': '00 11 02' };
  assert.deepEqual(await bmcAddressFrom(replay(unset)), { absent: 'the BMC has no IP address on LAN channel 1 (address source: DHCP)' });
  assert.deepEqual(await bmcAddressFrom(replay({ ...sim.replies, '0c 02 01 03 00 00': 'd4' })),
    { absent: 'the BMC did not tell its IP address on LAN channel 1: completion code 0xd4 (insufficient privilege)' });
  assert.deepEqual(ipFrom(bytes('00 11 c0 00 02')), { not: 'IP address reply of 5 bytes, expected 6' });
  assert.deepEqual(ipFrom(new Uint8Array()), { not: 'empty reply' });
  assert.deepEqual(lanChannelFrom(bytes('00 01')), { not: 'reply of 2 bytes' });
});

test('bmc: no device node — not asked, absent with why; a device answers — asked; a device that fails — absent with why', async () => {
  let opened = 0;
  const open = async () => { opened++; return { request: replay(sim.replies), close: () => {} }; };
  assert.deepEqual(await collectBmc(fakeHost({}), false, open), { present: false, address: { absent: 'no BMC' } });
  assert.deepEqual(await collectBmc(fakeHost({}), true, open),
    { present: true, address: { absent: 'the SMBIOS tables describe a BMC but there is no /dev/ipmi0 (the kernel\'s IPMI driver did not bind to it)' } });
  assert.equal(opened, 0);
  const withDevice = fakeHost({ files: { '/dev/ipmi0': '' } });
  assert.deepEqual(await collectBmc(withDevice, true, open), { present: true, address: '192.0.2.45' });
  // The SMBIOS tables may not list a BMC the kernel found through ACPI: the device decides.
  assert.deepEqual(await collectBmc(withDevice, false, open), { present: true, address: '192.0.2.45' });
  // dmidecode could not tell, the device answers: there is a BMC.
  assert.deepEqual(await collectBmc(withDevice, { absent: 'dmidecode not found' }, open), { present: true, address: '192.0.2.45' });
  let closed = false;
  const broken = async () => ({ request: (async () => { throw new Error('the BMC did not answer netfn 0x6 cmd 0x42 within 5 s'); }) as IpmiRequest, close: () => { closed = true; } });
  assert.deepEqual(await collectBmc(withDevice, true, broken), { present: true, address: { absent: 'the BMC did not answer netfn 0x6 cmd 0x42 within 5 s' } });
  assert.ok(closed, 'the device is closed after a failure too');
  assert.deepEqual(await collectBmc(withDevice, true, async () => { throw new Error('/dev/ipmi0: EBUSY'); }),
    { present: true, address: { absent: 'opening /dev/ipmi0: /dev/ipmi0: EBUSY' } });
});
