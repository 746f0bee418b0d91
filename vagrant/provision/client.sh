#!/usr/bin/env bash
# Makes this VM the lab's clients and backends:
#   * the backends b1..b3: lbd_ha_probe serve on their own addresses, port 8080
#     (systemd units lbd-lab-backend@b1 ...), each answering "NAME LB_ADDRESS";
#   * 50 client source addresses, .101-.150 (the stickiness scenarios);
#   * nftables counters of the SYNs reaching each backend (the health scenario).
#   client.sh CLIENT_IP "b1=IP:PORT b2=IP:PORT ..."
set -euo pipefail
client_ip=$1 backends=$2
iface=$(ip -o -4 addr show | awk -v ip="$client_ip" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
[[ -n $iface ]] || { echo "client.sh: no interface has $client_ip" >&2; exit 1; }
net=${client_ip%.*}

install -d /etc/lbd-lab
{
  for b in $backends; do addr=${b#*=}; echo "${addr%:*}"; done
  for i in $(seq 101 150); do echo "$net.$i"; done
} >/etc/lbd-lab/addresses
cat >/etc/systemd/system/lbd-lab-addresses.service <<UNIT
[Unit]
Description=lbd lab: backend and client addresses on $iface
After=network-online.target
Wants=network-online.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'while read -r a; do ip addr replace "\$\$a/24" dev $iface; done </etc/lbd-lab/addresses'
[Install]
WantedBy=multi-user.target
UNIT

nft_rules=""
for b in $backends; do
  name=${b%%=*} addr=${b#*=}
  printf 'ADDR=%s\nPORT=%s\n' "${addr%:*}" "${addr##*:}" >"/etc/lbd-lab/$name.env"
  nft_rules+="    counter ${name}_syn {}"$'\n'
done
cat >/etc/systemd/system/lbd-lab-backend@.service <<'UNIT'
[Unit]
Description=lbd lab: backend %i
Requires=lbd-lab-addresses.service
After=lbd-lab-addresses.service
[Service]
EnvironmentFile=/etc/lbd-lab/%i.env
ExecStart=/usr/local/bin/lbd_ha_probe serve %i ${PORT} --bind ${ADDR}
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT

# SYNs (not other segments) to each backend's address and port.
{
  echo "table inet lbd_lab"
  echo "delete table inet lbd_lab"
  echo "table inet lbd_lab {"
  printf '%s' "$nft_rules"
  echo "  chain input {"
  echo "    type filter hook input priority 0; policy accept;"
  for b in $backends; do
    name=${b%%=*} addr=${b#*=}
    echo "    ip daddr ${addr%:*} tcp dport ${addr##*:} tcp flags & (syn | ack) == syn counter name ${name}_syn"
  done
  echo "  }"
  echo "}"
} >/etc/lbd-lab/counters.nft
cat >/etc/systemd/system/lbd-lab-counters.service <<'UNIT'
[Unit]
Description=lbd lab: SYN counters per backend (nft list counters table inet lbd_lab)
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/lbd-lab/counters.nft
[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable -q --now lbd-lab-addresses lbd-lab-counters
systemctl restart lbd-lab-addresses lbd-lab-counters
for b in $backends; do
  systemctl enable -q "lbd-lab-backend@${b%%=*}"
  systemctl restart "lbd-lab-backend@${b%%=*}"
done
install -d -m 1777 /tmp/lbd-ha
echo "client.sh: backends $backends; clients $net.101-$net.150 on $iface"
