import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_MODES, parseCmdline, splitCmdline } from './cmdline.ts';

// As appliance/http/boot.ts renders it (after the config's console= options), and as iPXE adds initrd=.
const RENDERED = 'initrd=initrd.img console=tty0 console=ttyS0,115200 tether.url=http://10.248.1.1:8080 tether.mac=52:54:00:dd:00:01 tether.token=ab12cd34ef.Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA tether.mode=discovery tether.write=0';

test('cmdline: a rendered boot command line becomes the agent config', () => {
  const r = parseCmdline(`${RENDERED}\n`);
  assert.deepEqual(r, { ok: true, config: {
    url: 'http://10.248.1.1:8080', mac: '52:54:00:dd:00:01', token: 'ab12cd34ef.Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA', mode: 'discovery', write: false,
  } });
});

test('cmdline: write only on exactly tether.write=1; MAC normalized; trailing slash dropped', () => {
  const r = parseCmdline('tether.url=http://tether.example:8080/base/ tether.mac=52-54-00-DD-00-02 tether.token=x.y tether.mode=install tether.write=1');
  assert.ok(r.ok);
  assert.equal(r.config.write, true);
  assert.equal(r.config.mac, '52:54:00:dd:00:02');
  assert.equal(r.config.url, 'http://tether.example:8080/base');
  for (const w of ['tether.write=yes', 'tether.write=true', 'tether.write', 'tether.write=01', '']) {
    const p = parseCmdline(`tether.url=http://a tether.mac=52:54:00:dd:00:02 tether.token=x ${w}`);
    assert.ok(p.ok && p.config.write === false, w);
  }
});

test('cmdline: missing or malformed parameters are all named', () => {
  const r = parseCmdline('console=ttyS0 tether.url=ftp://x tether.mac=zz tether.mode=format tether.token=a;reboot');
  assert.ok(!r.ok);
  assert.equal(r.problems.length, 4);
  assert.match(r.problems.join('\n'), /tether\.url must be http/);
  assert.match(r.problems.join('\n'), /tether\.mac is not a MAC/);
  assert.match(r.problems.join('\n'), /tether\.mode must be one of/);
  assert.match(r.problems.join('\n'), /tether\.token has characters/);
  const empty = parseCmdline('BOOT_IMAGE=/vmlinuz quiet');
  assert.ok(!empty.ok);
  assert.deepEqual(empty.problems, ['tether.url is missing', 'tether.token is missing', 'tether.mac is missing']);
});

test('cmdline: quoted values keep their spaces, like the kernel parses them', () => {
  const p = splitCmdline('a=1 dyndbg="file x.c +p" b="" quiet');
  assert.equal(p.get('dyndbg'), 'file x.c +p');
  assert.equal(p.get('b'), '');
  assert.equal(p.get('quiet'), '');
  assert.equal(p.get('a'), '1');
});

test('cmdline: every mode the appliance renders parses (a wipe boot once failed here with "tether.mode must be one of")', () => {
  for (const mode of BOOT_MODES) {
    const r = parseCmdline(`tether.url=http://10.0.0.1:8080 tether.mac=52:54:00:dd:00:03 tether.token=ab12cd34ef.x tether.mode=${mode} tether.write=1`);
    assert.ok(r.ok, `${mode}: ${JSON.stringify(r)}`);
    assert.equal(r.config.mode, mode);
  }
});
