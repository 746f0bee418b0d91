#!/usr/bin/env bash
# The lxc provider's two host bridges (Vagrantfile, trigger before `up`;
# lab.sh removes them at the end):
#   bridges.sh up MGMT_BRIDGE MGMT_ADDRESS/PREFIX LAB_BRIDGE
#   bridges.sh down MGMT_BRIDGE LAB_BRIDGE
# MGMT_BRIDGE carries ssh from this machine to the containers' eth0 and has
# MGMT_ADDRESS here; LAB_BRIDGE joins their eth1 (the lab's 192.168.56.0/24,
# VRRP, the VIP) and has no address here: this machine stays out of the lab.
set -euo pipefail
sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo
case ${1:-} in
  up)
    mgmt=$2 address=$3 lab=$4
    for b in "$mgmt" "$lab"; do
      # vagrant up brings the nodes up in parallel: the three triggers race.
      $sudo ip link add "$b" type bridge 2>/dev/null || ip link show "$b" >/dev/null
      $sudo ip link set "$b" up
    done
    $sudo ip addr replace "$address" dev "$mgmt"
    ;;
  down)
    shift
    for b in "$@"; do
      ! ip link show "$b" >/dev/null 2>&1 || $sudo ip link del "$b"
    done
    ;;
  *) echo "usage: bridges.sh up MGMT ADDR/PREFIX LAB | down BRIDGE..." >&2; exit 2 ;;
esac
