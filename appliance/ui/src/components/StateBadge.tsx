import { lookOf } from '../states.ts';

export function StateBadge(p: { state: string; title?: string }) {
  const look = lookOf(p.state);
  return (
    <span className="badge" data-state={p.state} style={{ background: look.color, color: look.text }} title={p.title ?? look.meaning}>
      {look.label}
    </span>
  );
}
