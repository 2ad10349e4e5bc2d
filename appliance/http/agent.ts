// /agent/v1/*: the discovery agent's API. Open to the network (no user session) because the agent
// holds no session: it proves itself with the one-time boot token from its kernel command line,
// which is bound to one machine. Anyone on the provisioning LAN can claim any MAC, so the token —
// not the MAC — says who is speaking, and a report may only speak for the token's own machine.
// Reports are untrusted: bounded body, strict schema (no type coercion), one transaction.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject } from 'ajv';
import type { Machine, Store } from '../store/store.ts';
import type { TetherConfig } from '../config/load.ts';
import { bootTokenInfo } from '../auth/boot-tokens.ts';
import { DiskTaskError, diskTaskFor, filesFor, joinFilesLater, phoneHome, recordProgress, recordResult, type DiskTaskContext } from '../install/tasks.ts';
import { checkPhoneHomeToken, renewPhoneHomeToken } from '../install/phone-home.ts';
import { baseUrlOf } from './boot.ts';
import { identify, isPlaceholderSerial, isPlaceholderUuid } from '../lifecycle/identity.ts';
import { transition } from '../lifecycle/lifecycle.ts';
import type { MachineState } from '../lifecycle/states.ts';
import { saveInventory, type SavedInventory } from '../store/inventory.ts';
import { ApiError, errorResponses } from './errors.ts';
import { writeCpio } from '../../images/initrd/cpio.ts';
import {
  AGENT_PATHS, MAX_REPORT_BYTES, PROTOCOL_VERSION, factValue, filesQuerySchema, macPattern, heartbeatSchema, phoneHomeSchema, progressSchema, reportSchema, resultSchema, taskQuerySchema,
  type FilesAnswer, type Heartbeat, type Inventory, type PhoneHome, type Progress, type Report, type ReportAnswer, type TaskAnswer, type TaskResult,
} from '../../agent/protocol.ts';

export interface AgentReportEvent { machine: Machine; inventory: Inventory; transitioned: boolean; saved: SavedInventory }

export interface AgentPluginOptions {
  store: Store;
  /** Called after a report is committed (auto-approve rules, metrics); must not throw. */
  onReport?: (e: AgentReportEvent) => void;
  /** Install and wipe tasks (catalog, signing key, cloud hooks); without it disk states just wait. */
  disks?: DiskTaskContext;
  /** The appliance config (for the base URL machines reach it at). */
  config?: TetherConfig;
  /** The answer for states without a disk task; defaults to nextTask (from the lifecycle state). */
  taskFor?: (machine: Machine) => TaskAnswer;
}

/** The archive the node's first-boot script unpacks with cpio, as tether-config does the config partition's. */
export const CPIO_TYPE = 'application/x-cpio';

const joinQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mac', 'installId'],
  properties: { mac: { type: 'string', pattern: macPattern }, installId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

const HEARTBEAT_INTERVAL_S = 30;
const SMALL_BODY = 4 * 1024;
/** States from which a report moves a machine to `inventoried` (lifecycle: the agent's moves). */
const INVENTORIES_FROM: readonly MachineState[] = ['discovered', 'failed'];

declare module 'fastify' {
  interface FastifyRequest { agentMachineId: string | null; agentBootWrite: boolean }
}

const answer = (task: TaskAnswer['task'], reason: string, pollAfterS: number): TaskAnswer => ({ version: PROTOCOL_VERSION, task, reason, pollAfterS });

/**
 * The next task for a machine's agent from its lifecycle state alone; disk states (approved,
 * installing, wiping) get their install/wipe task from appliance/install/tasks.ts when the plugin
 * has a disk-task context, and wait otherwise.
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

/** The node asks for the archive explicitly; anything else gets JSON. */
function acceptsCpio(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').split(',').some((t) => t.split(';')[0].trim().toLowerCase() === CPIO_TYPE);
}

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
}

export default async function agentPlugin(app: FastifyInstance, o: AgentPluginOptions): Promise<void> {
  if (!o.store) throw new Error('agent plugin needs a store');
  const { store } = o;
  const taskFor = (machine: Machine, request: FastifyRequest): TaskAnswer => {
    const disk = o.disks && o.config ? diskTaskFor(o.disks, machine, { bootMayWrite: request.agentBootWrite, baseUrl: baseUrlOf(request, o.config) }) : null;
    return disk ?? (o.taskFor ?? nextTask)(machine);
  };
  /** Disk-task decisions speak in DiskTaskError; the API in its error catalogue. */
  const asApiError = <T>(f: () => T): T => {
    try { return f(); } catch (e) {
      if (e instanceof DiskTaskError) throw new ApiError(e.code, e.message);
      throw e;
    }
  };
  const lastMessage = new Map<string, string>();
  const errors = errorResponses;

  app.decorateRequest('agentMachineId', null);
  app.decorateRequest('agentBootWrite', false);

  /** The boot token from the header decides the machine, before a large body is even read. */
  async function authenticate(request: FastifyRequest): Promise<void> {
    const token = bearer(request);
    if (token === null) return; // the report may carry it in the body; checked after parsing
    const info = bootTokenInfo(store, token);
    if (!info) throw new ApiError('unauthorized', 'the boot token is unknown, expired or was replaced by a newer boot of this machine');
    request.agentMachineId = info.machineId;
    request.agentBootWrite = info.write;
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
        const info = bootTokenInfo(store, report.bootToken);
        request.agentMachineId = info?.machineId ?? null;
        request.agentBootWrite = info?.write ?? false;
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
    const body: ReportAnswer = { version: PROTOCOL_VERSION, machineId: current.id, state: current.state, task: asApiError(() => taskFor(current, request)) };
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
  }, async (request) => asApiError(() => taskFor(machineFor(request, (request.query as { mac: string }).mac), request)));

  /**
   * The machine an installed OS speaks for: its phone-home token (staged in firstboot.json) names
   * the machine and the install, and the claimed MAC and install must be those.
   */
  function phoneHomeCaller(request: FastifyRequest, mac: string, installId: string): Machine {
    const who = checkPhoneHomeToken(store, bearer(request) ?? '');
    if (!who) throw new ApiError('unauthorized', 'send the phone-home token from /etc/tether/firstboot.json: Authorization: Bearer <token>');
    if (who.installId !== installId) throw new ApiError('forbidden', `this token belongs to install ${who.installId}, not ${installId}`);
    const machine = store.getMachine(mac);
    if (!machine || machine.id !== who.machineId) throw new ApiError('forbidden', `this token belongs to machine ${who.machineId}, which has no NIC ${mac}`);
    return machine;
  }

  const needDisks = (): DiskTaskContext => {
    if (!o.disks) throw new ApiError('conflict', 'this appliance hands out no disk tasks');
    return o.disks;
  };

  app.post(AGENT_PATHS.progress, {
    config: { access: 'open' },
    bodyLimit: SMALL_BODY,
    onRequest: authenticate,
    schema: { body: progressSchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const p = request.body as Progress;
    const t = asApiError(() => recordProgress(needDisks(), machineFor(request, p.mac), p));
    return { version: PROTOCOL_VERSION, taskId: t.id, status: t.status };
  });

  app.post(AGENT_PATHS.result, {
    config: { access: 'open' },
    bodyLimit: SMALL_BODY,
    onRequest: authenticate,
    schema: { body: resultSchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const r = request.body as TaskResult;
    const machine = machineFor(request, r.mac);
    const t = asApiError(() => recordResult(needDisks(), machine, r));
    return { version: PROTOCOL_VERSION, taskId: t.id, status: t.status, task: asApiError(() => taskFor(store.mustGetMachine(machine.id), request)) };
  });

  // Join credentials ride on this answer: only the token's own machine, only while it runs an
  // install task, only once per task.
  app.get(AGENT_PATHS.files, {
    config: { access: 'open' },
    onRequest: authenticate,
    schema: { querystring: filesQuerySchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const q = request.query as { mac: string; taskId: string };
    const machine = machineFor(request, q.mac);
    if (!request.agentBootWrite) throw new ApiError('forbidden', 'this boot may not write disks, so it gets no files to write');
    const disks = needDisks();
    try {
      const files = await filesFor(disks, machine, q.taskId, { baseUrl: baseUrlOf(request, o.config!), nodeIp: request.ip });
      const body: FilesAnswer = { version: PROTOCOL_VERSION, files };
      return body;
    } catch (e) {
      if (e instanceof DiskTaskError) throw new ApiError(e.code, e.message);
      throw e;
    }
  });

  // From the installed OS's first boot: authenticated by the phone-home token staged on its disk.
  app.post(AGENT_PATHS.phoneHome, {
    config: { access: 'open' },
    bodyLimit: SMALL_BODY,
    schema: { body: phoneHomeSchema, response: errors },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request) => {
    const b = request.body as PhoneHome;
    const machine = phoneHomeCaller(request, b.mac, b.installId);
    const m = asApiError(() => phoneHome(needDisks(), machine, b.installId, { kernel: b.kernel, bootId: b.bootId, ip: request.ip }));
    return { version: PROTOCOL_VERSION, machineId: m.id, state: m.state };
  });

  // From the installed OS, after its phone-home, when it has no join files (installed while none
  // could be had): 204 + Retry-After until the cloud link can give them, then the files once —
  // as JSON (FilesAnswer) or, for the node's sh script, as a cpio archive it unpacks.
  app.get(AGENT_PATHS.join, {
    config: { access: 'open' },
    schema: { querystring: joinQuerySchema, response: { ...errors, 204: { type: 'null', description: 'no join files yet: ask again after Retry-After seconds' } } },
    validatorCompiler: ({ schema }) => protocolValidator(schema),
  }, async (request, reply) => {
    const q = request.query as { mac: string; installId: string };
    const machine = phoneHomeCaller(request, q.mac, q.installId);
    let a: Awaited<ReturnType<typeof joinFilesLater>>;
    try {
      a = await joinFilesLater(needDisks(), machine, q.installId, { nodeIp: request.ip });
    } catch (e) {
      if (e instanceof DiskTaskError) throw new ApiError(e.code, e.message);
      throw e;
    }
    if (a.kind === 'wait') {
      // Waiting keeps the token alive: the link may stay down longer than the token's TTL.
      renewPhoneHomeToken(store, bearer(request) ?? '');
      return reply.code(204).header('retry-after', String(a.retryAfterS)).header('cache-control', 'no-store').send();
    }
    void reply.header('cache-control', 'no-store');
    if (acceptsCpio(request)) {
      const at = Math.floor(Date.now() / 1000);
      return reply.type(CPIO_TYPE).send(writeCpio(a.files.map((f) => ({ kind: 'file' as const, path: f.path, mode: f.mode, data: Buffer.from(f.contentBase64, 'base64') })), at));
    }
    const body: FilesAnswer = { version: PROTOCOL_VERSION, files: a.files };
    return body;
  });
}
