// GET /api/v1/live: new events as Server-Sent Events, so the UI follows the site without reloads.
// The store is polled (not hooked) because other processes write to it too — the CLI, a second
// daemon's observers — and their changes must show as well. One poller serves every open stream.
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { EventRecord, Store } from '../store/store.ts';

export interface LiveOptions {
  store: Store;
  /** How often the store is asked for new events. */
  pollMs?: number;
  /** A comment line this often keeps proxies and browsers from closing an idle stream. */
  heartbeatMs?: number;
  /** How often a session-backed stream checks that its session still exists (logout ends it). */
  recheckMs?: number;
}

/** A client that missed more than this (reconnecting after a long sleep) is told to reload instead. */
const MAX_CATCH_UP = 1000;

/** Events with id > `after`, oldest first; `complete: false` when more than `max` are waiting. */
export function eventsAfter(store: Store, after: number, max: number): { events: EventRecord[]; complete: boolean } {
  const events = store.listEvents({ after, limit: max + 1 });
  return events.length > max ? { events: [], complete: false } : { events, complete: true };
}

export function sseEvent(e: EventRecord): string {
  return `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
}

interface Stream { res: ServerResponse; stillValid: () => boolean; lastCheck: number }

export default async function livePlugin(app: FastifyInstance, o: LiveOptions): Promise<void> {
  if (!o.store) throw new Error('live plugin needs a store');
  const { store } = o;
  const pollMs = o.pollMs ?? 400;
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const recheckMs = o.recheckMs ?? 5_000;
  const streams = new Set<Stream>();
  let lastId = 0;
  let poller: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const latestId = (): number => store.listEvents({ limit: 1 })[0]?.id ?? 0;

  function end(s: Stream): void {
    streams.delete(s);
    if (!s.res.writableEnded) s.res.end();
    if (streams.size === 0) stop();
  }

  function poll(): void {
    const now = Date.now();
    for (const s of streams) {
      if (now - s.lastCheck < recheckMs) continue;
      s.lastCheck = now;
      if (!s.stillValid()) end(s);
    }
    if (streams.size === 0) return;
    let batch: ReturnType<typeof eventsAfter>;
    try {
      batch = eventsAfter(store, lastId, MAX_CATCH_UP);
    } catch (err) {
      // A busy or briefly locked database must not end the streams; the next poll tries again.
      app.log.warn({ err }, 'live: reading new events failed');
      return;
    }
    if (!batch.complete) {
      lastId = latestId();
      for (const s of streams) s.res.write('event: resync\ndata: {}\n\n');
      return;
    }
    if (batch.events.length === 0) return;
    lastId = batch.events.at(-1)!.id;
    const text = batch.events.map(sseEvent).join('');
    for (const s of streams) s.res.write(text);
  }

  function start(): void {
    if (poller) return;
    lastId = latestId();
    poller = setInterval(poll, pollMs);
    heartbeat = setInterval(() => { for (const s of streams) s.res.write(': keep-alive\n\n'); }, heartbeatMs);
  }

  function stop(): void {
    clearInterval(poller);
    clearInterval(heartbeat);
    poller = heartbeat = undefined;
  }

  // Hijacked responses keep their sockets open: end them before the server waits for sockets.
  app.addHook('preClose', async () => { for (const s of [...streams]) end(s); });

  app.get('/api/v1/live', { config: { access: 'viewer' } }, (request, reply) => {
    const p = request.principal!;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // nginx in front must not buffer the stream
      connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    start();
    // A reconnecting EventSource sends the last id it saw: replay what it missed, up to the
    // poller's position (everything after that comes with the next broadcast). Synchronous, so no
    // event can slip between the catch-up and the subscription.
    const resumeFrom = Number(request.headers['last-event-id']);
    if (Number.isInteger(resumeFrom) && resumeFrom > 0 && resumeFrom < lastId) {
      const missed = eventsAfter(store, resumeFrom, MAX_CATCH_UP);
      if (missed.complete) res.write(missed.events.filter((e) => e.id <= lastId).map(sseEvent).join(''));
      else res.write('event: resync\ndata: {}\n\n');
    }
    const s: Stream = {
      res,
      lastCheck: Date.now(),
      // API tokens are checked once per stream; sessions are rechecked so a logout or a disabled
      // user ends the stream (a token stream ends with its client).
      stillValid: () => p.via !== 'session' || store.getSession(p.sessionHash!) !== undefined,
    };
    streams.add(s);
    res.on('close', () => end(s));
  });
}
