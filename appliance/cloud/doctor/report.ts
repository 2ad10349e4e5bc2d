// Rendering doctor's findings: a table a staff member reads at a terminal (problems first, each with
// why and how to fix), or JSON for scripts and support tickets; and the exit code.
import type { Finding, Severity } from './types.ts';

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

const ORDER: Record<Severity, number> = { error: 0, warning: 1, ok: 2 };

/** 0 when nothing is an error, 1 otherwise (warnings alone do not fail the run). */
export function exitCode(findings: Finding[]): number {
  return findings.some((f) => f.severity === 'error') ? EXIT_FINDINGS : EXIT_OK;
}

export function summary(findings: Finding[]): Record<Severity, number> {
  const s: Record<Severity, number> = { error: 0, warning: 0, ok: 0 };
  for (const f of findings) s[f.severity]++;
  return s;
}

function sorted(findings: Finding[]): Finding[] {
  // Stable: checks keep their order within a severity.
  return findings.map((f, i) => [f, i] as const).sort((a, b) => ORDER[a[0].severity] - ORDER[b[0].severity] || a[1] - b[1]).map(([f]) => f);
}

export function renderJson(findings: Finding[], target: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ target, summary: summary(findings), findings: sorted(findings) }, null, 2)}\n`;
}

export function renderTable(findings: Finding[], target = ''): string {
  const all = sorted(findings);
  const rows = [['STATUS', 'CHECK', 'FINDING'], ...all.map((f) => [f.severity, f.id, f.title])];
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  let out = '';
  for (const r of rows) out += `${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c)).join('  ').trimEnd()}\n`;
  const problems = all.filter((f) => f.severity !== 'ok');
  for (const f of problems) {
    out += `\n${f.id} (${f.severity}): ${f.title}\n`;
    if (f.detail) out += wrap(`why: ${f.detail}`, '  ', '       ');
    if (f.fix) out += wrap(`fix: ${f.fix}`, '  ', '       ');
  }
  const s = summary(findings);
  out += `\n${s.error} error${s.error === 1 ? '' : 's'}, ${s.warning} warning${s.warning === 1 ? '' : 's'}, ${s.ok} ok${target ? ` — ${target}` : ''}\n`;
  return out;
}

/** Word-wraps prose at 100 columns; commands (which must stay copy-pastable) are never split. */
function wrap(text: string, first: string, rest: string, width = 100): string {
  const parts = text.split(/(`[^`]*`|kubectl [^;]*?(?=;|  — |$))/);
  const words: string[] = [];
  for (const p of parts) {
    if (!p) continue;
    if (p.startsWith('`') || p.startsWith('kubectl ')) words.push(p);
    else words.push(...p.split(/\s+/).filter(Boolean));
  }
  let line = first;
  let out = '';
  let empty = true;
  for (const w of words) {
    // Punctuation stays on the line of the word before it, even past the width.
    if (!empty && /^[;,.)]/.test(w)) {
      line += w;
      continue;
    }
    if (!empty && line.length + 1 + w.length > width) {
      out += `${line}\n`;
      line = rest;
      empty = true;
    }
    line += empty ? w : ` ${w}`;
    empty = false;
  }
  return `${out}${line}\n`;
}
