#!/usr/bin/env bash
# Makes this VM one lbd node of the pair: the sysconf/ files, its lbd.conf
# (rendered by tests/ha/lib.sh, the same as in the namespace tests), the
# shared sync key, keepalived's config rendered by lbd itself, then starts
# lbd and keepalived.
#   lb.sh NODE_ID PRIORITY SELF_IP PEER_IP VIP "b1=IP:PORT b2=IP:PORT ..."
set -euo pipefail
node_id=$1 priority=$2 self_ip=$3 peer_ip=$4 vip=$5 backends=$6
# shellcheck source=../../tests/ha/lib.sh
source /vagrant/tests/ha/lib.sh

# The interface holding this node's lab address carries the VIP and VRRP.
iface=$(ip -o -4 addr show | awk -v ip="$self_ip" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
[[ -n $iface ]] || { echo "lb.sh: no interface has $self_ip" >&2; exit 1; }

# The package (build.sh lb) installed the unit, the sysctl and tmpfiles
# settings (/run/lbd exists from boot: keepalived watches it with inotify
# from its start) and the user lbd, which must be able to read the key.
install -d -m 0755 /etc/lbd /etc/keepalived
if [[ -f /tmp/lbd-sync.key ]]; then
  install -m 0640 -g lbd /tmp/lbd-sync.key /etc/lbd/sync.key
  rm -f /tmp/lbd-sync.key
fi
install -d /etc/systemd/system/keepalived.service.d
cat >/etc/systemd/system/keepalived.service.d/lbd.conf <<'UNIT'
# lbd's keepalived: VRRP only, after lbd, with lbd's run directory in place.
[Unit]
After=lbd.service
[Service]
ExecStartPre=/bin/mkdir -p /run/lbd
UNIT
echo 'DAEMON_ARGS="--vrrp"' >/etc/default/keepalived

# The package's postinst started lbd on the shipped example config (port 80
# on every address): `lbd -t` would count its listeners as conflicts with
# the lab's on the VIP. The lab's lbd starts below.
systemctl stop lbd
# Adverts at lbd's default (40 ms, HA_ADVERT_MS in tests/ha/lib.sh), as in
# the namespace test; scenario c asserts the 0.20 s link cut only there.
render_lbd_config node_id="$node_id" priority="$priority" iface="$iface" self_ip="$self_ip" peer_ip="$peer_ip" \
  vip="$vip" vip_prefix=24 admin_socket=/run/lbd/admin.sock \
  notify_fifo=/run/lbd/vrrp.fifo track_file=/run/lbd/vrrp.weight sync_key=/etc/lbd/sync.key \
  backends="$backends" >/etc/lbd/lbd.conf.new
/usr/sbin/lbd -t -c /etc/lbd/lbd.conf.new
mv /etc/lbd/lbd.conf.new /etc/lbd/lbd.conf
/usr/sbin/lbd --render-keepalived -c /etc/lbd/lbd.conf >/etc/keepalived/keepalived.conf.new
mv /etc/keepalived/keepalived.conf.new /etc/keepalived/keepalived.conf

systemctl daemon-reload
systemctl enable -q lbd keepalived
systemctl restart lbd
systemctl restart keepalived
echo "lb.sh: $node_id up: lbd on $iface ($self_ip), VIP $vip, peer $peer_ip"
