#!/usr/bin/env bash
# Builds lbd from the repository copied to /vagrant and installs it.
#   build.sh lb       the Debian package lbd (.ci/package), installed with apt-get: /usr/sbin/lbd,
#                     /usr/bin/lbctl, the unit, the lbd user
#   build.sh client   lbd_ha_probe (/usr/local/bin): the backends and clients of tests/ha/scenarios.sh
# Safe to run again (vagrant provision): apt-get and the build skip what is done.
#
# With the lxc provider (vagrant/lab.sh) the nodes have no route out and
# nothing is built here: lab.sh puts the package and lbd_ha_probe, built on
# the host (the same Debian 12), in vagrant/.vagrant/prebuilt/, and the box
# holds their dependencies, so apt-get installs the package offline.
set -euo pipefail
role=${1:?usage: build.sh lb|client}
export DEBIAN_FRONTEND=noninteractive

prebuilt=/vagrant/vagrant/.vagrant/prebuilt
if [[ -d $prebuilt ]]; then
  case $role in
    lb)
      deb=$(ls "$prebuilt"/lbd_*.deb)
      apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
      echo "build.sh: installed $(basename "$deb") (built on the host): $(/usr/sbin/lbd --version)" ;;
    client)
      install -m 0755 "$prebuilt/lbd_ha_probe" /usr/local/bin/lbd_ha_probe
      echo "build.sh: installed /usr/local/bin/lbd_ha_probe (built on the host)" ;;
    *) echo "build.sh: role is lb or client" >&2; exit 2 ;;
  esac
  exit 0
fi

# The build section of .ci/install-deps, plus what each role runs. Not the
# whole of it: the lab needs no nginx, haproxy or chromium.
packages=(build-essential cmake pkg-config libevent-dev libssl-dev libnl-3-dev libnl-route-3-dev
  protobuf-compiler libprotobuf-dev libcli11-dev iproute2)
case $role in
  lb) packages+=(keepalived libcap-dev libsystemd-dev python3 dpkg-dev) ;;
  client) packages+=(doctest-dev nftables) ;;  # tests/ needs doctest to configure
  *) echo "build.sh: role is lb or client" >&2; exit 2 ;;
esac
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# Outside /vagrant: the copy of the repository is refreshed by `vagrant rsync`.
build=/var/tmp/lbd-build
jobs=$(nproc)
if [[ $role == lb ]]; then
  cmake -S /vagrant -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
  deb=$(/vagrant/.ci/package "$build" | tail -1)
  apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
  echo "build.sh: installed $deb: $(/usr/sbin/lbd --version) and lbctl"
else
  cmake -S /vagrant -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
  cmake --build "$build" -j "$jobs" --target lbd_ha_probe
  install -m 0755 "$build/tests/ha/lbd_ha_probe" /usr/local/bin/lbd_ha_probe
  echo "build.sh: installed /usr/local/bin/lbd_ha_probe"
fi
