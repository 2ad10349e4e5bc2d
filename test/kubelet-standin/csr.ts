// The kubelet's client-certificate request (pkg/kubelet/certificate/bootstrap): an EC P-256 key
// kept in kubelet-client.key.tmp across restarts, a CSR for CN=system:node:<name>, O=system:nodes,
// and the deterministic CSR name `node-csr-<digest>` so a restarted kubelet finds its own request.
import { execa } from 'execa';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';

export const KUBELET_USAGES_EC = ['digital signature', 'client auth'];

/** keyutil.LoadOrGenerateKeyFile's format for a new key: SEC1 "EC PRIVATE KEY". */
export function newKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'sec1', format: 'pem' }).toString();
}

/** certutil.MakeCSR: subject only, no SANs (Go orders O before CN). */
export async function makeCsr(keyFile: string, nodeName: string): Promise<string> {
  const { stdout } = await execa('openssl', ['req', '-new', '-key', keyFile, '-subj', `/O=system:nodes/CN=system:node:${nodeName}`]);
  return stdout.endsWith('\n') ? stdout : `${stdout}\n`;
}

/** bootstrap.digestedName: sha512/256 over base64url(field)|... of key, CN, O and usages. */
export function digestedName(keyPem: string, nodeName: string, usages: string[]): string {
  const der = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const h = createHash('sha512-256');
  const write = (b: Buffer) => { h.update(b.toString('base64url')); h.update('|'); };
  write(der);
  write(Buffer.from(`system:node:${nodeName}`));
  write(Buffer.from('system:nodes'));
  for (const u of usages) write(Buffer.from(u));
  return `node-csr-${h.digest().toString('base64url')}`;
}
