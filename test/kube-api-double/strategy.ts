// What the registry strategies do to an object before it is stored: defaults and server-owned
// metadata on create, carrying spec/status across the main endpoint and its subresources on
// update, Secret stringData folding, CSR requester identity, and the validation that answers 422.
import { randomUUID } from 'node:crypto';
import type { User } from './auth.ts';
import { apiVersionOf, type ResourceDef } from './resources.ts';
import { defaultTenantControlPlane } from './kamaji-defaults.ts';
import { ApiError, badRequest, failure, invalid, type StatusCause } from './status.ts';

export const rfc3339 = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

const META_ORDER = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'];
const BODY_ORDER: Record<string, string[]> = {
  Secret: ['immutable', 'data', 'type'],
  ConfigMap: ['immutable', 'data', 'binaryData'],
};

function ordered(o: Record<string, any>, order: string[]): Record<string, any> {
  const out: Record<string, any> = {};
  for (const k of order) if (o[k] !== undefined) out[k] = o[k];
  for (const [k, v] of Object.entries(o)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

/** Field order as the real encoder writes it (Go struct order): kind, apiVersion, metadata, ..., status. */
export function toWire(def: ResourceDef, o: any): any {
  const { kind: _k, apiVersion: _a, metadata, status, ...rest } = o;
  const body = ordered(rest, BODY_ORDER[def.kind] ?? ['spec']);
  const out: Record<string, any> = { kind: def.kind, apiVersion: apiVersionOf(def), metadata: ordered(metadata ?? {}, META_ORDER), ...body };
  if (status !== undefined) out.status = status;
  return out;
}

/** A list item: the same object without kind/apiVersion, as the real List encoding has it. */
export function listItem(def: ResourceDef, o: any): any {
  const { kind: _k, apiVersion: _a, ...rest } = toWire(def, o);
  return rest;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffix = () => Array.from({ length: 5 }, () => NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)]).join('');

const b64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function normalizeSecret(o: any): void {
  if (o.data !== undefined && !isObj(o.data)) throw badRequest('Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal into Go struct field Secret.data');
  const data: Record<string, string> = { ...(o.data ?? {}) };
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || !b64Re.test(v)) {
      throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${typeof v === 'string' ? v.search(/[^A-Za-z0-9+/=]/) : 0} (data[${k}])`);
    }
  }
  // The internal Secret has no stringData: conversion folds it into data (stringData wins).
  for (const [k, v] of Object.entries(o.stringData ?? {})) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  delete o.stringData;
  if (Object.keys(data).length) o.data = data;
  else delete o.data;
  if (!o.type) o.type = 'Opaque';
}

/** Object as it will be stored on create (no resourceVersion yet). */
export function prepareCreate(def: ResourceDef, body: any, user: User, ns: string | null): any {
  const o = structuredClone(body);
  o.metadata = isObj(o.metadata) ? o.metadata : {};
  const m = o.metadata;
  if (m.resourceVersion) throw new ApiError(failure(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created'));
  if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix()}`;
  if (def.namespaced) m.namespace = ns;
  else delete m.namespace;
  m.uid = randomUUID();
  m.creationTimestamp = rfc3339();
  delete m.deletionTimestamp;
  delete m.selfLink;
  delete m.managedFields;
  switch (def.kind) {
    case 'Secret': normalizeSecret(o); break;
    case 'Namespace':
      m.labels = { ...(m.labels ?? {}), 'kubernetes.io/metadata.name': m.name };
      o.spec = { finalizers: ['kubernetes'] };
      o.status = { phase: 'Active' };
      break;
    case 'Pod': o.status = { phase: 'Pending', qosClass: 'BestEffort' }; break;
    case 'CertificateSigningRequest': {
      const spec = isObj(o.spec) ? o.spec : {};
      // The requester is whoever authenticated, whatever the body claims (csr strategy PrepareForCreate).
      delete spec.uid;
      delete spec.extra;
      o.spec = { ...spec, username: user.name, groups: user.groups };
      o.status = {};
      break;
    }
    case 'TenantControlPlane':
      m.generation = 1;
      delete o.status;
      defaultTenantControlPlane(o);
      break;
  }
  return o;
}

/**
 * Object as it will be stored on update of the main endpoint (`sub` = '') or a subresource.
 * Server-owned metadata always comes from `old`.
 */
export function prepareUpdate(def: ResourceDef, body: any, old: any, sub: string): any {
  let o: any;
  if (sub === 'status') o = { ...structuredClone(old), status: structuredClone(body.status ?? {}) };
  else if (sub === 'approval') {
    const conds = (body.status?.conditions ?? []).filter((c: any) => c?.type === 'Approved' || c?.type === 'Denied');
    const kept = (old.status?.conditions ?? []).filter((c: any) => c?.type !== 'Approved' && c?.type !== 'Denied');
    o = { ...structuredClone(old), status: { ...(old.status ?? {}), conditions: [...conds, ...kept] } };
  } else {
    o = structuredClone(body);
    o.metadata = isObj(o.metadata) ? o.metadata : {};
    if (def.subresources.includes('status')) o.status = structuredClone(old.status);
    if (def.kind === 'CertificateSigningRequest') o.spec = structuredClone(old.spec);
    if (def.kind === 'Secret') normalizeSecret(o);
  }
  const m = o.metadata;
  for (const k of ['uid', 'creationTimestamp', 'name', 'namespace', 'generateName']) {
    if (old.metadata[k] !== undefined) m[k] = old.metadata[k];
    else delete m[k];
  }
  delete m.managedFields;
  if (def.kind === 'TenantControlPlane') {
    defaultTenantControlPlane(o);
    const specChanged = JSON.stringify(o.spec) !== JSON.stringify(old.spec);
    m.generation = (old.metadata.generation ?? 1) + (specChanged ? 1 : 0);
  }
  return o;
}

const subdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const configKeyRe = /^[-._a-zA-Z0-9]+$/;
const qualifiedNameRe = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const USAGES = new Set(['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment',
  'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection',
  's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc']);

const cause = (field: string, message: string, reason = 'FieldValueInvalid'): StatusCause => ({ reason, message, field });
const invalidValue = (field: string, v: unknown, why: string) => cause(field, `Invalid value: ${JSON.stringify(v)}: ${why}`);

/** Per-kind name rules: most are DNS subdomains; CSRs only need to be a path segment (node-csr-<base64url>). */
function nameProblem(kind: string, name: string): string | null {
  if (kind === 'CertificateSigningRequest' || kind === 'Event') {
    if (name === '.' || name === '..') return `may not be '${name}'`;
    const bad = ['/', '%'].find((c) => name.includes(c));
    return bad ? `may not contain '${bad}'` : null;
  }
  if (kind === 'Namespace' || kind === 'Service') return labelRe.test(name) && name.length <= 63 ? null : LABEL_MSG;
  return subdomainRe.test(name) && name.length <= 253 ? null : SUBDOMAIN_MSG;
}

function validateMeta(def: ResourceDef, o: any): StatusCause[] {
  const out: StatusCause[] = [];
  const name = o.metadata?.name;
  if (!name) out.push(cause('metadata.name', 'Required value: name or generateName is required', 'FieldValueRequired'));
  else {
    const problem = nameProblem(def.kind, name);
    if (problem) out.push(invalidValue('metadata.name', name, problem));
  }
  for (const [k, v] of Object.entries(o.metadata?.labels ?? {})) {
    if (!qualifiedNameRe.test(k)) out.push(invalidValue('metadata.labels', k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
    if (typeof v !== 'string' || !labelValueRe.test(v) || v.length > 63) out.push(invalidValue('metadata.labels', v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
  }
  return out;
}

function validateCsr(o: any, old: any | null): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = o.spec ?? {};
  if (!old) {
    if (!spec.request) out.push(cause('spec.request', 'Required value', 'FieldValueRequired'));
    else if (!/-----BEGIN CERTIFICATE REQUEST-----/.test(Buffer.from(String(spec.request), 'base64').toString('latin1'))) {
      out.push(cause('spec.request', 'Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST'));
    }
    if (!spec.signerName) out.push(cause('spec.signerName', 'Required value', 'FieldValueRequired'));
    if (!Array.isArray(spec.usages) || !spec.usages.length) out.push(cause('spec.usages', 'Required value', 'FieldValueRequired'));
    else spec.usages.forEach((u: string, i: number) => { if (!USAGES.has(u)) out.push(cause(`spec.usages[${i}]`, `Unsupported value: ${JSON.stringify(u)}`, 'FieldValueNotSupported')); });
    if (spec.expirationSeconds !== undefined && spec.expirationSeconds < 600) out.push(invalidValue('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 600 seconds (10 minutes)'));
  }
  const types = (o.status?.conditions ?? []).map((c: any) => c?.type);
  if (types.includes('Approved') && types.includes('Denied')) out.push(invalidValue('status.conditions', 'Denied', 'Approved and Denied conditions are mutually exclusive'));
  if (old?.status?.certificate && o.status?.certificate !== old.status.certificate) {
    out.push(cause('status.certificate', 'Forbidden: updates may not modify existing certificate content', 'FieldValueForbidden'));
  }
  return out;
}

/** Throws the 422 Invalid Status when `o` (the object to store) breaks the type's rules. */
export function validate(def: ResourceDef, o: any, old: any | null): void {
  const causes = validateMeta(def, o);
  if (def.kind === 'Secret' || def.kind === 'ConfigMap') {
    for (const k of [...Object.keys(o.data ?? {}), ...Object.keys(o.binaryData ?? {})]) {
      if (!configKeyRe.test(k)) causes.push(invalidValue(`data[${k}]`, k, CONFIG_KEY_MSG));
    }
    const size = Object.values<string>(o.data ?? {}).reduce((n, v) => n + (def.kind === 'Secret' ? Buffer.from(v, 'base64').length : v.length), 0);
    if (size > 1048576) causes.push(cause('data', 'Too long: must have at most 1048576 bytes', 'FieldValueTooLong'));
    if (old && def.kind === 'Secret' && o.type !== old.type) causes.push(invalidValue('type', o.type, 'field is immutable'));
    if (old?.immutable && JSON.stringify(o.data) !== JSON.stringify(old.data)) causes.push(cause('data', 'Forbidden: field is immutable when `immutable` is set', 'FieldValueForbidden'));
  }
  if (def.kind === 'CertificateSigningRequest') causes.push(...validateCsr(o, old));
  if (causes.length) throw invalid(def.kind, def.group, o.metadata?.name ?? '', causes);
}
