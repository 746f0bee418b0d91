# The HA test pair in network namespaces on this machine. Sourced by
# scenarios.sh, which sets LBD, LBCTL and PROBE (paths to the binaries).
#
#   client (10.77.0.100, sources .101-.150) --+
#   lba    (10.77.0.11, lbd-a + keepalived) --+
#   lbb    (10.77.0.12, lbd-b + keepalived) --+-- br0 in the "sw" namespace
#   b1 b2 b3 (10.77.0.21-23, probe serve)   --+
#   VIP 10.77.0.10/24 on lba's or lbb's eth0
#
# Every namespace is named PREFIX-NAME with PREFIX "lbdt<pid of the run>",
# and the run's files live in ${TMPDIR:-/tmp}/lbdt<pid>. topo_down (the EXIT
# trap) removes both and every process started in them; topo_up first
# removes what a run that was killed (ctest's timeout sends SIGKILL) left.
#
# Why the processes are named lbd-a and lbd-b: both nodes share this
# machine's PID namespace, and keepalived's track_process matches
# /proc/PID/comm, so each node's lbd runs through a symlink named after it.
# Why keepalived runs with -s NAMESPACE rather than under `ip netns exec`:
# track_process hears process exits through the kernel's proc connector,
# which answers only sockets of the initial network namespace (ECONNREFUSED
# elsewhere: "Failed to set/clear process event listen"). With -s, keepalived
# opens that socket first and then moves its VRRP process into the namespace.
#
# The interface every topology implements (scenarios.sh uses nothing else):
#   topo_check / topo_up / topo_down / dump_logs
#   LB_NODES BACKENDS VIP PORT_STICKY PORT_RR CLIENT_SOURCES(array) CLIENT_TMP
#   node_ip NODE, node_id NODE, peer_of NODE
#   on_node NODE CMD...          run CMD on NODE (client, lba, lbb, b1..b3)
#   probe ARGS...                lbd_ha_probe on the client
#   probe_json PATH... <JSON     lbd_ha_probe json, wherever it runs
#   lbctl_on NODE ARGS...        lbctl against NODE's lbd
#   start_lbd NODE / stop_lbd NODE (SIGTERM, fails if lbd exits non-zero) / kill_lbd NODE (SIGKILL)
#   start_keepalived NODE / stop_keepalived NODE / kill_keepalived NODE (SIGKILL, every process)
#   keepalived_own_netns on|off  keepalived inside each node's network namespace (as in a container),
#                                or not; fails where the topology cannot (the scenario is skipped)
#   keepalived_state NODE        MASTER, BACKUP, FAULT or nothing, from its log since it started
#   keepalived_transitions NODE  how many state changes its log shows so far (scenario s)
#   link_down NODE / link_up NODE
#   partition / heal             the two lbd nodes cannot / can reach each other (both still reach the rest)
#   forget_neighbour NODE PEER   optional (scenario c): NODE's neighbour (ARP) entry for PEER is dropped
#   keepalived_link_up NODE      optional (scenario c): NODE's keepalived has seen its interface come up
#   has_vip NODE / drop_vip NODE
#   vip_watch_start / vip_watch_stop / vip_events NODE   every change of the VIP, "EPOCH_MS add|del"
#   neigh_watch_start / neigh_watch_stop / neigh_events / node_mac NODE   optional (scenario c's
#                                timeline): the client's neighbour entry for the VIP, "EPOCH_MS MAC|- STATE"
#                                per change; NODE's MAC
#   backend_up NAME / backend_down NAME
#   backend_syn_count NAME [FROM]  a counter that grows with every connection attempt reaching NAME
#                                (from node FROM only, where the topology restarts a killed lbd)
#   PORT_HTTP, http_load ARGS... tests/ha/http_load.py on the client (the backends answer HTTP on
#                                HTTP_BACKEND_PORT from topo_up on); optional: scenario k is skipped
#                                where a topology lacks it

TOPO_RUN="lbdt$$"
TOPO_PREFIX="${TOPO_RUN}-"
TOPO_DIR="${TMPDIR:-/tmp}/${TOPO_RUN}"

LB_NODES=(lba lbb)
BACKENDS=(b1 b2 b3)
VIP=10.77.0.10
VIP_PREFIX=24
PORT_STICKY=80
PORT_RR=81
PORT_HTTP=82
BACKEND_PORT=8080
HTTP_BACKEND_PORT=8081
HTTP_LOAD="$(dirname "${BASH_SOURCE[0]}")/http_load.py"
# Debian's python3 (.ci/install-deps), not a version manager's shim that may take seconds to start.
HA_PYTHON=/usr/bin/python3
[[ -x $HA_PYTHON ]] || HA_PYTHON=python3
CLIENT_SOURCES=()
for ((i = 101; i <= 150; i++)); do CLIENT_SOURCES+=("10.77.0.$i"); done
CLIENT_TMP="$TOPO_DIR/client"

declare -A TOPO_IP=([client]=10.77.0.100 [lba]=10.77.0.11 [lbb]=10.77.0.12
    [b1]=10.77.0.21 [b2]=10.77.0.22 [b3]=10.77.0.23)
declare -A TOPO_NODE_ID=([lba]=lb-a [lbb]=lb-b)
declare -A TOPO_PROC=([lba]=lbd-a [lbb]=lbd-b)
declare -A TOPO_PRIORITY=([lba]=150 [lbb]=100)
TOPO_HOSTS=(client lba lbb b1 b2 b3)

node_ip() { echo "${TOPO_IP[$1]}"; }
node_id() { echo "${TOPO_NODE_ID[$1]}"; }
peer_of() { if [[ $1 == lba ]]; then echo lbb; else echo lba; fi; }
ns_of() { echo "${TOPO_PREFIX}$1"; }

on_node() {
    local node=$1
    shift
    ip netns exec "$(ns_of "$node")" "$@"
}
probe() { ip netns exec "$(ns_of client)" "$PROBE" "$@"; }
http_load() { ip netns exec "$(ns_of client)" "$HA_PYTHON" "$HTTP_LOAD" "$@"; }
probe_json() { "$PROBE" json "$@"; }
lbctl_on() {
    local node=$1
    shift
    "$LBCTL" --socket "$TOPO_DIR/$node/admin.sock" "$@"
}

topo_check() {
    if [[ $(id -u) != 0 ]]; then
        echo "SKIP: the HA failover test needs root (network namespaces, keepalived); run it as root"
        return 77
    fi
    local tool
    for tool in ip keepalived; do
        if ! command -v "$tool" >/dev/null; then
            echo "SKIP: '$tool' is not installed (.ci/install-deps installs keepalived and iproute2)"
            return 77
        fi
    done
    if ! ip netns add "${TOPO_PREFIX}check" 2>/dev/null; then
        echo "SKIP: cannot create a network namespace here (no CAP_SYS_ADMIN, e.g. an unprivileged container)"
        return 77
    fi
    ip netns del "${TOPO_PREFIX}check"
    return 0
}

# ------------------------------------------------------------ processes

# Is the process gone (or a zombie waiting for us)?
proc_gone() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
    stat=${stat##*) }
    [[ ${stat:0:1} == Z ]]
}

# The pid in FILE if that process still runs, with MATCH (default: this
# run's name) on its command line: a pid file never makes us signal a
# stranger that got the number since.
pid_from() {
    local file=$1 match=${2:-$TOPO_RUN} pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    proc_gone "$pid" && return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match" || return 1
    echo "$pid"
}

# spawn LOG NAME CMD...: runs CMD in the background, output appended to LOG;
# NAME.pid gets its pid and, once it exits, NAME.rc its exit status. A
# wrapper subshell waits for it, so CMD is never our own child: bash prints
# no "Killed" notice when a scenario kills it, and its status outlives it.
spawn() {
    local log=$1 name=$2
    shift 2
    rm -f "$name.pid" "$name.rc"
    echo "=== start $(date +%T.%N)" >>"$log"
    (
        "$@" >>"$log" 2>&1 &
        echo $! >"$name.pid"
        wait $!
        echo $? >"$name.rc"
    ) 2>/dev/null &
    wait_until 5000 test -s "$name.pid"
}

# stop_pid PID SIGNAL TIMEOUT_MS: signals PID and waits for it to exit;
# SIGKILL after TIMEOUT_MS (then returns 124).
stop_pid() {
    local pid=$1 signal=$2 timeout_ms=$3
    kill "-$signal" "$pid" 2>/dev/null
    if ! wait_until "$timeout_ms" proc_gone "$pid"; then
        echo "pid $pid did not exit within ${timeout_ms} ms of SIG$signal: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
        wait_until 5000 proc_gone "$pid"
        return 124
    fi
}

# The exit status spawn recorded in NAME.rc (waits for the wrapper to write it).
exit_status_of() {
    wait_until 5000 test -s "$1.rc" || return 1
    cat "$1.rc"
}

# ------------------------------------------------------------ lbd

lbd_conf() { echo "$TOPO_DIR/$1/lbd.conf"; }

start_lbd() {
    local node=$1
    spawn "$TOPO_DIR/$node/lbd.log" "$TOPO_DIR/$node/lbd" \
        ip netns exec "$(ns_of "$node")" "$TOPO_DIR/bin/${TOPO_PROC[$node]}" -c "$(lbd_conf "$node")"
}

# SIGTERM; fails (and says so) if lbd exits with a status other than 0, e.g.
# an ASan report. Nothing to do if it is not running.
stop_lbd() {
    local node=$1 pid rc
    pid=$(pid_from "$TOPO_DIR/$node/lbd.pid") || return 0
    stop_pid "$pid" TERM 15000
    rc=$?
    ((rc == 0)) && rc=$(exit_status_of "$TOPO_DIR/$node/lbd")
    rm -f "$TOPO_DIR/$node/lbd.pid"
    if [[ $rc != 0 ]]; then
        echo "${TOPO_PROC[$node]} (pid $pid) exited with status $rc on SIGTERM; its log: $TOPO_DIR/$node/lbd.log" \
            "$(grep -m1 'SUMMARY:' "$TOPO_DIR/$node/lbd.log")" >&2
        return 1
    fi
}

kill_lbd() {
    local node=$1 pid
    pid=$(pid_from "$TOPO_DIR/$node/lbd.pid") || return 1
    stop_pid "$pid" KILL 5000
    rm -f "$TOPO_DIR/$node/lbd.pid"
    return 0
}

# ------------------------------------------------------------ keepalived

# keepalived_own_netns on|off: from now on each node's keepalived runs inside
# the node's namespace, as in a container with its own network namespace,
# with the config lbd renders there (no vrrp_track_process: the kernel's
# process events do not reach it); or, by default, from the root namespace
# with -s NAMESPACE (see the top of this file).
KEEPALIVED_OWN_NETNS=0
keepalived_own_netns() {
    local node
    if [[ $1 == on ]]; then KEEPALIVED_OWN_NETNS=1; else KEEPALIVED_OWN_NETNS=0; fi
    for node in "${LB_NODES[@]}"; do render_keepalived "$node" || return 1; done
}

# keepalived.conf for NODE, rendered by lbd where keepalived will run (lbd
# probes the process-events connector there to choose its trackers).
render_keepalived() {
    local node=$1 dir=$TOPO_DIR/$1 where=()
    ((KEEPALIVED_OWN_NETNS)) && where=(ip netns exec "$(ns_of "$node")")
    if ! "${where[@]}" "$TOPO_DIR/bin/${TOPO_PROC[$node]}" --render-keepalived -c "$dir/lbd.conf" >"$dir/keepalived.conf"; then
        echo "lbd --render-keepalived failed for $node" >&2
        return 1
    fi
}

start_keepalived() {
    local node=$1
    local dir=$TOPO_DIR/$node where=()
    rm -f "$dir/keepalived.pid" "$dir/vrrp.pid"
    if ((KEEPALIVED_OWN_NETNS)); then
        where=(ip netns exec "$(ns_of "$node")" keepalived)
    else
        where=(keepalived -s "$(ns_of "$node")")
    fi
    # -n foreground, -l -D -G detailed log to the console only, -P VRRP only;
    # its own pid files (keepalived.pid, vrrp.pid) per node.
    spawn "$dir/keepalived.log" "$dir/keepalived.parent" \
        "${where[@]}" -n -l -D -G -P -f "$dir/keepalived.conf" -p "$dir/keepalived.pid" -r "$dir/vrrp.pid"
}

stop_keepalived() {
    local node=$1 pid
    local dir=$TOPO_DIR/$node
    if pid=$(pid_from "$dir/keepalived.parent.pid"); then
        stop_pid "$pid" TERM 10000
    fi
    # The VRRP child leaves with its parent; make sure.
    if pid=$(pid_from "$dir/vrrp.pid"); then stop_pid "$pid" TERM 5000; fi
    rm -f "$dir/keepalived.parent.pid"
    return 0
}

# Every keepalived process of the node at once: parent first (else it would
# respawn its VRRP child), then the child. The VIP stays on the interface,
# as after a crash.
kill_keepalived() {
    local node=$1 parent child
    local dir=$TOPO_DIR/$node
    parent=$(pid_from "$dir/keepalived.parent.pid") || return 1
    child=$(pid_from "$dir/vrrp.pid") || return 1
    kill -KILL "$parent" "$child"
    wait_until 5000 proc_gone "$parent" && wait_until 5000 proc_gone "$child"
    local rc=$?
    rm -f "$dir/keepalived.parent.pid"
    return $rc
}

keepalived_state() {
    awk '/^=== start/ { s = "" }
         { l = tolower($0) }
         match(l, /entering (master|backup|fault) state/) { s = toupper(substr(l, RSTART + 9, RLENGTH - 15)) }
         END { print s }' "$TOPO_DIR/$1/keepalived.log" 2>/dev/null
}

keepalived_transitions() {
    local c
    c=$(grep -ciE 'entering (master|backup|fault) state' "$TOPO_DIR/$1/keepalived.log" 2>/dev/null)
    echo "${c:-0}"
}

# ------------------------------------------------------------ links, VIP

# partition / heal: lba and lbb stop hearing each other (VRRP and the sync
# link) while both still reach the client and the backends: their bridge
# ports are isolated, and isolated ports only talk to the others.
partition() {
    local n
    for n in "${LB_NODES[@]}"; do bridge -n "$(ns_of sw)" link set dev "$n" isolated on || return 1; done
}
heal() {
    local n
    for n in "${LB_NODES[@]}"; do bridge -n "$(ns_of sw)" link set dev "$n" isolated off || return 1; done
}
forget_neighbour() { ip -n "$(ns_of "$1")" neigh flush "${TOPO_IP[$2]}" dev eth0; }
keepalived_link_up() {
    awk '/^=== start/ { s = "" } /Netlink reports eth0 up/ { s = "up" } /Netlink reports eth0 down/ { s = "down" }
         END { exit s != "up" }' "$TOPO_DIR/$1/keepalived.log" 2>/dev/null
}
link_down() { ip -n "$(ns_of "$1")" link set eth0 down; }
link_up() { ip -n "$(ns_of "$1")" link set eth0 up; }
has_vip() { ip -n "$(ns_of "$1")" -4 -o addr show dev eth0 2>/dev/null | grep -q " $VIP/"; }
drop_vip() { ip -n "$(ns_of "$1")" addr del "$VIP/$VIP_PREFIX" dev eth0 2>/dev/null || true; }

# VIP watch: one `ip monitor address` per node, from vip_watch_start to
# vip_watch_stop, so that no change of the VIP escapes between two samples.
# vip_events NODE prints "EPOCH_MS add|del" per change of the VIP on NODE.
has_socket() {
    local fd
    for fd in /proc/"$1"/fd/*; do [[ $(readlink "$fd" 2>/dev/null) == socket:* ]] && return 0; done
    return 1
}
vip_watch_start() {
    local n pid
    for n in "${LB_NODES[@]}"; do
        : >"$TOPO_DIR/$n/vipwatch.log"
        spawn "$TOPO_DIR/$n/vipwatch.log" "$TOPO_DIR/$n/vipwatch" \
            ip -n "$(ns_of "$n")" -ts -o monitor address dev eth0 || return 1
        pid=$(<"$TOPO_DIR/$n/vipwatch.pid")
        # Its netlink socket is subscribed when created: events from then on are kept for it.
        wait_until 5000 has_socket "$pid" || return 1
    done
}
vip_watch_stop() {
    local n pid
    for n in "${LB_NODES[@]}"; do
        pid=$(pid_from "$TOPO_DIR/$n/vipwatch.pid") && stop_pid "$pid" TERM 5000
    done
    return 0
}
vip_events() {
    local ts ev
    awk -v vip="$VIP" '/^\[/ && index($0, " inet " vip "/") {
            print substr($1, 2, length($1) - 2), ($2 == "Deleted" ? "del" : "add") }' \
        "$TOPO_DIR/$1/vipwatch.log" 2>/dev/null |
        while read -r ts ev; do echo "$(date -d "${ts/T/ }" +%s%3N) $ev"; done
}

# The client's neighbour (ARP) entry for the VIP: which node's MAC its
# packets to the VIP go to, and when that changed (a gratuitous ARP).
neigh_watch_start() {
    local dir=$TOPO_DIR/client pid
    : >"$dir/neighwatch.log"
    spawn "$dir/neighwatch.log" "$dir/neighwatch" ip -n "$(ns_of client)" -ts -o monitor neigh dev eth0 || return 1
    pid=$(<"$dir/neighwatch.pid")
    wait_until 5000 has_socket "$pid"
}
neigh_watch_stop() {
    local pid
    pid=$(pid_from "$TOPO_DIR/client/neighwatch.pid") && stop_pid "$pid" TERM 5000
    return 0
}
neigh_events() {
    local ts mac state
    awk -v vip="$VIP" '/^\[/ && $2 == vip { mac = "-"; for (i = 3; i < NF; i++) if ($i == "lladdr") mac = $(i + 1)
            print substr($1, 2, length($1) - 2), mac, $NF }' "$TOPO_DIR/client/neighwatch.log" 2>/dev/null |
        while read -r ts mac state; do echo "$(date -d "${ts/T/ }" +%s%3N) $mac $state"; done
}
node_mac() { ip -n "$(ns_of "$1")" -o link show eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1) }'; }

# ------------------------------------------------------------ backends

backend_up() {
    local name=$1
    local dir=$TOPO_DIR/$name
    pid_from "$dir/serve.pid" "serve $name " >/dev/null && return 0
    : >"$dir/serve.log"
    spawn "$dir/serve.log" "$dir/serve" ip netns exec "$(ns_of "$name")" "$PROBE" serve "$name" "$BACKEND_PORT"
    wait_until 10000 grep -q listening "$dir/serve.log"
}

backend_down() {
    local name=$1 pid
    pid=$(pid_from "$TOPO_DIR/$name/serve.pid" "serve $name ") || return 0
    stop_pid "$pid" KILL 5000
    rm -f "$TOPO_DIR/$name/serve.pid"
}

# TCP segments received in the backend's namespace (TcpInSegs, /proc/net/snmp).
# With its server process gone nothing talks to it but new connections, so
# the delta counts SYNs: connection attempts.
# FROM is not needed here: a killed lbd stays dead, so after a kill every
# attempt comes from the surviving node.
backend_syn_count() {
    on_node "$1" awk '$1 == "Tcp:" { if (!n) { for (i = 1; i <= NF; i++) if ($i == "InSegs") c = i; n = 1 } else print $c }' \
        /proc/net/snmp
}

# ------------------------------------------------------------ setup, teardown

# What a killed run left: its namespaces, its processes (keepalived's parent
# lives outside them), its files. A run still alive is left alone.
topo_clean_leftovers() {
    local runs=() ns run pid dir f
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^lbdt[0-9]+-'); do
        runs+=("${ns%%-*}")
    done
    for dir in "${TMPDIR:-/tmp}"/lbdt[0-9]*; do
        [[ -d $dir ]] && runs+=("${dir##*/}")
    done
    for run in $(printf '%s\n' "${runs[@]}" | sort -u); do
        pid=${run#lbdt}
        [[ $run == "$TOPO_RUN" ]] && continue
        if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'tests/ha/\|scenarios.sh'; then
            continue  # a run in progress
        fi
        echo "cleaning up after an earlier run that did not finish: $run"
        dir=${TMPDIR:-/tmp}/$run
        # Processes of that run outside its namespaces (keepalived's parent),
        # found by its unique run name on their command line.
        for f in /proc/[0-9]*/cmdline; do
            pid=${f#/proc/}
            pid=${pid%/cmdline}
            tr '\0' ' ' <"$f" 2>/dev/null | grep -q -- "${run}[-/]" && kill -KILL "$pid" 2>/dev/null
        done
        for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^${run}-"); do
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        done
        rm -rf "$dir"
    done
}

topo_up() {
    topo_clean_leftovers
    mkdir -p "$TOPO_DIR/bin" "$CLIENT_TMP" || return 1
    local h sw ip
    sw=$(ns_of sw)
    ip netns add "$sw" && ip -n "$sw" link set lo up || return 1
    ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return 1
    for h in "${TOPO_HOSTS[@]}"; do
        mkdir -p "$TOPO_DIR/$h"
        ip netns add "$(ns_of "$h")" || return 1
        ip -n "$(ns_of "$h")" link set lo up
        ip link add eth0 netns "$(ns_of "$h")" type veth peer name "$h" netns "$sw" || return 1
        ip -n "$sw" link set "$h" master br0 && ip -n "$sw" link set "$h" up || return 1
        ip -n "$(ns_of "$h")" addr add "${TOPO_IP[$h]}/24" dev eth0 || return 1
        ip -n "$(ns_of "$h")" link set eth0 up || return 1
    done
    # The client's 50 extra source addresses, one per sticky client.
    for ip in "${CLIENT_SOURCES[@]}"; do echo "addr add $ip/24 dev eth0"; done |
        ip -n "$(ns_of client)" -batch - || return 1

    # Each node: own dir (exists before keepalived starts: it watches the
    # track file's directory), its lbd through a symlink named after it.
    make_sync_key "$TOPO_DIR/sync.key"
    local node backends="" b
    for b in "${BACKENDS[@]}"; do backends+="$b=${TOPO_IP[$b]}:$BACKEND_PORT "; done
    for node in "${LB_NODES[@]}"; do
        local dir=$TOPO_DIR/$node
        mkdir -p "$dir/run"
        ln -sf "$LBD" "$TOPO_DIR/bin/${TOPO_PROC[$node]}"
        render_lbd_config node_id="${TOPO_NODE_ID[$node]}" priority="${TOPO_PRIORITY[$node]}" iface=eth0 \
            self_ip="${TOPO_IP[$node]}" peer_ip="${TOPO_IP[$(peer_of "$node")]}" vip="$VIP" vip_prefix="$VIP_PREFIX" \
            admin_socket="$dir/admin.sock" notify_fifo="$dir/run/vrrp.fifo" \
            track_file="$dir/run/vrrp.weight" sync_key="$TOPO_DIR/sync.key" backends="$backends" \
            port_sticky="$PORT_STICKY" port_rr="$PORT_RR" port_http="$PORT_HTTP" \
            http_backend_port="$HTTP_BACKEND_PORT" >"$dir/lbd.conf"
        render_keepalived "$node" || return 1
    done
    for b in "${BACKENDS[@]}"; do backend_up "$b" || return 1; done
    # The HTTP backends live as long as the topology (killed with its namespaces).
    for b in "${BACKENDS[@]}"; do
        spawn "$TOPO_DIR/$b/http.log" "$TOPO_DIR/$b/http" \
            ip netns exec "$(ns_of "$b")" "$HA_PYTHON" "$HTTP_LOAD" serve "$b" "$HTTP_BACKEND_PORT" || return 1
        wait_until 10000 grep -q listening "$TOPO_DIR/$b/http.log" || return 1
    done
}

dump_logs() {
    local node f
    for node in "${LB_NODES[@]}"; do
        for f in lbd.log keepalived.log; do
            [[ -s $TOPO_DIR/$node/$f ]] || continue
            echo "----- $node/$f (last 40 lines)"
            tail -n 40 "$TOPO_DIR/$node/$f"
        done
    done
}

topo_down() {
    local node b pid ns
    [[ -d $TOPO_DIR ]] || return 0
    for node in "${LB_NODES[@]}"; do
        stop_keepalived "$node" 2>/dev/null
        pid=$(pid_from "$TOPO_DIR/$node/lbd.pid") && stop_pid "$pid" KILL 5000
    done
    for b in "${BACKENDS[@]}"; do backend_down "$b"; done
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^${TOPO_PREFIX}"); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [[ -n ${LBD_HA_KEEP_LOGS:-} ]]; then
        mkdir -p "$LBD_HA_KEEP_LOGS" && cp -r "$TOPO_DIR/." "$LBD_HA_KEEP_LOGS/" 2>/dev/null
        echo "logs kept in $LBD_HA_KEEP_LOGS"
    fi
    rm -rf "$TOPO_DIR"
}
