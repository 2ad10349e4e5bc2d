// Access control for every route: each route declares `config.access` (open | viewer | operator |
// admin) and registration fails if one does not, so no route is reachable by omission. Sessions
// (cookie + CSRF token for state-changing requests) for the UI; bearer API tokens for scripts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { Role, Store } from '../store/store.ts';
import { ApiError, errorBodySchema } from '../http/errors.ts';
import { checkApiToken, checkPassword, roleRank } from './users.ts';
import { randomSecret, sameSecret, secretHash } from './secrets.ts';

export type Access = 'open' | Role;

export interface Principal {
  user: string;
  role: Role;
  via: 'session' | 'token';
  sessionHash?: string;
  csrf?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
  interface FastifyRequest { principal: Principal | null }
}

export const SESSION_COOKIE = 'tether_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOGIN_WINDOW_MS = 10 * 60_000;
const LOGIN_MAX_FAILURES = 10;

export interface AuthOptions { store: Store; sessionHours: number }

function authPlugin(app: FastifyInstance, o: AuthOptions, done: (err?: Error) => void): void {
  if (!o.store) return done(new Error('auth plugin needs a store'));
  const { store } = o;
  const ttlMs = o.sessionHours * 3_600_000;
  const failures = new Map<string, number[]>();

  void app.register(cookie);
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: Access } | undefined)?.access;
    if (!access) throw new Error(`route ${route.method} ${route.url} declares no config.access; every route must say who may call it`);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'open') return; // undefined: the 404 handler
    const principal = authenticate(request);
    if (!principal) throw new ApiError('unauthorized', 'log in or send an API token (Authorization: Bearer tth_...)');
    if (roleRank(principal.role) < roleRank(access)) {
      throw new ApiError('forbidden', `${principal.user} is ${principal.role}; this needs ${access}`, { role: principal.role, needs: access });
    }
    // Cookies ride along on cross-site requests; the CSRF token only our own UI can read.
    if (principal.via === 'session' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameSecret(sent, principal.csrf!)) throw new ApiError('csrf_failed', 'missing or wrong X-CSRF-Token header');
    }
    request.principal = principal;
  });

  function authenticate(request: FastifyRequest): Principal | null {
    const h = request.headers.authorization;
    if (h?.startsWith('Bearer ')) {
      const t = checkApiToken(store, h.slice(7).trim());
      return t && { user: t.user, role: t.role, via: 'token' };
    }
    const sid = request.cookies[SESSION_COOKIE];
    if (!sid) return null;
    const hash = secretHash(sid);
    const s = store.getSession(hash);
    return s ? { user: s.user, role: s.role, via: 'session', sessionHash: hash, csrf: s.csrf } : null;
  }

  const sessionSchema = {
    type: 'object',
    required: ['user', 'role', 'csrfToken'],
    properties: { user: { type: 'string' }, role: { type: 'string' }, csrfToken: { type: 'string' }, expiresAt: { type: 'integer' } },
  } as const;

  app.post('/api/v1/session', {
    config: { access: 'open' },
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['user', 'password'],
        properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
      },
      response: { 200: sessionSchema, 401: errorBodySchema, 429: errorBodySchema },
    },
  }, async (request, reply) => {
    const { user, password } = request.body as { user: string; password: string };
    const key = `${request.ip}|${user}`;
    const now = Date.now();
    const recent = (failures.get(key) ?? []).filter((t) => now - t < LOGIN_WINDOW_MS);
    if (recent.length >= LOGIN_MAX_FAILURES) throw new ApiError('too_many_requests', 'too many failed logins; wait a few minutes');
    const ok = await checkPassword(store, user, password);
    if (!ok) {
      failures.set(key, [...recent, now]);
      request.log.warn({ user, ip: request.ip }, 'login failed: wrong user or password');
      store.appendEvent({ kind: 'auth', actor: 'operator', actorName: user, reason: 'login failed', data: { ip: request.ip } });
      throw new ApiError('unauthorized', 'wrong user or password');
    }
    failures.delete(key);
    const sid = randomSecret();
    const csrf = randomSecret();
    store.createSession(secretHash(sid), ok.name, csrf, ttlMs);
    store.appendEvent({ kind: 'auth', actor: 'operator', actorName: ok.name, reason: 'logged in', data: { ip: request.ip } });
    void reply.setCookie(SESSION_COOKIE, sid, { path: '/', httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https', maxAge: Math.floor(ttlMs / 1000) });
    return { user: ok.name, role: ok.role, csrfToken: csrf, expiresAt: now + ttlMs };
  });

  app.get('/api/v1/session', {
    config: { access: 'viewer' },
    schema: { response: { 200: { type: 'object', properties: { user: { type: 'string' }, role: { type: 'string' }, via: { type: 'string' }, csrfToken: { type: 'string' } } } } },
  }, async (request) => {
    const p = request.principal!;
    return { user: p.user, role: p.role, via: p.via, csrfToken: p.csrf };
  });

  app.delete('/api/v1/session', { config: { access: 'viewer' } }, async (request, reply) => {
    const p = request.principal!;
    if (p.sessionHash) store.deleteSession(p.sessionHash);
    store.appendEvent({ kind: 'auth', actor: 'operator', actorName: p.user, reason: 'logged out' });
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.status(204).send();
  });

  done();
}

export default fp(authPlugin, { name: 'tether-auth', fastify: '5.x' });
