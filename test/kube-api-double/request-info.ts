// apiserver's RequestInfoFactory: turns a URL and method into the attributes authorization and
// routing work with (verb, group, version, namespace, resource, name, subresource).

export interface RequestInfo {
  resourceRequest: boolean;
  path: string;
  verb: string;
  group: string;
  version: string;
  namespace: string;
  resource: string;
  name: string;
  subresource: string;
  /** Path segments after the subresource (node proxy: the kubelet path). */
  rest: string[];
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const methodVerb: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete', GET: 'get', HEAD: 'get' };

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = { resourceRequest: false, path, verb: (method === 'HEAD' ? 'get' : method.toLowerCase()), group: '', version: '', namespace: '', resource: '', name: '', subresource: '', rest: [] };
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let cur: string[];
  if (parts[0] === 'api' && parts.length >= 3) { info.version = parts[1]; cur = parts.slice(2); }
  else if (parts[0] === 'apis' && parts.length >= 4) { info.group = parts[1]; info.version = parts[2]; cur = parts.slice(3); }
  else return info;
  info.resourceRequest = true;
  let watchPrefix = false;
  if (cur[0] === 'watch') { watchPrefix = true; cur = cur.slice(1); }
  if (cur[0] === 'namespaces' && cur.length > 1) {
    info.namespace = cur[1];
    if (cur.length > 2 && !NAMESPACE_SUBRESOURCES.has(cur[2])) cur = cur.slice(2);
  }
  info.resource = cur[0] ?? '';
  info.name = cur[1] ?? '';
  info.subresource = cur[2] ?? '';
  info.rest = cur.slice(3);
  const watchParam = ['1', 'true'].includes(query.get('watch') ?? '');
  info.verb = methodVerb[method] ?? method.toLowerCase();
  if (info.subresource === 'proxy') return info;
  if (watchPrefix || (method === 'GET' && watchParam)) info.verb = 'watch';
  else if (method === 'GET' && !info.name) info.verb = 'list';
  else if (method === 'DELETE' && !info.name) info.verb = 'deletecollection';
  return info;
}
