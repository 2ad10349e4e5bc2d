// Install progress from the latest event of kind `install`: data {bytes, total, rate} (bytes
// written so far, image size, bytes per second), as the agent reports while streaming the image.
import type { EventRecord } from './api.ts';

export interface InstallProgress { bytes: number; total: number; rate: number | null; percent: number; etaSeconds: number | null; at: number }

export function installProgress(events: readonly EventRecord[]): InstallProgress | null {
  let latest: EventRecord | null = null;
  for (const e of events) if (e.kind === 'install' && (!latest || e.id > latest.id)) latest = e;
  const d = latest?.data;
  if (!latest || !d || typeof d.bytes !== 'number' || typeof d.total !== 'number' || d.total <= 0) return null;
  const bytes = Math.min(Math.max(d.bytes, 0), d.total);
  const rate = typeof d.rate === 'number' && d.rate > 0 ? d.rate : null;
  return { bytes, total: d.total, rate, percent: Math.floor((bytes / d.total) * 1000) / 10, etaSeconds: rate ? (d.total - bytes) / rate : null, at: latest.at };
}
