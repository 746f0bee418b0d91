#!/usr/bin/env bash
# bench/failover.sh - failover of the lbd HA pair beside a keepalived + HAProxy
# pair, in one run, on the network-namespace topology of tests/ha.
#
# Both pairs run in the same namespaces (client with 50 source addresses,
# lba, lbb, backends b1-b3, VIP 10.77.0.10), one pair at a time, with the
# same keepalived setup (VRRPv3 unicast, HA_ADVERT_MS adverts (tests/ha/lib.sh, 40 ms by default), both BACKUP +
# nopreempt, track_process on the proxy). Per pair and round, each on a
# fresh pair (lba MASTER, lbb BACKUP):
#   kill    SIGKILL of the master's proxy while a client polls VIP:81 every
#           20 ms (longest gap between two answers), with 50 clients stuck
#           on VIP:80 before it: how many reach the same backend after it;
#   health  b3 dies and only the master sees it (client traffic to it
#           fails; checks are 60 s apart), then SIGKILL of the master's
#           proxy: connection attempts reaching b3 among 60 connections
#           through the new master (segments counted in b3's namespace);
#   link    (LINKDOWN=1) `ip link set eth0 down` on the master: gap.
# ROUNDS rounds, interleaved (lbd, haproxy, lbd, haproxy, ...), medians.
#
# It is a benchmark, not a test: it prints numbers, it does not judge them.
# Exit 0 when every sample was taken, 1 when a pair could not be set up
# (the others are still measured), 2 on bad usage, 77 when the machine
# cannot run it (no root, no namespaces). See bench/README.md.
set -uo pipefail

# ---------------------------------------------------------------- parameters
ROUNDS=${ROUNDS:-3}
LINKDOWN=${LINKDOWN:-1}
POLL_INTERVAL_MS=${POLL_INTERVAL_MS:-20}  # the gap client: one connection every 20 ms ...
POLL_TIMEOUT_MS=${POLL_TIMEOUT_MS:-200}   # ... each with a 200 ms deadline
HAP_PEER_PORT=${HAP_PEER_PORT:-7947}      # HAProxy peers (lbd syncs on 7946)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build-fo}
[[ $BUILD = /* ]] || BUILD="$REPO_ROOT/$BUILD"
LBD=${LBD:-$BUILD/cli/lbd}
LBCTL=${LBCTL:-$BUILD/cli/lbctl}
PROBE=${PROBE:-$BUILD/tests/ha/lbd_ha_probe}
for v in LBD LBCTL PROBE; do [[ ${!v} = /* ]] || printf -v "$v" '%s' "$REPO_ROOT/${!v}"; done
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

PAIRS=(lbd haproxy)
declare -A PAIR_LABEL=([lbd]="lbd pair (keepalived + lbd)" [haproxy]="keepalived + HAProxy")
declare -A HAP_PROC=([lba]=haproxy-a [lbb]=haproxy-b)

log() { printf '[failover.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

usage() { sed -n '2,24p' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer" 2

# ------------------------------------------------------------ prerequisites
[[ $(id -u) == 0 ]] || { echo "failover.sh needs root (network namespaces, keepalived)"; exit 77; }
ensure_packages() {
    local missing=() pair
    for pair in haproxy:haproxy keepalived:keepalived socat:socat ip:iproute2 ss:iproute2; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing missing Debian packages: ${missing[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
        die "could not install ${missing[*]}"
    fi
}
ensure_packages
HAPROXY=$(command -v "$HAPROXY") || die "no haproxy binary"
for bin in "$LBD" "$LBCTL" "$PROBE"; do
    [[ -x $bin ]] || die "missing $bin: build with
    cmake -S $REPO_ROOT -B $BUILD -DLBD_WERROR=ON && cmake --build $BUILD -j2 --target lbd lbctl lbd_ha_probe
  (or set BUILD=dir, or LBD, LBCTL and PROBE)"
done
LBD=$(realpath "$LBD") LBCTL=$(realpath "$LBCTL") PROBE=$(realpath "$PROBE")

# The test kit's topology and helpers, unchanged (see tests/ha/topology_netns.sh).
# shellcheck source=tests/ha/lib.sh
source "$REPO_ROOT/tests/ha/lib.sh"
# shellcheck source=tests/ha/topology_netns.sh
source "$REPO_ROOT/tests/ha/topology_netns.sh"

# Two runs at once would meet in keepalived's track_process, which matches
# process names (lbd-a, ...) machine-wide: refuse to start beside a live run
# of tests/ha or of this script (namespaces lbdt<PID>-*, PID alive).
other_runs() {
    ip netns list 2>/dev/null | awk '{ print $1 }' | sed -n 's/^lbdt\([0-9]*\)-.*/\1/p' | sort -u |
        while read -r pid; do [[ $pid != "$$" && -d /proc/$pid ]] && echo "$pid"; done | paste -sd' '
}

# ------------------------------------------------------------ small helpers
RAW=""
raw() { printf '%s\n' "$*" >>"$RAW"; }
say() { echo "  $*"; raw "  $*"; }

vip_holders() {
    local n out=()
    for n in "${LB_NODES[@]}"; do has_vip "$n" && out+=("$n"); done
    echo "${out[*]}"
}
only_holder() { [[ $(vip_holders) == "$1" ]]; }
keepalived_in() { [[ $(keepalived_state "$1") == "$2" ]]; }
csv() { local IFS=,; echo "$*"; }
reversed() {
    local i out=()
    for ((i = $#; i >= 1; i--)); do out+=("${!i}"); done
    echo "${out[@]}"
}
median() { # median of the numbers in "$*" ("" if none)
    tr -s ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {
    [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'
}

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
    local node=$1 dir b servers=""
    dir=$(hap_dir "$node")
    for b in "${BACKENDS[@]}"; do
        servers+="    server $b ${TOPO_IP[$b]}:$BACKEND_PORT check inter 60s observe layer4 error-limit 1 on-error mark-down"$'\n'
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
EOF
}

# keepalived.conf for the HAProxy pair: the lbd node's render (same instance,
# unicast peers, the same VRRPv3 advert interval and real-time priority, BACKUP + nopreempt), tracking
# haproxy-a/-b instead of lbd-a/-b, without lbd's notify FIFO and track file
# (nothing on the HAProxy side reads or writes them).
write_haproxy_keepalived() {
    local node=$1 dir=$TOPO_DIR/$1
    awk -v from="\"${TOPO_PROC[$node]}\"" -v to="\"${HAP_PROC[$node]}\"" '
        /^[[:space:]]*vrrp_notify_fifo / { next }
        /^track_file / { skip = 1 }
        skip { if ($0 ~ /^}/) skip = 0; next }
        /^[[:space:]]+track_file \{/ { inner = 1; next }
        inner { if ($0 ~ /^[[:space:]]+}/) inner = 0; next }
        { sub(from, to); print }' "$dir/keepalived.lbd.conf" >"$dir/keepalived.haproxy.conf"
    grep -q "process \"${HAP_PROC[$node]}\"" "$dir/keepalived.haproxy.conf" &&
        ! grep -q 'track_file\|notify_fifo' "$dir/keepalived.haproxy.conf"
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
    for n in "${LB_NODES[@]}"; do link_up "$n"; done
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

# ------------------------------------------------------------ client side
answers_via() {
    on_node client awk -v ip="$2" -v n="$3" '$2 == "ok" && $4 == ip { c++ } END { exit !(c >= n) }' "$1" 2>/dev/null
}
stick_round() { # FILE SOURCES...: "SRC SERVER VIA" per client source, via VIP:PORT_STICKY
    local file=$1
    shift
    probe stick "$(csv "$@")" "$VIP:$PORT_STICKY" --timeout-ms 2000 >"$file"
}
same_server_count() {
    awk 'NR == FNR { s[$1] = $2; next } $2 != "-" && s[$1] == $2 { c++ } END { print c + 0 }' "$1" "$2"
}
answered_via_count() { awk -v ip="$2" '$3 == ip { c++ } END { print c + 0 }' "$1"; }

# gap_during ACTION...: the client polls VIP:PORT_RR every POLL_INTERVAL_MS;
# with 10 answers via lba, ACTION; stops at 10 answers via lbb (15 s
# deadline). Sets GAP_MS (longest gap between two answers; "" if the client
# never got through lbb), SWITCH_MS (lba's last answer to lbb's first),
# TAKEOVER_MS (from ACTION to the VIP on lbb's eth0, seen by `ip monitor`)
# and POLL_SUMMARY.
ACTION_MS=0
timed() { now_ms; ACTION_MS=$NOW_MS; "$@"; }
vip_added_on() { # NODE SINCE_MS: ms from SINCE_MS to the VIP's first arrival on NODE after it
    vip_events "$1" | awk -v t="$2" '$2 == "add" && $1 >= t { print $1 - t; exit }'
}
gap_during() {
    local log stopf out json gap sw att ok
    GAP_MS="" SWITCH_MS="" TAKEOVER_MS="" POLL_SUMMARY=""
    vip_watch_start || log "cannot watch the VIP: no takeover time"
    log=$CLIENT_TMP/poll.$RANDOM.log
    stopf=$CLIENT_TMP/poll.$RANDOM.stop
    out=$(mktemp)
    rm -f "$log" "$stopf"
    probe poll "$VIP:$PORT_RR" --interval-ms "$POLL_INTERVAL_MS" --timeout-ms "$POLL_TIMEOUT_MS" \
        --until-file "$stopf" --log "$log" >"$out" &
    local poller=$! reached=1
    wait_until 10000 answers_via "$log" "$(node_ip lba)" 10 || { say "no 10 answers via lba before the failover"; reached=0; }
    if ((reached)); then
        timed "$@" || { say "'$*' failed"; reached=0; }
    fi
    if ((reached)); then
        wait_until 15000 answers_via "$log" "$(node_ip lbb)" 10 || { say "no 10 answers via lbb within 15 s of '$*'"; reached=0; }
    fi
    touch "$stopf"
    wait "$poller"
    vip_watch_stop
    ((reached)) && TAKEOVER_MS=$(vip_added_on lbb "$ACTION_MS")
    json=$(<"$out")
    rm -f "$out" "$log" "$stopf"
    read -r gap sw att ok < <(probe_json max_gap_ms switch_gap_ms attempts ok <<<"$json" | tr '\n' ' ')
    POLL_SUMMARY="$att connections, $ok answered, errors $(probe_json errors <<<"$json" 2>/dev/null | tr -d ' \n')"
    ((reached)) || return 1
    GAP_MS=$gap SWITCH_MS=$sw
}

# ------------------------------------------------------------ measurements
declare -A GAP=() STICK=() DEAD=() LINK=() SYNC=() TAKE=() LTAKE=()  # space-separated samples per pair
NA="n/a"

# kill: 50 clients stuck through lba (the second round, reversed, finds each
# one's server again in lba's own table), lbb's table holds them, then the
# gap poll around SIGKILL of lba's proxy, then the 50 again in reverse order
# (round robin meets them in another order: without the table, about a third
# would land on their backend by chance). Scenarios a + d of tests/ha.
measure_kill() {
    local before again after n via
    echo "- $PAIR: SIGKILL of the master's proxy (gap; stickiness of ${#CLIENT_SOURCES[@]} clients)"
    raw "- $PAIR: kill"
    fresh_pair || { GAP[$PAIR]+="$NA " STICK[$PAIR]+="$NA "; return 1; }
    before=$(mktemp) again=$(mktemp) after=$(mktemp)
    stick_round "$before" "${CLIENT_SOURCES[@]}" || say "some clients got no answer before: $(grep -c ' - ' "$before")"
    # shellcheck disable=SC2046
    stick_round "$again" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$before" "$again")
    via=$(answered_via_count "$before" "$(node_ip lba)")
    say "before: $via/${#CLIENT_SOURCES[@]} via lba, backends $(awk '{ c[$2]++ } END { for (b in c) printf "%s=%d ", b, c[b] }' "$before")(lba's own table kept $n/${#CLIENT_SOURCES[@]})"
    if wait_until 10000 p_stick_has lbb "${#CLIENT_SOURCES[@]}"; then
        say "lbb's stick table holds the ${#CLIENT_SOURCES[@]} clients (${WAITED_MS} ms after the last)"
        SYNC[$PAIR]+="$WAITED_MS "
    else
        say "lbb's stick table holds $(p_stick_entries lbb)/${#CLIENT_SOURCES[@]} after 10 s"
    fi
    if gap_during p_kill lba; then
        say "gap: $GAP_MS ms longest between two answers, $SWITCH_MS ms from lba's last to lbb's first; VIP on lbb ${TAKEOVER_MS:-?} ms after the kill ($POLL_SUMMARY)"
        GAP[$PAIR]+="$GAP_MS "
        TAKE[$PAIR]+="${TAKEOVER_MS:-$NA} "
    else
        say "gap: client never reached lbb ($POLL_SUMMARY)"
        GAP[$PAIR]+="$NA " TAKE[$PAIR]+="$NA "
    fi
    # shellcheck disable=SC2046
    stick_round "$after" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$before" "$after")
    via=$(answered_via_count "$after" "$(node_ip lbb)")
    say "stickiness: $n/${#CLIENT_SOURCES[@]} on the same backend after the failover ($via/${#CLIENT_SOURCES[@]} answered via lbb)"
    STICK[$PAIR]+="$n "
    raw "  raw: gap=$GAP_MS switch=$SWITCH_MS takeover=$TAKEOVER_MS stick=$n"
    rm -f "$before" "$again" "$after"
}

# health: scenario e of tests/ha. Both nodes check every 60 s and each pair
# starts afresh, so the only checks a node has made are its first ones
# (lbd: at start; HAProxy: spread over the first interval, see README):
# what lbb knows of b3 it learned from lba, or not at all.
measure_health() {
    local json ok syn0 syn1 n state_b wait_note="" extra=""
    echo "- $PAIR: b3 dies, only the master sees it; SIGKILL of the master's proxy; 60 connections"
    raw "- $PAIR: health"
    fresh_pair || { DEAD[$PAIR]+="$NA "; return 1; }
    backend_down b3
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 30)
    ok=$(probe_json ok <<<"$json")
    if wait_until 5000 p_server_is lba rr b3 DOWN; then
        say "lba: 30 connections with b3 dead, $ok answered; lba marked rr/b3 DOWN (passive)"
    else
        say "lba: 30 connections with b3 dead, $ok answered; lba has rr/b3 '$(p_server_state lba rr b3)' after 5 s"
    fi
    if [[ $PAIR == lbd ]]; then
        if wait_until 10000 p_server_is lbb rr b3 DOWN; then wait_note="from its peer after ${WAITED_MS} ms"; else wait_note="after 10 s"; fi
    else
        wait_note="(HAProxy does not sync health)"
    fi
    state_b=$(p_server_state lbb rr b3)
    [[ $PAIR == haproxy ]] && wait_note+=", its last check of rr/b3: '$(hap_check_status lbb rr b3)' (INI: none yet)"
    say "lbb: rr/b3 ${state_b:-?} $wait_note"
    syn0=$(backend_syn_count b3)
    if ! p_kill lba; then setup_failed "could not kill $PAIR on lba"; DEAD[$PAIR]+="$NA "; return 1; fi
    if ! wait_until 10000 only_holder lbb; then
        setup_failed "the VIP did not move to lbb within 10 s (holders: '$(vip_holders)')"
        DEAD[$PAIR]+="$NA "
        return 1
    fi
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 60)
    syn1=$(backend_syn_count b3)
    ok=$(probe_json ok <<<"$json")
    n=$((syn1 - syn0))
    [[ $PAIR == haproxy ]] && extra=", lbb's last check of b3: '$(hap_check_status lbb rr b3)', rr/b3 now $(hap_server_state lbb rr b3)"
    say "after: 60 connections through lbb, $ok answered, servers $(probe_json servers <<<"$json" | tr -d ' \n'), errors $(probe_json errors <<<"$json" | tr -d ' \n')"
    say "connection attempts reaching b3: $n$extra"
    # No periodic check may have probed b3 meanwhile: lbd checks every server
    # at start, then 60 s later; HAProxy 2.6 spreads the first checks of its
    # 6 servers over the interval (one every 10 s, in config order), so
    # sticky/b3 is first checked 20 s after start, rr/b3 50 s after.
    local window=$((HA_HEALTH_INTERVAL_MS - 10000))
    [[ $PAIR == haproxy ]] && window=19000
    now_ms
    if ((NOW_MS - PAIR_STARTED_MS < window)); then
        say "(the pair started $((NOW_MS - PAIR_STARTED_MS)) ms ago: no periodic check of b3 yet)"
    else
        say "WARNING: the pair started $((NOW_MS - PAIR_STARTED_MS)) ms ago (> $window ms): a check of b3 may be in this count"
    fi
    DEAD[$PAIR]+="$n "
    raw "  raw: dead_backend_attempts=$n answered=$ok/60"
    backend_up b3 || true
}

measure_link() {
    echo "- $PAIR: ip link set eth0 down on the master (gap)"
    raw "- $PAIR: link down"
    fresh_pair || { LINK[$PAIR]+="$NA "; return 1; }
    if gap_during link_down lba; then
        say "gap: $GAP_MS ms longest between two answers, $SWITCH_MS ms from lba's last to lbb's first; VIP on lbb ${TAKEOVER_MS:-?} ms after the link went down ($POLL_SUMMARY)"
        LINK[$PAIR]+="$GAP_MS "
        LTAKE[$PAIR]+="${TAKEOVER_MS:-$NA} "
    else
        say "gap: client never reached lbb ($POLL_SUMMARY)"
        LINK[$PAIR]+="$NA " LTAKE[$PAIR]+="$NA "
    fi
    link_up lba
    raw "  raw: link_gap=$GAP_MS switch=$SWITCH_MS takeover=$TAKEOVER_MS"
}

# ------------------------------------------------------------ reporting
numbers() { tr -s ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | paste -sd' '; }
count_na() { tr -s ' ' '\n' <<<"$1" | grep -c "^$NA\$"; }
med() { # median of the numeric samples, or n/a
    local m
    m=$(median "$(numbers "$1")")
    echo "${m:-$NA}"
}
samples() { local s; s=$(tr -s ' ' <<<"${1% }"); echo "${s:-none}"; }

print_header() {
    echo "== lbd failover benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:    nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:    $("$HAPROXY" -v 2>&1 | head -n1)"
    echo "keepalived: $(keepalived -v 2>&1 | head -n1)"
    echo "lbd:        $LBD ($(lbd_version))"
    echo "command:    ${BENCH_COMMAND}"
    echo "params:     ROUNDS=$ROUNDS LINKDOWN=$LINKDOWN; gap client: lbd_ha_probe poll VIP:$PORT_RR --interval-ms $POLL_INTERVAL_MS --timeout-ms $POLL_TIMEOUT_MS"
    echo "topology:   tests/ha/topology_netns.sh (run $TOPO_RUN): client + 50 sources, lba, lbb, b1-b3, VIP $VIP"
    echo "keepalived: VRRPv3 unicast, advert ${HA_ADVERT_MS} ms, BACKUP + nopreempt, track_process lbd-a/-b resp. haproxy-a/-b"
    echo "haproxy:    mode tcp, nbthread 2, roundrobin, stick-table ip + peers (:$PORT_STICKY), option redispatch,"
    echo "            check inter 60s observe layer4 error-limit 1 on-error mark-down; bind transparent"
    echo "lbd:        tests/ha/lib.sh render_lbd_config: workers 2, stickiness + peer sync, passive_health max_fails 3, checks every 60 s"
}

print_results() {
    local p gap link stick dead
    declare -A MGAP=() MLINK=()
    echo
    printf '%-30s %12s %14s %18s %16s %20s\n' path "kill gap ms" "VIP moved ms" "link-down gap ms" "stickiness kept" "attempts at dead b3"
    printf '%-30s %12s %14s %18s %16s %20s\n' ------------------------------ ------------ -------------- ------------------ ---------------- --------------------
    for p in "${PAIRS[@]}"; do
        gap=$(med "${GAP[$p]:-}") link=$(med "${LINK[$p]:-}") stick=$(med "${STICK[$p]:-}") dead=$(med "${DEAD[$p]:-}")
        ((LINKDOWN)) || link="-"
        MGAP[$p]=$gap MLINK[$p]=$link
        printf '%-30s %12s %14s %18s %16s %20s\n' "${PAIR_LABEL[$p]}" "$gap" "$(med "${TAKE[$p]:-}")" "$link" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$dead"
    done
    echo
    echo "medians of $ROUNDS rounds; gap: longest time between two answers of a client connecting every ${POLL_INTERVAL_MS} ms"
    echo "(${POLL_TIMEOUT_MS} ms deadline each); VIP moved: from the SIGKILL to the VIP on the new master (ip monitor);"
    echo "attempts at dead b3: connection attempts reaching b3 among 60 connections through the new master"
    echo
    printf '%-30s %12s %18s\n' "ratio lbd / HAProxy" "kill gap" "link-down gap"
    printf '%-30s %12s %18s\n' "" "$(ratio "${MGAP[lbd]/#$NA/}" "${MGAP[haproxy]/#$NA/}")" \
        "$( ((LINKDOWN)) && ratio "${MLINK[lbd]/#$NA/}" "${MLINK[haproxy]/#$NA/}" || echo -)"
    echo
    echo "all rounds (in order):"
    for p in "${PAIRS[@]}"; do
        echo "  $p: kill gap ms [$(samples "${GAP[$p]:-}")]  VIP moved ms [$(samples "${TAKE[$p]:-}")] " \
            "link-down gap ms [$(samples "${LINK[$p]:-}")]  link-down VIP moved ms [$(samples "${LTAKE[$p]:-}")]" \
            "kept [$(samples "${STICK[$p]:-}")]  dead-b3 attempts [$(samples "${DEAD[$p]:-}")]" \
            "stick sync ms [$(samples "${SYNC[$p]:-}")]"
    done
    echo
    echo "README table:"
    echo
    echo "| pair | gap, SIGKILL of the master's proxy (ms) | VIP on the new master after (ms) | gap, link down (ms) | clients kept on their server | attempts at a backend only the master saw die (of 60) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for p in "${PAIRS[@]}"; do
        stick=$(med "${STICK[$p]:-}")
        printf '| %s | %s | %s | %s | %s | %s |\n' "${PAIR_LABEL[$p]}" "$(med "${GAP[$p]:-}")" "$(med "${TAKE[$p]:-}")" \
            "$( ((LINKDOWN)) && med "${LINK[$p]:-}" || echo -)" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$(med "${DEAD[$p]:-}")"
    done
    printf '| lbd / HAProxy | %s | | %s | | |\n' "$(ratio "${MGAP[lbd]/#$NA/}" "${MGAP[haproxy]/#$NA/}")" \
        "$( ((LINKDOWN)) && ratio "${MLINK[lbd]/#$NA/}" "${MLINK[haproxy]/#$NA/}" || echo -)"
}

# ---------------------------------------------------------------------- main
BENCH_COMMAND="ROUNDS=$ROUNDS LINKDOWN=$LINKDOWN BUILD=${BUILD#"$REPO_ROOT"/} bench/failover.sh"

TOPO_UP=0
on_exit() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ((TOPO_UP)); then
        for PAIR in "${PAIRS[@]}"; do
            for n in "${LB_NODES[@]}"; do "${PFX[$PAIR]}_kill" "$n" >/dev/null 2>&1; done
        done
        topo_down >/dev/null 2>&1
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

main() {
    local others rc r n
    others=$(other_runs)
    [[ -z $others ]] || die "another HA run is in progress (pids $others): keepalived's track_process would see both runs' processes; run alone"
    topo_check
    rc=$?
    ((rc == 0)) || exit "$rc"
    RAW=${RAW:-$(mktemp "${TMPDIR:-/tmp}/lbd-bench-failover-$(date +%Y%m%d-%H%M%S)-XXXXXX.txt")}
    TOPO_UP=1
    topo_up >/dev/null || { dump_logs >&2; die "could not set up the network namespaces (tests/ha/topology_netns.sh topo_up)"; }
    for n in "${LB_NODES[@]}"; do
        mv "$TOPO_DIR/$n/keepalived.conf" "$TOPO_DIR/$n/keepalived.lbd.conf"
        mkdir -p "$(hap_dir "$n")"
        ln -sf "$HAPROXY" "$TOPO_DIR/bin/${HAP_PROC[$n]}"
        write_haproxy_config "$n"
        "$HAPROXY" -c -f "$(hap_dir "$n")/haproxy.cfg" -L "$(node_id "$n")" >"$(hap_dir "$n")/check.log" 2>&1 || { cat "$(hap_dir "$n")/check.log" >&2; false; } || die "bad HAProxy config for $n"
        write_haproxy_keepalived "$n" || die "could not derive the HAProxy keepalived.conf for $n"
        keepalived -t -f "$TOPO_DIR/$n/keepalived.haproxy.conf" >/dev/null 2>&1 ||
            die "keepalived rejects $TOPO_DIR/$n/keepalived.haproxy.conf"
    done
    print_header | tee "$RAW"
    awk '$1 > 1.0 { exit 1 }' /proc/loadavg ||
        log "warning: load average $(cut -d' ' -f1 /proc/loadavg) > 1: something else runs, gaps may be noisy"
    echo
    for ((r = 1; r <= ROUNDS; r++)); do
        echo "== round $r/$ROUNDS" | tee -a "$RAW"
        for PAIR in "${PAIRS[@]}"; do measure_kill; stop_pair; done
        for PAIR in "${PAIRS[@]}"; do measure_health; stop_pair; done
        if ((LINKDOWN)); then
            for PAIR in "${PAIRS[@]}"; do measure_link; stop_pair; done
        fi
    done
    print_results | tee -a "$RAW"
    echo
    echo "(report also in $RAW)"
    if ((SETUP_FAILURES)); then
        log "$SETUP_FAILURES pair(s) could not be set up: those samples are n/a"
        return 1
    fi
}

main "$@"
