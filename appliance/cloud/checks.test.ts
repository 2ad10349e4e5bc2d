// The enrollment checks built from what the API side shows, from real-shape Nodes and pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node } from '@kubernetes/client-node';
import type { StoredChecks } from '../store/enrollment-checks.ts';
import type { LinkStatus } from './link.ts';
import { enrollmentReport, nodeChecks, reasonOf, tunnelChecks, type Observed } from './checks.ts';
import { tunnelFailure } from './verify.ts';
import { agentPod, fixture, nodeWithReady } from './testkit.ts';

const NOW = Date.parse('2025-01-14T10:05:00Z');
const joining = (o: Partial<Observed> = {}): Observed => ({ nodeName: 'worker-1', node: undefined, joining: { tokenId: 'abc123', tokenExpiresAt: NOW + 60_000 }, agentPod: undefined, now: NOW, ...o });
const statuses = (cs: Array<{ id: string; status: string }>) => cs.map((c) => `${c.id}:${c.status}`);

test('checks: a joining machine waits for its Node; the rest wait for it, nothing guessed', () => {
  const cs = nodeChecks(joining());
  assert.deepEqual(statuses(cs), ['node-registered:pending', 'node-ready:pending', 'agent-pod:pending']);
  assert.match(cs[0].detail, /Waiting for the kubelet on worker-1 to register its Node \(TLS bootstrap with token abc123\)/);
  assert.match(cs[0].fix!, /journalctl -u kubelet/);
  assert.equal(cs[1].detail, 'Checked once the Node has registered');
  assert.deepEqual(cs.map((c) => c.title), ['Node registered with the cluster', 'Node is Ready', 'Tunnel agent (konnectivity-agent) runs on the node']);

  const expired = nodeChecks(joining({ joining: { tokenId: 'abc123', tokenExpiresAt: NOW - 1 } }))[0];
  assert.equal(expired.status, 'failing');
  assert.equal(reasonOf(expired), 'The bootstrap token abc123 expired before the kubelet registered Node worker-1. Reinstall the machine to give it a new token');

  const deleted = nodeChecks(joining({ joining: null }))[0];
  assert.equal(deleted.status, 'failing');
  assert.match(reasonOf(deleted), /no longer exists in the cluster \(deleted\?\)\. Reinstall the machine to enroll it again/);
});

test('checks: registered but not Ready (no CNI), agent Pending; then all three ok', () => {
  const notReady = nodeWithReady('False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized');
  const cs = nodeChecks(joining({ node: notReady, agentPod: agentPod('worker-1', 'Pending', { waiting: 'ContainerCreating' }) }));
  assert.deepEqual(statuses(cs), ['node-registered:ok', 'node-ready:failing', 'agent-pod:pending']);
  assert.equal(cs[0].detail, 'Node worker-1 exists in the cluster');
  assert.match(cs[1].fix!, /^The pod network is not up/);
  assert.match(cs[2].detail, /Pending \(ContainerCreating\)/);

  const fine = nodeChecks(joining({ node: fixture<V1Node>('node.json'), joining: null, agentPod: agentPod('worker-1', 'Running') }));
  assert.deepEqual(statuses(fine), ['node-registered:ok', 'node-ready:ok', 'agent-pod:ok']);
  assert.ok(fine.every((c) => c.fix === null));
});

test('checks: one tunnel check per replica; pending while not asked', () => {
  const notAsked = tunnelChecks(3, null);
  assert.deepEqual(statuses(notAsked), ['tunnel-1:pending', 'tunnel-2:pending', 'tunnel-3:pending']);
  assert.equal(notAsked[2].title, 'Cloud reaches the node through the tunnel (request 3 of 3)');
  const noAgent = tunnelFailure('worker-1', 'konnectivity-agent-worker-1', 500, JSON.stringify(fixture('status-node-proxy-no-agent.json')));
  const asked = tunnelChecks(2, [{ status: 'ok', detail: 'Node proxy healthz through the API server answered ok', fix: null }, noAgent]);
  assert.deepEqual(statuses(asked), ['tunnel-1:ok', 'tunnel-2:failing']);
  assert.match(reasonOf(asked[1]), /^No agent available: .*\. Check that the node can reach the konnectivity server's port \(usually 8132\)/);
});

test('checks: while the link is down every stored check is unknown since then, keeping what was last seen and when', () => {
  const stored: StoredChecks = {
    nodeName: 'worker-1', checkedAt: NOW - 5000,
    checks: [
      { id: 'node-registered', title: 'Node registered with the cluster', status: 'ok', detail: 'Node worker-1 exists in the cluster', fix: null, since: NOW - 90_000, checkedAt: NOW - 5000 },
      { id: 'tunnel-1', title: 't1', status: 'failing', detail: 'No agent available: …', fix: 'Check …', since: NOW - 60_000, checkedAt: NOW - 5000 },
    ],
  };
  const link = (state: LinkStatus['state'], since: number): LinkStatus => ({ state, since, lastError: state === 'down' ? 'ECONNREFUSED' : null, version: null, checkedAt: NOW, failures: 0, known: true });
  const up = enrollmentReport('m-1', null, stored, link('up', NOW - 100_000));
  assert.deepEqual(up.checks.map((c) => [c.status, c.seen, c.since]), [['ok', 'ok', NOW - 90_000], ['failing', 'failing', NOW - 60_000]]);
  const down = enrollmentReport('m-1', null, stored, link('down', NOW - 2000));
  assert.deepEqual(down.checks.map((c) => [c.status, c.seen, c.since, c.checkedAt]), [['unknown', 'ok', NOW - 2000, NOW - 5000], ['unknown', 'failing', NOW - 2000, NOW - 5000]]);
  assert.equal(down.checks[1].detail, 'No agent available: …', 'what was seen stays');
  assert.deepEqual([down.nodeName, down.checkedAt, down.link.state], ['worker-1', NOW - 5000, 'down']);
  const never = enrollmentReport('m-2', 'worker-2', undefined, link('down', NOW));
  assert.deepEqual([never.nodeName, never.checkedAt, never.checks], ['worker-2', null, []]);
});
