// The site at a glance: both zones side by side, each rack a column of machines coloured by state,
// so a technician standing at a rack finds the red tile and walks to it.
import { memo, useEffect, useMemo, useState } from 'react';
import { api, type Site, type SiteTile } from '../api.ts';
import { useLiveTiles } from '../use-machines.ts';
import { STATES, lookOf } from '../states.ts';
import { byName, machineName } from '../format.ts';
import { Link, navigate } from '../router.tsx';

interface Rack { name: string; machines: SiteTile[] }
interface Zone { name: string; racks: Rack[]; count: number }

const NO_RACK = '(no rack)';
const NOT_PLACED = 'Not placed in a zone';

/** Position in the rack when the placement says (slot / unit from LLDP or the operator), else by name. */
const slotOf = (m: SiteTile): number => m.slot ?? Number.POSITIVE_INFINITY;

export function layout(zones: string[], machines: SiteTile[]): Zone[] {
  const byZone = new Map<string, Map<string, SiteTile[]>>();
  for (const z of zones) byZone.set(z, new Map());
  for (const m of machines) {
    const z = m.zone ?? NOT_PLACED;
    if (!byZone.has(z)) byZone.set(z, new Map());
    const racks = byZone.get(z)!;
    const r = m.rack ?? NO_RACK;
    if (!racks.has(r)) racks.set(r, []);
    racks.get(r)!.push(m);
  }
  return [...byZone].map(([name, racks]) => ({
    name,
    count: [...racks.values()].reduce((a, r) => a + r.length, 0),
    racks: [...racks].sort(([a], [b]) => (a === NO_RACK ? 1 : b === NO_RACK ? -1 : byName(a, b)))
      .map(([rack, ms]) => ({ name: rack, machines: ms.sort((a, b) => slotOf(a) - slotOf(b) || byName(machineName(a), machineName(b))) })),
  }));
}

// Memoized: a live change replaces one tile's object, so only that tile renders again.
const Tile = memo(function Tile(p: { m: SiteTile }) {
  const look = lookOf(p.m.state);
  const name = machineName(p.m);
  return (
    <button type="button" className="tile" style={{ background: look.color, color: look.text }} data-machine-id={p.m.id} data-state={p.m.state}
      title={`${name} — ${look.label}${p.m.stateReason ? `: ${p.m.stateReason}` : ''}`} aria-label={`${name}: ${look.label}`}
      onClick={() => navigate(`/machines/${p.m.id}`)}>
      <span className="tile-name">{p.m.hostname ?? p.m.bootMac.slice(-8)}</span>
      <span className="tile-state">{look.short}</span>
    </button>
  );
});

function Counts(p: { machines: SiteTile[] }) {
  const counts = new Map<string, number>();
  for (const m of p.machines) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  return (
    <div className="counts" aria-label="machines per state">
      {STATES.filter((s) => counts.has(s)).map((s) => (
        <Link key={s} to={`/machines?state=${s}`} className="count" title={lookOf(s).meaning}>
          <span className="dot" style={{ background: lookOf(s).color }} />{lookOf(s).label} <strong data-count-state={s}>{counts.get(s)}</strong>
        </Link>
      ))}
    </div>
  );
}

/** Up is quiet; degraded and down say since when and what waits, because installs go on regardless. */
function CloudBanner(p: { site: Site | null }) {
  const link = p.site?.cloudLink;
  let words = 'cloud link: …';
  let tone = 'banner-muted';
  if (link && !link.configured) words = 'cloud link: not configured (machines install but are not enrolled)';
  else if (link && link.status === null) { words = 'cloud link: checking…'; tone = 'banner-info'; }
  else if (link) {
    const since = link.since ? ` since ${new Date(link.since).toLocaleString()}` : '';
    const queued = link.queued ? ` · ${link.queued} enrollment step${link.queued === 1 ? '' : 's'} queued` : '';
    const pool = ` · ${link.pooledTokens} join token${link.pooledTokens === 1 ? '' : 's'} pooled for offline installs`;
    const why = link.status !== 'up' && link.lastError ? ` — ${link.lastError}` : '';
    words = `cloud link: ${link.status}${since}${why}${queued}${pool}`;
    tone = link.status === 'up' ? 'banner-ok' : link.status === 'degraded' ? 'banner-warn' : 'banner-error';
  }
  return <div className={`banner ${tone}`} role="status" data-testid="cloud-link" data-link={link?.status ?? ''}>{words}</div>;
}

export function SiteView() {
  const [site, setSite] = useState<Site | null>(null);
  const { machines, error } = useLiveTiles();
  useEffect(() => { api<Site>('GET', '/site').then(setSite, () => {}); }, []);
  const zones = useMemo(() => layout(site?.zones ?? [], machines ?? []), [site, machines]);

  return (
    <>
      <div className="page-head">
        <h1>Site overview</h1>
        <span className="muted">{site ? `site ${site.site} · ` : ''}{machines ? `${machines.length} machines` : 'Loading…'}</span>
      </div>
      <CloudBanner site={site} />
      {error && <p className="error" role="alert">{error}</p>}
      {machines && <Counts machines={machines} />}
      <div className="zones">
        {zones.map((z) => (
          <section key={z.name} className="zone card" aria-label={`zone ${z.name}`} data-zone={z.name}>
            <h2>{z.name} <span className="muted small">{z.count} machines</span></h2>
            {z.racks.length === 0 && <p className="muted">No machine seen in this zone yet.</p>}
            <div className="racks">
              {z.racks.map((r) => (
                <div key={r.name} className="rack" data-rack={r.name} aria-label={`rack ${r.name}`}>
                  <div className="rack-head" title={`${r.machines.length} machines`}>{r.name}</div>
                  <div className="rack-slots">{r.machines.map((m) => <Tile key={m.id} m={m} />)}</div>
                </div>
              ))}
            </div>
          </section>
        ))}
      </div>
    </>
  );
}
