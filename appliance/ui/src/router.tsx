// A small router over the History API: the app has a handful of pages under /ui/, and the
// appliance answers every /ui/* path with the app (appliance/http/ui.ts).
import { useEffect, useState, type MouseEvent, type ReactNode } from 'react';

export const BASE = '/ui';

function current(): string {
  const p = window.location.pathname;
  return p.startsWith(BASE) ? p.slice(BASE.length) || '/' : '/';
}

const routeListeners = new Set<() => void>();
window.addEventListener('popstate', () => { for (const fn of routeListeners) fn(); });

export function navigate(path: string, o: { replace?: boolean } = {}): void {
  const url = `${BASE}${path}`;
  if (o.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const fn of routeListeners) fn();
}

/** The app path (without /ui) and its search params; re-renders on navigation. */
export function useRoute(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = () => setTick((t) => t + 1);
    routeListeners.add(fn);
    return () => { routeListeners.delete(fn); };
  }, []);
  return { path: current(), search: new URLSearchParams(window.location.search) };
}

export function Link(p: { to: string; children: ReactNode; className?: string; title?: string }) {
  const click = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(p.to);
  };
  return <a href={`${BASE}${p.to}`} onClick={click} className={p.className} title={p.title}>{p.children}</a>;
}
