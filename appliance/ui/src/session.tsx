// Who is logged in. The session itself is an httpOnly cookie the page cannot read; what the page
// keeps is the user, the role (to hide what the role may not do — the API refuses it anyway) and
// the CSRF token for state-changing requests.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, useCsrf, whenUnauthorized, type Role, type Session } from './api.ts';
import { startLive, stopLive } from './live.ts';

interface SessionState {
  session: Session | null;
  checked: boolean;
  login(user: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const Ctx = createContext<SessionState | null>(null);
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function SessionProvider(p: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);

  const adopt = useCallback((s: Session | null) => {
    useCsrf(s?.csrfToken ?? null);
    setSession(s);
    if (s) startLive(); else stopLive();
  }, []);

  useEffect(() => {
    whenUnauthorized(() => adopt(null));
    api<Session>('GET', '/session').then(adopt, () => adopt(null)).finally(() => setChecked(true));
  }, [adopt]);

  const login = useCallback(async (user: string, password: string) => {
    adopt(await api<Session>('POST', '/session', { user, password }));
  }, [adopt]);

  const logout = useCallback(async () => {
    try { await api('DELETE', '/session'); } finally { adopt(null); }
  }, [adopt]);

  return <Ctx.Provider value={{ session, checked, login, logout }}>{p.children}</Ctx.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** True when the logged-in user's role is at least `role`. */
export function useCan(role: Role): boolean {
  const { session } = useSession();
  return session !== null && RANK[session.role] >= RANK[role];
}
