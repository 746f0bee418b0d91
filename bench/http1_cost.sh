#!/usr/bin/env bash
# bench/http1_cost.sh - what lbd, HAProxy and NGINX each spend per plain HTTP/1.1 request on
# bench/l7.sh's small50, small500 and new50 rows (GET /tiny, "ok\n" from one nginx backend), with
# measures whose answer does not depend on the machine's load (so it can be run on a shared machine,
# unlike bench/l7.sh's req/s):
#   cpu      CPU ms (utime + stime from /proc/PID/stat) of the proxy per 1000 requests
#   sys      syscalls per request (strace -c -f on the proxy), with the main ones
#   insn     instructions per request (valgrind --tool=callgrind, counted only during the load),
#            allocations per request (bench/callgrind_allocs.awk), and the top functions (callgrind_annotate)
#            in TMP/insn-TEST-PROXY.txt
#   perf     cycles by symbol, kernel included (perf record -g on the proxy), the top ones in
#            TMP/perf-TEST-PROXY.txt: what instruction counts miss (cache misses, the kernel)
# Requests are counted at the backend (its stub_status) over a wrk run of DURATION seconds (INSN_DURATION
# under valgrind; wrk's timeouts are tolerated there), wrk run as bench/l7.sh runs it: -t1, -c50 / -c500 keep-alive, -c50 with
# "Connection: close" for new50. Each proxy is configured as bench/l7.sh configures its plain
# listener, one worker; NGINX runs with `master_process off` (its one process is the worker).
# With PIN=1 (the default on 2+ CPUs) the proxies run on CPU 0, wrk and the backend on the others.
# KEEP=1 keeps a copy of TMP (the annotations), named at the end. See bench/README.md (issue 17).
# Usage: bench/http1_cost.sh [LBD]; PROXIES="lbd haproxy nginx" MEASURES="cpu sys insn perf"
# TESTS="small50 small500 new50"; LBD_BASE=BINARY and lbd_base in PROXIES measure a second lbd (say,
# the previous commit's) in the same run. 127.0.0.1 only.
set -euo pipefail

DURATION=${DURATION:-5}                  # seconds of load per cpu, sys and perf measure
INSN_DURATION=${INSN_DURATION:-5}        # seconds of load under valgrind (50x slower)
PROXIES=${PROXIES:-"lbd haproxy nginx"}
MEASURES=${MEASURES:-"cpu sys insn perf"}
TESTS=${TESTS:-"small50 small500 new50"}
MAX_IDLE=${MAX_IDLE:-1024}
BASE_PORT=${BASE_PORT:-19500}
START_TIMEOUT=${START_TIMEOUT:-60}       # a proxy under valgrind starts slowly
BIG_SIZE=1                               # the backend's /big, unused here

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
LBD_BASE=${LBD_BASE:-}
[[ -z $LBD_BASE || $LBD_BASE = /* ]] || LBD_BASE="$REPO_ROOT/$LBD_BASE"
BENCH=http1_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
# shellcheck disable=SC2034  # filled by start_nginx_backend (lib.sh)
declare -A PORT=() STATUS=()
BACKEND_CPUS=$LOAD_CPUS

mapfile -t missing < <(missing_commands nginx:nginx haproxy:haproxy wrk:wrk valgrind:valgrind strace:strace \
    perf:linux-perf curl:curl)
install_missing "${missing[@]}"
bench_start http1cost
start_nginx_backend 1
alloc_port PROXY_PORT
URL="http://127.0.0.1:$PROXY_PORT/tiny"

# The plain listener of bench/l7.sh, for each proxy.
cat >"$TMP/lbd.conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "bench" bind: "127.0.0.1:$PROXY_PORT" mode: MODE_HTTP pool: "backend" max_connections: 0 http { max_idle_per_server: $MAX_IDLE } }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
$(haproxy_defaults)
frontend bench
    bind 127.0.0.1:$PROXY_PORT
    default_backend backend
backend backend
    server nginx 127.0.0.1:$BACKEND_PORT
EOF
mkdir -p "$TMP/nginx-tmp"
make_cert  # nginx_proxy_head names a certificate
cat >"$TMP/nginx.conf" <<EOF
$(nginx_proxy_head nginx 1)
    server {
        listen 127.0.0.1:$PROXY_PORT;
$(nginx_location)
    }
}
EOF

stop() { stop_server "$PID"; }
# A proxy under valgrind writes its file on exit, which may take longer than stop_server's 5 s.
stop_slowly() {
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
}

wrk_args() { # wrk_args TEST: sets WRK_ARGS to bench/l7.sh's connections and headers (see there)
    case $1 in
        small50) WRK_ARGS=(-c50) ;;
        small500) WRK_ARGS=(-c500) ;;
        new50) WRK_ARGS=(-c50 -H "Connection: close") ;;
        *) die "unknown test $1 (small50, small500, new50)" ;;
    esac
}
# load TEST SECONDS: one wrk run; sets REQUESTS to what the backend served meanwhile (each proxied
# request is one backend request). Dies on socket errors or non-2xx answers.
load() {
    local before after out
    before=$(backend_requests)
    wrk_args "$1"
    out=$(run_on "$LOAD_CPUS" wrk -t1 "${WRK_ARGS[@]}" -d"$2s" "$URL" 2>&1) || die "wrk failed: $out"
    after=$(backend_requests)
    # wrk's timeouts are its 2 s latency limit, which a proxy under valgrind passes at -c500: the
    # requests still end, and the backend counts them. Any other error or status ends the run.
    ! grep -qE 'Socket errors: connect [1-9]|read [1-9]|write [1-9]|Non-2xx' <<<"$out" ||
        { printf '%s\n' "$out" >&2; die "wrk saw errors"; }
    REQUESTS=$((after - before - 1))  # less the status request itself
    ((REQUESTS > 0)) || die "no request reached the backend"
}

for test in $TESTS; do
    for measure in $MEASURES; do
        for proxy in $PROXIES; do
            desc="$(printf '%-8s %-7s' "$test" "$proxy")"
            case $measure in
                cpu)
                    start_cost_proxy "$proxy"
                    load "$test" 2  # warm: connections to the backend, allocator
                    before=$(cpu_ticks "$PID")
                    load "$test" "$DURATION"
                    after=$(cpu_ticks "$PID")
                    stop
                    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$REQUESTS" -v d="$desc" \
                        'BEGIN { printf "cpu   %s: %.3f CPU ms per 1000 requests (%d requests)\n", d, t / hz / n * 1e6, n }'
                    ;;
                sys)
                    start_cost_proxy "$proxy"
                    load "$test" 2
                    strace_during "$PID" "$TMP/strace-$test-$proxy.out" load "$test" "$DURATION"
                    stop
                    awk -v n="$REQUESTS" -v d="$desc" '$NF == "total" { printf "sys   %s: %.2f syscalls per request\n", d, $4 / n }  # calls: column 4, errors (if any) 5
                        $4 ~ /^[0-9]+$/ && $NF != "total" && $4 / n >= 0.02 { per = per sprintf(" %s %.2f", $NF, $4 / n) }
                        END { print "      by call:" per }' "$TMP/strace-$test-$proxy.out"
                    ;;
                insn)
                    out=$TMP/callgrind-$test-$proxy.out
                    start_cost_proxy "$proxy" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out"
                    load "$test" 2
                    callgrind_control -i on "$PID" >/dev/null 2>&1
                    load "$test" "$INSN_DURATION"
                    callgrind_control -i off "$PID" >/dev/null 2>&1
                    stop_slowly
                    callgrind_annotate "$out" >"$TMP/insn-$test-$proxy.txt" 2>&1 || true
                    # Instructions from the totals; calls into malloc's library summed over every call site.
                    read -r insn allocs < <(awk -v n="$REQUESTS" -f "$REPO_ROOT/bench/callgrind_allocs.awk" "$out")
                    echo "insn  $desc: $insn instructions, $allocs allocations per request ($REQUESTS requests)"
                    ;;
                perf)
                    start_cost_proxy "$proxy"
                    load "$test" 2
                    perf record -q -g -o "$TMP/perf-$test-$proxy.data" -p "$PID" -- sleep "$DURATION" >/dev/null 2>&1 &
                    ppid=$!
                    load "$test" "$DURATION"
                    wait "$ppid" || true
                    stop
                    # sed, not head: a reader that stops early would fail the pipeline (pipefail).
                    perf report -q -i "$TMP/perf-$test-$proxy.data" --no-children --sort dso,sym --stdio -g none \
                        2>/dev/null | awk 'NF' | sed -n 1,40p >"$TMP/perf-$test-$proxy.txt" || true
                    awk -v d="$desc" '{ sub(/%/, "", $1) } $2 ~ /^\[kernel/ { k += $1 } { all += $1 }
                        END { printf "perf  %s: %.0f%% of the cycles sampled in the kernel (top 40 symbols: %.0f%%); top symbols:\n", d, k, all }' \
                        "$TMP/perf-$test-$proxy.txt"
                    sed -n 1,8p "$TMP/perf-$test-$proxy.txt" | sed 's/^/      /'
                    ;;
                *) die "unknown measure $measure (cpu, sys, insn, perf)" ;;
            esac
        done
    done
done
if [[ ${KEEP:-0} == 1 ]]; then
    cp -r "$TMP" "$TMP.kept" && log "kept in $TMP.kept"
fi
