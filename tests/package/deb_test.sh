#!/usr/bin/env bash
# The Debian package on a clean Debian 12: build it (.ci/package, lintian
# errors fail), install it with apt-get in a debootstrap'ed root (chroot),
# check the user, the files and `lbd -t` on the shipped config, run the
# packaged lbd as root and see it become lbd with CAP_NET_BIND_SERVICE only,
# upgrade to a rebuilt package keeping a changed conffile, and purge, which
# must leave the root as it was before the install.
#
# Usage: deb_test.sh SOURCE_DIR BUILD_DIR. Needs root and debootstrap (else
# prints SKIPPED, which ctest reports as skipped). The base root is cached as
# a tarball in /var/cache/lbd-tests (and apt's downloads beside it): the
# first run downloads Debian's base system from the mirror of this machine's
# apt sources, later ones unpack it in seconds.
set -euo pipefail
src="$(cd "$1" && pwd)"
build="$(cd "$2" && pwd)"
skip() { echo "SKIPPED: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, network namespace)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (.ci/install-deps installs it)"
command -v unshare >/dev/null || skip "unshare (util-linux) is missing"

start=$SECONDS
phase() { echo "== [$((SECONDS - start))s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }

cache=/var/cache/lbd-tests
arch="$(dpkg --print-architecture)"
tarball="$cache/bookworm-$arch-minbase.tar.gz"
mkdir -p "$cache/apt-archives/partial"
root="$(mktemp -d /var/tmp/lbd-deb-test.XXXXXX)"
snapshots="$(mktemp -d)"
cleanup() {
  rm -rf "$snapshots"
  for m in "$root/var/cache/apt/archives" "$root/proc"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

# Debian's mirror as this machine's apt sources name it (the only one reachable).
mirror_of() {  # $1: "debian" or "debian-security"
  grep -hoE "https?://[^ ]+/$1/?( |$)" /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | tr -d ' ' || true   # missing files: grep exits 2
}
mirror="$(mirror_of debian)"
security="$(mirror_of debian-security)"
[ -n "$mirror" ] || skip "no Debian mirror in /etc/apt/sources.list*"

phase "package: .ci/package $build (and a rebuilt 0.1.0+upgrade1 for the upgrade)"
deb="$("$src/.ci/package" "$build" | tail -1)"
deb2="$("$src/.ci/package" "$build" -D CPACK_DEBIAN_PACKAGE_VERSION=0.1.0+upgrade1 | tail -1)"
[ "$deb" != "$deb2" ] || fail "the rebuilt package has the same name: $deb"
dpkg-deb -f "$deb" Depends Recommends
dpkg-deb -f "$deb" Recommends | grep -qw keepalived || fail "keepalived is not recommended"
dpkg-deb -f "$deb" Depends | grep -q 'libevent' || fail "shlibdeps found no libevent dependency"
dpkg-deb -f "$deb" Depends | grep -q 'libdeflate0' || fail "shlibdeps found no libdeflate0 dependency (gzip of whole bodies)"

if [ -f "$tarball" ]; then
  phase "base root: unpacking $tarball"
  tar -xzf "$tarball" -C "$root"
else
  phase "base root: debootstrap --variant=minbase bookworm from $mirror (cached afterwards)"
  debootstrap --variant=minbase --cache-dir="$cache/apt-archives" bookworm "$root" "$mirror" >/dev/null
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
  } > "$root/etc/apt/sources.list"
  # No service starts inside a chroot (there is no systemd running in it).
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  tar -czf "$tarball.tmp" -C "$root" . && mv "$tarball.tmp" "$tarball"
fi
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
mount -t proc proc "$root/proc"
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
# No pty in the chroot (no /dev/pts): dpkg's progress log would complain.
apt_get() { in_root apt-get -o Dpkg::Use-Pty=0 -y -qq "$@"; }
# Everything on the root's file system but package-manager state, logs, the
# backups (passwd-, group-) and lock (/run/adduser) adduser and deluser leave.
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./var/lib/dpkg -o -path ./var/lib/apt \
     -o -path ./var/cache -o -path ./var/log -o -path ./tmp -o -path ./run/adduser \) -prune -o -print |
     grep -v -- '-$' | sort)
}

phase "apt-get install ./$(basename "$deb")"
apt_get update
snapshot > "$snapshots/before"
md5_before="$(cd "$root/etc" && md5sum passwd group shadow gshadow)"
cp "$deb" "$deb2" "$root/tmp/"
apt_get install --no-install-recommends "/tmp/$(basename "$deb")" >/dev/null
deps_after_install="$(in_root dpkg-query -W -f '${Package}\n' | sort)"

phase "checks after install"
in_root getent passwd lbd | grep -q ':/nonexistent:/usr/sbin/nologin$' || fail "no system user lbd"
in_root getent group lbd >/dev/null || fail "no group lbd"
for f in /usr/sbin/lbd /usr/bin/lbctl /etc/lbd/lbd.conf /lib/systemd/system/lbd.service \
         /usr/lib/tmpfiles.d/lbd.conf /usr/lib/sysctl.d/99-lbd.conf /usr/share/man/man5/lbd.conf.5.gz \
         /usr/share/man/man8/lbd.8.gz /usr/share/man/man8/lbctl.8.gz /usr/share/doc/lbd/copyright; do
  [ -e "$root$f" ] || fail "$f is not installed"
done
in_root dpkg-query -W -f '${Conffiles}\n' lbd | grep -q '/etc/lbd/lbd.conf' || fail "/etc/lbd/lbd.conf is not a conffile"
grep -q '^ExecStart=/usr/sbin/lbd ' "$root/lib/systemd/system/lbd.service" || fail "the unit does not run /usr/sbin/lbd"
# lbd -t binds the example's ports (80, 443, 9100): in a network namespace of
# its own, so whatever listens on this machine does not matter.
unshare --net sh -c "ip link set lo up && chroot '$root' /usr/sbin/lbd -t -c /etc/lbd/lbd.conf" ||
  fail "lbd -t fails on the shipped /etc/lbd/lbd.conf"

phase "the packaged lbd started as root runs as lbd with CAP_NET_BIND_SERVICE only"
# shellcheck disable=SC2016
unshare --net --fork bash -c '
  ip link set lo up
  chroot "$1" /usr/sbin/lbd -c /etc/lbd/lbd.conf >"$1/tmp/lbd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "lbd ready" "$1/tmp/lbd.log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1   # polling for the ready line, 10 s deadline
  done
  uid=$(chroot "$1" id -u lbd)
  grep -E "^(Uid|CapEff|CapBnd):" /proc/$pid/status
  ok=1
  grep -q "^Uid:[[:space:]]*$uid[[:space:]]" /proc/$pid/status || ok=0
  grep -q "^CapEff:[[:space:]]*0000000000000400$" /proc/$pid/status || ok=0
  [ "$(chroot "$1" stat -c %G /run/lbd/admin.sock)" = lbd ] || ok=0
  kill -TERM $pid; wait $pid
  [ $ok = 1 ] || { cat "$1/tmp/lbd.log"; exit 1; }
' _ "$root" || fail "the packaged lbd did not drop to user lbd (log above)"

phase "upgrade to $(basename "$deb2") keeps a changed conffile"
echo "# changed by the operator" >> "$root/etc/lbd/lbd.conf"
apt_get install --no-install-recommends "/tmp/$(basename "$deb2")" >/dev/null
[ "$(in_root dpkg-query -W -f '${Version}' lbd)" = "0.1.0+upgrade1" ] || fail "not upgraded"
grep -q '^# changed by the operator$' "$root/etc/lbd/lbd.conf" || fail "the upgrade replaced the changed conffile"

phase "purge leaves the root as it was"
apt_get purge lbd >/dev/null
# The libraries apt installed as lbd's dependencies go too.
apt_get autoremove --purge >/dev/null
in_root getent passwd lbd >/dev/null && fail "user lbd is still there"
in_root getent group lbd >/dev/null && fail "group lbd is still there"
[ "$(cd "$root/etc" && md5sum passwd group shadow gshadow)" = "$md5_before" ] || fail "passwd/group files differ"
snapshot > "$snapshots/after"
rm -f "$root"/tmp/*.deb "$root/tmp/lbd.log"
if ! diff "$snapshots/before" "$snapshots/after"; then
  fail "purge left files behind (or removed some): diff above"
fi
phase "PASS ($(wc -l <<<"$deps_after_install") packages installed in the root; $((SECONDS - start)) s in all)"
