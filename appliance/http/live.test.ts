import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testAppliance, bearer, PASSWORD, type TestAppliance } from '../../test/lib/appliance.ts';
import { eventsAfter } from './live.ts';

let t: TestAppliance;
let url: string;
before(async () => {
  t = await testAppliance();
  // A real socket: the stream is a hijacked response that inject() cannot follow.
  url = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => t.close());

/** Reads SSE messages from a live stream until `want` have arrived. */
async function read(res: Response, want: number): Promise<Array<{ id?: string; event?: string; data: string }>> {
  const out: Array<{ id?: string; event?: string; data: string }> = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  while (out.length < want) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.data !== undefined) out.push(fields as { data: string });
    }
  }
  reader.releaseLock();
  return out;
}

test('live: eventsAfter walks back page by page and says when too much was missed', () => {
  const first = t.store.appendEvent({ kind: 'audit', actor: 'system', reason: 'marker' }).id;
  for (let i = 0; i < 450; i++) t.store.appendEvent({ kind: 'audit', actor: 'system', reason: `e${i}` });
  const all = eventsAfter(t.store, first, 1000);
  assert.equal(all.complete, true);
  assert.equal(all.events.length, 450);
  assert.deepEqual([all.events[0].reason, all.events.at(-1)!.reason], ['e0', 'e449']);
  assert.deepEqual(eventsAfter(t.store, first, 100), { events: [], complete: false });
  assert.deepEqual(eventsAfter(t.store, all.events.at(-1)!.id, 10), { events: [], complete: true });
});

test('live: needs a viewer; streams new events from any writer, oldest first', async () => {
  assert.equal((await fetch(`${url}/api/v1/live`)).status, 401);
  const ac = new AbortController();
  const res = await fetch(`${url}/api/v1/live`, { headers: bearer(t.tokens.viewer), signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  setTimeout(() => {
    t.store.appendEvent({ kind: 'audit', actor: 'system', reason: 'one' });
    t.store.appendEvent({ kind: 'audit', actor: 'system', reason: 'two' });
  }, 100);
  const got = await read(res, 2);
  assert.deepEqual(got.map((m) => JSON.parse(m.data).reason), ['one', 'two']);
  assert.equal(Number(got[1].id), JSON.parse(got[1].data).id);
  ac.abort();
});

test('live: a reconnecting client gets what it missed (Last-Event-ID)', async () => {
  const keep = new AbortController();
  // One open stream keeps the poller running while the other client is away.
  const other = await fetch(`${url}/api/v1/live`, { headers: bearer(t.tokens.viewer), signal: keep.signal });
  const seen = t.store.appendEvent({ kind: 'audit', actor: 'system', reason: 'seen' }).id;
  t.store.appendEvent({ kind: 'audit', actor: 'system', reason: 'missed' });
  await read(other, 2);
  const ac = new AbortController();
  const res = await fetch(`${url}/api/v1/live`, { headers: { ...bearer(t.tokens.viewer), 'last-event-id': String(seen) }, signal: ac.signal });
  const [m] = await read(res, 1);
  assert.equal(JSON.parse(m.data).reason, 'missed');
  ac.abort();
  keep.abort();
});

test('live: logging out ends a session stream', async () => {
  const login = await fetch(`${url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'viewer', password: PASSWORD }) });
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  const { csrfToken } = await login.json() as { csrfToken: string };
  const res = await fetch(`${url}/api/v1/live`, { headers: { cookie } });
  assert.equal(res.status, 200);
  const out = await fetch(`${url}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
  assert.equal(out.status, 204);
  // The stream ends at the next session check (every 5 s by default) — read to its end.
  const text = await res.text();
  assert.match(text, /logged out/);
});
