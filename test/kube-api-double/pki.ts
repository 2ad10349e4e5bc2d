// The double's cluster CA and its two signing jobs: the serving certificate for 127.0.0.1 and
// kubelet client certificates (what kube-controller-manager's csrsigning controller issues). All
// with the openssl CLI, so every certificate is an ordinary X.509 file any client can verify.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  caPem: string;
  caKeyPem: string;
  caPath: string;
  caKeyPath: string;
  servingCertPem: string;
  servingKeyPem: string;
  close(): void;
}

const serial = () => `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`;

/** A CA like kubeadm's/Kamaji's (RSA 2048, CN=kubernetes) and a serving cert for 127.0.0.1. */
export async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'kube-api-double-'));
  const p = (f: string) => join(dir, f);
  try {
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'),
      '-subj', '/CN=kubernetes', '-days', '3650',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign']);
    await execa('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', p('apiserver.key'), '-out', p('apiserver.csr'), '-subj', '/CN=kube-apiserver']);
    writeFileSync(p('apiserver.ext'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'));
    await execa('openssl', ['x509', '-req', '-in', p('apiserver.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-set_serial', serial(), '-days', '365', '-extfile', p('apiserver.ext'), '-out', p('apiserver.crt')]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    caPem: readFileSync(p('ca.crt'), 'utf8'),
    caKeyPem: readFileSync(p('ca.key'), 'utf8'),
    caPath: p('ca.crt'),
    caKeyPath: p('ca.key'),
    servingCertPem: readFileSync(p('apiserver.crt'), 'utf8'),
    servingKeyPem: readFileSync(p('apiserver.key'), 'utf8'),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CsrInfo {
  commonName: string;
  organizations: string[];
  /** DNS, IP, email or URI SANs, as openssl prints them. */
  sans: string[];
  keyAlgorithm: 'rsa' | 'ec' | 'other';
}

/** Parses and signature-checks a PEM CSR; throws when it is not one or the self-signature fails. */
export async function inspectCsr(pem: string): Promise<CsrInfo> {
  const { stdout } = await execa('openssl', ['req', '-noout', '-verify', '-subject', '-nameopt', 'sep_multiline,sname,utf8', '-text'], { input: pem });
  const subj = /^subject=\n((?:\s{4}.*\n?)*)/m.exec(stdout)?.[1] ?? '';
  const rdns = subj.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
  const alg = /Public Key Algorithm:\s*(\S+)/.exec(stdout)?.[1] ?? '';
  const sanLine = /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(stdout)?.[1];
  return {
    commonName: rdns.filter(([k]) => k === 'CN').map(([, v]) => v)[0] ?? '',
    organizations: rdns.filter(([k]) => k === 'O').map(([, v]) => v),
    sans: sanLine ? sanLine.split(',').map((s) => s.trim()) : [],
    keyAlgorithm: alg === 'rsaEncryption' ? 'rsa' : alg === 'id-ecPublicKey' ? 'ec' : 'other',
  };
}

const keyUsageNames: Record<string, string> = {
  'digital signature': 'digitalSignature', 'key encipherment': 'keyEncipherment', 'content commitment': 'nonRepudiation',
  'key agreement': 'keyAgreement', 'data encipherment': 'dataEncipherment', 'cert sign': 'keyCertSign', 'crl sign': 'cRLSign',
};
const extUsageNames: Record<string, string> = { 'client auth': 'clientAuth', 'server auth': 'serverAuth', 'code signing': 'codeSigning' };

/**
 * Issues a certificate for `csrPem` with the subject and SANs it asks for and the CSR's usages,
 * valid for `seconds` (openssl 3.0 counts whole days, so rounded up), like csrsigning.
 */
export async function signCsr(pki: Pki, csrPem: string, usages: string[], seconds: number): Promise<string> {
  const ku = usages.map((u) => keyUsageNames[u]).filter(Boolean);
  const eku = usages.map((u) => extUsageNames[u]).filter(Boolean);
  const ext = ['basicConstraints=critical,CA:FALSE', 'authorityKeyIdentifier=keyid'];
  if (ku.length) ext.push(`keyUsage=critical,${ku.join(',')}`);
  if (eku.length) ext.push(`extendedKeyUsage=${eku.join(',')}`);
  const extFile = join(pki.dir, `ext-${randomBytes(6).toString('hex')}.cnf`);
  writeFileSync(extFile, ext.join('\n') + '\n');
  try {
    const { stdout } = await execa('openssl', ['x509', '-req', '-CA', pki.caPath, '-CAkey', pki.caKeyPath,
      '-set_serial', serial(), '-days', String(Math.max(1, Math.ceil(seconds / 86400))), '-extfile', extFile, '-copy_extensions', 'copy'],
    { input: csrPem });
    return stdout.endsWith('\n') ? stdout : stdout + '\n';
  } finally {
    rmSync(extFile, { force: true });
  }
}
