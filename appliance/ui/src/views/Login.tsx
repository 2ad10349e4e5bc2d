import { useState, type FormEvent } from 'react';
import { useSession } from '../session.tsx';
import { ApiFailure } from '../api.ts';

export function Login() {
  const { login } = useSession();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(user.trim(), password);
    } catch (err) {
      const code = err instanceof ApiFailure ? err.code : '';
      setError(code === 'unauthorized' ? 'Wrong user name or password.' : code === 'too_many_requests' ? 'Too many failed attempts. Wait a few minutes and try again.' : (err as Error).message);
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form onSubmit={submit} className="card login-card" aria-label="log in">
        <h1>Tether</h1>
        <p className="muted">Bare-metal provisioning for this site. Log in with your appliance account.</p>
        <label className="field">User name
          <input name="user" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} required autoFocus />
        </label>
        <label className="field">Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  );
}
