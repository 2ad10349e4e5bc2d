// /agent/v1/*: the discovery agent's API. Open to the network (no user session) because the agent
// holds no session: it proves itself with the one-time boot token from its kernel command line,
// which is bound to one machine. Anyone on the provisioning LAN can claim any MAC, so the token —
// not the MAC — says who is speaking, and a report may only speak for the token's own machine.
// Reports are untrusted: bounded body, strict schema (no type coercion), one transaction.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject } from 'ajv';
import type { Machine, Store } from '../store/store.ts';
import { checkBootToken } from '../auth/boot-tokens.ts';
import { identify, isPlaceholderSerial, isPlaceholderUuid } from '../lifecycle/identity.ts';
import { transition } from '../lifecycle/lifecycle.ts';
import type { MachineState } from '../lifecycle/states.ts';
import { saveInventory, type SavedInventory } from '../store/inventory.ts';
import { ApiError, errorResponses } from './errors.ts';
import {
  AGENT_PATHS, MAX_REPORT_BYTES, PROTOCOL_VERSION, factValue, heartbeatSchema, reportSchema, taskQuerySchema,
  type Heartbeat, type Inventory, type Report, type ReportAnswer, type TaskAnswer,
} from '../../agent/protocol.ts';

export interface AgentReportEvent { machine: Machine; inventory: Inventory; transitioned: boolean; saved: SavedInventory }

export interface AgentPluginOptions {
  store: Store;
  /** Called after a report is committed (auto-approve rules, metrics); must not throw. */
  onReport?: (e: AgentReportEvent) => void;
  /** What a machine's agent should do next; defaults to nextTask (from the lifecycle state). */
  taskFor?: (machine: Machine) => TaskAnswer;
}

const HEARTBEAT_INTERVAL_S = 30;
const SMALL_BODY = 4 * 1024;
/** States from which a report moves a machine to `inventoried` (lifecycle: the agent's moves). */
const INVENTORIES_FROM: readonly MachineState[] = ['discovered', 'failed'];

declare module 'fastify' {
  interface FastifyRequest { agentMachineId: string | null }
}

const answer = (task: TaskAnswer['task'], reason: string, pollAfterS: number): TaskAnswer => ({ version: PROTOCOL_VERSION, task, reason, pollAfterS });

/**
 * The next task for a machine's agent, from its lifecycle state. Installing and wiping are
 * answered with `wait` until the issues that add the `install` and `wipe` tasks land.
 */
export function nextTask(m: Pick<Machine, 'state'>): TaskAnswer {
  switch (m.state) {
    case 'discovered': return answer('wait', 'no inventory from this boot yet', 10);
    case 'inventoried': return answer('wait', 'inventoried: waiting for an operator (or a zone rule) to approve it', 10);
    case 'approved': return answer('wait', 'approved: waiting for the install task', 10);
    case 'installing': return answer('wait', 'installing', 10);
    case 'wiping': return answer('wait', 'wipe requested: waiting for the wipe task', 10);
    case 'failed': return answer('wait', 'failed: an operator decides what happens next', 30);
    case 'rescue': return answer('none', 'rescue: the console is the operator\'s; nothing to do', 60);
    default: return answer('reboot', `${m.state}: this machine boots from its disk`, 10); // installed and later
  }
}

/** An ajv instance for untrusted agent input: no coercion, no defaults, nothing removed. */
const ajv = new Ajv({ strict: true, allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false });

/**
 * A fastify validator that checks the protocol version before the shape, so an agent of another
 * version is told that rather than a list of fields it does not have.
 */
function protocolValidator(schema: object): (data: unknown) => boolean {
  const validate = ajv.compile(schema);
  const fn = (data: unknown): boolean => {
    const version = (data as { version?: unknown } | null)?.version;
    if (typeof data === 'object' && data !== null && version !== undefined && version !== PROTOCOL_VERSION) {
      fn.errors = [{
        instancePath: '/version', schemaPath: '#/properties/version/const', keyword: 'const', params: { allowedValue: PROTOCOL_VERSION },
        message: `is ${JSON.stringify(version).slice(0, 20)}; this appliance speaks agent protocol ${PROTOCOL_VERSION}`,
      }];
      return false;
    }
    const ok = validate(data);
    fn.errors = validate.errors ?? null;
    return ok;
  };
  fn.errors = null as ErrorObject[] | null;
  return fn;
}

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
}

export default async function agentPlugin(app: FastifyInstance, o: AgentPluginOptions): Promise<void> {
  if (!o.store) throw new Error('agent plugin needs a store');
  const { store } = o;
  const taskFor = o.taskFor ?? nextTask;
  const lastMessage = new Map<string, string>();
  const errors = errorResponses;

  app.decorateRequest('agentMachineId', null);

  /** The boot token from the header decides the machine, before a large body is even read. */
  async function authenticate(request: FastifyRequest): Promise<void> {
    const token = bearer(request);
    if (token === null) return; // the report may carry it in the body; checked after parsing
    const id = checkBootToken(store, token);
    if (!id) throw new ApiError('unauthorized', 'the boot token is unknown, expired or was replaced by a newer boot of this machine');
    request.agentMachineId = id;
  }

  /** The machine a request speaks for: the token's, and only if the claimed MAC is one of its NICs. */
  function machineFor(request: FastifyRequest, mac: string): Machine {
    const id = request.agentMachineId;
    if (!id) throw new ApiError('unauthorized', 'send the boot token: Authorization: Bearer <tether.token>');
    const claimed = store.getMachine(mac);
    if (!claimed || claimed.id !== id) {
      throw new ApiError('forbidden', `this boot token belongs to machine ${id}, which has no NIC ${mac}`, { machineId: id, mac });
    }
    return claimed;
  }

  app.post(AGENT_PATHS.report, {
    config: { access: 'open' },
    bodyLimit: MAX_REPORT_BYTES,
    onRequest: authenticate,
    schema: { body: reportSchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const report = request.body as Report;
    if (report.bootToken !== undefined) {
      const header = bearer(request);
      if (header !== null && header !== report.bootToken) throw new ApiError('unauthorized', 'the body\'s bootToken and the Authorization header disagree');
      if (header === null) {
        request.agentMachineId = checkBootToken(store, report.bootToken);
        if (!request.agentMachineId) throw new ApiError('unauthorized', 'the boot token is unknown, expired or was replaced by a newer boot of this machine');
      }
    }
    const machine = machineFor(request, report.mac);
    const tokenId = (bearer(request) ?? report.bootToken ?? '').split('.')[0];
    const inv = report.inventory;
    const uuid = factValue(inv.system.uuid)?.toLowerCase() ?? null;
    const serial = factValue(inv.system.serial);
    const nics = factValue(inv.nics) ?? [];
    const macs = [...new Set([report.mac, ...nics.map((n) => n.mac)])];
    const { saved, transitioned } = store.transaction(() => {
      // A boot reports once: a replayed report (same token) changes nothing.
      if (!store.useToken(tokenId)) throw new ApiError('conflict', 'this boot already reported its inventory; a new report needs a new boot');
      const match = identify({ uuid, serial, macs }, store.identityCandidates({ uuid, serial, macs }));
      const others = new Set<string>();
      if (match.kind === 'ambiguous') match.machines.forEach((m) => others.add(m.id));
      if (match.kind === 'match') others.add(match.machine.id);
      // Firmware lies about UUIDs (all zeros, clones); a real UUID+serial pair seen on another
      // machine is worth telling the operator, never a reason to merge.
      if (!isPlaceholderUuid(uuid) && !isPlaceholderSerial(serial)) {
        for (const c of store.identityCandidates({ uuid, serial, macs: [] })) if (c.smbiosUuid?.toLowerCase() === uuid && c.serial === serial) others.add(c.id);
      }
      others.delete(machine.id);
      const saved = saveInventory(store, machine.id, inv, { uuid, serial, nics: nics.map((n) => ({ mac: n.mac, ifname: n.name })) });
      for (const f of saved.foreign) others.add(f.machineId);
      if (others.size) {
        store.appendEvent({
          machineId: machine.id, kind: 'identity', actor: 'agent',
          reason: `shares identity with ${[...others].join(', ')}; kept apart (machines are never merged automatically)`,
          data: { others: [...others], foreignMacs: saved.foreign, uuid, serial },
        });
      }
      const summary = { disks: factValue(inv.disks)?.length ?? null, nics: nics.length, uuid, serial, ip: request.ip };
      const moves = INVENTORIES_FROM.includes(machine.state as MachineState);
      if (moves) transition(store, machine.id, 'inventoried', { actor: 'agent', reason: 'the agent reported the inventory', data: summary, expectFrom: INVENTORIES_FROM });
      else store.appendEvent({ machineId: machine.id, kind: 'inventory', actor: 'agent', reason: `inventory updated (machine stays ${machine.state})`, data: summary });
      return { saved, transitioned: moves };
    });
    const current = store.mustGetMachine(machine.id);
    try {
      o.onReport?.({ machine: current, inventory: inv, transitioned, saved });
    } catch (err) {
      request.log.error({ err }, 'onReport observer failed');
    }
    const body: ReportAnswer = { version: PROTOCOL_VERSION, machineId: current.id, state: current.state, task: taskFor(current) };
    return body;
  });

  app.post(AGENT_PATHS.heartbeat, {
    config: { access: 'open' },
    bodyLimit: SMALL_BODY,
    onRequest: authenticate,
    schema: { body: heartbeatSchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const hb = request.body as Heartbeat;
    const machine = machineFor(request, hb.mac);
    // A problem the agent reports (a refused report, say) goes to the machine's history once, not every beat.
    if (hb.message && lastMessage.get(machine.id) !== hb.message) {
      lastMessage.set(machine.id, hb.message);
      store.appendEvent({ machineId: machine.id, kind: 'agent', actor: 'agent', reason: hb.message, data: { phase: hb.phase, uptimeS: hb.uptimeS, ip: request.ip } });
    }
    return { version: PROTOCOL_VERSION, intervalS: HEARTBEAT_INTERVAL_S };
  });

  app.get(AGENT_PATHS.task, {
    config: { access: 'open' },
    onRequest: authenticate,
    schema: { querystring: taskQuerySchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => taskFor(machineFor(request, (request.query as { mac: string }).mac)));
}
