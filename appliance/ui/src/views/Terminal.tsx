// A shell on the appliance in the browser (admin only). Every session is recorded: who, when, and a
// transcript of what the terminal showed, in the audit log. A shell on a machine running the
// discovery OS (through its agent) is not available yet.
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { csrf } from '../api.ts';

type Status = { kind: 'connecting' } | { kind: 'open'; session: string } | { kind: 'closed'; why: string };

const CLOSE_WORDS: Record<number, string> = {
  1000: 'the shell ended', 1006: 'the connection was lost', 4400: 'the appliance did not understand the terminal',
  4401: 'the terminal did not identify itself in time', 4403: 'the appliance refused the terminal', 4429: 'too many terminal sessions are open',
};

export function TerminalView() {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const term = new Terminal({ fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14, cursorBlink: true, scrollback: 5000, theme: { background: '#0b1220' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/terminal`);
    setStatus({ kind: 'connecting' });
    const send = (m: object) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
    // Browsers cannot put headers on a WebSocket: the CSRF token goes in the first message.
    ws.onopen = () => send({ type: 'hello', csrfToken: csrf(), cols: term.cols, rows: term.rows });
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data as string) as { type: string; data?: string; session?: string; code?: number };
      if (m.type === 'output') term.write(m.data!);
      else if (m.type === 'ready') { setStatus({ kind: 'open', session: m.session! }); term.focus(); }
    };
    ws.onclose = (e) => setStatus({ kind: 'closed', why: `${CLOSE_WORDS[e.code] ?? `closed (${e.code})`}${e.reason ? `: ${e.reason}` : ''}` });
    const input = term.onData((data) => send({ type: 'input', data }));
    const resize = term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }));
    const onWindow = () => fit.fit();
    window.addEventListener('resize', onWindow);
    return () => {
      window.removeEventListener('resize', onWindow);
      input.dispose();
      resize.dispose();
      ws.close();
      term.dispose();
    };
  }, [attempt]);

  return (
    <>
      <div className="page-head">
        <h1>Terminal</h1>
        <span className="muted" data-testid="terminal-status">
          {status.kind === 'connecting' ? 'Connecting…' : status.kind === 'open' ? `Shell on the appliance · session ${status.session}` : `Closed: ${status.why}`}
        </span>
        {status.kind === 'closed' && <button type="button" onClick={() => setAttempt((a) => a + 1)}>Open a new shell</button>}
      </div>
      <div className="banner banner-warn">This is a shell on the appliance itself, as the user Tether runs as. Everything shown here is recorded in the audit log with your name.</div>
      <div className="terminal"><div ref={box} className="terminal-screen" data-testid="terminal" /></div>
      <p className="muted small">A shell on a machine running the discovery OS, through its agent, is not available yet.</p>
    </>
  );
}
