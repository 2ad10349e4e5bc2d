// Label and field selectors with apimachinery's semantics: `a!=b` and `a notin (..)` also match
// objects without the label; field selectors accept only the fields a resource declares (anything
// else is a 400, as `field label not supported: x`).
import { badRequest } from './status.ts';

type Op = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
export interface Requirement { key: string; op: Op; values: string[] }
export type LabelSelector = Requirement[];

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out;
}

const keyRe = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(k: string, whole: string): string {
  if (!keyRe.test(k)) throw badRequest(`unable to parse requirement: invalid label key "${k}" in selector "${whole}"`);
  return k;
}
function checkValue(v: string, whole: string): string {
  if (!valueRe.test(v) || v.length > 63) throw badRequest(`unable to parse requirement: invalid label value: "${v}" in selector "${whole}"`);
  return v;
}

export function parseLabelSelector(s: string | null | undefined): LabelSelector {
  if (!s || !s.trim()) return [];
  const reqs: LabelSelector = [];
  for (const raw of splitTop(s)) {
    const part = raw.trim();
    if (!part) throw badRequest(`found '', expected: identifier in selector "${s}"`);
    let m: RegExpExecArray | null;
    if ((m = /^!\s*(\S+)$/.exec(part))) { reqs.push({ key: checkKey(m[1], s), op: '!', values: [] }); continue; }
    if ((m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part))) {
      const values = m[3].split(',').map((v) => checkValue(v.trim(), s));
      reqs.push({ key: checkKey(m[1], s), op: m[2] as Op, values });
      continue;
    }
    if ((m = /^([^!=<>\s]+)\s*(==|!=|=|>|<)\s*(\S*)$/.exec(part))) {
      const op: Op = m[2] === '==' || m[2] === '=' ? '=' : m[2] === '!=' ? '!=' : m[2] === '>' ? 'gt' : 'lt';
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(m[3])) throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer in selector "${s}"`);
      reqs.push({ key: checkKey(m[1], s), op, values: [checkValue(m[3], s)] });
      continue;
    }
    if (/^\S+$/.test(part)) { reqs.push({ key: checkKey(part, s), op: 'exists', values: [] }); continue; }
    throw badRequest(`unable to parse requirement: "${part}" in selector "${s}"`);
  }
  return reqs;
}

export function matchLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists': return has;
      case '!': return !has;
      case '=': return has && v === r.values[0];
      case '!=': return !has || v !== r.values[0];
      case 'in': return has && r.values.includes(v);
      case 'notin': return !has || !r.values.includes(v);
      case 'gt': return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
      case 'lt': return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
    }
  });
}

export interface FieldRequirement { field: string; op: '=' | '!='; value: string }
export type FieldSelector = FieldRequirement[];

/** Commas and `=` inside values are escaped with a backslash (fields.EscapeValue). */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) { cur += s[i] + s[i + 1]; i++; continue; }
    if (s[i] === sep) { out.push(cur); cur = ''; continue; }
    cur += s[i];
  }
  out.push(cur);
  return out;
}
const unescape = (v: string) => v.replace(/\\(.)/g, '$1');

export function parseFieldSelector(s: string | null | undefined, supported: string[]): FieldSelector {
  if (!s || !s.trim()) return [];
  return splitEscaped(s, ',').map((part) => {
    const m = /^([^=!]+?)(==|!=|=)(.*)$/s.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1].trim();
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]) };
  });
}

export function matchFields(sel: FieldSelector, fields: Record<string, string>): boolean {
  return sel.every((r) => ((fields[r.field] ?? '') === r.value) === (r.op === '='));
}
