// The confirmation before an action: it names the machine(s) and says what will be lost. For
// destructive actions the name must be typed, so a mis-click on the wrong row cannot wipe a node.
import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** When set, the confirm button stays disabled until this text is typed. */
  typeToConfirm?: string;
  withReason?: boolean;
  onConfirm(reason: string): Promise<void>;
  onClose(): void;
}

export function ConfirmDialog(p: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current!;
    d.showModal();
    return () => d.close();
  }, []);

  const ready = !busy && (!p.typeToConfirm || typed.trim() === p.typeToConfirm);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await p.onConfirm(reason.trim());
      p.onClose();
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} className="dialog" onCancel={(e) => { e.preventDefault(); if (!busy) p.onClose(); }} aria-labelledby="dialog-title">
      <h2 id="dialog-title">{p.title}</h2>
      <div className="dialog-body">{p.children}</div>
      {p.withReason && (
        <label className="field">Reason (kept in the audit log, optional)
          <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="e.g. replaced disk 2" />
        </label>
      )}
      {p.typeToConfirm && (
        <label className="field">Type <code>{p.typeToConfirm}</code> to confirm
          <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} aria-label="type the machine name to confirm" />
        </label>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      <div className="dialog-buttons">
        <button type="button" onClick={p.onClose} disabled={busy}>Cancel</button>
        <button type="button" className={p.danger ? 'danger' : 'primary'} onClick={confirm} disabled={!ready}>{busy ? 'Working…' : p.confirmLabel}</button>
      </div>
    </dialog>
  );
}
