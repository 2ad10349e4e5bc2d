// `GET /api/v1/nodes/<n>/proxy/<path>` through Konnectivity. Each API server replica has its own
// konnectivity-server and an agent may be connected to some of them only, so the answer is per
// replica; requests go round-robin over replicas, as behind the tenant's load balancer.
import { failure, type Status } from './status.ts';

export type Tunnel = 'ok' | 'no-agent' | 'timeout';

export class NodeProxy {
  private readonly state = new Map<string, Tunnel[]>();
  private readonly replicas: number;
  private next = 0;
  private readonly preferred: string[];

  constructor(replicas: number, preferredAddressTypes: string[]) {
    this.replicas = replicas;
    this.preferred = preferredAddressTypes;
  }

  /** Sets the tunnel for one replica, or all when `replica` is omitted. */
  set(node: string, t: Tunnel, replica?: number): void {
    const cur = this.state.get(node) ?? Array<Tunnel>(this.replicas).fill('no-agent');
    if (replica === undefined) cur.fill(t);
    else cur[replica % this.replicas] = t;
    this.state.set(node, cur);
  }

  /** The kubelet address the API server dials (--kubelet-preferred-address-types). */
  private address(node: any): string | null {
    const addrs: any[] = node.status?.addresses ?? [];
    for (const t of this.preferred) {
      const a = addrs.find((x) => x.type === t && x.address);
      if (a) return a.address;
    }
    return null;
  }

  /** What the API server answers for `node` (which exists); `path` is the kubelet path. */
  answer(node: any, path: string): { status: number; contentType: string; body: string | Status } {
    const replica = this.next++ % this.replicas;
    const t = this.state.get(node.metadata.name)?.[replica] ?? 'no-agent';
    const addr = this.address(node);
    if (!addr) {
      const known = JSON.stringify(node.status?.addresses ?? []);
      return { status: 500, contentType: 'application/json', body: failure(500, '', `no preferred addresses found; known addresses: ${known}`) };
    }
    // Konnectivity's dial failures come back as the bare error text, with no reason: the apiserver
    // wraps a non-API error into a 500 Status whose reason is empty.
    if (t === 'no-agent') return { status: 500, contentType: 'application/json', body: failure(500, '', 'No agent available') };
    if (t === 'timeout') return { status: 500, contentType: 'application/json', body: failure(500, '', `dial tcp ${addr.includes(':') ? `[${addr}]` : addr}:10250: i/o timeout`) };
    if (path === 'healthz') return { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' };
    return { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' };
  }
}
