import type { InstallProgress } from '../install-progress.ts';
import { bytes, duration } from '../format.ts';

export function ProgressBar(p: { progress: InstallProgress; label: string }) {
  const { progress: x } = p;
  const words = [`${bytes(x.bytes)} of ${bytes(x.total)}`];
  if (x.rate) words.push(`${bytes(x.rate)}/s`);
  if (x.etaSeconds !== null && x.bytes < x.total) words.push(`about ${duration(x.etaSeconds)} left`);
  return (
    <div className="progress-wrap">
      <div className="progress" role="progressbar" aria-label={p.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={x.percent}>
        <div className="progress-fill" style={{ width: `${x.percent}%` }} />
      </div>
      <div className="progress-text"><strong>{x.percent.toFixed(1)}%</strong> · {words.join(' · ')}</div>
    </div>
  );
}
