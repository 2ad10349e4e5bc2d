// PID 1 of the discovery OS (busybox sh) and its DHCP hook. It mounts the kernel filesystems, loads
// the drivers, brings every NIC up (link state, speed and LLDP are only readable on an up link),
// starts the LLDP listener, gets an address on the boot NIC — the one whose MAC the appliance put on
// the command line as tether.mac — and runs the agent, restarting it if it dies. It mounts no disk:
// nothing here writes one.

export function initScript(modules: readonly string[]): string {
  return `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
say() { echo "tether-init: $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
hostname tether-discovery
say "started at $(cut -d' ' -f1 /proc/uptime) s"

for m in ${modules.join(' ')}; do modprobe -q "$m" 2>/dev/null; done
# efivarfs carries the SecureBoot variable the agent reads.
[ -d /sys/firmware/efi/efivars ] && mount -t efivarfs efivarfs /sys/firmware/efi/efivars
dmesg -n 3
say "drivers loaded at $(cut -d' ' -f1 /proc/uptime) s; disks: $(ls /sys/block | tr '\\n' ' ')"

param() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "\${w#*=}";; esac; done; }
bootmac=$(param tether.mac | tr 'A-F-' 'a-f:')
ip link set lo up
nics() { for d in /sys/class/net/*; do [ -e "$d/device" ] && echo "\${d##*/}"; done; }
bootif=
for try in 1 2 3 4 5 6 7 8 9 10; do
  for n in $(nics); do [ "$(cat /sys/class/net/$n/address)" = "$bootmac" ] && bootif=$n; done
  [ -n "$bootif" ] && break
  sleep 1
done
for n in $(nics); do ip link set "$n" up; done
# LLDP from here on: switches send a frame right after link-up, then every 30 s. One listener
# (AF_PACKET through node:ffi) writes /run/lldp/<nic>.pcap for every NIC; the agent reads them.
mkdir -p /run/lldp
node --disable-warning=ExperimentalWarning --max-old-space-size=24 /lldp-listener.mjs /run/lldp &
say "LLDP listener started at $(cut -d' ' -f1 /proc/uptime) s"
if [ -n "$bootif" ]; then
  say "boot NIC $bootif ($bootmac): asking for an address"
  # Retries until it gets a lease, then stays in the background to renew it.
  udhcpc -i "$bootif" -T 2 -A 3 -s /usr/share/udhcpc/default.script
else
  say "no NIC has the boot MAC '$bootmac'; trying DHCP on every NIC"
  bootif=
  while [ -z "$bootif" ]; do
    for n in $(nics); do udhcpc -i "$n" -n -T 2 -t 3 -s /usr/share/udhcpc/default.script && { bootif=$n; break; }; done
    [ -z "$bootif" ] && sleep 3
  done
fi
say "network up at $(cut -d' ' -f1 /proc/uptime) s: $(ip -4 -o addr show scope global | awk '{print $2, $4}' | tr '\\n' ' ')"

while true; do
  node /agent.mjs
  rc=$?
  if [ "$rc" = 2 ]; then
    say "the kernel command line configures no agent; console shell"
    while true; do setsid cttyhack sh; done
  fi
  say "agent exited ($rc); restarting in 10 s"
  sleep 10
done
`;
}

/** busybox udhcpc's hook: configures the lease it got (address, default route, DNS). */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" \${broadcast:+broadcast "$broadcast"}
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
`;
