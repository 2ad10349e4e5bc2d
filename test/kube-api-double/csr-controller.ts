// kube-controller-manager's csrapproving and csrsigning controllers for the kubelet client signer.
// The approver approves a CSR only when its requester may `create certificatesigningrequests/
// nodeclient` (bootstrap) or `/selfnodeclient` (renewal, CN = requester) and the request is a
// well-formed kubelet client CSR; the signer issues any approved CSR of the signers it owns.
import { allowed } from './rbac.ts';
import { inspectCsr, signCsr, type CsrInfo, type Pki } from './pki.ts';
import { rfc3339 } from './strategy.ts';
import type { Store, StoreEvent } from './store.ts';

export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
const API_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
const ONE_YEAR = 365 * 24 * 3600; // --cluster-signing-duration default

const same = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** certificates.ValidateKubeletClientCSR: null when the CSR is what a kubelet asks for. */
export function kubeletClientProblem(info: CsrInfo, usages: string[]): string | null {
  if (!same(info.organizations, ['system:nodes'])) return 'subject organization is not system:nodes';
  if (info.sans.length) return 'SANs are not allowed in kubelet client certificates';
  if (!info.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  if (!same(usages, ['digital signature', 'key encipherment', 'client auth']) && !same(usages, ['digital signature', 'client auth'])) {
    return 'usages did not match [client auth digital signature key encipherment]';
  }
  return null;
}

const condition = (type: string, reason: string, message: string) => {
  const now = rfc3339();
  return { type, status: 'True', reason, message, lastUpdateTime: now, lastTransitionTime: now };
};

export class CsrController {
  private readonly store: Store;
  private readonly pki: Pki;
  private readonly autoApprove: () => boolean;
  private readonly busy = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private unsubscribe: (() => void) | null = null;

  constructor(store: Store, pki: Pki, autoApprove: () => boolean) {
    this.store = store;
    this.pki = pki;
    this.autoApprove = autoApprove;
  }

  start(): void {
    this.unsubscribe = this.store.watch(this.store.resourceVersion, (e: StoreEvent) => {
      if (e.resource === 'certificatesigningrequests' && e.type !== 'DELETED') this.enqueue(e.key);
    });
  }

  private enqueue(name: string): void {
    if (this.busy.has(name)) { this.pending.add(name); return; }
    this.busy.add(name);
    const p = this.sync(name).catch(() => {}).finally(() => {
      this.busy.delete(name);
      this.running.delete(p);
      if (this.pending.delete(name)) this.enqueue(name);
    });
    this.running.add(p);
  }

  private async sync(name: string): Promise<void> {
    const csr = this.store.get('certificatesigningrequests', name);
    if (!csr) return;
    const conds: any[] = csr.status?.conditions ?? [];
    const has = (t: string) => conds.some((c) => c.type === t && c.status === 'True');
    if (has('Denied') || has('Failed') || csr.status?.certificate) return;
    const spec = csr.spec ?? {};
    const owned = spec.signerName === KUBELET_CLIENT_SIGNER || spec.signerName === API_CLIENT_SIGNER;
    if (!owned) return;
    const pem = Buffer.from(spec.request ?? '', 'base64').toString('utf8');
    let info: CsrInfo;
    try { info = await inspectCsr(pem); } catch { return; }
    const usages: string[] = spec.usages ?? [];
    const problem = spec.signerName === KUBELET_CLIENT_SIGNER ? kubeletClientProblem(info, usages) : null;

    if (!has('Approved')) {
      if (!this.autoApprove() || spec.signerName !== KUBELET_CLIENT_SIGNER || problem) return;
      const self = info.commonName === spec.username;
      const permitted = allowed({
        user: { name: spec.username, groups: spec.groups ?? [] }, verb: 'create', resourceRequest: true, path: '',
        group: 'certificates.k8s.io', resource: 'certificatesigningrequests', subresource: self ? 'selfnodeclient' : 'nodeclient', namespace: '', name: '',
      });
      if (!permitted) return;
      const msg = self ? 'Auto approving self kubelet client certificate after SubjectAccessReview.' : 'Auto approving kubelet client certificate after SubjectAccessReview.';
      this.patchStatus(name, csr.metadata.resourceVersion, (s) => ({ ...s, conditions: [...(s.conditions ?? []), condition('Approved', 'AutoApproved', msg)] }));
      return; // the write above re-enqueues this CSR for the signer
    }

    if (problem) {
      this.patchStatus(name, csr.metadata.resourceVersion, (s) => ({ ...s, conditions: [...(s.conditions ?? []), condition('Failed', 'SignerValidationFailure', problem)] }));
      return;
    }
    const seconds = Math.min(spec.expirationSeconds ?? ONE_YEAR, ONE_YEAR);
    const cert = await signCsr(this.pki, pem, usages, seconds);
    this.patchStatus(name, csr.metadata.resourceVersion, (s) => ({ ...s, certificate: Buffer.from(cert).toString('base64') }));
  }

  /** Writes only if nobody wrote in between (else the newer event re-enqueues it). */
  private patchStatus(name: string, rv: string, f: (status: any) => any): void {
    const cur = this.store.get('certificatesigningrequests', name);
    if (!cur || cur.metadata.resourceVersion !== rv) return;
    cur.status = f(cur.status ?? {});
    this.store.write('certificatesigningrequests', name, cur);
  }

  /** Resolves once every CSR written so far has been looked at (approved, signed or left alone). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.running]);
  }
}
