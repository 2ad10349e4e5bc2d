// `tether doctor`: checks a Kamaji tenant control plane for what breaks hybrid workers.
//   tether doctor [-c tether.yaml] [--json]                   live, from the config's cloud.* keys
//   tether doctor --tcp-file tcp.yaml [--tenant-dir DIR]      offline, from saved objects
// Exit 0: no errors; 1: error findings; 2: usage or configuration problem.
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { DEFAULT_NODE_PORT_RANGE, runChecks } from './checks.ts';
import { InputError, loadTcpFile, loadTenantDir } from './load.ts';
import { EXIT_USAGE, exitCode, renderJson, renderTable } from './report.ts';
import type { Snapshot } from './types.ts';

export interface DoctorArgs {
  config?: string;
  json?: boolean;
  tcpFile?: string;
  tenantDir?: string;
  nodePortRange?: string;
}

export interface DoctorIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function doctor(a: DoctorArgs, io: DoctorIo): Promise<number> {
  let nodePortRange: [number, number] = [...DEFAULT_NODE_PORT_RANGE];
  if (a.nodePortRange !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(a.nodePortRange);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) {
      io.err(`--node-port-range ${a.nodePortRange}: expected FIRST-LAST, e.g. 30000-32767\n`);
      return EXIT_USAGE;
    }
    nodePortRange = [Number(m[1]), Number(m[2])];
  }

  let snap: Snapshot;
  let target: Record<string, unknown>;
  if (a.tcpFile || a.tenantDir) {
    try {
      const fromTcp = a.tcpFile ? loadTcpFile(a.tcpFile) : { tcp: null };
      snap = { ...fromTcp, tenant: a.tenantDir ? loadTenantDir(a.tenantDir) : null };
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      io.err(`tether doctor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    target = { mode: 'offline', tcpFile: a.tcpFile ?? null, tenantDir: a.tenantDir ?? null };
  } else {
    let cloud;
    try {
      cloud = loadConfig({ path: a.config }).cloud;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      io.err(`tether doctor: bad configuration: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const tcpRef = cloud.managementKubeconfig && cloud.tenantControlPlane ? cloud.tenantControlPlane : null;
    if (!tcpRef && !cloud.kubeconfig) {
      io.err('tether doctor: nothing to check: set cloud.managementKubeconfig and cloud.tenantControlPlane {name, namespace} and/or cloud.kubeconfig in tether.yaml, or pass --tcp-file (and --tenant-dir) with saved objects\n');
      return EXIT_USAGE;
    }
    for (const [key, path] of [['cloud.managementKubeconfig', tcpRef ? cloud.managementKubeconfig : null], ['cloud.kubeconfig', cloud.kubeconfig]] as const) {
      if (path && !existsSync(path)) {
        io.err(`tether doctor: bad configuration: ${key}: ${path} does not exist\n`);
        return EXIT_USAGE;
      }
    }
    // Loaded only here: the other commands never pay for the Kubernetes client.
    const { gather } = await import('./gather.ts');
    snap = await gather({ managementKubeconfig: cloud.managementKubeconfig, tenantControlPlane: tcpRef, tenantKubeconfig: cloud.kubeconfig });
    target = { mode: 'live', tenantControlPlane: tcpRef, managementKubeconfig: tcpRef ? cloud.managementKubeconfig : null, tenantKubeconfig: cloud.kubeconfig };
  }

  const findings = runChecks(snap, { nodePortRange });
  const label = snap.tcp
    ? `TenantControlPlane ${snap.tcp.metadata.namespace}/${snap.tcp.metadata.name}${a.tcpFile ? ` from ${a.tcpFile}` : ''}`
    : 'tenant cluster only';
  io.out(a.json ? renderJson(findings, { ...target, tenantControlPlaneName: snap.tcp?.metadata.name ?? null, tenantControlPlaneNamespace: snap.tcp?.metadata.namespace ?? null }) : renderTable(findings, label));
  return exitCode(findings);
}
