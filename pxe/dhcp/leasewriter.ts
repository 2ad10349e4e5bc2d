// Group commit for lease writes. Every write asked for while the loop handles one burst of datagrams
// goes to the store together, after that burst (setImmediate runs once the poll phase has delivered
// every datagram that was waiting), inside one transaction when the store offers one: in a boot
// storm, one fsync for a burst of REQUESTs instead of one per ACK. Each write's promise settles once
// it is stored, so an ACK still leaves only after its lease is on disk (write-through).
import type { LeaseRecord, LeaseStore } from './pool.ts';

export type LeaseWrite = { readonly put: LeaseRecord } | { readonly delete: { readonly zone: string; readonly ip: string } };

/** Stores one write; resolves once it (and the rest of its batch) is stored, rejects if it is not. */
export type LeaseWriter = (write: LeaseWrite) => Promise<void>;

type Pending = { readonly write: LeaseWrite; readonly resolve: () => void; readonly reject: (e: unknown) => void };

export function createLeaseWriter(store: LeaseStore): LeaseWriter {
  let queue: Pending[] = [];
  const apply = (w: LeaseWrite): void => {
    if ('put' in w) store.putLease(w.put);
    else store.deleteLease(w.delete.zone, w.delete.ip);
  };

  function flush(): void {
    const batch = queue;
    queue = [];
    if (store.transaction) {
      try {
        store.transaction(() => batch.forEach((p) => apply(p.write)));
      } catch (e) {
        for (const p of batch) p.reject(e);
        return;
      }
      for (const p of batch) p.resolve();
      return;
    }
    for (const p of batch) {
      try {
        apply(p.write);
        p.resolve();
      } catch (e) {
        p.reject(e);
      }
    }
  }

  return (write) =>
    new Promise<void>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ write, resolve, reject });
    });
}
