// Numbers and tables for the benchmarks: percentiles, flags, and one side-by-side table per benchmark
// with ratios against the reference a user would run instead.

/** Nearest-rank percentile of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Column<Row> {
  title: string;
  value: (row: Row) => string;
  /** Right-align (numbers). */
  right?: boolean;
}

export function table<Row>(rows: readonly Row[], columns: ReadonlyArray<Column<Row>>): string {
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => c.value(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (columns[i].right ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** A figure with a fixed number of decimals; '-' when there is none. */
export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** `value / reference` as "1.23x"; for times pass them inverted so that higher is always better. */
export function ratio(value: number, reference: number): string {
  return Number.isFinite(value) && Number.isFinite(reference) && reference > 0 ? `${(value / reference).toFixed(2)}x` : '-';
}

/** Parses `--some-name value` flags (into `someName`; numbers or comma lists) over defaults; unknown flags are an error. */
export function flags<T extends Record<string, number | string | boolean>>(argv: string[], defaults: T, usage: string): T {
  const out: Record<string, number | string | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!argv[i].startsWith('--') || !(name in defaults)) {
      process.stderr.write(`unknown argument ${argv[i]}\n${usage}`);
      process.exit(2);
    }
    const d = defaults[name];
    if (typeof d === 'boolean') { out[name] = true; continue; }
    const v = argv[++i];
    if (v === undefined) { process.stderr.write(`${argv[i - 1]} needs a value\n${usage}`); process.exit(2); }
    out[name] = typeof d === 'number' ? Number(v) : v;
    if (typeof d === 'number' && !Number.isFinite(out[name])) { process.stderr.write(`${argv[i - 1]}: not a number: ${v}\n`); process.exit(2); }
  }
  return out as T;
}
