// The agent's configuration is the kernel command line the appliance rendered into the boot
// script: `tether.url=http://10.0.0.1:8080 tether.mac=52:54:00:… tether.token=… tether.mode=discovery
// tether.write=0`. Nothing else configures it, so a boot is fully described by its script.

/** What the appliance's boot decision (appliance/boot/decide.ts) renders into `tether.mode`. */
export type BootMode = 'discovery' | 'rescue' | 'install' | 'wipe';
export const BOOT_MODES: readonly BootMode[] = ['discovery', 'rescue', 'install', 'wipe'];

export interface AgentConfig {
  /** The appliance's base URL, without a trailing slash. */
  url: string;
  token: string;
  /** The boot MAC, lowercase with colons. */
  mac: string;
  mode: BootMode;
  /**
   * Whether this boot may write disks: only when the command line says exactly `tether.write=1`.
   * An install or wipe task needs both this and the task naming the disk (agent/run.ts).
   */
  write: boolean;
}

export type CmdlineResult = { ok: true; config: AgentConfig } | { ok: false; problems: string[] };

/** Splits like the kernel does: on spaces, except inside double quotes (`a="b c"`), quotes dropped. */
export function splitCmdline(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of text.trim().matchAll(/(?:[^\s"]+|"[^"]*")+/g)) {
    const token = m[0].replace(/"/g, '');
    const i = token.indexOf('=');
    if (i > 0) params.set(token.slice(0, i), token.slice(i + 1));
    else params.set(token, '');
  }
  return params;
}

export function parseCmdline(text: string): CmdlineResult {
  const p = splitCmdline(text);
  const problems: string[] = [];
  const url = p.get('tether.url') ?? '';
  const token = p.get('tether.token') ?? '';
  const mac = (p.get('tether.mac') ?? '').toLowerCase().replace(/-/g, ':');
  const mode = (p.get('tether.mode') ?? 'discovery') as BootMode;
  let base = '';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`tether.url must be http(s): ${url}`);
    base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    problems.push(url ? `tether.url is not a URL: ${url}` : 'tether.url is missing');
  }
  if (!token) problems.push('tether.token is missing');
  else if (!/^[A-Za-z0-9._-]{1,128}$/.test(token)) problems.push('tether.token has characters a boot token never has');
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) problems.push(mac ? `tether.mac is not a MAC address: ${mac}` : 'tether.mac is missing');
  if (!BOOT_MODES.includes(mode)) problems.push(`tether.mode must be one of ${BOOT_MODES.join(', ')}: ${mode}`);
  if (problems.length) return { ok: false, problems };
  return { ok: true, config: { url: base, token, mac, mode, write: p.get('tether.write') === '1' } };
}
