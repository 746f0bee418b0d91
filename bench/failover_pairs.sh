# Sourced by bench/failover.sh: the two pairs it compares, each as the same
# set of functions (lbd_* and hap_*, dispatched by p_* on PAIR), and the pair's
# life: fresh_pair, stop_pair. Needs the test kit's topology (tests/ha).
# shellcheck shell=bash

# ------------------------------------------------------------ lbd (as tests/ha runs it)
lbd_start() { start_lbd "$1"; }
lbd_ready() { lbctl_on "$1" status >/dev/null 2>&1; }
lbd_kill() { kill_lbd "$1"; }
lbd_stop() { stop_lbd "$1"; }
lbd_stick_entries() { # entries of pool sticky's table
    lbctl_on "$1" stick show sticky --json 2>/dev/null | probe_json entries.# 2>/dev/null || echo 0
}
lbd_server_state() { # NODE POOL SERVER -> UP, DOWN, ...
    lbctl_on "$1" servers --json 2>/dev/null | probe_json "servers[pool=$2,name=$3].state" 2>/dev/null
}
lbd_log() { echo "$TOPO_DIR/$1/lbd.log"; }
lbd_version() { "$LBD" --version 2>/dev/null | head -n1 || true; }

# ------------------------------------------------------------ HAProxy
# Each node runs $HAPROXY through a symlink named haproxy-a / haproxy-b (the
# name keepalived tracks), in the foreground (-db), with peer name -L lb-a/lb-b.
hap_dir() { echo "$TOPO_DIR/$1/haproxy"; }
hap_cmd() { # NODE COMMAND: a command on NODE's stats socket
    socat -t 2 - "UNIX-CONNECT:$(hap_dir "$1")/stats.sock" <<<"$2" 2>/dev/null
}

write_haproxy_config() {
    local node=$1 dir b servers="" http_servers=""
    dir=$(hap_dir "$node")
    for b in "${BACKENDS[@]}"; do
        servers+="    server $b ${TOPO_IP[$b]}:$BACKEND_PORT check inter 60s observe layer4 error-limit 1 on-error mark-down"$'\n'
        http_servers+="    server $b ${TOPO_IP[$b]}:$HTTP_BACKEND_PORT check inter 60s"$'\n'
    done
    cat >"$dir/haproxy.cfg" <<EOF
# HAProxy node $(node_id "$node") of bench/failover.sh (peer name $(node_id "$node"), started with -L).
global
    nbthread 2
    maxconn 4096
    stats socket $dir/stats.sock mode 600 level admin
    pidfile $dir/haproxy.pidfile

defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    option redispatch

# Stick tables are pushed to the other node as entries change.
peers mypeers
    peer $(node_id lba) ${TOPO_IP[lba]}:$HAP_PEER_PORT
    peer $(node_id lbb) ${TOPO_IP[lbb]}:$HAP_PEER_PORT

# Like lbd's freebind listeners: bound on the VIP before it is here
# ("transparent": IP_TRANSPARENT, HAProxy 2.6 has no "freebind" keyword).
frontend sticky
    bind $VIP:$PORT_STICKY transparent
    default_backend sticky
frontend rr
    bind $VIP:$PORT_RR transparent
    default_backend rr
# Port $PORT_HTTP: HTTP keep-alive and one-connection-per-request clients (the planned handovers).
frontend web
    mode http
    timeout http-keep-alive 10s
    bind $VIP:$PORT_HTTP transparent
    default_backend web

# Port $PORT_STICKY: round robin + source-IP stickiness, table synced with the peer.
backend sticky
    balance roundrobin
    stick-table type ip size 1m expire 10m peers mypeers
    stick on src
$servers
# Port $PORT_RR: round robin (the gap poll and the dead backend).
backend rr
    balance roundrobin
$servers
backend web
    mode http
    balance roundrobin
$http_servers
EOF
}

# keepalived.conf for the HAProxy pair: the lbd node's render (same instance,
# unicast peers, the same VRRPv3 advert interval and real-time priority, BACKUP + nopreempt), tracking
# haproxy-a/-b instead of lbd-a/-b, without lbd's notify FIFO (nothing on the HAProxy side reads it) and
# with its track file turned into the operator's lever for a planned handover (hap_hand_over): 0 until
# the operator writes -254 there (FAULT: keepalived sends a priority-0 advert and the peer takes the
# VIP at once), the same lever lbd pulls at the end of its drain. lbd's comments go (they describe
# lbd's use of the file).
hap_handover_file() { echo "$(hap_dir "$1")/handover.weight"; }
write_haproxy_keepalived() {
    local node=$1 dir=$TOPO_DIR/$1
    echo 0 >"$(hap_handover_file "$node")"
    awk -v from="\"${TOPO_PROC[$node]}\"" -v to="\"${HAP_PROC[$node]}\"" -v file="$(hap_handover_file "$node")" '
        /^[[:space:]]*#/ { next }
        /^[[:space:]]*vrrp_notify_fifo / { next }
        /^track_file / { tf = 1 }
        tf && /^[[:space:]]*file / { $0 = "    file \"" file "\"" }
        tf && /^[[:space:]]*init_file/ { $0 = "    init_file 0" }
        tf && /^}/ { tf = 0 }
        { sub(from, to); print }' "$dir/keepalived.lbd.conf" >"$dir/keepalived.haproxy.conf"
    grep -q "process \"${HAP_PROC[$node]}\"" "$dir/keepalived.haproxy.conf" &&
        grep -q "file \"$(hap_handover_file "$node")\"" "$dir/keepalived.haproxy.conf" &&
        ! grep -q 'notify_fifo\|init_file -' "$dir/keepalived.haproxy.conf"
}

hap_start() {
    local node=$1 dir
    dir=$(hap_dir "$node")
    rm -f "$dir/stats.sock"
    spawn "$dir/haproxy.log" "$dir/haproxy" ip netns exec "$(ns_of "$node")" \
        "$TOPO_DIR/bin/${HAP_PROC[$node]}" -db -f "$dir/haproxy.cfg" -L "$(node_id "$node")"
}
hap_listening() { # both frontends bound
    local out
    out=$(on_node "$1" ss -Htln 2>/dev/null)
    grep -q " $VIP:$PORT_STICKY " <<<"$out" && grep -q " $VIP:$PORT_RR " <<<"$out"
}
hap_ready() { hap_listening "$1" && hap_cmd "$1" "show info" | grep -q '^Name: HAProxy'; }
hap_kill() {
    local pid
    pid=$(pid_from "$(hap_dir "$1")/haproxy.pid") || return 1
    stop_pid "$pid" KILL 5000
    rm -f "$(hap_dir "$1")/haproxy.pid"
}
hap_stop() {
    local pid
    pid=$(pid_from "$(hap_dir "$1")/haproxy.pid") || return 0
    stop_pid "$pid" TERM 10000
    rm -f "$(hap_dir "$1")/haproxy.pid"
    return 0
}
hap_stick_entries() {
    local n
    n=$(hap_cmd "$1" "show table sticky" | sed -n 's/^# table: sticky,.* used:\([0-9]*\).*/\1/p' | head -n1)
    echo "${n:-0}"
}
hap_server_state() { # NODE BACKEND SERVER -> UP, DOWN, ... (first word of "show stat" status)
    hap_cmd "$1" "show stat" | awk -F, -v b="$2" -v s="$3" '$1 == b && $2 == s { split($18, w, " "); print w[1]; exit }'
}
hap_check_status() { # NODE BACKEND SERVER -> last health check's status (L4OK, L4CON, ...; empty: none yet)
    hap_cmd "$1" "show stat" | awk -F, -v b="$2" -v s="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "check_status") c = i; next }
        $1 == b && $2 == s { print $c; exit }'
}
hap_log() { echo "$(hap_dir "$1")/haproxy.log"; }
hap_peer_established() { hap_cmd "$1" "show peers" | grep -q 'ESTA'; }

# ------------------------------------------------------------ a planned handover, NODE the master
# lbd: its own command (drain behind the SYN filter, then the VIP leaves); it
# takes itself out of the next election for a while, and says so in its
# track value (can_hand_over waits for the peer's to be 0 again).
lbd_can_hand_over() { can_hand_over "$1"; }
lbd_hand_over() { HANDOVER_SAID=$(lbctl_on "$1" ha failover 2>&1); }
lbd_handed_over() { :; }
# HAProxy: what its operator has without lbd's drain. nopreempt (both pairs)
# means a lower priority alone moves nothing, so the lever is the track
# file's FAULT value: keepalived sends a priority-0 advert, the peer takes the
# VIP at once, and HAProxy on the old node is left alone with what it holds.
# Afterwards the operator puts the old master back in the election (0).
hap_can_hand_over() {
    local other
    other=$(peer_of "$1")
    only_holder "$1" && keepalived_in "$1" MASTER && keepalived_in "$other" BACKUP && hap_peer_established "$other"
}
# shellcheck disable=SC2034  # HANDOVER_SAID: read by measure_planned
hap_hand_over() { echo -254 >"$(hap_handover_file "$1")" && HANDOVER_SAID="track file -254 (FAULT)"; }
hap_handed_over() { echo 0 >"$(hap_handover_file "$1")"; }

# ------------------------------------------------------------ a pair: common driver
# PAIR is lbd or haproxy; these dispatch to lbd_* / hap_*.
p_start() { "${PFX[$PAIR]}_start" "$1"; }
p_ready() { "${PFX[$PAIR]}_ready" "$1"; }
p_kill() { "${PFX[$PAIR]}_kill" "$1"; }
p_stop() { "${PFX[$PAIR]}_stop" "$1"; }
p_stick_entries() { "${PFX[$PAIR]}_stick_entries" "$1"; }
p_stick_has() { (($(p_stick_entries "$1") >= $2)); }
p_server_state() { "${PFX[$PAIR]}_server_state" "$@"; }
p_server_is() { [[ $(p_server_state "$1" "$2" "$3") == "$4" ]]; }
p_log() { "${PFX[$PAIR]}_log" "$1"; }
p_can_hand_over() { "${PFX[$PAIR]}_can_hand_over" "$1"; }
p_hand_over() { "${PFX[$PAIR]}_hand_over" "$1"; }
p_handed_over() { "${PFX[$PAIR]}_handed_over" "$1"; }
declare -A PFX=([lbd]=lbd [haproxy]=hap)

SETUP_FAILURES=0
setup_failed() {
    log "$PAIR: could not set up the pair: $*"
    raw "SETUP FAILED ($PAIR): $*"
    SETUP_FAILURES=$((SETUP_FAILURES + 1))
    local n f
    for n in "${LB_NODES[@]}"; do
        for f in "$(p_log "$n")" "$TOPO_DIR/$n/keepalived.log"; do
            [[ -s $f ]] || continue
            echo "----- $f (last 20 lines)" >&2
            tail -n 20 "$f" >&2
        done
    done
    return 1
}

PAIR_STARTED_MS=0  # when the proxies of the current pair were started
# lba MASTER with the VIP, lbb BACKUP, both proxies up; every backend up.
fresh_pair() {
    local n b
    for n in "${LB_NODES[@]}"; do
        link_up "$n"
        [[ $PAIR == haproxy ]] && hap_handed_over "$n"  # a run cut short may have left the VIP's lever pulled
    done
    for b in "${BACKENDS[@]}"; do backend_up "$b" || { setup_failed "backend $b does not start"; return 1; }; done
    now_ms
    PAIR_STARTED_MS=$NOW_MS
    for n in "${LB_NODES[@]}"; do p_start "$n"; done
    for n in "${LB_NODES[@]}"; do
        wait_until 30000 p_ready "$n" || { setup_failed "$PAIR on $n not ready within 30 s"; return 1; }
    done
    for n in "${LB_NODES[@]}"; do cp "$TOPO_DIR/$n/keepalived.$PAIR.conf" "$TOPO_DIR/$n/keepalived.conf"; done
    start_keepalived lba
    wait_until 10000 only_holder lba || { setup_failed "lba did not take the VIP within 10 s (holders: '$(vip_holders)')"; return 1; }
    start_keepalived lbb
    wait_until 10000 keepalived_in lbb BACKUP || { setup_failed "lbb's keepalived not BACKUP within 10 s"; return 1; }
    only_holder lba || { setup_failed "after lbb started the VIP is on '$(vip_holders)'"; return 1; }
    if [[ $PAIR == haproxy ]]; then
        wait_until 10000 hap_peer_established lbb || { setup_failed "HAProxy peers not connected within 10 s"; return 1; }
    fi
}

# Keepalived first, so that stopping the proxies moves no VIP.
stop_pair() {
    local n
    for n in "${LB_NODES[@]}"; do stop_keepalived "$n"; done
    for n in "${LB_NODES[@]}"; do
        drop_vip "$n"
        p_stop "$n" || log "$PAIR on $n did not stop cleanly"
        link_up "$n"
    done
    backend_up b3 >/dev/null || true
}
