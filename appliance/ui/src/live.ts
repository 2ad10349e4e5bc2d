// Live updates: one EventSource on /api/v1/live for the whole app; views subscribe to the events
// they care about. The browser reconnects by itself and the server replays what was missed
// (Last-Event-ID); a `resync` means too much was missed and views should reload their data.
import type { EventRecord } from './api.ts';

export type LiveMessage = { kind: 'event'; event: EventRecord } | { kind: 'resync' };
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'off';

const listeners = new Set<(m: LiveMessage) => void>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let source: EventSource | null = null;
let status: LiveStatus = 'off';

function setStatus(s: LiveStatus): void {
  status = s;
  for (const fn of statusListeners) fn(s);
}

export function startLive(): void {
  if (source) return;
  setStatus('connecting');
  source = new EventSource('/api/v1/live');
  source.onopen = () => setStatus('live');
  source.onerror = () => setStatus('reconnecting');
  source.onmessage = (m) => {
    const event = JSON.parse(m.data) as EventRecord;
    for (const fn of listeners) fn({ kind: 'event', event });
  };
  source.addEventListener('resync', () => { for (const fn of listeners) fn({ kind: 'resync' }); });
}

export function stopLive(): void {
  source?.close();
  source = null;
  setStatus('off');
}

export function subscribe(fn: (m: LiveMessage) => void): () => void {
  listeners.add(fn);
  return () => { listeners.delete(fn); };
}

export function watchStatus(fn: (s: LiveStatus) => void): () => void {
  statusListeners.add(fn);
  fn(status);
  return () => { statusListeners.delete(fn); };
}
