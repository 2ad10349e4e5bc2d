// Builds an un-listened appliance app on an in-memory store, with one user per role and their
// API tokens, for plugin tests.
import type { FastifyInstance } from 'fastify';
import { configFrom, type TetherConfig } from '../../appliance/config/load.ts';
import { Store, type Role } from '../../appliance/store/store.ts';
import { buildApp } from '../../appliance/http/app.ts';
import { hashPassword } from '../../appliance/auth/secrets.ts';
import { mintApiToken } from '../../appliance/auth/users.ts';

export const PASSWORD = 'correct horse battery staple';

export interface TestAppliance {
  app: FastifyInstance;
  store: Store;
  config: TetherConfig;
  tokens: Record<Role, string>;
  close(): Promise<void>;
}

export async function testAppliance(raw: Record<string, unknown> = {}): Promise<TestAppliance> {
  const config = configFrom({ zones: [{ name: 'zone-a' }, { name: 'zone-b' }], ...raw });
  const store = Store.open(':memory:');
  const hash = await hashPassword(PASSWORD);
  const tokens = {} as Record<Role, string>;
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    store.createUser(role, hash, role);
    tokens[role] = mintApiToken(store, { user: role, name: `${role}-test`, role });
  }
  const app = await buildApp({ config, store });
  await app.ready();
  return { app, store, config, tokens, close: async () => { await app.close(); store.close(); } };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
