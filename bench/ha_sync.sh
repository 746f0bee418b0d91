#!/usr/bin/env bash
# bench/ha_sync.sh - the first sync of a big stick table to a peer that is
# serving, end to end: two real lbd nodes on the network namespaces of
# tests/ha (no HAProxy here; bench/failover.sh compares the pairs).
#
#   lba and lbb are partitioned (tests/ha partition); lbb runs keepalived alone,
#   holds the VIP and serves HTTP load (tests/ha/http_load.py: KEEPALIVE + FRESH
#   clients); lba's pool "sticky" is filled with ENTRIES source-IP entries
#   (bench/ha_stick_fill.py through its admin socket). A first load window
#   (BASELINE_S) measures lbb's answers before the sync; then the partition
#   heals, lba's snapshot reaches lbb while a second load window runs, and lbb
#   is polled every 100 ms (`lbctl ha status`, on the control thread that also
#   applies the snapshot) until it holds every entry.
#
# Prints: the time from the heal until lbb's tables are complete, the longest
# `lbctl ha status` round trip on lbb meanwhile (its control loop stalled at
# most that long), the sync link's disconnects (a stalled receiver made the
# sender drop the link before), and the load's answers (p50/p99/max latency,
# failures) before and during the sync. A benchmark: it judges nothing.
# Exit 0 done, 1 setup failed, 77 no root / namespaces.
set -uo pipefail
ENTRIES=${ENTRIES:-1000000}
BASELINE_S=${BASELINE_S:-5}
KEEPALIVE=${KEEPALIVE:-8}
FRESH=${FRESH:-8}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD="$REPO_ROOT/$BUILD"
LBD=$(realpath "$BUILD/cli/lbd") LBCTL=$(realpath "$BUILD/cli/lbctl") PROBE=$(realpath "$BUILD/tests/ha/lbd_ha_probe")
for bin in "$LBD" "$LBCTL" "$PROBE"; do [[ -x $bin ]] || { echo "missing $bin (BUILD=dir)" >&2; exit 1; }; done
# shellcheck source=tests/ha/lib.sh
source "$REPO_ROOT/tests/ha/lib.sh"
# shellcheck source=tests/ha/topology_netns.sh
source "$REPO_ROOT/tests/ha/topology_netns.sh"

die() { echo "ha_sync.sh: $*" >&2; dump_logs >&2; exit 1; }
field() { lbctl_on "$1" ha status --json 2>/dev/null | probe_json "$2" 2>/dev/null; }
ready() { lbctl_on "$1" status >/dev/null 2>&1; }
csv() { local IFS=,; echo "$*"; }

# status_rtt NODE: how long one `lbctl ha status` took (ms) into RTT; its stick records into RECORDS.
status_rtt() {
    local t
    now_ms
    t=$NOW_MS
    RECORDS=$(field "$1" stick_records)
    now_ms
    RTT=$((NOW_MS - t))
}

# load_start FILE OUT: the HTTP load on the VIP until FILE exists, its summary into OUT.
load_start() {
    rm -f "$1"
    http_load load "$VIP:$PORT_HTTP" --sources "$(csv "${CLIENT_SOURCES[@]:0:$((KEEPALIVE + FRESH))}")" \
        --keepalive "$KEEPALIVE" --fresh "$FRESH" --until-file "$1" >"$2" &
    LOAD_PID=$!
}
load_summary() { # JSON -> "N answers, F failed, p50/p99/max ms, R req/s"
    probe_json requests failed latency_ms.p50 latency_ms.p99 latency_ms.max per_second max_stall_ms <"$1" | paste -sd' ' |
        awk '{ printf "%d requests, %d failed, latency p50 %s / p99 %s / max %s ms, %s req/s (the client itself ran up to %s ms late)", $1, $2, $3, $4, $5, $6, $7 }'
}

trap 'topo_down >/dev/null 2>&1' EXIT
topo_check
rc=$?
((rc == 0)) || exit "$rc"
topo_up >/dev/null || die "could not set up the namespaces"
echo "== bench/ha_sync.sh: first sync of $ENTRIES stick entries to a serving peer ($(date -u '+%F %T UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
partition || die "cannot partition lba and lbb"
for n in lba lbb; do start_lbd "$n"; done
for n in lba lbb; do wait_until 30000 ready "$n" || die "lbd on $n not ready"; done
start_keepalived lbb
wait_until 10000 has_vip lbb || die "lbb did not take the VIP"
python3 "$REPO_ROOT/bench/ha_stick_fill.py" "$TOPO_DIR/lba/admin.sock" sticky "$ENTRIES" b1,b2,b3 || die "fill failed"
held=$(field lba stick_records)
[[ $held == "$ENTRIES" ]] || die "lba holds $held stick records, expected $ENTRIES"
echo "lba holds $held entries; lbb $(field lbb stick_records), serving alone"

load_start "$CLIENT_TMP/stop1" "$CLIENT_TMP/load1.json"
# The same polling as during the sync, for the round trip of an idle control loop on this machine.
base_rtt=0
now_ms
until_ms=$((NOW_MS + BASELINE_S * 1000))
while ((NOW_MS < until_ms)); do
    status_rtt lbb
    ((RTT > base_rtt)) && base_rtt=$RTT
    sleep 0.1
    now_ms
done
touch "$CLIENT_TMP/stop1"
wait "$LOAD_PID"
echo "before the sync (${BASELINE_S} s): $(load_summary "$CLIENT_TMP/load1.json")"

load_start "$CLIENT_TMP/stop2" "$CLIENT_TMP/load2.json"
heal || die "cannot heal"
now_ms
healed=$NOW_MS max_rtt=0 records=0
while ((records < ENTRIES)); do
    status_rtt lbb
    records=${RECORDS:-0}
    ((RTT > max_rtt)) && max_rtt=$RTT
    ((NOW_MS - healed > 120000)) && break
    ((records < ENTRIES)) && sleep 0.1
done
now_ms
done_ms=$((NOW_MS - healed))
touch "$CLIENT_TMP/stop2"
wait "$LOAD_PID"
if ((records >= ENTRIES)); then
    echo "lbb's tables complete ($records entries) ${done_ms} ms after the heal"
else
    echo "lbb holds $records of $ENTRIES entries after ${done_ms} ms: incomplete"
fi
echo "lbb's control loop: longest 'lbctl ha status' round trip during the sync ${max_rtt} ms (before it: ${base_rtt} ms)"
echo "sync link: lbb connects $(field lbb peer.connects), disconnects $(field lbb peer.disconnects), snapshots received $(field lbb peer.snapshots_received); lba disconnects $(field lba peer.disconnects)"
echo "during the sync: $(load_summary "$CLIENT_TMP/load2.json")"
grep -h "snapshot\|link down\|nothing heard" "$TOPO_DIR/lba/lbd.log" "$TOPO_DIR/lbb/lbd.log" | tail -n 6
