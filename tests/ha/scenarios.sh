#!/usr/bin/env bash
# Failover scenarios of the lbd HA pair, written only against a topology's
# functions (see the list at the top of topology_netns.sh), so the same
# scenarios run in network namespaces on one machine (ctest, run_netns.sh)
# and on the Vagrant lab's three VMs (vagrant/README.md).
#
#   scenarios.sh --topology netns --lbd PATH --lbctl PATH --probe PATH [SCENARIO...]
#   scenarios.sh --topology vagrant [SCENARIO...]      (from the repository, VMs up)
#
# SCENARIO is a letter (default: all, or $LBD_HA_SCENARIOS, e.g. "a b c g"):
#   a  SIGKILL of the master's lbd: the other node answers within GAP_LIMIT_MS
#   b  SIGKILL of the master's keepalived (every process of it)
#   c  `ip link set down` of the master's interface; when it comes back it does not take the VIP back
#   d  stickiness: 50 clients keep their backend across a failover (round robin without the sync)
#   e  health: a backend only the master saw die gets no connection attempt from the new master
#   f  the old master comes back: resyncs, and leaves the VIP where it is
#   g  both nodes restarted at once: never two VIP holders, exactly one after settling (lbd says MASTER there)
#   h  planned failover with `lbctl ha failover`: gap, and stickiness kept
#   i  keepalived in the node's own network namespace (a container): SIGKILL of lbd moves the VIP fast
#   j  split brain healed: partitioned, both hold the VIP; healed, one holder and the client follows it
#   k  planned handovers under HTTP load (keep-alive and one-connection-per-request clients):
#      HANDOVERS x `lbctl ha failover` back and forth, and not one request fails
#   l  keep-alive clients send their next request LATE_REQUEST_MS into a planned handover: all answered
#   s  (not in the default list: 10 minutes; ctest runs it as ha_saturation_netns) both nodes'
#      CPUs saturated by stress-ng for LBD_HA_SATURATE_S seconds (600): not one election, not one
#      move of the VIP
#
# Each scenario starts a fresh pair (lba MASTER, lbb BACKUP; advert interval
# HA_ADVERT_MS, 40 ms by default as in lbd), prints its numbers, and stops the pair (an lbd that exits non-zero
# on SIGTERM, e.g. with a sanitizer report, fails the scenario). Thresholds
# are fixed; deadlines for things to happen are generous (sanitizer builds
# are slower). The last line is "ha scenarios: N passed, N failed".
# Exit: 0 all passed, 1 some failed, 77 skipped (the topology says why).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/ha/lib.sh
source "$HERE/lib.sh"

TOPOLOGY=netns
LBD="" LBCTL="" PROBE=""
SELECTED=()
while (($#)); do
    case $1 in
        --topology) TOPOLOGY=$2; shift 2 ;;
        --lbd) LBD=$2; shift 2 ;;
        --lbctl) LBCTL=$2; shift 2 ;;
        --probe) PROBE=$2; shift 2 ;;
        -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
        [a-l] | s) SELECTED+=("$1"); shift ;;
        *) echo "scenarios.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ((${#SELECTED[@]} == 0)); then
    read -r -a SELECTED <<<"${LBD_HA_SCENARIOS:-a b c d e f g h i j k l}"
fi
case $TOPOLOGY in
    netns | vagrant) ;;
    *) echo "scenarios.sh: --topology is netns or vagrant" >&2; exit 2 ;;
esac
if [[ $TOPOLOGY == netns ]]; then
    for bin in "$LBD" "$LBCTL" "$PROBE"; do
        [[ -x $bin ]] || { echo "scenarios.sh: --lbd, --lbctl and --probe must name executables" >&2; exit 2; }
    done
    # Absolute: each node's lbd runs through a symlink in the run's directory.
    LBD=$(realpath "$LBD") LBCTL=$(realpath "$LBCTL") PROBE=$(realpath "$PROBE")
fi
# shellcheck source=tests/ha/topology_netns.sh
source "$HERE/topology_$TOPOLOGY.sh"

# The client sees the other node answer within this long (the same under ASan;
# LBD_HA_GAP_LIMIT_MS=100 shows what a failure prints, explain_gap below).
GAP_LIMIT_MS=${LBD_HA_GAP_LIMIT_MS:-1500}
# Scenario i: lbd's watchdog writes FAULT to the track file when lbd dies;
# keepalived reads it at once and sends a priority-0 advert.
OWN_NETNS_GAP_LIMIT_MS=500
# Scenario j: from the heal to one holder, and to the client's answers
# coming through it (its ARP entry follows the winner's gratuitous ARP).
HEAL_LIMIT_MS=3000
PARTITION_MS=6000
# How long the VIP must stay put when the old master is back (scenario f).
STAY_MS=3000
# Window watched when both nodes start at once (scenario g).
SETTLE_MS=6000
# Scenario c: link cuts, alternating nodes. Asserted (netns topology, where
# the pair runs lbd's default 40 ms adverts) against the issue's 0.20 s
# target: every cut's VIP move (keepalived: the VIP off the cut node to the
# VIP on the other) and the median over the cuts of the outage an
# overlapping client sees. Not each cut's client gap: on the shared 2-core
# machine 3 of 35 cuts exceeded it (202, 231, 759 ms) while every VIP move took
# at most 187 ms (README). Every cut's gap is bounded by GAP_LIMIT_MS too.
LINK_CUTS=${LBD_HA_LINK_CUTS:-5}
LINK_CUT_TARGET_MS=200
# Scenario k: planned handovers under load, and its clients.
HANDOVERS=${LBD_HA_HANDOVERS:-20}
# lbctl ha failover --drain-timeout (empty: lbctl's default). 1 ms releases the
# VIP with the connections still open, as before the drain: requests fail.
HANDOVER_DRAIN_MS=${LBD_HA_DRAIN_TIMEOUT_MS:-}
KEEPALIVE_CLIENTS=16
# Scenario l: keep-alive clients whose next request comes this long into a
# handover (lbd's idle grace was once 250 ms).
LATE_CLIENTS=8
LATE_REQUEST_MS=${LBD_HA_LATE_REQUEST_MS:-400}
FRESH_CLIENTS=16
# Scenario s: how long both nodes' CPUs are saturated, and by how many
# stress-ng CPU hogs per node (default: one per core, so 2x the cores in all).
SATURATE_S=${LBD_HA_SATURATE_S:-600}
SATURATE_HOGS=${LBD_HA_SATURATE_HOGS:-$(nproc)}

# ------------------------------------------------------------ reporting

FAILED=0          # failures in the current scenario
say() { echo "  $*"; }
FAILURES=()       # every failure of the run, repeated after the summary
fail() {
    echo "  FAIL: $*"
    FAILED=$((FAILED + 1))
    FAILURES+=("${CURRENT_SCENARIO:-?}: $*")
}
pass() { echo "  ok: $*"; }

# ------------------------------------------------------------ the pair

lbd_ready() { lbctl_on "$1" status >/dev/null 2>&1; }

# lba MASTER with the VIP, lbb BACKUP; every backend up.
fresh_pair() {
    local n b
    for n in "${LB_NODES[@]}"; do link_up "$n"; done
    for b in "${BACKENDS[@]}"; do backend_up "$b" || { fail "backend $b does not start"; return 1; }; done
    for n in "${LB_NODES[@]}"; do start_lbd "$n"; done
    for n in "${LB_NODES[@]}"; do
        wait_until 30000 lbd_ready "$n" || { fail "lbd on $n not ready within 30 s"; return 1; }
    done
    start_keepalived lba
    wait_until 10000 only_holder lba || { fail "lba did not take the VIP within 10 s (holders: $(vip_holders))"; return 1; }
    start_keepalived lbb
    wait_until 10000 keepalived_in lbb BACKUP || { fail "lbb's keepalived not BACKUP within 10 s"; return 1; }
    only_holder lba || { fail "after lbb started the VIP is on: $(vip_holders)"; return 1; }
    say "pair up: lba MASTER (VIP $VIP), lbb BACKUP"
}

# Stops everything; keepalived first, so that stopping lbd moves no VIP.
stop_pair() {
    local n why
    for n in "${LB_NODES[@]}"; do stop_keepalived "$n"; done
    for n in "${LB_NODES[@]}"; do
        drop_vip "$n"
        why=$(stop_lbd "$n" 2>&1) || fail "lbd on $n did not stop cleanly: $why"
        link_up "$n"
    done
}

# ------------------------------------------------------------ HA status (lbctl ha status --json)

roles_are() { [[ $(ha_field "$1" role) == "$2" && $(ha_field "$3" role) == "$4" ]]; }

# ------------------------------------------------------------ client side


stick_entries() {
    lbctl_on "$1" stick show "$2" --json 2>/dev/null | probe_json entries.# 2>/dev/null || echo 0
}
stick_has() { (($(stick_entries "$1" "$2") >= $3)); }

server_state() {
    lbctl_on "$1" servers --json 2>/dev/null | probe_json "servers[pool=$2,name=$3].state" 2>/dev/null
}
server_is() { [[ $(server_state "$1" "$2" "$3") == "$4" ]]; }

# measure_failover ACTION...: a client polls VIP:PORT_RR every 20 ms; once it
# has answers via the master, ACTION runs; once it has answers via the other
# node, the poll stops. Checks and prints the longest gap between two answers
# Returns 1 if the client never reached the other node.
measure_failover() {
    local master other master_ip other_ip log stopf out json switched=1
    master=$(vip_holders)
    other=$(peer_of "$master")
    master_ip=$(node_ip "$master")
    other_ip=$(node_ip "$other")
    log=$CLIENT_TMP/poll.$RANDOM.log
    stopf=$CLIENT_TMP/poll.$RANDOM.stop
    out=$(mktemp)
    on_node client rm -f "$log" "$stopf"
    probe poll "$VIP:$PORT_RR" --interval-ms 20 --timeout-ms 200 --until-file "$stopf" --log "$log" >"$out" &
    local poller=$! overlap_out="" overlapper=""
    # MEASURE_OVERLAP=1: a second client beside it starts an attempt every
    # 20 ms even while earlier ones wait out their 200 ms deadline (SYN lost
    # with the old master), so its gap is the outage to within 20 ms; the
    # first client's gap adds up to one deadline of its own (scenario c).
    # OVERLAP_LOG: where it logs each attempt (MEASURED_OVERLAP_START_MS: its
    # start, epoch ms).
    if ((${MEASURE_OVERLAP:-0})); then
        overlap_out=$(mktemp)
        probe poll "$VIP:$PORT_RR" --interval-ms 20 --timeout-ms 200 --overlap --until-file "$stopf" \
            ${OVERLAP_LOG:+--log "$OVERLAP_LOG"} >"$overlap_out" &
        overlapper=$!
    fi
    if ! wait_until 10000 answers_via "$log" "$master_ip" 10; then
        fail "the client got no 10 answers via $master ($master_ip) before the failover"
    fi
    if ! "$@"; then
        fail "'$*' failed"
        switched=0
    elif ! wait_until 15000 answers_via "$log" "$other_ip" 10; then
        fail "no 10 answers via $other ($other_ip) within 15 s of '$*'"
        switched=0
    fi
    on_node client touch "$stopf"
    wait "$poller"
    json=$(<"$out")
    rm -f "$out"
    MEASURED_OVERLAP_GAP_MS="" MEASURED_OVERLAP_START_MS=""
    if [[ -n $overlapper ]]; then
        wait "$overlapper"
        MEASURED_OVERLAP_GAP_MS=$(probe_json max_gap_ms <"$overlap_out" 2>/dev/null)
        MEASURED_OVERLAP_START_MS=$(probe_json start_epoch_ms <"$overlap_out" 2>/dev/null)
        rm -f "$overlap_out"
    fi
    local gap switch_gap attempts ok first last via_m via_o
    read -r gap switch_gap attempts ok first last < <(probe_json max_gap_ms switch_gap_ms attempts ok first_via last_via <<<"$json" | tr '\n' ' ')
    MEASURED_GAP_MS=$gap
    via_m=$(probe_json "/via/$master_ip" <<<"$json" 2>/dev/null || echo 0)
    via_o=$(probe_json "/via/$other_ip" <<<"$json" 2>/dev/null || echo 0)
    say "client: $attempts connections every 20 ms, $ok answered ($via_m via $master, $via_o via $other)"
    ((switched)) || { on_node client rm -f "$log" "$stopf"; return 1; }
    say "gap: ${gap} ms longest between two answers, ${switch_gap} ms from $master's last to $other's first (limit ${GAP_LIMIT_MS} ms)${MEASURED_OVERLAP_GAP_MS:+; overlapping client: ${MEASURED_OVERLAP_GAP_MS} ms}"
    [[ $first == "$master_ip" ]] || fail "the first answer came via $first, not the master $master_ip"
    [[ $last == "$other_ip" ]] || fail "the last answer came via $last, not $other_ip"
    if [[ $gap =~ ^[0-9]+$ ]] && ((gap <= GAP_LIMIT_MS)); then
        pass "gap ${gap} ms <= ${GAP_LIMIT_MS} ms"
    else
        # In the FAIL line too: CI's excerpt shows the summary, not the scenario's lines.
        fail "gap ${gap} ms > ${GAP_LIMIT_MS} ms ($(explain_gap "$master" "$json" "$log"))"
    fi
    on_node client rm -f "$log" "$stopf"
}

# Where a gap over the limit went, for its FAIL line (one line on stdout),
# with the details said on stderr: the client's attempts inside the gap (its
# poll log: ms since its start, ok/fail, server or error, via), and the old
# master's account of its planned handover, if it made one (a drain that ran
# to its deadline holds the VIP that long).
explain_gap() {
    local master=$1 json=$2 log=$3 from to lines attempts drain passed left vip_left
    read -r from to < <(probe_json max_gap_from_ms max_gap_to_ms <<<"$json" 2>/dev/null | tr '\n' ' ')
    if [[ $from =~ ^[0-9]+$ && $to =~ ^[0-9]+$ ]]; then
        lines=$(on_node client cat "$log" 2>/dev/null | awk -v a="$from" -v b="$to" '$1 >= a && $1 <= b')
        say "the client's attempts from ${from} to ${to} ms (its log: ms, result, server or error, via):" >&2
        head -n 30 <<<"$lines" | sed 's/^/    /' >&2
        attempts=$(awk -v a="$from" -v b="$to" '$1 > a && $1 < b { n[$4]++ }
            END { for (e in n) { printf "%s%s x%d", s, e, n[e]; s = ", " } }' <<<"$lines")
    fi
    read -r drain passed left vip_left < <(ha_json "$master" | probe_json handover.drain_ms \
        handover.deadline_passed handover.left_open handover.vip_left_ms 2>/dev/null | tr '\n' ' ')
    echo "in the gap: ${attempts:-no attempt}; $master's handover: drain ${drain:-?} ms, deadline passed" \
        "${passed:-?}, ${left:-?} left open, VIP left after ${vip_left:-?} ms"
}

# ------------------------------------------------------------ scenarios

# Shared by the scenarios below.

# median and max of numbers: "MEDIAN MAX"
median_max() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'; }

# vip_timeline START_MS END_MS HOLDS_LBA HOLDS_LBB: replays the VIP's changes
# (vip_events) from START_MS, when lba and lbb held it or not (1/0), to
# END_MS. Prints: times both held it, ms both held it, changes of holder,
# ms until the first holder, holders at the end.
vip_timeline() {
    { vip_events lba | sed 's/$/ lba/'; vip_events lbb | sed 's/$/ lbb/'; } | sort -n -k1,1 |
        awk -v start="$1" -v end="$2" -v a="$3" -v b="$4" '
            BEGIN { h["lba"] = a; h["lbb"] = b; t = start; first = (a || b) ? 0 : -1 }
            $1 < start { next }
            {
                if (h["lba"] && h["lbb"]) both_ms += $1 - t
                t = $1
                now = ($2 == "add")
                if (h[$3] == now) next
                h[$3] = now
                changes++
                if (h["lba"] && h["lbb"]) both++
                if (now && first < 0) first = $1 - start
            }
            END {
                if (h["lba"] && h["lbb"]) both_ms += end - t
                holders = (h["lba"] ? "lba" : "") ((h["lba"] && h["lbb"]) ? " " : "") (h["lbb"] ? "lbb" : "")
                printf "%d %d %d %d %s\n", both, both_ms, changes, first, holders
            }'
}

# The scenarios, by what they test (each file says which letters it holds).
# shellcheck source=tests/ha/scenarios_failover.sh
source "$HERE/scenarios_failover.sh"
# shellcheck source=tests/ha/scenarios_state.sh
source "$HERE/scenarios_state.sh"
# shellcheck source=tests/ha/scenarios_load.sh
source "$HERE/scenarios_load.sh"

# ------------------------------------------------------------ main

TOPO_UP=0
on_exit() {
    if ((TOPO_UP)); then topo_down; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

topo_check
rc=$?
((rc == 0)) || exit "$rc"
TOPO_UP=1
echo "== topology: $TOPOLOGY"
if ! topo_up; then
    echo "FAIL: could not set up the $TOPOLOGY topology"
    dump_logs
    exit 1
fi

passed=() failed=()
for s in "${SELECTED[@]}"; do
    FAILED=0
    CURRENT_SCENARIO=$s
    now_ms
    t0=$NOW_MS
    "scenario_$s"
    stop_pair
    now_ms
    if ((FAILED == 0)); then
        passed+=("$s")
        echo "-> $s passed ($((NOW_MS - t0)) ms)"
    else
        failed+=("$s")
        echo "-> $s FAILED ($FAILED failure(s), $((NOW_MS - t0)) ms)"
        dump_logs
    fi
    echo
done
echo "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
echo "ha scenarios: ${#passed[@]} passed, ${#failed[@]} failed"
# Again at the very end, where a CI log's tail shows them (the logs dumped
# above can be thousands of lines).
for f in "${FAILURES[@]}"; do echo "FAIL $f"; done
((${#failed[@]} == 0))
