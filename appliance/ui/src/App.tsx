// The frame around every page: navigation, who is logged in, whether live updates flow.
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, navigate, useRoute } from './router.tsx';
import { useCan, useSession } from './session.tsx';
import { watchStatus, type LiveStatus } from './live.ts';
import { Login } from './views/Login.tsx';
import { SiteView } from './views/Site.tsx';
import { MachinesView } from './views/Machines.tsx';
import { MachineView } from './views/Machine.tsx';
import { ApprovalsView } from './views/Approvals.tsx';
import { AuditView } from './views/Audit.tsx';
import { UsersView } from './views/Users.tsx';
// xterm.js is most of the bundle and only admins open the terminal: load it on demand.
const TerminalView = lazy(() => import('./views/Terminal.tsx').then((m) => ({ default: m.TerminalView })));

const LIVE_WORDS: Record<LiveStatus, string> = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', off: 'Offline' };

function LiveIndicator() {
  const [s, setS] = useState<LiveStatus>('off');
  useEffect(() => watchStatus(setS), []);
  return <span className={`live live-${s}`} title="Changes appear here without reloading while this is Live">{LIVE_WORDS[s]}</span>;
}

function Page() {
  const { path } = useRoute();
  const isAdmin = useCan('admin');
  if (path === '/' || path === '/site') return <SiteView />;
  if (path === '/machines') return <MachinesView />;
  const m = /^\/machines\/([^/]+)$/.exec(path);
  if (m) return <MachineView id={decodeURIComponent(m[1])} />;
  if (path === '/approvals') return <ApprovalsView />;
  if (path === '/audit') return <AuditView />;
  if (path === '/users' && isAdmin) return <UsersView />;
  if (path === '/terminal' && isAdmin) return <Suspense fallback={<p className="muted">Loading the terminal…</p>}><TerminalView /></Suspense>;
  return <div className="card"><h1>Page not found</h1><p>There is no page {path} here, or your role cannot open it. <Link to="/site">Go to the site overview</Link>.</p></div>;
}

export function App() {
  const { session, checked, logout } = useSession();
  const { path } = useRoute();
  const isAdmin = useCan('admin');
  if (!checked) return <p className="muted center">Loading…</p>;
  if (!session) return <Login />;
  const nav: Array<[string, string]> = [['/site', 'Site'], ['/machines', 'Machines'], ['/approvals', 'Approval queue'], ['/audit', 'Audit']];
  if (isAdmin) nav.push(['/users', 'Users'], ['/terminal', 'Terminal']);
  const active = (to: string) => path === to || (to === '/site' && path === '/') || (to === '/machines' && path.startsWith('/machines/'));
  return (
    <>
      <header className="topbar">
        <span className="brand">Tether</span>
        <nav aria-label="main">
          {nav.map(([to, label]) => <Link key={to} to={to} className={active(to) ? 'active' : undefined}>{label}</Link>)}
        </nav>
        <span className="spacer" />
        <LiveIndicator />
        <span className="who" data-role={session.role}>{session.user} · {session.role}</span>
        <button type="button" onClick={() => { void logout().then(() => navigate('/site', { replace: true })); }}>Log out</button>
      </header>
      <main className="page"><Page /></main>
    </>
  );
}
