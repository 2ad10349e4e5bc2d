// Admin management of local operators, and API tokens for scripts. Every change is audited.
import type { FastifyInstance } from 'fastify';
import type { Role, Store } from '../../store/store.ts';
import { hashPassword, generatePassword } from '../../auth/secrets.ts';
import { mintApiToken, roleRank, ROLES } from '../../auth/users.ts';
import { ApiError, errorResponses } from '../errors.ts';

export default async function usersApi(app: FastifyInstance, o: { store: Store }): Promise<void> {
  if (!o.store) throw new Error('users API needs a store');
  const { store } = o;
  const role = { type: 'string', enum: [...ROLES] } as const;
  const password = { type: 'string', minLength: 12, maxLength: 1024 } as const;
  const errors = errorResponses;
  const audit = (actorName: string, reason: string, data: Record<string, unknown>) => store.appendEvent({ kind: 'audit', actor: 'operator', actorName, reason, data });

  app.get('/api/v1/users', { config: { access: 'admin' }, schema: { response: { 200: { type: 'object', properties: { items: { type: 'array' } } }, ...errors } } }, async () => ({ items: store.listUsers() }));

  app.post('/api/v1/users', {
    config: { access: 'admin' },
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['name', 'role'], properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,31}$' }, role, password } },
      response: { 201: { type: 'object', properties: { name: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' } } }, ...errors },
    },
  }, async (request, reply) => {
    const b = request.body as { name: string; role: Role; password?: string };
    const pw = b.password ?? generatePassword();
    store.createUser(b.name, await hashPassword(pw), b.role);
    audit(request.principal!.user, `created user ${b.name} as ${b.role}`, { user: b.name, role: b.role });
    return reply.status(201).send({ name: b.name, role: b.role, ...(b.password ? {} : { password: pw }) });
  });

  app.patch('/api/v1/users/:name', {
    config: { access: 'admin' },
    schema: {
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 32 } } },
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { role, password, disabled: { type: 'boolean' }, resetPassword: { type: 'boolean' } } },
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, password: { type: 'string' } } }, ...errors },
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const b = request.body as { role?: Role; password?: string; disabled?: boolean; resetPassword?: boolean };
    const generated = b.resetPassword && !b.password ? generatePassword() : undefined;
    const pw = b.password ?? generated;
    store.updateUser(name, { role: b.role, disabled: b.disabled, passwordHash: pw ? await hashPassword(pw) : undefined });
    audit(request.principal!.user, `changed user ${name}`, { user: name, role: b.role, disabled: b.disabled, passwordChanged: Boolean(pw) });
    return { name, ...(generated ? { password: generated } : {}) };
  });

  app.post('/api/v1/tokens', {
    config: { access: 'viewer' },
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, role, ttlDays: { type: 'integer', minimum: 1, maximum: 3650 } } },
      response: { 201: { type: 'object', properties: { token: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } }, ...errors },
    },
  }, async (request, reply) => {
    const p = request.principal!;
    const b = request.body as { name: string; role?: Role; ttlDays?: number };
    const want = b.role ?? p.role;
    if (roleRank(want) > roleRank(p.role)) throw new ApiError('forbidden', `a ${p.role} cannot mint a ${want} token`);
    const token = mintApiToken(store, { user: p.user, name: b.name, role: want, ttlDays: b.ttlDays });
    audit(p.user, `minted API token ${b.name} (${want})`, { token: b.name, role: want });
    return reply.status(201).send({ token, role: want, name: b.name });
  });
}
