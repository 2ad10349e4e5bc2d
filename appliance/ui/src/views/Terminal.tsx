// A shell in the browser (admin only): on the appliance (the Terminal page), or on a machine running
// the discovery OS through its agent (the Machine page's Shell section passes that machine's socket
// path). Every session is recorded: who, when, and a transcript of what the terminal showed, in the
// audit log.
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { csrf } from '../api.ts';

type Status = { kind: 'connecting' } | { kind: 'open'; session: string } | { kind: 'closed'; why: string };

const CLOSE_WORDS: Record<number, string> = {
  1000: 'the shell ended', 1006: 'the connection was lost', 4400: 'the appliance did not understand the terminal',
  4401: 'the terminal did not identify itself in time', 4403: 'the appliance refused the terminal', 4404: 'no shell to open',
  4410: 'the shell went away', 4429: 'too many terminal sessions are open',
};

export interface TerminalProps {
  /** The terminal's WebSocket; default the appliance's own shell. */
  path?: string;
  /** Where the shell runs, in words ("the appliance", "rack7-node3"). */
  where?: string;
  /** Shown inside another page (the Machine page): no page heading, a fixed height, a way to close it. */
  onClose?: () => void;
}

export function TerminalView(p: TerminalProps = {}) {
  const path = p.path ?? '/api/v1/terminal';
  const where = p.where ?? 'the appliance';
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const term = new Terminal({ fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14, cursorBlink: true, scrollback: 5000, theme: { background: '#0b1220' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`);
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
  }, [attempt, path]);

  const line = (
    <>
      <span className="muted" data-testid="terminal-status">
        {status.kind === 'connecting' ? 'Connecting…' : status.kind === 'open' ? `Shell on ${where} · session ${status.session}` : `Closed: ${status.why}`}
      </span>
      {status.kind === 'closed' && <button type="button" onClick={() => setAttempt((a) => a + 1)}>Open a new shell</button>}
    </>
  );
  const screen = <div className="terminal" style={p.onClose ? { height: '26rem' } : undefined}><div ref={box} className="terminal-screen" data-testid="terminal" /></div>;
  if (p.onClose) {
    return (
      <>
        <div className="buttons">{line}<button type="button" onClick={p.onClose}>Close the shell</button></div>
        <div className="banner banner-warn">This is a root shell on {where}. Everything shown here is recorded in the audit log with your name.</div>
        {screen}
      </>
    );
  }
  return (
    <>
      <div className="page-head">
        <h1>Terminal</h1>
        {line}
      </div>
      <div className="banner banner-warn">This is a shell on the appliance itself, as the user Tether runs as. Everything shown here is recorded in the audit log with your name.</div>
      {screen}
      <p className="muted small">A shell on a machine running the discovery OS opens from that machine's page, while its agent is connected.</p>
    </>
  );
}
