import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Lab } from './lab.ts';

const namespaces = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

test('lab: veth between two namespaces carries traffic, teardown removes namespaces and processes', async () => {
  const lab = new Lab('lab');
  let sleeper;
  try {
    const a = lab.ns('a');
    const b = lab.ns('b');
    lab.bridge(b, 'br0', '10.250.0.1/24');
    lab.veth(a, 'eth0', b, 'p0', { cidrA: '10.250.0.2/24', bridgeB: 'br0' });
    assert.match(lab.exec(a, 'ip', ['-4', 'addr', 'show', 'eth0']), /10\.250\.0\.2/);
    // A UDP round trip across the bridge using node itself on both ends.
    const echo = lab.spawn(b, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(7007,'10.250.0.1',()=>console.log('ready'))`]);
    await echo.waitFor('ready');
    const got = lab.exec(a, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{console.log(String(m));process.exit(0)});s.send('ping',7007,'10.250.0.1');setTimeout(()=>process.exit(2),3000)`]);
    assert.equal(got.trim(), 'ping');
    sleeper = lab.spawn(a, 'sleep', ['60']);
    assert.ok(namespaces().includes(a));
  } finally {
    await lab.teardown();
  }
  assert.ok(!namespaces().includes(lab.id), 'namespaces removed');
  assert.notEqual(await sleeper!.exited, 0);
});
