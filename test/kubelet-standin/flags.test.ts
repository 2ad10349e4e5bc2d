// The kubelet's flags as staged in /etc/default/kubelet, and its own refusal of labels it may not set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseEnvironmentFile, validateNodeLabels } from './flags.ts';

test('EnvironmentFile: quotes, comments, both flag spellings', () => {
  const env = parseEnvironmentFile('# staged by Tether\nKUBELET_EXTRA_ARGS="--node-ip=10.0.0.5 --node-labels=topology.kubernetes.io/zone=a,example.com/rack=r1 --hostname-override worker-1"\nOTHER=\'x\'\n');
  assert.equal(env.OTHER, 'x');
  const f = parseArgs(env.KUBELET_EXTRA_ARGS);
  assert.equal(f.nodeIp, '10.0.0.5');
  assert.equal(f.hostnameOverride, 'worker-1');
  assert.deepEqual(f.nodeLabels, { 'topology.kubernetes.io/zone': 'a', 'example.com/rack': 'r1' });
  assert.equal(f.bootstrapKubeconfig, '/etc/kubernetes/bootstrap-kubelet.conf');
  assert.equal(parseArgs('--cgroup-driver systemd --node-ip=1.2.3.4').nodeIp, '1.2.3.4', 'unknown flags with values are skipped');
  assert.throws(() => parseArgs('--node-labels=a'), /must be formatted as key=value/);
});

test('--node-labels: the kubelet refuses kubernetes.io labels outside its allowed set, with its own message', () => {
  validateNodeLabels({ 'topology.kubernetes.io/zone': 'a', 'kubernetes.io/hostname': 'h', 'node.kubernetes.io/instance-type': 'x', 'example.com/rack': 'r1', 'kubelet.kubernetes.io/y': '1' });
  assert.throws(() => validateNodeLabels({ 'node-role.kubernetes.io/worker': '', 'topology.kubernetes.io/zone': 'a' }), {
    message: "failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/worker]\n"
      + "--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (kubelet.kubernetes.io, node.kubernetes.io) or be in the specifically allowed set "
      + '(beta.kubernetes.io/arch, beta.kubernetes.io/instance-type, beta.kubernetes.io/os, failure-domain.beta.kubernetes.io/region, failure-domain.beta.kubernetes.io/zone, '
      + 'kubernetes.io/arch, kubernetes.io/hostname, kubernetes.io/os, node.kubernetes.io/instance-type, topology.kubernetes.io/region, topology.kubernetes.io/zone)',
  });
  assert.throws(() => validateNodeLabels({ 'foo.k8s.io/x': '1' }), /\[foo\.k8s\.io\/x\]/);
  assert.throws(() => validateNodeLabels({ 'example.com/rack': 'has space' }), /^Error: failed to validate kubelet flags: invalid node labels: 'has space'/);
});
