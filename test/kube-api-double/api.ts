// The resource endpoints: get, list (selectors, limit/continue), watch, create, update, patch,
// delete, deletecollection and the subresources (status, approval, node proxy), each with the
// preconditions, admission and error Statuses of the real registry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { User } from './auth.ts';
import { checkAccept, readJson, send } from './http.ts';
import type { NodeProxy } from './node-proxy.ts';
import { applyPatch, PATCH_TYPES } from './patch.ts';
import { admitNodeWrite } from './rbac.ts';
import type { RequestInfo } from './request-info.ts';
import { apiVersionOf, findResource, groupResource, RESOURCES, selectableFields, supportedFields, type ResourceDef } from './resources.ts';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import {
  alreadyExists, ApiError, badRequest, conflict, deleted, expired, expiredContinue, methodNotAllowed, notFound, resourceNotFound,
} from './status.ts';
import { keyOf, type Store, type StoreEvent } from './store.ts';
import { listItem, prepareCreate, prepareUpdate, toWire, validate } from './strategy.ts';
import { toTable, wantsTable } from './table.ts';

export interface ApiRequest { req: IncomingMessage; res: ServerResponse; url: URL; info: RequestInfo; user: User }

export interface ResourceApiOptions {
  /** Checks that need more than the object (CSR parsing with openssl). */
  onCreate: (def: ResourceDef, obj: any) => Promise<void>;
  /** The NodeRestriction admission plugin is enabled (kubeadm enables it; Kamaji only if listed). */
  nodeRestriction: boolean;
}

const custom = (d: ResourceDef) => d.group === 'kamaji.clastix.io';
const NS = { group: '', resource: 'namespaces' };

export class ResourceApi {
  private readonly store: Store;
  private readonly proxy: NodeProxy;
  private readonly o: ResourceApiOptions;

  constructor(store: Store, proxy: NodeProxy, o: ResourceApiOptions) {
    this.store = store;
    this.proxy = proxy;
    this.o = o;
  }

  /** Serves one resource request; returns the HTTP status written (for the request log). */
  async serve(r: ApiRequest): Promise<number> {
    const { info } = r;
    const def = findResource(info.group, info.version, info.resource);
    if (!def) throw resourceNotFound();
    const isNamespaceObject = def.resource === 'namespaces';
    const ns = isNamespaceObject ? '' : info.namespace;
    if (ns && !def.namespaced) throw resourceNotFound();
    if (def.namespaced && !ns && !['list', 'watch'].includes(info.verb)) throw resourceNotFound();
    if (info.subresource && !def.subresources.includes(info.subresource)) throw resourceNotFound();
    if (info.subresource && !info.name) throw resourceNotFound();
    if (info.subresource === 'proxy') return this.nodeProxy(r, def);
    checkAccept(r.req.headers.accept);
    const dryRun = r.url.searchParams.getAll('dryRun').includes('All');
    switch (info.verb) {
      case 'get': return this.get(r, def, ns || null);
      case 'list': return this.list(r, def, ns || null);
      case 'watch': return this.watch(r, def, ns || null);
      case 'create':
        if (info.name) throw methodNotAllowed();
        return this.create(r, def, ns || null, dryRun);
      case 'update': return this.update(r, def, ns || null, dryRun);
      case 'patch': return this.patch(r, def, ns || null, dryRun);
      case 'delete':
        if (info.subresource) throw methodNotAllowed();
        return this.delete(r, def, ns || null, dryRun);
      case 'deletecollection': return this.deleteCollection(r, def, ns || null, dryRun);
      default: throw methodNotAllowed();
    }
  }

  private existing(def: ResourceDef, ns: string | null, name: string): any {
    const o = this.store.get(def.resource, keyOf(ns, name));
    if (!o) throw notFound(groupResource(def), name);
    return o;
  }

  private respond(r: ApiRequest, def: ResourceDef, code: number, obj: any): number {
    if (wantsTable(r.req.headers.accept)) send(r.res, code, toTable(def, [obj], obj.metadata.resourceVersion, r.url.searchParams.get('includeObject')));
    else send(r.res, code, toWire(def, obj));
    return code;
  }

  private get(r: ApiRequest, def: ResourceDef, ns: string | null): number {
    return this.respond(r, def, 200, this.existing(def, ns, r.info.name));
  }

  private filter(r: ApiRequest, def: ResourceDef): (o: any) => boolean {
    const labels = parseLabelSelector(r.url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(r.url.searchParams.get('fieldSelector'), supportedFields(def));
    return (o) => matchLabels(labels, o.metadata?.labels) && matchFields(fields, selectableFields(def, o));
  }

  private list(r: ApiRequest, def: ResourceDef, ns: string | null): number {
    const q = r.url.searchParams;
    const match = this.filter(r, def);
    const limit = Number(q.get('limit') ?? 0);
    const cont = q.get('continue');
    let rv = this.store.resourceVersion;
    let start = '';
    let table: Map<string, any> | undefined;
    if (cont) {
      let token: { rv?: number; start?: string };
      try { token = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')); } catch { throw badRequest('invalid continue token'); }
      if (typeof token.rv !== 'number' || typeof token.start !== 'string') throw badRequest('invalid continue token');
      rv = token.rv;
      start = token.start;
    } else if (q.get('resourceVersionMatch') === 'Exact' && q.get('resourceVersion')) {
      rv = Number(q.get('resourceVersion'));
    }
    if (rv !== this.store.resourceVersion) {
      const snap = this.store.snapshot(def.resource, rv);
      if (!snap) throw cont ? expiredContinue() : new ApiError(expired(rv, this.store.oldestWatchable + 1));
      table = snap;
    }
    const all = this.store.list(def.resource, ns, table).filter(match);
    const key = (o: any) => keyOf(o.metadata.namespace, o.metadata.name);
    const from = start ? all.filter((o) => key(o) >= start) : all;
    const page = limit > 0 ? from.slice(0, limit) : from;
    const meta: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && from.length > limit) {
      meta.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${key(from[limit])}` })).toString('base64');
      meta.remainingItemCount = from.length - limit;
    }
    if (wantsTable(r.req.headers.accept)) {
      const { resourceVersion: _rv, ...extra } = meta;
      send(r.res, 200, toTable(def, page, String(rv), q.get('includeObject'), extra));
      return 200;
    }
    send(r.res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: meta, items: page.map((o) => listItem(def, o)) });
    return 200;
  }

  private watch(r: ApiRequest, def: ResourceDef, ns: string | null): number {
    const q = r.url.searchParams;
    const byName = r.info.name ? (o: any) => o.metadata?.name === r.info.name : () => true;
    const sel = this.filter(r, def);
    const match = (o: any) => !!o && (!ns || o.metadata?.namespace === ns) && byName(o) && sel(o);
    const res = r.res;
    res.writeHead(200, { 'Cache-Control': 'no-cache, private', 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const write = (type: string, object: any) => { if (!res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`); };
    const rvParam = q.get('resourceVersion') ?? '';
    let from = Number(rvParam);
    if (rvParam === '' || rvParam === '0') {
      // "Get state and start at most recent": synthetic ADDED for what exists now.
      from = this.store.resourceVersion;
      for (const o of this.store.list(def.resource, ns).filter(match)) write('ADDED', toWire(def, o));
    } else if (!/^\d+$/.test(rvParam)) {
      write('ERROR', badRequest(`invalid resource version: ${rvParam}`).status);
      res.end();
      return 200;
    }
    const unsubscribe = this.store.watch(from, (e: StoreEvent) => {
      if (e.resource !== def.resource) return;
      const was = e.prev !== null && match(e.prev);
      const is = e.type !== 'DELETED' && match(e.object);
      if (e.type === 'DELETED') { if (was) write('DELETED', toWire(def, e.object)); return; }
      if (is) write(was ? 'MODIFIED' : 'ADDED', toWire(def, e.object));
      else if (was) {
        // Left the selector: the watch cache sends DELETED with the old content at the new version.
        const gone = structuredClone(e.prev);
        gone.metadata.resourceVersion = String(e.rv);
        write('DELETED', toWire(def, gone));
      }
    });
    if (!unsubscribe) {
      write('ERROR', expired(from, this.store.oldestWatchable + 1));
      res.end();
      return 200;
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
    const stop = () => { unsubscribe(); if (timer) clearTimeout(timer); };
    res.on('close', stop);
    r.req.on('close', stop);
    return 200;
  }

  private checkKind(def: ResourceDef, body: any): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: body is not an object`);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(def)) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(def)})`);
    }
    if (body.kind !== undefined && body.kind !== def.kind) {
      const other = RESOURCES.find((d) => d.kind === body.kind);
      throw badRequest(`${other ? other.kind : body.kind} in version "${def.version}" cannot be handled as a ${def.kind}: no kind "${body.kind}" is registered for version "${apiVersionOf(def)}"`);
    }
  }

  private checkNamespace(def: ResourceDef, ns: string | null): void {
    if (def.namespaced && ns && !this.store.get('namespaces', ns)) throw notFound(NS, ns);
  }

  private admit(r: ApiRequest, def: ResourceDef, name: string, next: any, old: any | null): void {
    if (def.kind !== 'Node' || !this.o.nodeRestriction) return;
    const denied = admitNodeWrite(r.user, name, next, old);
    if (denied) throw denied;
  }

  private async create(r: ApiRequest, def: ResourceDef, ns: string | null, dryRun: boolean): Promise<number> {
    const { value: body } = await readJson(r.req);
    this.checkKind(def, body);
    if (def.namespaced && body.metadata?.namespace && body.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    this.checkNamespace(def, ns); // NamespaceLifecycle admission runs before validation
    const obj = prepareCreate(def, body, r.user, ns);
    validate(def, obj, null);
    this.admit(r, def, obj.metadata.name, obj, null);
    await this.o.onCreate(def, obj);
    const key = keyOf(ns, obj.metadata.name);
    if (this.store.get(def.resource, key)) throw alreadyExists(groupResource(def), obj.metadata.name);
    const stored = dryRun ? { ...obj, metadata: { ...obj.metadata, resourceVersion: '' } } : this.store.write(def.resource, key, obj);
    return this.respond(r, def, 201, stored);
  }

  /** Shared tail of update and patch: preconditions, strategy, validation, admission, write. */
  private commit(r: ApiRequest, def: ResourceDef, ns: string | null, old: any, next: any, dryRun: boolean): number {
    const name = r.info.name;
    const gr = groupResource(def);
    const wantRv = next.metadata?.resourceVersion;
    if (wantRv && wantRv !== old.metadata.resourceVersion) throw conflict(gr, name);
    const wantUid = next.metadata?.uid;
    if (wantUid && wantUid !== old.metadata.uid) {
      throw conflict(gr, name, `Precondition failed: UID in precondition: ${wantUid}, UID in object meta: ${old.metadata.uid}`);
    }
    const obj = prepareUpdate(def, next, old, r.info.subresource);
    validate(def, obj, old);
    this.admit(r, def, name, obj, old);
    const stored = dryRun ? obj : this.store.write(def.resource, keyOf(ns, name), obj);
    return this.respond(r, def, 200, stored);
  }

  private async update(r: ApiRequest, def: ResourceDef, ns: string | null, dryRun: boolean): Promise<number> {
    const { value: body } = await readJson(r.req);
    this.checkKind(def, body);
    if (body.metadata?.name && body.metadata.name !== r.info.name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${r.info.name})`);
    }
    if (def.namespaced && body.metadata?.namespace && body.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const old = this.existing(def, ns, r.info.name);
    return this.commit(r, def, ns, old, body, dryRun);
  }

  private async patch(r: ApiRequest, def: ResourceDef, ns: string | null, dryRun: boolean): Promise<number> {
    const { type, value } = await readJson(r.req, [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply, 'application/json']);
    if (type === 'application/json' || type === PATCH_TYPES.apply) applyPatch(type, {}, value, custom(def)); // throws the 415
    const old = this.existing(def, ns, r.info.name);
    const current = toWire(def, old);
    const patched = applyPatch(type, current, value, custom(def));
    if (patched?.metadata?.name !== undefined && patched.metadata.name !== r.info.name) {
      throw badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${r.info.name})`);
    }
    // The patched object still carries the stored resourceVersion unless the patch set one: only
    // a resourceVersion the patch itself sets can conflict.
    return this.commit(r, def, ns, old, patched, dryRun);
  }

  private async deleteOptions(r: ApiRequest): Promise<any> {
    if (!r.req.headers['content-length'] && !r.req.headers['transfer-encoding']) return {};
    const { value } = await readJson(r.req);
    return value ?? {};
  }

  private async delete(r: ApiRequest, def: ResourceDef, ns: string | null, dryRun: boolean): Promise<number> {
    const opts = await this.deleteOptions(r);
    const name = r.info.name;
    const old = this.existing(def, ns, name);
    const gr = groupResource(def);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) throw conflict(gr, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(gr, name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${old.metadata.resourceVersion}). The object might have been modified`);
    }
    const gone = dryRun ? old : this.store.remove(def.resource, keyOf(ns, name));
    // Pods are returned whole (graceful deletion); other stores answer with a Success Status.
    if (def.kind === 'Pod') return this.respond(r, def, 200, gone);
    send(r.res, 200, deleted(gr, name, old.metadata.uid));
    return 200;
  }

  private async deleteCollection(r: ApiRequest, def: ResourceDef, ns: string | null, dryRun: boolean): Promise<number> {
    await this.deleteOptions(r);
    const match = this.filter(r, def);
    const victims = this.store.list(def.resource, ns).filter(match);
    const items = victims.map((o) => (dryRun ? o : this.store.remove(def.resource, keyOf(o.metadata.namespace, o.metadata.name))));
    send(r.res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.store.resourceVersion) }, items: items.map((o) => listItem(def, o)) });
    return 200;
  }

  private nodeProxy(r: ApiRequest, def: ResourceDef): number {
    const node = this.existing(def, null, r.info.name);
    const a = this.proxy.answer(node, r.info.rest.join('/'));
    send(r.res, a.status, a.body, a.contentType);
    return a.status;
  }
}
