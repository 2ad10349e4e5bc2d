// The files the node image carries beyond what Debian's packages install: pure texts, so the tests
// can read them and the builder only writes them (rootfs.ts) or copies them onto the ESP (disk.ts).

/** The root filesystem's label: the kernel command line, fstab, the manifest and the agent find the root by it. */
export const ROOT_LABEL = 'tether-root';
/** The ESP's FAT volume label (at most 11 characters, upper case by FAT convention). */
export const ESP_LABEL = 'TETHER-ESP';

/**
 * `ro`: systemd remounts the root read-write after fsck. `console=ttyS0` last makes the serial
 * port /dev/console, so the status lines (systemd.show_status=1) and first-boot logs reach a
 * serial-over-LAN session as well as the screen.
 */
export const KERNEL_CMDLINE = `root=LABEL=${ROOT_LABEL} ro console=tty0 console=ttyS0,115200 systemd.show_status=1`;

/**
 * No swap line: a kubelet refuses to run with swap on (failSwapOn). The ESP is `nofail` with no
 * fsck pass: a damaged ESP must not keep a node from booting its root, which it does not need.
 */
export const FSTAB = `# Tether node image: filesystems are found by label, so the disk may be any device.
LABEL=${ROOT_LABEL}  /          ext4  defaults,errors=remount-ro  0 1
LABEL=${ESP_LABEL}   /boot/efi  vfat  umask=0077,nofail  0 0
`;

/** Forwarding and bridged traffic through iptables: what kube-proxy and most CNIs require. */
export const SYSCTL_KUBELET = `# Tether: required by kube-proxy and bridge-based CNI plugins.
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
`;

/** overlay for containerd's snapshotter; br_netfilter so the net.bridge sysctls exist at all (systemd-sysctl runs after systemd-modules-load). */
export const MODULES_LOAD = 'overlay\nbr_netfilter\n';

/**
 * containerd with the systemd cgroup driver, which must match the kubelet's cgroupDriver: systemd
 * (the kubelet default since 1.22 via kubeadm). CNI plugins are looked up in /opt/cni/bin, where
 * CNI installers (Calico, Cilium) put theirs; Debian's own are symlinked there.
 */
export const CONTAINERD_CONFIG = `# Tether node image: containerd for a kubelet.
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;

/**
 * DHCP on every Ethernet port (a leading `!` negates the whole Name= list: the rest are the
 * interfaces CNI plugins create, which networkd must leave alone) until the per-machine network config the agent stages (a lower-
 * numbered .network file, which networkd matches first) says otherwise.
 */
export const NETWORK_DHCP = `# Tether default: DHCP on every Ethernet port. Per-machine files with a lower number win.
[Match]
Type=ether
Name=!veth* cali* cilium* lxc* flannel* cni* docker* vxlan* tunl* kube-*

[Network]
DHCP=yes

[DHCPv4]
UseDomains=yes
`;

/** The kubelet's own files; the agent stages them at these paths (DESIGN.md, "Enrollment facts"). */
export const KUBELET_FILES = {
  bootstrapKubeconfig: '/etc/kubernetes/bootstrap-kubelet.conf',
  kubeconfig: '/etc/kubernetes/kubelet.conf',
  config: '/var/lib/kubelet/config.yaml',
  env: '/etc/default/kubelet',
} as const;

/**
 * multi-user.target orders itself after every unit it wants, unless that unit says
 * DefaultDependencies=no; the two units below wait for network-online.target, which with no link
 * up waits out systemd-networkd-wait-online's 2 minutes. With no default dependencies (and the
 * ones that matter written out) a node without network still reaches multi-user promptly.
 */
const AFTER_NETWORK = `DefaultDependencies=no
Wants=network-online.target
After=sysinit.target basic.target network-online.target
Conflicts=shutdown.target
Before=shutdown.target`;

/**
 * Enabled but dormant until both the binary (user-supplied, may be absent) and the config (staged
 * per machine at install) exist. Restart=always: the kubelet exits on config errors and retries the
 * TLS bootstrap itself while the API is unreachable.
 */
export const KUBELET_SERVICE = `[Unit]
Description=kubelet: the Kubernetes node agent
Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/
${AFTER_NETWORK}
Wants=containerd.service
After=containerd.service
ConditionPathExists=/usr/bin/kubelet
ConditionPathExists=${KUBELET_FILES.config}
StartLimitIntervalSec=0

[Service]
EnvironmentFile=-${KUBELET_FILES.env}
ExecStart=/usr/bin/kubelet --bootstrap-kubeconfig=${KUBELET_FILES.bootstrapKubeconfig} --kubeconfig=${KUBELET_FILES.kubeconfig} --config=${KUBELET_FILES.config} $KUBELET_EXTRA_ARGS
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

// Units that log to the consoles (StandardOutput=kmsg) also say SyslogLevel=notice: journald
// passes a service's lines on to the kernel log only up to MaxLevelKMsg=, which is notice, and a
// service's lines are info unless told otherwise.

/** GPT partition name of the reserved partition the agent writes per-machine files into (a cpio archive). */
export const CONFIG_LABEL = 'tether-config';
export const CONFIG_SCRIPT_PATH = '/usr/lib/tether/apply-config';
const CONFIG_DEVICE_UNIT = 'dev-disk-by\\x2dpartlabel-tether\\x2dconfig.device';

/**
 * Unpacks this machine's files (hostname, network, first-boot credential, join files) from the
 * config partition onto the root before anything reads them: after the root is writable, before
 * networkd, the kubelet and the first-boot phone-home. The image bytes stay as built (the agent
 * never writes into them); the archive is applied once per install — a re-install writes a new
 * root without the marker.
 */
export const CONFIG_SERVICE = `[Unit]
Description=Tether: apply this machine's files from the ${CONFIG_LABEL} partition
DefaultDependencies=no
Wants=${CONFIG_DEVICE_UNIT}
After=${CONFIG_DEVICE_UNIT} systemd-remount-fs.service
Before=sysinit.target systemd-networkd.service tether-firstboot.service kubelet.service
ConditionPathExists=!/var/lib/tether/config.applied

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${CONFIG_SCRIPT_PATH}
StandardOutput=kmsg
StandardError=kmsg
SyslogLevel=notice

[Install]
WantedBy=sysinit.target
`;

export const CONFIG_SCRIPT = `#!/bin/sh
# Tether: unpack the per-machine archive the agent wrote into the ${CONFIG_LABEL} partition.
set -eu
dev=/dev/disk/by-partlabel/${CONFIG_LABEL}
say() { echo "tether-config: $*"; }
if [ ! -b "$dev" ]; then say "no $dev: nothing to apply"; exit 0; fi
cd /
# A partition never written holds zeros, not an archive: nothing to apply (an image booted by hand).
if [ "$(head -c 6 "$dev")" != "070701" ]; then say "$dev holds no archive: nothing to apply"; exit 0; fi
n=$(cpio -idmu --no-absolute-filenames --quiet -v < "$dev" 2>&1 | wc -l)
[ -s /etc/hostname ] && cat /etc/hostname > /proc/sys/kernel/hostname
mkdir -p /var/lib/tether
date -u +%FT%TZ > /var/lib/tether/config.applied
say "applied $n entries from $dev (hostname $(cat /proc/sys/kernel/hostname))"
`;

export const FIRSTBOOT_PATHS = {
  script: '/usr/lib/tether/firstboot',
  config: '/etc/tether/firstboot.json',
  done: '/var/lib/tether/firstboot.done',
  /** Join files fetched from the appliance and not yet all in place (kept across a reboot; 0600). */
  joinArchive: '/var/lib/tether/join.cpio',
} as const;

/**
 * Once per install: the config is staged by the agent with each install, the marker is written
 * after the appliance acknowledged and the node has its join files (staged at install, or fetched
 * from the appliance afterwards when it was installed without them — until then every boot asks
 * again). Type=exec, not oneshot: the script may retry for a long time while the appliance is
 * unreachable or has no join files yet, and multi-user.target must not wait for it.
 * Output to the kernel log, which every console shows (screen and serial), rather than
 * journal+console: systemd stops printing its own status lines while a unit that may write to the
 * console runs, and a retrying first boot would hide "Reached target ... Multi-User System".
 */
export const FIRSTBOOT_SERVICE = `[Unit]
Description=Tether first boot: report the installed OS to the appliance
${AFTER_NETWORK}
ConditionPathExists=${FIRSTBOOT_PATHS.config}
ConditionPathExists=!${FIRSTBOOT_PATHS.done}

[Service]
Type=exec
ExecStart=${FIRSTBOOT_PATHS.script}
PrivateTmp=yes
SyslogIdentifier=tether-firstboot
StandardOutput=kmsg
StandardError=kmsg
SyslogLevel=notice

[Install]
WantedBy=multi-user.target
`;

/**
 * Online = at least one link is up and configured. The default waits for every managed link, and a
 * server has ports with no cable in them: each would hold network-online.target for 2 minutes.
 */
export const WAIT_ONLINE_DROPIN = `[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any
`;

/**
 * One line in the kernel log, which every console prints (screen and serial), once systemd has
 * reached multi-user.target: the "this node is up" a watcher of the serial port (or the lab's
 * tests) waits for. systemd's own "Reached target ... Multi-User System" status line is not
 * reliable there: agetty flushes the serial port's unsent output when it starts ("important for
 * modems"), and systemd prints no more status once a Type=idle getty's wait times out while a
 * unit holds the console. The kernel writes its log to the UART directly, past both.
 * No default dependencies: a unit multi-user.target wants is otherwise ordered before it.
 */
export const BOOT_STATUS_SERVICE = `[Unit]
Description=Tether: report on the consoles that the node is up
DefaultDependencies=no
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/lib/tether/boot-status

[Install]
WantedBy=multi-user.target
`;

export const BOOT_STATUS_SCRIPT = `#!/bin/sh
# Failed units are named, so that a look at the console says whether the node came up whole.
failed=$(systemctl list-units --state=failed --no-legend --plain 2>/dev/null | cut -d' ' -f1 | tr '\\n' ' ')
failed=\${failed% }
# <5>: kernel log level "notice", printed on the consoles at the default console log level.
printf '<5>tether: Reached target multi-user.target - Multi-User System (%s, up %s s; failed units: %s)\\n' \\
  "$(cat /proc/sys/kernel/hostname)" "$(cut -d' ' -f1 /proc/uptime)" "\${failed:-none}" >/dev/kmsg
`;

/** apt sources for later upgrades on the node: the recipe's mirror plus updates and security. */
export function aptSources(mirror: string, suite: string): string {
  return `Types: deb
URIs: ${mirror}
Suites: ${suite} ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
}

/** Docs, man pages and translations are not needed on a node; dpkg keeps them out on upgrades too. */
export const DPKG_EXCLUDES = `# Tether node image: no documentation or translations (copyright files stay, for licences).
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
`;

// --- bootloaders (files on the ESP, next to /vmlinuz and /initrd.img) ------------------------------

/** SYSLINUX (BIOS): no menu, no wait; SERIAL so the loader itself is visible over serial. */
export const SYSLINUX_CFG = `SERIAL 0 115200
DEFAULT tether
PROMPT 0
TIMEOUT 0
LABEL tether
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND ${KERNEL_CMDLINE}
`;

/** systemd-boot (UEFI): one entry, no menu (hold a key at power-on to get one). */
export const LOADER_CONF = `default tether.conf
timeout 0
console-mode keep
editor no
`;

export const LOADER_ENTRY = `title Tether node
linux /vmlinuz
initrd /initrd.img
options ${KERNEL_CMDLINE}
`;
