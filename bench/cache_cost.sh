#!/usr/bin/env bash
# bench/cache_cost.sh - what one cache hit costs lbd, counted rather than timed, so the figures
# do not depend on the load of this (shared) machine:
#   instructions per hit    valgrind --tool=callgrind (Ir)
#   syscalls per hit        strace -c -f (and which ones)
#   allocations per hit     valgrind memcheck's "total heap usage: N allocs"
# lbd (workers: 1, one cache zone) runs under each tool twice in front of an nginx origin
# serving /small (SMALL_SIZE bytes, max-age=3600): once answering FEW hits, once FEW + HITS;
# the difference divided by HITS is the cost of a hit, start-up and shutdown cancelling out.
# The hits come from h2load --h1 over CONNS keep-alive connections (-c CONNS -m 1).
# See bench/README.md. 127.0.0.1 only.
set -euo pipefail

HITS=${HITS:-5000}
FEW=${FEW:-500}
CONNS=${CONNS:-1}
SMALL_SIZE=${SMALL_SIZE:-200}
TOOLS=${TOOLS:-"callgrind strace memcheck"}
KEEP=${KEEP:-}  # a directory: the tools' output files are copied there (callgrind_annotate them)
BASE_PORT=${BASE_PORT:-18900}
START_TIMEOUT=${START_TIMEOUT:-60}  # lbd under valgrind starts slowly

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
[[ -x $LBD ]] || { echo "cache_cost.sh: no lbd at $LBD (build it, or LBD=path)" >&2; exit 1; }

BENCH=cache_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
TMP=$(mktemp -d /tmp/lbd-bench-cache-cost.XXXXXX)
chmod 755 "$TMP"
mapfile -t missing < <(missing_commands nginx:nginx h2load:nghttp2-client valgrind:valgrind strace:strace curl:curl)
install_missing "${missing[@]}"

# run_lbd TOOL N: lbd under TOOL answers one miss then N hits, then stops; prints the tool's output file.
run_lbd() {
    local tool=$1 n=$2 port conf=$TMP/lbd.conf out=$TMP/$1.$2 pid headers
    alloc_port port
    cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false
  cache_zones { name: "cost" } }
listeners { name: "cost" bind: "127.0.0.1:$port" mode: MODE_HTTP
  http { routes { pool: "origin" cache { zone: "cost" } } } }
pools { name: "origin" servers { name: "nginx" address: "127.0.0.1:$ORIGIN_PORT" } }
EOF
    case $tool in
        callgrind) valgrind --tool=callgrind --callgrind-out-file="$out" "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 & ;;
        # The synonym: memcheck also counts the blocks of an lbd linked with mimalloc (cli/allocator.h).
        memcheck) valgrind --tool=memcheck --soname-synonyms=somalloc='*mimalloc*' --log-file="$out" "$LBD" -c "$conf" \
            >"$TMP/lbd.err" 2>&1 & ;;
        strace) strace -c -f -o "$out" "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 & ;;
    esac
    pid=$!
    wait_port "lbd ($tool)" "$pid" "$port" || { show_log "$TMP/lbd.err"; die "lbd did not start under $tool"; }
    curl -fsS -o /dev/null "http://127.0.0.1:$port/small" || die "lbd: GET /small failed"
    headers=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/small")
    grep -qi '^X-Cache: HIT' <<<"$headers" || die "lbd under $tool: the second GET /small is not a hit"
    h2load --h1 -n "$n" -c "$CONNS" -m 1 "http://127.0.0.1:$port/small" >"$TMP/h2load.out" 2>&1 ||
        { cat "$TMP/h2load.out" >&2; die "h2load failed"; }
    grep -q "status codes: $n 2xx" "$TMP/h2load.out" || { cat "$TMP/h2load.out" >&2; die "not $n 2xx"; }
    # lbd itself: under valgrind it is $pid; strace runs it as its child (and a TERM to strace
    # would only detach it).
    if [[ $tool == strace ]]; then kill -TERM "$(pgrep -P "$pid")"; else kill -TERM "$pid"; fi
    wait "$pid" || true
    [[ -z $KEEP ]] || cp "$out" "$KEEP/"
    echo "$out"
}

instructions() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
# strace -c's columns: % time, seconds, usecs/call, calls, [errors], syscall.
syscalls() { awk '$NF == "total" { print $4 }' "$1"; }
by_name() { awk '$NF != "total" && $1 ~ /^[0-9.]+$/ { print $NF, $4 }' "$1" | sort; }
allocs() { awk '/total heap usage/ { gsub(",", "", $5); print $5 }' "$1"; }
per_hit() { awk -v a="$1" -v b="$2" -v n="$HITS" 'BEGIN { printf "%.1f", (b - a) / n }'; }

start_cache_origin "$SMALL_SIZE" 1 3600
for tool in $TOOLS; do
    few=$(run_lbd "$tool" "$FEW")
    many=$(run_lbd "$tool" $((FEW + HITS)))
    case $tool in
        callgrind) printf 'instructions per hit: %s\n' "$(per_hit "$(instructions "$few")" "$(instructions "$many")")" ;;
        memcheck) printf 'allocations per hit:  %s\n' "$(per_hit "$(allocs "$few")" "$(allocs "$many")")" ;;
        strace)
            printf 'syscalls per hit:     %s\n' "$(per_hit "$(syscalls "$few")" "$(syscalls "$many")")"
            # Per syscall name: calls in the long run minus the short one, per hit.
            join -a2 -e0 -o 0,1.2,2.2 <(by_name "$few") <(by_name "$many") |
                awk -v n="$HITS" '{ d = ($3 - $2) / n; if (d >= 0.05) printf "  %-16s %.2f\n", $1, d }'
            ;;
    esac
done
