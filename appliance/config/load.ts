// Loads tether.yaml: YAML → environment overrides → schema (with defaults) → cross-field checks.
// Any problem is a ConfigError whose message names the key, the value and what is allowed; the
// daemon refuses to start on it rather than guessing.
import { readFileSync, existsSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument, parse as parseYamlScalar } from 'yaml';
import { configSchema, type TetherConfig } from './schema.ts';
import { inSubnet, ipToInt, parseCidr } from '../../pxe/net/ipv4.ts';

export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(key ? `${key}: ${message}` : message);
    this.name = 'ConfigError';
    this.key = key;
  }
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: true, allowUnionTypes: true, verbose: true });
ajv.addKeyword({ keyword: 'allowed', schemaType: 'string' });
const validate = ajv.compile(configSchema);

export interface LoadOptions {
  /** Path of tether.yaml; a missing file at the default path means "all defaults". */
  path?: string;
  /** Explicitly given path must exist. */
  required?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(o: LoadOptions = {}): TetherConfig {
  const env = o.env ?? process.env;
  const path = o.path ?? env.TETHER_CONFIG ?? 'tether.yaml';
  let raw: unknown = {};
  if (existsSync(path)) {
    raw = parseYaml(readFileSync(path, 'utf8'), path);
  } else if (o.required || o.path || env.TETHER_CONFIG) {
    throw new ConfigError('', `config file ${path} does not exist`);
  }
  return configFrom(raw, env);
}

/** Validates an already-parsed document (plus environment overrides); used by tests and the CLI. */
export function configFrom(raw: unknown, env: NodeJS.ProcessEnv = {}): TetherConfig {
  const doc = raw ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('', 'the file must hold a mapping of keys (dataDir, http, zones, ...)');
  applyEnv(doc as Record<string, unknown>, env);
  if (!validate(doc)) throw toConfigError(validate.errors![0], doc);
  const config = doc as unknown as TetherConfig;
  checkCrossFields(config);
  return config;
}

function parseYaml(text: string, path: string): unknown {
  const d = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (d.errors.length) {
    const e = d.errors[0];
    const line = e.linePos?.[0];
    throw new ConfigError('', `${path}${line ? ` line ${line.line}, column ${line.col}` : ''}: ${e.message.split('\n')[0]}`);
  }
  return d.toJS();
}

/**
 * Environment overrides for containers: TETHER_<KEY>[__<KEY>...] sets a nested key, matched
 * case-insensitively against the schema (TETHER_HTTP__LISTEN=0.0.0.0:80, TETHER_DATADIR=/var/lib/tether).
 * Values are YAML scalars or flow collections, so numbers, booleans and lists keep their types.
 */
function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TETHER_') || name === 'TETHER_CONFIG' || value === undefined) continue;
    const segments = name.slice('TETHER_'.length).split('__');
    let schema: SchemaNode | undefined = configSchema as SchemaNode;
    let target = doc;
    const keys: string[] = [];
    for (const [i, seg] of segments.entries()) {
      const props: Record<string, SchemaNode> = schema?.properties ?? {};
      const key = Object.keys(props).find((k) => k.toLowerCase() === seg.toLowerCase().replaceAll('_', ''));
      if (!key) throw new ConfigError(`env ${name}`, `no such option; options here: ${Object.keys(props).join(', ')}`);
      keys.push(key);
      schema = props[key];
      if (i === segments.length - 1) {
        target[key] = parseYamlScalar(value);
      } else {
        const next = target[key];
        if (next === undefined || next === null) target[key] = {};
        else if (typeof next !== 'object' || Array.isArray(next)) throw new ConfigError(keys.join('.'), 'is not a mapping, cannot override a key inside it');
        target = target[key] as Record<string, unknown>;
      }
    }
  }
}

interface SchemaNode { properties?: Record<string, SchemaNode>; allowed?: string; [k: string]: unknown }

function keyPath(instancePath: string): string {
  // /zones/0/dhcp/mode -> zones[0].dhcp.mode
  return instancePath.split('/').filter(Boolean).reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function valueAt(doc: unknown, instancePath: string): unknown {
  let v: unknown = doc;
  for (const seg of instancePath.split('/').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[seg];
  return v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function toConfigError(e: ErrorObject, doc: unknown): ConfigError {
  const key = keyPath(e.instancePath);
  const value = valueAt(doc, e.instancePath);
  const schema = e.parentSchema as SchemaNode | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((schema?.properties ?? {}) as object);
      return new ConfigError(key ? `${key}.${extra}` : extra, `unknown key; allowed keys here: ${allowed.join(', ')}`);
    }
    case 'required':
      return new ConfigError(key, `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`);
    case 'enum':
      return new ConfigError(key, `${show(value)} is not allowed; allowed: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`);
    case 'type':
      return new ConfigError(key, `${show(value)} is ${kindOf(value)}; expected ${[e.params.type].flat().join(' or ')}`);
    case 'pattern':
      return new ConfigError(key, `${show(value)} is not allowed; expected ${schema?.allowed ?? `text matching ${(e.params as { pattern: string }).pattern}`}`);
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return new ConfigError(key, `${show(value)} is out of range; allowed: ${e.message}`);
    case 'minItems': case 'maxItems':
      return new ConfigError(key, `${show(value)} has the wrong number of entries; ${e.message}`);
    default:
      return new ConfigError(key, `${show(value)} is not allowed: ${e.message}`);
  }
}

function checkCrossFields(c: TetherConfig): void {
  const [, port] = /^(.*):(\d+)$/.exec(c.http.listen)!.slice(1);
  if (Number(port) > 65535) throw new ConfigError('http.listen', `${show(c.http.listen)} has port ${port}; allowed: 0-65535`);
  const zoneNames = new Set<string>();
  const owner = new Map<string, string>();
  c.zones.forEach((z, zi) => {
    if (zoneNames.has(z.name)) throw new ConfigError(`zones[${zi}].name`, `${show(z.name)} is used by two zones; zone names must be unique`);
    zoneNames.add(z.name);
    z.interfaces.forEach((ifn, ii) => {
      const other = owner.get(ifn);
      if (other) throw new ConfigError(`zones[${zi}].interfaces[${ii}]`, `${show(ifn)} already belongs to zone ${other}; an interface serves one zone`);
      owner.set(ifn, z.name);
    });
    if (z.dhcp.mode === 'full' && z.dhcp.pools.length === 0) {
      throw new ConfigError(`zones[${zi}].dhcp.pools`, 'is empty; mode "full" hands out addresses and needs at least one pool');
    }
    z.dhcp.pools.forEach((p, pi) => {
      const at = `zones[${zi}].dhcp.pools[${pi}]`;
      const subnet = parseCidr(p.subnet);
      const [first, last] = p.range;
      for (const [i, ip] of p.range.entries()) {
        if (!inSubnet(ip, subnet)) throw new ConfigError(`${at}.range[${i}]`, `${show(ip)} is outside the pool's subnet ${p.subnet}`);
      }
      if (ipToInt(first) > ipToInt(last)) throw new ConfigError(`${at}.range`, `${show(p.range)} starts after it ends; allowed: first address <= last address`);
      p.reservations.forEach((r, ri) => {
        if (!inSubnet(r.ip, subnet)) throw new ConfigError(`${at}.reservations[${ri}].ip`, `${show(r.ip)} is outside the pool's subnet ${p.subnet}`);
      });
    });
  });
  c.images.catalog.forEach((img, i) => img.zones.forEach((zn, j) => {
    if (!zoneNames.has(zn)) throw new ConfigError(`images.catalog[${i}].zones[${j}]`, `${show(zn)} is not a configured zone; zones: ${[...zoneNames].join(', ') || '(none)'}`);
  }));
  if (c.cloud.tenantControlPlane && !c.cloud.managementKubeconfig) {
    throw new ConfigError('cloud.tenantControlPlane', 'needs cloud.managementKubeconfig (the cluster where the TenantControlPlane lives)');
  }
}

export type { TetherConfig, ZoneConfig, PoolConfig } from './schema.ts';
