// The schema of tether.yaml. Every option has a default, so an empty file (or none) boots a safe
// appliance: state under ./data, UI/API on 127.0.0.1, no zones — hence no DHCP/TFTP on any interface.

// `allowed` is our own keyword: the words an error message uses to say what a value may be.
const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const ipv4 = { type: 'string', pattern: `^${octet}(\\.${octet}){3}$`, allowed: 'an IPv4 address such as 10.0.0.1' } as const;
const cidr = { type: 'string', pattern: `^${octet}(\\.${octet}){3}/(3[0-2]|[12]?\\d)$`, allowed: 'an IPv4 subnet such as 10.0.0.0/24' } as const;
const ifname = { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,15}$', allowed: 'a Linux interface name (at most 15 characters)' } as const;
const dnsLabel = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', allowed: 'a DNS label: lowercase letters, digits and dashes' } as const;
const mac = { type: 'string', pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$', allowed: 'a MAC address such as 52:54:00:12:34:56' } as const;

const pool = {
  type: 'object',
  additionalProperties: false,
  required: ['subnet', 'range'],
  properties: {
    subnet: cidr,
    range: { type: 'array', minItems: 2, maxItems: 2, items: ipv4, description: 'first and last address handed out' },
    routers: { type: 'array', items: ipv4, default: [] },
    dns: { type: 'array', items: ipv4, default: [] },
    leaseSeconds: { type: 'integer', minimum: 60, maximum: 604800, default: 3600 },
    reservations: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['mac', 'ip'],
        properties: {
          mac,
          ip: ipv4,
        },
      },
    },
  },
} as const;

const autoApproveRule = {
  type: 'object',
  additionalProperties: false,
  properties: {
    minMemoryGiB: { type: 'number', minimum: 0 },
    minDisks: { type: 'integer', minimum: 0 },
    minCpuThreads: { type: 'integer', minimum: 0 },
    vendor: { type: 'string' },
  },
} as const;

const zone = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { ...dnsLabel, description: 'becomes topology.kubernetes.io/zone' },
    interfaces: { type: 'array', items: ifname, default: [] },
    dhcp: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['proxy', 'full', 'off'], default: 'proxy' },
        pools: { type: 'array', items: pool, default: [] },
        relays: {
          type: 'array',
          default: [],
          description: 'relay agents (giaddr) allowed to forward requests for this zone',
          items: ipv4,
        },
      },
    },
    tftp: { type: 'boolean', default: true },
    bootFiles: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'first-stage iPXE binaries by firmware, overriding boot.bootFiles for this zone',
      properties: { bios: { type: 'string', minLength: 1 }, efi32: { type: 'string', minLength: 1 }, efi64: { type: 'string', minLength: 1 }, arm64: { type: 'string', minLength: 1 } },
    },
    autoApprove: { type: 'array', items: autoApproveRule, default: [] },
  },
} as const;

export const configSchema = {
  $id: 'tether.yaml',
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string', minLength: 1, default: './data' },
    site: { ...dnsLabel, default: 'site', description: 'becomes topology.kubernetes.io/region' },
    log: {
      type: 'object', additionalProperties: false, default: {},
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' } },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { type: 'string', pattern: '^[^\\s]+:\\d{1,5}$', allowed: 'host:port, e.g. 127.0.0.1:8080', default: '127.0.0.1:8080', description: 'host:port for the UI, API, boot scripts and artifacts' },
        bodyLimit: { type: 'integer', minimum: 1024, maximum: 67108864, default: 1048576 },
        trustProxy: { type: 'boolean', default: false },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        sessionHours: { type: 'number', exclusiveMinimum: 0, maximum: 720, default: 12 },
        firstAdmin: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,31}$', allowed: 'a user name: lowercase letter first, then letters, digits, . _ -', default: 'admin' },
      },
    },
    zones: { type: 'array', items: zone, default: [] },
    racks: {
      type: 'array',
      default: [],
      description: 'the site table: which switch (and port) is in which rack; a machine is placed by option 82 from its relay or by its NICs\' LLDP neighbour',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rack', 'switch'],
        properties: {
          rack: { type: 'string', minLength: 1, maxLength: 64 },
          switch: { type: 'string', minLength: 1, maxLength: 255, description: 'option 82 remote-id or LLDP chassis id / system name of the switch' },
          ports: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 }, default: [], description: 'option 82 circuit-ids / LLDP port ids; empty = every port (a top-of-rack switch)' },
        },
      },
    },
    boot: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        artifactsDir: { type: ['string', 'null'], default: null, description: 'served under /artifacts/; default <dataDir>/artifacts' },
        tftpRoot: { type: ['string', 'null'], default: null, description: 'TFTP root; default <dataDir>/tftp' },
        bootFiles: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            bios: { type: 'string', minLength: 1, default: 'undionly.kpxe' },
            efi32: { type: 'string', minLength: 1, default: 'ipxe-i386.efi' },
            efi64: { type: 'string', minLength: 1, default: 'ipxe.efi' },
            arm64: { type: 'string', minLength: 1, default: 'ipxe-arm64.efi' },
          },
        },
        discovery: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            kernel: { type: 'string', minLength: 1, default: 'discovery/vmlinuz', description: 'path under the artifacts dir' },
            initrd: { type: 'string', minLength: 1, default: 'discovery/initrd.img' },
            cmdline: { type: 'string', default: 'console=tty0 console=ttyS0,115200' },
          },
        },
        localBoot: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { bios: { enum: ['sanboot', 'exit'], default: 'sanboot' }, efi: { enum: ['grub', 'sanboot', 'exit'], default: 'grub' } },
        },
      },
    },
    images: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        catalog: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'path'],
            properties: {
              name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', allowed: 'an image name: lowercase letters, digits, . _ -' },
              path: { type: 'string', minLength: 1 },
              zones: { type: 'array', items: { type: 'string' }, default: [], description: 'zones where this is the default image' },
            },
          },
        },
        signingKey: { type: ['string', 'null'], default: null, description: 'ed25519 PEM that signs image manifests; null = <dataDir>/keys/image-signing.key (created on first start)' },
        target: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'which disk an install writes: the disk with this serial or WWN, else the smallest non-rotational disk of at least minSizeGiB',
          properties: {
            minSizeGiB: { type: 'number', minimum: 0, default: 4 },
            serial: { type: ['string', 'null'], default: null },
            wwn: { type: ['string', 'null'], default: null },
          },
        },
      },
    },
    cloud: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        kubeconfig: { type: ['string', 'null'], default: null, description: 'tenant cluster kubeconfig; null = no cloud link configured' },
        managementKubeconfig: { type: ['string', 'null'], default: null },
        tenantControlPlane: {
          type: ['object', 'null'],
          default: null,
          additionalProperties: false,
          required: ['name', 'namespace'],
          properties: { name: { type: 'string' }, namespace: { type: 'string' } },
        },
        probeSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 15, description: 'how often /readyz and /version are probed while the link is up' },
        probeTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 120, default: 10 },
        downAfterFailures: { type: 'integer', minimum: 1, maximum: 100, default: 3, description: 'consecutive unreachable probes before the link is down (enrolled machines go headless)' },
        maxBackoffSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 60, description: 'longest wait between probes while the link is down' },
        verifySeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 10, description: 'how often joining/enrolled machines are checked from the API side' },
        tokenTtlMinutes: { type: 'integer', minimum: 10, maximum: 10080, default: 240, description: 'lifetime of a bootstrap token minted for one machine while the link is up' },
        pool: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'bootstrap tokens pre-minted while the link is up, so installs can finish while it is down',
          properties: {
            size: { type: 'integer', minimum: 0, maximum: 500, default: 4, description: '0 disables the pool' },
            ttlHours: { type: 'integer', minimum: 1, maximum: 720, default: 72, description: 'a pooled token is replaced when less than a third of this is left' },
          },
        },
        controlPlaneReplicas: { type: 'integer', minimum: 1, maximum: 15, default: 2, description: 'API server replicas to check the Konnectivity tunnel through, when there is no TenantControlPlane to read it from' },
        roleLabels: {
          type: 'object',
          default: { 'node-role.kubernetes.io/worker': '' },
          additionalProperties: { type: 'string', maxLength: 63 },
          description: 'labels patched onto each Node once it registered (the kubelet may not set node-role.kubernetes.io/*)',
        },
      },
    },
  },
} as const;

export interface PoolConfig {
  subnet: string;
  range: [string, string];
  routers: string[];
  dns: string[];
  leaseSeconds: number;
  reservations: Array<{ mac: string; ip: string }>;
}

export interface ZoneConfig {
  name: string;
  interfaces: string[];
  dhcp: { mode: 'proxy' | 'full' | 'off'; pools: PoolConfig[]; relays: string[] };
  tftp: boolean;
  bootFiles: Partial<BootFiles>;
  autoApprove: Array<{ minMemoryGiB?: number; minDisks?: number; minCpuThreads?: number; vendor?: string }>;
}

export interface RackEntry { rack: string; switch: string; ports: string[] }

export interface BootFiles { bios: string; efi32: string; efi64: string; arm64: string }

export interface TetherConfig {
  dataDir: string;
  site: string;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  http: { listen: string; bodyLimit: number; trustProxy: boolean };
  auth: { sessionHours: number; firstAdmin: string };
  zones: ZoneConfig[];
  racks: RackEntry[];
  boot: {
    artifactsDir: string | null;
    tftpRoot: string | null;
    bootFiles: BootFiles;
    discovery: { kernel: string; initrd: string; cmdline: string };
    localBoot: { bios: 'sanboot' | 'exit'; efi: 'grub' | 'sanboot' | 'exit' };
  };
  images: {
    catalog: Array<{ name: string; path: string; zones: string[] }>;
    signingKey: string | null;
    target: { minSizeGiB: number; serial: string | null; wwn: string | null };
  };
  cloud: {
    kubeconfig: string | null;
    managementKubeconfig: string | null;
    tenantControlPlane: { name: string; namespace: string } | null;
    probeSeconds: number;
    probeTimeoutSeconds: number;
    downAfterFailures: number;
    maxBackoffSeconds: number;
    verifySeconds: number;
    tokenTtlMinutes: number;
    pool: { size: number; ttlHours: number };
    controlPlaneReplicas: number;
    roleLabels: Record<string, string>;
  };
}
