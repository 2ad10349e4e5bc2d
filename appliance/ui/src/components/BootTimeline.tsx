import type { EventRecord } from '../api.ts';
import { bootTimeline, STEP_LABEL } from '../boot-timeline.ts';
import { ago, time } from '../format.ts';

export function BootTimeline(p: { events: EventRecord[] }) {
  const steps = bootTimeline(p.events);
  if (!steps) return <p className="muted">No network boot seen yet. Power the machine on with network boot (PXE) first in its boot order.</p>;
  const first = steps.find((s) => s.at !== null)!.at!;
  return (
    <ol className="timeline" aria-label="boot timeline">
      {steps.map((s) => (
        <li key={s.step} className={`step step-${s.status}`} data-step={s.step} data-status={s.status} title={s.detail ?? undefined}>
          <span className="step-name">{STEP_LABEL[s.step]}</span>
          <span className="step-when">
            {s.status === 'reached' ? <span title={time(s.at!)}>{s.at === first ? ago(s.at!) : `+${Math.round((s.at! - first) / 1000)} s`}</span>
              : s.status === 'skipped' ? 'not needed' : 'not yet'}
          </span>
        </li>
      ))}
    </ol>
  );
}
