#!/usr/bin/env bash
# The Vagrant lab on this machine with the lxc provider (Debian 12, no KVM
# needed), end to end, as CI runs it (ctest -L lab):
#   1. the lab's own packages (lxc/install-deps: vagrant, vagrant-lxc, lxc, ...);
#   2. the Debian package from BUILD_DIR (.ci/package) and lbd_ha_probe;
#   3. the box, built locally once and cached in /var/cache/lbd-lab, named by
#      a hash of its package list (lxc/make-box.sh);
#   4. `vagrant up` of the three nodes; lb-a and lb-b install the package and
#      run lbd and keepalived under systemd (provision/*.sh);
#   5. the packaged service checked: active, Type=notify readiness, running
#      as lbd, `systemctl reload lbd` hitless under client traffic;
#   6. the HA scenarios of the namespace test (tests/ha/scenarios.sh
#      --topology vagrant) on the packaged lbd;
#   7. `vagrant destroy -f` and the bridges removed, whatever happened.
#
#   vagrant/lab.sh BUILD_DIR [SCENARIO...]      (default: every scenario)
#   LBD_LAB_KEEP=1 vagrant/lab.sh BUILD_DIR     leaves the lab up afterwards
#
# Exit: 0 passed, 1 failed, 77 skipped (not root, or the lab's packages or
# LXC containers are not available here; the line starting SKIP says why).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "${1:?usage: lab.sh BUILD_DIR [SCENARIO...]}" && pwd) || exit 2
shift
scenarios=("$@")

start=$SECONDS
declare -a timings=()
phase_start=$SECONDS phase_name=""
phase() {
  [[ -z $phase_name ]] || timings+=("$phase_name $((SECONDS - phase_start)) s")
  phase_name=$1 phase_start=$SECONDS
  echo "== [$((SECONDS - start)) s] $1"
}
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }

[[ $(id -u) == 0 ]] || skip "the lab needs root (LXC containers, host bridges)"
phase "lab packages (vagrant/lxc/install-deps)"
"$here/lxc/install-deps" || skip "the lab's packages (vagrant, vagrant-lxc, lxc, ...) cannot be installed here"

phase "the Debian package and lbd_ha_probe from $build"
deb=$(LBD_PACKAGE_LINTIAN=0 "$src/.ci/package" "$build" | tail -1) || die ".ci/package $build failed"
cmake --build "$build" --target lbd_ha_probe >/dev/null || die "cannot build lbd_ha_probe"
probe=$build/tests/ha/lbd_ha_probe
echo "$(basename "$deb"), $probe"

# What the nodes need, preinstalled because they cannot reach a mirror:
# keepalived and nftables, the package's Depends, the probe's libraries.
box_packages() {
  printf "%s\n" keepalived nftables
  dpkg-deb -f "$deb" Depends | tr ',' '\n' | awk '{ print $1 }'
  ldd "$probe" | awk '$3 ~ /^\// { print $3 }' | xargs -r dpkg -S 2>/dev/null | cut -d: -f1
}
mapfile -t packages < <(box_packages | grep -v '^$' | sort -u)
key=$({ printf '%s\n' "${packages[@]}"; cat "$here/lxc/make-box.sh"; } | sha256sum | cut -c1-12)
box=lbd-lab-$key
box_file=/var/cache/lbd-lab/$box.box
export VAGRANT_DEFAULT_PROVIDER=lxc LBD_LAB_BOX=$box
cd "$here" || exit 1

phase "box $box"
if ! vagrant box list --machine-readable 2>/dev/null | grep -q ",box-name,$box\$"; then
  if [[ ! -f $box_file ]]; then
    mkdir -p /var/cache/lbd-lab
    # Older boxes of the lab go: one is enough.
    rm -f /var/cache/lbd-lab/lbd-lab-*.box
    "$here/lxc/make-box.sh" "$box_file" "${packages[@]}" || die "cannot build the box"
  fi
  for old in $(vagrant box list --machine-readable | awk -F, '$3 == "box-name" && $4 ~ /^lbd-lab-/ { print $4 }'); do
    vagrant box remove --force "$old" >/dev/null
  done
  vagrant box add --name "$box" "$box_file" >/dev/null || die "vagrant box add $box_file failed"
fi
echo "box $box: ${packages[*]}"

# The nodes install these instead of building (provision/build.sh).
prebuilt=$here/.vagrant/prebuilt
containers() { lxc-ls -1 2>/dev/null | grep -xE 'lb-a|lb-b|client-backends' || true; }
cleanup() {
  local rc=$?
  if [[ ${LBD_LAB_KEEP:-0} == 1 ]]; then
    echo "LBD_LAB_KEEP=1: the lab stays up (cd vagrant && VAGRANT_DEFAULT_PROVIDER=lxc LBD_LAB_BOX=$box vagrant destroy -f)"
    exit "$rc"
  fi
  phase "vagrant destroy -f"
  # The containers go first, all at once (vagrant-lxc halts and deletes them
  # one by one: 70+ s here); nothing in them needs a clean stop. Then
  # vagrant destroy finds them gone and clears its own state.
  local c
  for c in $(containers); do lxc-destroy -f -n "$c" >/dev/null 2>&1 & done
  wait
  vagrant destroy -f >/dev/null 2>&1
  "$here/lxc/bridges.sh" down lbdlab-mgmt lbdlab-net
  rm -rf "$prebuilt"
  phase "end"
  echo "lab: ${timings[*]/%/;} total $((SECONDS - start)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A run that was killed leaves containers behind: they would keep the names.
# (Only then: even a vagrant command with nothing to do costs seconds.)
if [[ -n $(containers) || -n $(ls "$here/.vagrant/machines/"*/lxc/id 2>/dev/null) ]]; then
  vagrant destroy -f >/dev/null 2>&1
fi
for c in $(containers); do lxc-destroy -f -n "$c" >/dev/null 2>&1; done
rm -rf "$prebuilt"
mkdir -p "$prebuilt"
cp "$deb" "$probe" "$prebuilt/"

phase "vagrant up (lxc): lb-a, lb-b, client-backends"
if ! vagrant up --provider=lxc; then
  # A container that cannot start at all (no cgroup or namespace rights, e.g.
  # inside another container) is this machine's limit, not lbd's failure.
  if [[ -z $(containers) ]] || ! lxc-info -n lb-a -s 2>/dev/null | grep -q RUNNING; then
    skip "LXC containers do not start on this machine (vagrant up failed before lb-a ran)"
  fi
  die "vagrant up failed"
fi

# One `vagrant ssh-config` for the checks and the scenarios (each vagrant
# command costs seconds of Ruby start-up; ssh itself is a round trip).
export LBD_VAGRANT_SSH_CONFIG=$prebuilt/ssh_config
vagrant ssh-config lb-a lb-b client-backends >"$LBD_VAGRANT_SSH_CONFIG" || die "vagrant ssh-config failed"

phase "the packaged lbd under systemd"
"$here/lxc/service_checks.sh" || die "the packaged service checks failed (above)"

phase "HA scenarios (tests/ha/scenarios.sh --topology vagrant ${scenarios[*]})"
LBD_VAGRANT_DIR=$here LBD_LAB_CONTAINERS=1 LBD_LAB_PARTITION_PORTS="lbdlab-lb-a lbdlab-lb-b" \
  "$src/tests/ha/scenarios.sh" --topology vagrant "${scenarios[@]}"
