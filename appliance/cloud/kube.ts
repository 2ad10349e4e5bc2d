// The Kubernetes client, on @kubernetes/client-node: typed APIs plus a raw GET for the paths that
// have no typed call (/readyz) or whose failure text matters (node proxy). Every request gets a
// deadline, and all requests share one undici dispatcher that stop() closes: the library would
// otherwise build a fresh connection pool per request and leave it to the garbage collector.
import {
  CoreV1Api, CustomObjectsApi, HttpMethod, KubeConfig, RequestContext, ServerConfiguration, createConfiguration,
  type Middleware,
} from '@kubernetes/client-node';

export interface Kube {
  readonly kc: KubeConfig;
  readonly server: string;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  /** GET a path on the API server; any HTTP status resolves, only transport failures reject. */
  raw(path: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export function kubeFrom(kc: KubeConfig, o: { timeoutMs: number }): Kube {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster (set current-context)');
  let shared: Dispatcher | undefined;
  const closing = new Set<Dispatcher>();
  // Runs after the library applied the kubeconfig's credentials (which built a new dispatcher).
  const prepare = (ctx: RequestContext): RequestContext => {
    const fresh = ctx.getDispatcher();
    if (!shared) shared = fresh;
    else if (fresh && fresh !== shared) {
      ctx.setDispatcher(shared);
      closing.add(fresh);
      fresh.close().catch(() => {}).finally(() => closing.delete(fresh));
    }
    ctx.setSignal(AbortSignal.timeout(o.timeoutMs));
    return ctx;
  };
  const middleware: Middleware = { pre: async (ctx) => prepare(ctx), post: async (r) => r };
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [middleware],
  });
  return {
    kc,
    server: cluster.server,
    core: new CoreV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    async raw(path) {
      const ctx = new RequestContext(cluster.server.replace(/\/+$/, '') + path, HttpMethod.GET);
      ctx.setHeaderParam('Accept', 'application/json, */*');
      await kc.applySecurityAuthentication(ctx);
      const res = await configuration.httpApi.send(prepare(ctx)).toPromise();
      return { status: res.httpStatusCode, body: await res.body.text() };
    },
    async close() {
      await Promise.allSettled([shared?.close(), ...closing].filter(Boolean));
      shared = undefined;
    },
  };
}

/** A kubeconfig file's contents, or the file itself. */
export function loadKubeconfig(o: { path?: string; yaml?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (o.yaml !== undefined) kc.loadFromString(o.yaml);
  else kc.loadFromFile(o.path!);
  return kc;
}

/** The `Status` the API server answered with, from a client-node ApiException (or null). */
export interface KubeStatus { code: number; reason: string | null; message: string }

export function kubeStatus(e: unknown): KubeStatus | null {
  const x = e as { code?: unknown; body?: unknown };
  if (typeof x?.code !== 'number' || x.code < 100) return null;
  let body: { reason?: string; message?: string } | null = null;
  if (typeof x.body === 'string') {
    try { body = JSON.parse(x.body) as typeof body; } catch { body = { message: x.body.slice(0, 300) }; }
  } else if (x.body && typeof x.body === 'object') body = x.body as { reason?: string; message?: string };
  return { code: x.code, reason: body?.reason || null, message: body?.message || `HTTP ${x.code}` };
}

export const isNotFound = (e: unknown): boolean => kubeStatus(e)?.code === 404;
export const isAlreadyExists = (e: unknown): boolean => kubeStatus(e)?.code === 409 && kubeStatus(e)?.reason === 'AlreadyExists';

/** One line for logs, events and the API: the server's message, or the transport failure. */
export function describeError(e: unknown): string {
  const s = kubeStatus(e);
  if (s) return `${s.code}${s.reason ? ` ${s.reason}` : ''}: ${s.message}`;
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'no answer before the deadline (timeout)';
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return err?.message ?? String(e);
}
