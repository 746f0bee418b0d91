#!/usr/bin/env bash
# Builds the lab's Vagrant box for the lxc provider, locally, from Debian's
# mirror (no box download): a Debian 12 root with systemd, ssh, the `vagrant`
# user (Vagrant's well-known insecure key, passwordless sudo) and every
# package the nodes need, because the containers have no route out (no NAT):
# keepalived and nftables, and the run-time dependencies of the lbd package
# and of lbd_ha_probe, installed from the host afterwards.
#
#   make-box.sh OUT.box PACKAGE...
#
# The root starts from the debootstrap'ed minbase that tests/package/deb_test.sh
# caches (/var/cache/lbd-tests), or is debootstrap'ed here (and cached there).
# A box is a tar of metadata.json, rootfs.tar.gz (entries under ./rootfs/,
# numeric owners) and lxc-config. Needs root, debootstrap, chroot.
set -euo pipefail
out=$1
shift
packages=(systemd systemd-sysv dbus libnss-myhostname openssh-server sudo iproute2 "$@")

cache=/var/cache/lbd-tests
arch=$(dpkg --print-architecture)
base=$cache/bookworm-$arch-minbase.tar.gz
work=$(mktemp -d /var/tmp/lbd-lab-box.XXXXXX)
root=$work/rootfs
cleanup() {
  local m
  for m in "$root/var/cache/apt/archives" "$root/proc"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$root" "$cache/apt-archives/partial"

# Debian's mirror as this machine's apt sources name it (deb_test.sh does the same).
mirror_of() {
  grep -hoE "https?://[^ ]+/$1/?( |$)" /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | tr -d ' ' || true
}
if [[ -f $base ]]; then
  echo "make-box: base root from $base"
  tar -xzf "$base" -C "$root"
else
  mirror=$(mirror_of debian) security=$(mirror_of debian-security)
  [[ -n $mirror ]] || { echo "make-box: no Debian mirror in /etc/apt/sources.list*" >&2; exit 1; }
  echo "make-box: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase --cache-dir="$cache/apt-archives" bookworm "$root" "$mirror" >/dev/null
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [[ -z $security ]] || echo "deb $security bookworm-security main"
  } >"$root/etc/apt/sources.list"
fi
# No service starts while packages are installed in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
mount -t proc proc "$root/proc"
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
echo "make-box: apt-get install ${packages[*]}"
in_root apt-get -o Dpkg::Use-Pty=0 -qq update
in_root apt-get -o Dpkg::Use-Pty=0 -y -qq --no-install-recommends install "${packages[@]}" >/dev/null
in_root apt-get -o Dpkg::Use-Pty=0 -y -qq upgrade >/dev/null
umount "$root/var/cache/apt/archives" "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
# Smaller is faster: each `vagrant up` unpacks the root once per node.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*

# The vagrant user, as Vagrant's base box conventions want it.
in_root useradd --create-home --shell /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
key=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1)
[[ -n $key ]] || { echo "make-box: Vagrant's insecure key (vagrant.pub) not found: is vagrant installed?" >&2; exit 1; }
install -d -m 0700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$key" "$root/home/vagrant/.ssh/authorized_keys"
[[ $(chroot "$root" id -u vagrant) == 1000 ]] || { echo "make-box: vagrant is not uid 1000" >&2; exit 1; }

# Each container gets its own ssh host keys and machine id at first boot.
rm -f "$root"/etc/ssh/ssh_host_*
cat >"$root/etc/systemd/system/ssh-host-keys.service" <<'UNIT'
[Unit]
Description=ssh host keys, made at first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=ssh.service
UNIT
ln -sf /etc/systemd/system/ssh-host-keys.service "$root/etc/systemd/system/multi-user.target.wants/ssh-host-keys.service"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# The addresses come from LXC (lxc.net.N.ipv4.address, see the Vagrantfile);
# nothing in the container configures the network.
echo "127.0.0.1 localhost" >"$root/etc/hosts"

cat >"$work/lxc-config" <<'CONF'
lxc.include = /usr/share/lxc/config/common.conf
lxc.arch = linux64
lxc.apparmor.profile = unconfined
CONF
echo '{"provider":"lxc","version":"1.0.0"}' >"$work/metadata.json"
echo "make-box: packing $out"
tar --numeric-owner -I 'gzip -1' -cf "$work/rootfs.tar.gz" -C "$work" ./rootfs
tar -cf "$out.tmp" -C "$work" metadata.json rootfs.tar.gz lxc-config
mv "$out.tmp" "$out"
echo "make-box: $out ($(du -h "$out" | cut -f1))"
