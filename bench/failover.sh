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
#   link    (LINKDOWN=1) `ip link set eth0 down` on the master: gap;
#   planned (PLANNED=1) 50 clients fill the stick table, the backup's proxy
#           is restarted (a rolling upgrade) and timed until its table is
#           complete again; then HANDOVERS planned handovers back and forth
#           under HTTP load (tests/ha/http_load.py: 16 keep-alive clients, 16
#           with a connection per request, no retries): failed requests per
#           handover. lbd: `lbctl ha failover` (its drain). HAProxy: the
#           master's keepalived track file set to -254 (FAULT, a priority-0
#           advert: the VIP moves at once; nopreempt makes a mere lower
#           priority move nothing), HAProxy left to finish what it holds.
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
PLANNED=${PLANNED:-1}
HANDOVERS=${HANDOVERS:-5}                 # planned handovers per pair and round
LOAD_KEEPALIVE=${LOAD_KEEPALIVE:-16}      # the load during them: keep-alive clients ...
LOAD_FRESH=${LOAD_FRESH:-16}              # ... and clients with one connection per request
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

usage() { sed -n '2,33p' "$0"; }
case ${1:-} in -h | --help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer" 2
[[ $HANDOVERS =~ ^[1-9][0-9]*$ ]] || die "HANDOVERS must be a positive integer" 2
if ! [[ $LOAD_KEEPALIVE =~ ^[0-9]+$ && $LOAD_FRESH =~ ^[0-9]+$ ]] || ((LOAD_KEEPALIVE + LOAD_FRESH < 1 || LOAD_KEEPALIVE + LOAD_FRESH > 50)); then
    die "LOAD_KEEPALIVE + LOAD_FRESH must be 1 to 50 (one client source address each)" 2
fi

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
RAW=${RAW:-}  # where the report is also written (main picks a temp file when unset)
raw() { printf '%s\n' "$*" >>"$RAW"; }
say() { echo "  $*"; raw "  $*"; }

median() { # median of the numbers in "$*" ("" if none)
    tr -s ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {
    [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'
}

# The pairs (lbd, HAProxy), the measurements and the report, each in its own file.
# shellcheck source=bench/failover_pairs.sh
source "$REPO_ROOT/bench/failover_pairs.sh"
# shellcheck source=bench/failover_measure.sh
source "$REPO_ROOT/bench/failover_measure.sh"
# shellcheck source=bench/failover_report.sh
source "$REPO_ROOT/bench/failover_report.sh"

# ---------------------------------------------------------------------- main
BENCH_COMMAND="ROUNDS=$ROUNDS LINKDOWN=$LINKDOWN PLANNED=$PLANNED HANDOVERS=$HANDOVERS BUILD=${BUILD#"$REPO_ROOT"/} bench/failover.sh"

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
        if ((PLANNED)); then
            for PAIR in "${PAIRS[@]}"; do measure_planned; stop_pair; done
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
