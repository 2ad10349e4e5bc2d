// Reading Nodes, agent pods and node-proxy answers into findings, from objects in the shapes the
// real API server returns (the API double's fixtures) and the texts Konnectivity really answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Kube } from './kube.ts';
import { agentPodFor, agentPodState, checkTunnel, readiness, tunnelFailure } from './verify.ts';
import { agentPod, fixture, nodeWithReady } from './testkit.ts';

test('verify: Ready, not Ready with the kubelet\'s words, Unknown, no condition yet', () => {
  const ready = readiness(fixture<V1Node>('node.json'));
  assert.deepEqual(ready, { status: 'ok', detail: 'Node worker-1 is Ready (KubeletReady): kubelet is posting ready status', fix: null });
  const cni = readiness(nodeWithReady('False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized'));
  assert.equal(cni.status, 'failing');
  assert.match(cni.detail, /^Node worker-1 is not Ready \(KubeletNotReady\): container runtime network not ready/);
  assert.match(cni.fix!, /^The pod network is not up: check that the CNI plugin's pod on this node runs \(kubectl .* spec\.nodeName=worker-1\)/);
  const other = readiness(nodeWithReady('False', 'KubeletNotReady', 'PLEG is not healthy: pleg was last seen active 3m0s ago'));
  assert.match(other.fix!, /journalctl -u kubelet/);
  const gone = readiness(nodeWithReady('Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'));
  assert.equal(gone.status, 'failing');
  assert.match(gone.detail, /readiness is Unknown \(NodeStatusUnknown\)/);
  assert.match(gone.fix!, /powered on/);
  const fresh = readiness(nodeWithReady(null));
  assert.equal(fresh.status, 'pending');
  assert.match(fresh.detail, /no Ready condition yet/);
});

test('verify: the agent pod of a node, also when Pending without nodeName (DaemonSet affinity); what each phase means', () => {
  const pods = [agentPod('a', 'Running'), agentPod('b', 'Pending')];
  assert.equal(agentPodFor(pods, 'a')?.metadata?.name, 'konnectivity-agent-a');
  assert.equal(agentPodFor(pods, 'b')?.metadata?.name, 'konnectivity-agent-b');
  assert.equal(agentPodFor(pods, 'c'), undefined);
  assert.deepEqual(agentPodState(pods[0], 'a'), { status: 'ok', detail: 'konnectivity-agent-a is running on a', fix: null });
  const unscheduled = agentPodState(pods[1], 'b');
  assert.equal(unscheduled.status, 'pending');
  assert.match(unscheduled.detail, /^konnectivity-agent on b is Pending: the node's CNI/);
  const creating = agentPodState(agentPod('b', 'Pending', { waiting: 'ContainerCreating' }), 'b');
  assert.equal(creating.status, 'pending');
  assert.match(creating.detail, /Pending \(ContainerCreating\): the node's CNI/);
  assert.match(creating.fix!, /^If it stays Pending/);
  const none = agentPodState(undefined, 'c');
  assert.equal(none.status, 'pending');
  assert.match(none.detail, /No konnectivity-agent pod/);
  assert.match(none.fix!, /node selector and tolerations/);
  const pull = agentPodState(agentPod('d', 'Pending', { waiting: 'ImagePullBackOff' }), 'd');
  assert.equal(pull.status, 'failing');
  assert.match(pull.fix!, /cannot pull registry\.k8s\.io\/kas-network-proxy\/proxy-agent:v0\.31\.0/);
  const unready = agentPodState(agentPod('e', 'Running', { ready: false }), 'e');
  assert.equal(unready.status, 'failing');
  assert.match(unready.detail, /running but not ready/);
  assert.match(unready.fix!, /port \(usually 8132\).*kubectl -n kube-system logs konnectivity-agent-e/);
  const failed = agentPodState({ ...agentPod('f', 'Running'), status: { phase: 'Failed' } } as V1Pod, 'f');
  assert.deepEqual([failed.status, failed.detail], ['failing', 'konnectivity-agent konnectivity-agent-f on f is Failed']);
});

test('verify: node-proxy failures in words staff can act on', () => {
  const noAgent = JSON.stringify(fixture('status-node-proxy-no-agent.json'));
  const status = (message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 });
  const a = tunnelFailure('n1', 'konnectivity-agent-x1', 500, noAgent);
  assert.equal(a.status, 'failing');
  assert.match(a.detail, /^No agent available: the konnectivity agent on n1 is not connected/);
  assert.match(a.fix!, /^Check that the node can reach the konnectivity server's port \(usually 8132\).*logs konnectivity-agent-x1/);
  assert.match(tunnelFailure('n1', 'p', 500, status('dial tcp 10.0.0.5:10250: i/o timeout')).detail, /^i\/o timeout: .* cannot reach the node's kubelet/);
  assert.match(tunnelFailure('n1', 'p', 503, 'boom').detail, /HTTP 503.*boom/);
  assert.match(tunnelFailure('n1', 'p', 403, status('nodes "n1" is forbidden')).fix!, /nodes\/proxy/);
});

/** A Kube whose raw GET answers from a script (an Error = the request never reached the server). */
function scripted(answers: Array<{ status: number; body: string } | Error>): Kube & { asked: number } {
  const k = {
    asked: 0,
    async raw() {
      const a = answers[k.asked++];
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return k as unknown as Kube & { asked: number };
}

test('verify: the tunnel is asked once per replica and each request is reported as it answered', async () => {
  const ok = { status: 200, body: 'ok' };
  const noAgent = { status: 500, body: JSON.stringify(fixture('status-node-proxy-no-agent.json')) };
  assert.deepEqual((await checkTunnel(scripted([ok, ok, ok]), 'n1', 'p', 3)).map((f) => f.status), ['ok', 'ok', 'ok']);

  // One replica of three has no tunnel to the node: that request fails, with the partial-connection fix.
  const partly = await checkTunnel(scripted([ok, noAgent, ok]), 'n1', 'p', 3);
  assert.deepEqual(partly.map((f) => f.status), ['ok', 'failing', 'ok']);
  assert.match(partly[1].detail, /^No agent available/);
  assert.match(partly[1].fix!, /^2 of 3 requests reached the node.*--server-count=3/);

  // No tunnel at all: every request says so, with the plain fix.
  const none = await checkTunnel(scripted([noAgent, noAgent]), 'n1', 'p', 2);
  assert.deepEqual(none.map((f) => f.status), ['failing', 'failing']);
  assert.match(none[0].fix!, /^Check that the node can reach/);

  // The API server stops answering: Tether cannot tell, and does not wait for the same deadline again.
  const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:6443' } });
  const k = scripted([ok, refused, ok]);
  const cut = await checkTunnel(k, 'n1', 'p', 3);
  assert.equal(k.asked, 2);
  assert.deepEqual(cut.map((f) => f.status), ['ok', 'unknown', 'unknown']);
  assert.match(cut[1].detail, /did not reach the API server: ECONNREFUSED/);
  assert.match(cut[2].detail, /^Not asked/);
});
