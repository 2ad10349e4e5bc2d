// Discovery documents from captures of a real API server (fixtures/discovery), trimmed to what the
// double actually serves: a client that discovers a resource here can use it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESOURCES } from './resources.ts';

const dir = join(import.meta.dirname, 'fixtures', 'discovery');
const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

const served = (group: string, name: string) => {
  const [resource, sub] = name.split('/');
  return RESOURCES.some((r) => r.group === group && r.resource === resource && (!sub || r.subresources.includes(sub)));
};

function resourceList(file: string, group: string): any {
  const doc = load(file);
  return { ...doc, resources: doc.resources.filter((r: any) => served(group, r.name)) };
}

const KAMAJI_GROUP = {
  name: 'kamaji.clastix.io',
  versions: [{ groupVersion: 'kamaji.clastix.io/v1alpha1', version: 'v1alpha1' }],
  preferredVersion: { groupVersion: 'kamaji.clastix.io/v1alpha1', version: 'v1alpha1' },
};

export function discoveryDocs(serverAddress: string): Map<string, any> {
  const api = load('api.json');
  api.serverAddressByClientCIDRs = [{ clientCIDR: '0.0.0.0/0', serverAddress }];
  const apis = load('apis.json');
  const groups = [...apis.groups, KAMAJI_GROUP].filter((g: any) => RESOURCES.some((r) => r.group === g.name));
  const docs = new Map<string, any>([
    ['/api', api],
    ['/apis', { ...apis, groups }],
    ['/api/v1', resourceList('api-v1.json', '')],
    ['/apis/certificates.k8s.io/v1', resourceList('apis-certificates.k8s.io-v1.json', 'certificates.k8s.io')],
    ['/apis/kamaji.clastix.io/v1alpha1', resourceList('apis-kamaji.clastix.io-v1alpha1.json', 'kamaji.clastix.io')],
  ]);
  for (const g of groups) docs.set(`/apis/${g.name}`, { kind: 'APIGroup', apiVersion: 'v1', ...g });
  return docs;
}
