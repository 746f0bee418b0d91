# The HA test pair on the Vagrant lab (vagrant/Vagrantfile): the same
# functions as topology_netns.sh (the list is there), carried out over ssh.
# Sourced by scenarios.sh --topology vagrant, run on the workstation with the
# three VMs up. Nothing is built here: the VMs run what provisioning built.
#
#   lba    = VM lb-a            192.168.56.11  (lbd, keepalived under systemd)
#   lbb    = VM lb-b            192.168.56.12
#   client = VM client-backends 192.168.56.20, sources .101-.150
#   b1..b3 = on client-backends 192.168.56.21-.23:8080 (lbd-lab-backend@bN)
#   VIP 192.168.56.10
#
# Differences from the namespaces, all on the lab's side:
#   * lbd runs under lbd.service (Restart=on-failure): after kill_lbd,
#     systemd starts it again a second later, as it would in production;
#   * a backend's connection attempts are counted by nftables (SYNs to its
#     address and port), the three backends sharing one VM;
#   * the VIP watch's timestamps come from each VM's clock.
# After the run, the lab is left as provisioning left it: lbd and keepalived
# running on both nodes, links up, every backend up.

VAGRANT_DIR=${LBD_VAGRANT_DIR:-$(cd "$HERE/../../vagrant" && pwd)}
TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lbd-ha-vagrant.XXXXXX")

LB_NODES=(lba lbb)
BACKENDS=(b1 b2 b3)
VIP=192.168.56.10
VIP_PREFIX=24
PORT_STICKY=80
PORT_RR=81
CLIENT_SOURCES=()
for ((i = 101; i <= 150; i++)); do CLIENT_SOURCES+=("192.168.56.$i"); done
CLIENT_TMP=/tmp/lbd-ha
ADMIN_SOCKET=/run/lbd/admin.sock

declare -A VG_VM=([lba]=lb-a [lbb]=lb-b [client]=client-backends
    [b1]=client-backends [b2]=client-backends [b3]=client-backends)
declare -A VG_IP=([client]=192.168.56.20 [lba]=192.168.56.11 [lbb]=192.168.56.12
    [b1]=192.168.56.21 [b2]=192.168.56.22 [b3]=192.168.56.23)
declare -A VG_NODE_ID=([lba]=lb-a [lbb]=lb-b)
declare -A VG_IFACE=()
declare -A VG_WATCH=()

node_ip() { echo "${VG_IP[$1]}"; }
node_id() { echo "${VG_NODE_ID[$1]}"; }
peer_of() { if [[ $1 == lba ]]; then echo lbb; else echo lba; fi; }

# One multiplexed ssh connection per VM (ControlMaster): a command costs a
# round trip, not a login.
ssh_vm() {
    ssh -F "$TOPO_DIR/ssh_config" -o ControlMaster=auto -o "ControlPath=$TOPO_DIR/%h.ctl" \
        -o ControlPersist=600 -o LogLevel=ERROR "$@"
}
# on_node NODE CMD...: CMD as root on NODE's VM, no stdin.
on_node() {
    local node=$1
    shift
    ssh_vm -n "${VG_VM[$node]}" "sudo $(printf '%q ' "$@")"
}
probe() { on_node client lbd_ha_probe "$@"; }
probe_json() { ssh_vm "${VG_VM[client]}" "lbd_ha_probe json $(printf '%q ' "$@")"; }
lbctl_on() {
    local node=$1
    shift
    on_node "$node" lbctl --socket "$ADMIN_SOCKET" "$@"
}

topo_check() {
    local tool
    for tool in vagrant ssh; do
        command -v "$tool" >/dev/null || { echo "SKIP: '$tool' is not installed"; return 77; }
    done
    # Given by vagrant/lab.sh, which just brought the lab up: each vagrant
    # command costs seconds of Ruby start-up, ssh a round trip.
    if [[ -n ${LBD_VAGRANT_SSH_CONFIG:-} ]]; then
        cp "$LBD_VAGRANT_SSH_CONFIG" "$TOPO_DIR/ssh_config" || return 1
        return 0
    fi
    local states
    states=$(cd "$VAGRANT_DIR" && vagrant status --machine-readable 2>/dev/null | awk -F, '$3 == "state" { print $2 "=" $4 }')
    local vm
    for vm in lb-a lb-b client-backends; do
        if ! grep -qx "$vm=running" <<<"$states"; then
            echo "SKIP: the lab's VM $vm is not running (cd vagrant && vagrant up); states: $(tr '\n' ' ' <<<"$states")"
            return 77
        fi
    done
}

# ------------------------------------------------------------ lbd, keepalived (systemd)

unit_pid() { on_node "$1" systemctl show -p MainPID --value "$2"; }
pid_gone() { ! on_node "$1" test -d "/proc/$2"; }

start_lbd() {
    on_node "$1" systemctl reset-failed lbd 2>/dev/null
    on_node "$1" systemctl start lbd
}
# Fails if lbd did not stop cleanly (systemd's Result is not "success").
stop_lbd() {
    local node=$1 result
    on_node "$node" systemctl is-active -q lbd || return 0
    on_node "$node" systemctl stop lbd
    result=$(on_node "$node" systemctl show -p Result --value lbd)
    if [[ $result != success ]]; then
        echo "lbd on ${VG_VM[$node]} stopped with result '$result' (journalctl -u lbd)" >&2
        return 1
    fi
}
kill_lbd() {
    local node=$1 pid
    pid=$(unit_pid "$node" lbd)
    [[ $pid =~ ^[0-9]+$ && $pid != 0 ]] || return 1
    on_node "$node" kill -KILL "$pid"
    wait_until 5000 pid_gone "$node" "$pid"
}

start_keepalived() { on_node "$1" systemctl start keepalived; }
stop_keepalived() { on_node "$1" systemctl stop keepalived; }
# Split brain (scenario j): with the lxc provider (vagrant/lab.sh) lb-a's
# and lb-b's lab interfaces are ports of a bridge on this machine, named in
# LBD_LAB_PARTITION_PORTS; isolated ports reach the client but not each
# other. VirtualBox and libvirt networks offer no such switch: the scenario
# skips itself there.
partition() {
    [[ -n ${LBD_LAB_PARTITION_PORTS:-} ]] || return 1
    local p
    for p in $LBD_LAB_PARTITION_PORTS; do bridge link set dev "$p" isolated on || return 1; done
}
heal() {
    local p
    for p in ${LBD_LAB_PARTITION_PORTS:-}; do bridge link set dev "$p" isolated off || return 1; done
}
# Each VM has its own kernel: keepalived runs in its root namespace there.
# In the lxc lab's containers (LBD_LAB_CONTAINERS=1, set by vagrant/lab.sh)
# it always runs in the container's own network namespace, with the config
# lb.sh had lbd render there: "on" is how the lab is, "off" changes nothing
# (the other scenarios pass either way: they run on the same nodes).
keepalived_own_netns() { [[ $1 == off || ${LBD_LAB_CONTAINERS:-0} == 1 ]]; }
# Every process of the unit (parent and VRRP child), as a crash would.
kill_keepalived() { on_node "$1" systemctl kill --signal=SIGKILL keepalived; }
keepalived_state() {
    on_node "$1" journalctl -u keepalived -o cat --no-pager -n 500 2>/dev/null |
        awk '/Starting Keepalived/ { s = "" }
             { l = tolower($0) }
             match(l, /entering (master|backup|fault) state/) { s = toupper(substr(l, RSTART + 9, RLENGTH - 15)) }
             END { print s }'
}

keepalived_transitions() {
    local c
    c=$(on_node "$1" journalctl -u keepalived -o cat --no-pager 2>/dev/null | grep -ciE 'entering (master|backup|fault) state')
    echo "${c:-0}"
}

# ------------------------------------------------------------ links, VIP

link_down() { on_node "$1" ip link set "${VG_IFACE[$1]}" down; }
link_up() { on_node "$1" ip link set "${VG_IFACE[$1]}" up; }
# Without sudo (reading addresses needs no root): scenarios f and g sample
# both nodes in a loop, and each sudo costs a PAM session.
has_vip() { ssh_vm -n "${VG_VM[$1]}" ip -4 -o addr show dev "${VG_IFACE[$1]}" | grep -q " $VIP/"; }
drop_vip() { on_node "$1" ip addr del "$VIP/$VIP_PREFIX" dev "${VG_IFACE[$1]}" 2>/dev/null || true; }

# `ip monitor` on each node over ssh; the remote shell prints its pid (which
# exec makes the monitor's) first, so vip_watch_stop can end it by its id.
vip_watch_start() {
    local n
    for n in "${LB_NODES[@]}"; do
        : >"$TOPO_DIR/vipwatch.$n"
        ssh_vm -n "${VG_VM[$n]}" "sudo sh -c 'echo ready \$\$; TZ=UTC exec timeout 600 ip -ts -o monitor address dev ${VG_IFACE[$n]}'" \
            >>"$TOPO_DIR/vipwatch.$n" 2>/dev/null &
        VG_WATCH[$n]=$!
        wait_until 10000 grep -q '^ready' "$TOPO_DIR/vipwatch.$n" || return 1
    done
}
vip_watch_stop() {
    local n pid
    for n in "${LB_NODES[@]}"; do
        pid=$(awk '/^ready/ { print $2; exit }' "$TOPO_DIR/vipwatch.$n")
        [[ $pid =~ ^[0-9]+$ ]] && on_node "$n" kill "$pid" 2>/dev/null
        [[ -n ${VG_WATCH[$n]:-} ]] && wait "${VG_WATCH[$n]}" 2>/dev/null
    done
    return 0
}
vip_events() {
    local ts ev
    awk -v vip="$VIP" '/^\[/ && index($0, " inet " vip "/") {
            print substr($1, 2, length($1) - 2), ($2 == "Deleted" ? "del" : "add") }' \
        "$TOPO_DIR/vipwatch.$1" 2>/dev/null |
        while read -r ts ev; do echo "$(TZ=UTC date -d "${ts/T/ }" +%s%3N) $ev"; done
}

# ------------------------------------------------------------ backends

backend_up() { on_node client systemctl start "lbd-lab-backend@$1"; }
backend_down() { on_node client systemctl stop "lbd-lab-backend@$1"; }
# provision/client.sh counts SYNs per backend; topo_up adds counters per
# backend and lb node (table lbd_lab_src): lbd.service restarts a killed
# lbd, whose start-up health checks must not count as the survivor's.
backend_syn_count() {
    local counter=${1}_syn
    [[ -n ${2:-} ]] && counter=${1}_syn_from_$2
    on_node client nft list counter inet "$( [[ -n ${2:-} ]] && echo lbd_lab_src || echo lbd_lab)" "$counter" |
        awk '$1 == "packets" { print $2 }'
}
syn_counters_by_source() {
    local b n rules="table inet lbd_lab_src {"$'\n'
    for b in "${BACKENDS[@]}"; do
        for n in "${LB_NODES[@]}"; do rules+="  counter ${b}_syn_from_$n {}"$'\n'; done
    done
    rules+="  chain input {"$'\n'"    type filter hook input priority 0; policy accept;"$'\n'
    for b in "${BACKENDS[@]}"; do
        for n in "${LB_NODES[@]}"; do
            rules+="    ip saddr ${VG_IP[$n]} ip daddr ${VG_IP[$b]} tcp dport 8080 tcp flags & (syn | ack) == syn counter name ${b}_syn_from_$n"$'\n'
        done
    done
    rules+="  }"$'\n'"}"
    on_node client nft delete table inet lbd_lab_src 2>/dev/null
    on_node client nft "$rules"
}

# ------------------------------------------------------------ setup, teardown

topo_up() {
    [[ -s $TOPO_DIR/ssh_config ]] ||
        (cd "$VAGRANT_DIR" && vagrant ssh-config lb-a lb-b client-backends) >"$TOPO_DIR/ssh_config" || return 1
    local n
    for n in "${LB_NODES[@]}" client; do
        VG_IFACE[$n]=$(on_node "$n" ip -o -4 addr show | awk -v ip="${VG_IP[$n]}" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
        [[ -n ${VG_IFACE[$n]} ]] || { echo "no interface with ${VG_IP[$n]} on ${VG_VM[$n]}" >&2; return 1; }
    done
    for n in "${LB_NODES[@]}"; do
        on_node "$n" test -x /usr/sbin/lbd || { echo "lbd is not installed on ${VG_VM[$n]} (vagrant provision)" >&2; return 1; }
    done
    on_node client test -x /usr/local/bin/lbd_ha_probe || { echo "lbd_ha_probe missing on client-backends" >&2; return 1; }
    on_node client install -d -m 1777 "$CLIENT_TMP"
    syn_counters_by_source || { echo "cannot add the per-source SYN counters on client-backends" >&2; return 1; }
    # The scenarios start the pair themselves.
    for n in "${LB_NODES[@]}"; do stop_keepalived "$n"; done
    for n in "${LB_NODES[@]}"; do on_node "$n" systemctl stop lbd; drop_vip "$n"; done
    for n in "${BACKENDS[@]}"; do backend_up "$n" || return 1; done
}

dump_logs() {
    local n
    for n in "${LB_NODES[@]}"; do
        echo "----- ${VG_VM[$n]}: journalctl -u lbd -u keepalived (last 40 lines)"
        on_node "$n" journalctl -u lbd -u keepalived -n 40 --no-pager 2>/dev/null
    done
}

# Back to the lab as provisioned, then close the ssh connections.
topo_down() {
    local n
    if [[ -s $TOPO_DIR/ssh_config ]]; then
        vip_watch_stop 2>/dev/null
        heal 2>/dev/null
        for n in "${LB_NODES[@]}"; do
            [[ -n ${VG_IFACE[$n]:-} ]] && link_up "$n"
            start_lbd "$n"
            start_keepalived "$n"
        done
        for n in "${BACKENDS[@]}"; do backend_up "$n"; done
        for n in "${LB_NODES[@]}" client; do ssh_vm -O exit "${VG_VM[$n]}" 2>/dev/null; done
    fi
    rm -rf "$TOPO_DIR"
}
