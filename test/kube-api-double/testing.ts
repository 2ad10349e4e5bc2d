// Test helpers: raw HTTPS requests to a double (so tests see status, headers and bytes exactly),
// a watch reader, and the real kubectl 1.20 from Debian's kubernetes-client package.
import { request } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { unpackDeb } from '../../images/debian/debs.ts';
import type { KubeApiDouble } from './server.ts';

export interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  contentType?: string;
  accept?: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}

/** One request; `token` defaults to the admin token, `null` sends no credential. */
export function call(d: KubeApiDouble, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const token = o.token === undefined ? d.adminToken : o.token;
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, d.url), {
      method,
      ca: d.caPem,
      cert: o.cert,
      key: o.key,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(payload !== undefined ? { 'Content-Type': o.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}),
        ...(o.accept ? { Accept: o.accept } : {}),
        ...o.headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Reads watch events until `until` says stop (or the server ends the stream). */
export function watchEvents(d: KubeApiDouble, path: string, until: (events: any[]) => boolean, token: string | null = d.adminToken): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const req = request(new URL(path, d.url), { ca: d.caPem, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
        if (until(events)) { req.destroy(); resolve(events); }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', (e) => { if (!req.destroyed || events.length === 0) reject(e); });
    req.end();
  });
}


/** A bootstrap token Secret as Tether mints it (kubeadm's layout and group). */
export function bootstrapTokenSecret(id: string, secret: string, o: { expiration?: string; usage?: string | null; groups?: string; tokenId?: string } = {}): any {
  const stringData: Record<string, string> = {
    'token-id': o.tokenId ?? id,
    'token-secret': secret,
    'auth-extra-groups': o.groups ?? 'system:bootstrappers:kubeadm:default-node-token',
    expiration: o.expiration ?? new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (o.usage !== null) stringData['usage-bootstrap-authentication'] = o.usage ?? 'true';
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' }, type: 'bootstrap.kubernetes.io/token', stringData };
}

let kubectlPath: Promise<string> | null = null;
/** Debian's kubectl 1.20, unpacked from kubernetes-client (never the kubectl on PATH). */
export function debianKubectl(): Promise<string> {
  kubectlPath ??= unpackDeb('kubernetes-client', '.cache/debs').then((u) => join(u.root, 'usr/bin/kubectl'));
  return kubectlPath;
}

/** Runs kubectl against a kubeconfig text with a private HOME (its discovery cache). */
export async function kubectl(kubeconfig: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = await debianKubectl();
  const home = mkdtempSync(join(tmpdir(), 'kubectl-home-'));
  const kc = join(home, 'kubeconfig');
  writeFileSync(kc, kubeconfig);
  try {
    const r = await execa(bin, ['--kubeconfig', kc, ...args], { env: { HOME: home, PATH: '/usr/bin:/bin' }, extendEnv: false, reject: false });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
