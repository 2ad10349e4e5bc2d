// Local accounts (admin only): add a user, change a role, reset a password, disable an account.
// A generated password is shown once, here, and never again.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type Role, type User } from '../api.ts';
import { useSession } from '../session.tsx';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { time } from '../format.ts';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const ROLE_WORDS: Record<Role, string> = { viewer: 'sees everything, changes nothing', operator: 'approves, installs, wipes machines', admin: 'also manages users and opens the terminal' };

export function UsersView() {
  const { session } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ user: string; password: string } | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [reset, setReset] = useState<string | null>(null);

  const load = useCallback(() => { api<{ items: User[] }>('GET', '/users').then((r) => setUsers(r.items), (e: Error) => setError(e.message)); }, []);
  useEffect(load, [load]);

  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try { await fn(); } catch (e) { setError((e as Error).message); }
    load();
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const r = await api<{ name: string; password?: string }>('POST', '/users', { name: name.trim(), role });
      if (r.password) setSecret({ user: r.name, password: r.password });
      setName('');
    });
  };

  return (
    <>
      <div className="page-head"><h1>Users</h1></div>
      {error && <p className="error" role="alert">{error}</p>}
      {secret && (
        <div className="notice" role="status" data-testid="new-password">
          Password for <strong>{secret.user}</strong>: <code className="secret">{secret.password}</code> — give it to them now; it is not shown again.
          <button type="button" onClick={() => setSecret(null)}>Done</button>
        </div>
      )}
      <section className="card">
        <table className="events">
          <thead><tr><th>User</th><th>Role</th><th>Status</th><th>Created</th><th /></tr></thead>
          <tbody>
            {users?.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <td className="strong">{u.name}{u.name === session?.user ? ' (you)' : ''}</td>
                <td>
                  <select value={u.role} aria-label={`role of ${u.name}`} disabled={u.name === session?.user}
                    onChange={(e) => void act(() => api('PATCH', `/users/${u.name}`, { role: e.target.value }))}>
                    {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                  </select>
                </td>
                <td>{u.disabled ? <span className="warn">disabled</span> : 'active'}</td>
                <td>{time(u.createdAt)}</td>
                <td className="buttons">
                  <button type="button" onClick={() => setReset(u.name)}>Reset password</button>
                  {u.name !== session?.user && <button type="button" onClick={() => void act(() => api('PATCH', `/users/${u.name}`, { disabled: !u.disabled }))}>{u.disabled ? 'Enable' : 'Disable'}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h2>Add a user</h2>
        <form className="filters" onSubmit={add} aria-label="add user">
          <label>User name<input value={name} onChange={(e) => setName(e.target.value)} pattern="[a-z][a-z0-9._\-]{0,31}" title="lowercase letter first, then letters, digits, . _ -" required aria-label="new user name" /></label>
          <label>Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="new user role">
              {ROLES.map((r) => <option key={r} value={r}>{r} — {ROLE_WORDS[r]}</option>)}
            </select>
          </label>
          <button type="submit" className="primary">Add user</button>
        </form>
        <p className="muted small">A password is generated and shown once. The user's sessions end when their password is reset or they are disabled.</p>
      </section>
      {reset && (
        <ConfirmDialog title={`Reset the password of ${reset}?`} confirmLabel="Reset password" onClose={() => setReset(null)}
          onConfirm={async () => {
            const r = await api<{ password?: string }>('PATCH', `/users/${reset}`, { resetPassword: true });
            if (r.password) setSecret({ user: reset, password: r.password });
          }}>
          <p>{reset} is logged out everywhere and needs the new password, shown once after this.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
