#!/usr/bin/env bash
# Installs the Debian packages the tests use: real DHCP/TFTP peers, namespace tooling, qemu and
# firmware for the boot lab, a C compiler for the interface-socket addon, g++/make/python3 for
# node-pty (no linux-x64 prebuild: node-gyp builds it at npm ci), headless Chromium for the web UI
# tests (driven by playwright-core; no browser download), openssl, and debootstrap/mtools/syslinux/
# sfdisk to build the node OS disk image without loop devices, lldpd (an LLDP-speaking "switch" in
# the lab) and ipmitool/openipmi (ipmi_sim: a BMC for lab VMs; the discovery image copies ipmitool's
# and tcpdump's libraries from this host). Debian's kubectl (kubernetes-client) is not installed
# here: it would clash with other kubectl packages on a host, so the tests unpack it into the cache
# (images/debian/debs.ts). Idempotent; run as root.
set -euo pipefail
packages=(
  iproute2 tcpdump curl ca-certificates gcc libc6-dev kmod cpio
  busybox udhcpc isc-dhcp-client isc-dhcp-relay dnsmasq-base
  tftp-hpa atftp
  qemu-system-x86 qemu-utils ovmf ipxe zstd
  g++ make python3 binutils
  chromium
  openssl
  debootstrap mtools dosfstools syslinux syslinux-common fdisk e2fsprogs
  lldpd ipmitool openipmi
)
export DEBIAN_FRONTEND=noninteractive
# Packages such as isc-dhcp-relay ship services; never let an install start one on this host.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Package lists younger than an hour (e.g. .ci/run just updated them) are fresh enough.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -60 2>/dev/null | head -1)" ]; then
  apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "debian packages ready"
