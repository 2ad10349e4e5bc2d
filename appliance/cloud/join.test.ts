import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { apiServerEndpoint, caCertHash, joinFiles, labelValue, nodeLabels, nodeNameFor, RACK_LABEL } from './join.ts';
import { newBootstrapToken } from './tokens.ts';
import { debianKubectl, opensslCa, tempDir } from './testkit.ts';

test('join: the CA hash is sha256 over the SubjectPublicKeyInfo, exactly as openssl computes it', async () => {
  const { dir, cleanup } = tempDir('tether-join-');
  try {
    const ca = await opensslCa(dir);
    const { stdout } = await execa('sh', ['-c', 'openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum'], { cwd: dir });
    assert.equal(caCertHash(ca), `sha256:${stdout.split(/\s/)[0]}`);
  } finally {
    cleanup();
  }
});

test('join: the staged files — kubeconfig accepted by Debian\'s kubectl, flags as the kubelet unit reads them, kubeadm v1beta4', async () => {
  const { dir, cleanup } = tempDir('tether-join-');
  try {
    const ca = await opensslCa(dir);
    const token = newBootstrapToken();
    const labels = nodeLabels({ zone: 'zone-a', region: 'dc1', rack: 'R 12/b' });
    const files = joinFiles({
      nodeName: 'worker-1', server: 'https://cp.example.test:6443', caPem: ca, token, kubeletConfig: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n',
      nodeIp: '10.1.2.3', labels,
    });
    const byPath = new Map(files.map((f) => [f.path, f]));
    assert.deepEqual([...byPath.keys()].sort(), ['etc/default/kubelet', 'etc/kubernetes/bootstrap-kubelet.conf', 'etc/kubernetes/kubeadm-join.yaml', 'etc/kubernetes/pki/ca.crt', 'var/lib/kubelet/config.yaml']);
    const text = (p: string) => Buffer.from(byPath.get(p)!.contentBase64, 'base64').toString();
    assert.equal(byPath.get('etc/kubernetes/bootstrap-kubelet.conf')!.mode, 0o600, 'the token is a credential');
    assert.equal(byPath.get('etc/kubernetes/kubeadm-join.yaml')!.mode, 0o600);
    assert.equal(text('etc/kubernetes/pki/ca.crt'), ca);

    const conf = join(dir, 'bootstrap-kubelet.conf');
    writeFileSync(conf, text('etc/kubernetes/bootstrap-kubelet.conf'));
    const kubectl = await debianKubectl();
    const { stdout } = await execa(kubectl, ['config', 'view', '--kubeconfig', conf, '--raw', '-o', 'json']);
    const view = JSON.parse(stdout) as { clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>; users: Array<{ user: { token: string } }>; 'current-context': string };
    assert.equal(view.clusters[0].cluster.server, 'https://cp.example.test:6443');
    assert.equal(Buffer.from(view.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), ca);
    assert.equal(view.users[0].user.token, `${token.id}.${token.secret}`);
    const ctx = await execa(kubectl, ['config', 'current-context', '--kubeconfig', conf]);
    assert.equal(ctx.stdout, view['current-context']);

    // The environment file, read the way systemd's EnvironmentFile / a shell would.
    writeFileSync(join(dir, 'kubelet.env'), text('etc/default/kubelet'));
    const env = await execa('sh', ['-c', '. ./kubelet.env; printf %s "$KUBELET_EXTRA_ARGS"'], { cwd: dir });
    assert.equal(env.stdout, `--node-ip=10.1.2.3 --node-labels=topology.kubernetes.io/zone=zone-a,topology.kubernetes.io/region=dc1,${RACK_LABEL}=R-12-b --hostname-override=worker-1`);

    const kubeadm = parse(text('etc/kubernetes/kubeadm-join.yaml')) as Record<string, any>;
    assert.equal(kubeadm.apiVersion, 'kubeadm.k8s.io/v1beta4');
    assert.equal(kubeadm.kind, 'JoinConfiguration');
    assert.deepEqual(kubeadm.discovery.bootstrapToken, { apiServerEndpoint: 'cp.example.test:6443', token: `${token.id}.${token.secret}`, caCertHashes: [caCertHash(ca)] });
    assert.equal(kubeadm.nodeRegistration.name, 'worker-1');
    assert.deepEqual(kubeadm.nodeRegistration.kubeletExtraArgs, [
      { name: 'node-ip', value: '10.1.2.3' },
      { name: 'node-labels', value: `topology.kubernetes.io/zone=zone-a,topology.kubernetes.io/region=dc1,${RACK_LABEL}=R-12-b` },
    ]);
  } finally {
    cleanup();
  }
});

test('join: node names are DNS-1123 subdomains, from the hostname when it allows, else the machine id', () => {
  const cases: Array<[{ id: string; hostname: string | null }, string]> = [
    [{ id: 'm-0a1b2c3d4e', hostname: null }, 'm-0a1b2c3d4e'],
    [{ id: 'm-0a1b2c3d4e', hostname: 'Worker-07' }, 'worker-07'],
    [{ id: 'm-0a1b2c3d4e', hostname: 'rack 3_node.dc1' }, 'rack-3-node.dc1'],
    [{ id: 'm-0a1b2c3d4e', hostname: '---' }, 'm-0a1b2c3d4e'],
    [{ id: 'M_0A', hostname: '' }, 'm-0a'],
  ];
  for (const [m, want] of cases) assert.equal(nodeNameFor(m), want, JSON.stringify(m));
});

test('join: label values and endpoints', () => {
  assert.equal(labelValue('  rack/07 '), 'rack-07');
  assert.equal(labelValue('-._'), null);
  assert.equal(labelValue('x'.repeat(80))!.length, 63);
  assert.deepEqual(nodeLabels({ zone: null, region: 'dc1', rack: null }), { 'topology.kubernetes.io/region': 'dc1' });
  assert.equal(apiServerEndpoint('https://10.0.0.1'), '10.0.0.1:443');
  assert.equal(apiServerEndpoint('https://[fd00::1]:6443/'), '[fd00::1]:6443');
});
