#!/usr/bin/env bash
# bench/h2_cost.sh - what lbd spends per HTTP/2 request and per idle HTTP/2 connection, with
# tools whose answer does not depend on the machine's load (so it can be run on a shared
# machine, unlike bench/h2.sh's req/s):
#   insn     instructions (valgrind --tool=callgrind, counted only during the load) and
#            allocations per request (bench/callgrind_allocs.awk: glibc's or mimalloc's), for a fixed h2load run
#   sys      syscalls per request (strace -c -f on lbd during a fixed h2load run)
#   idle     bytes of RSS per idle HTTP/2 connection (bench/h2_idle.py, IDLE_CONNS)
# for h2load -c$CLIENTS -m$STREAMS -n$REQUESTS GET /tiny over h2c (MODE=h2c) or TLS with
# ALPN h2 (MODE=tls), through lbd (one worker) to one nginx backend. Prints one line per
# measure. See bench/README.md ("h2.sh"). 127.0.0.1 only.
set -euo pipefail

REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
IDLE_CONNS=${IDLE_CONNS:-1000}
MODE=${MODE:-h2c}                     # h2c or tls
MEASURES=${MEASURES:-"insn sys idle"}
FILE=${FILE:-tiny}                    # tiny ("ok\n") or big (BIG_SIZE)
BIG_SIZE=${BIG_SIZE:-64K}
PYTHON=${PYTHON:-/usr/bin/python3}
BASE_PORT=${BASE_PORT:-19100}
START_TIMEOUT=${START_TIMEOUT:-60}    # lbd under valgrind starts slowly

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
BENCH=h2_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
declare -A PORT=() STATUS=()

mapfile -t missing < <(missing_commands nginx:nginx h2load:nghttp2-client valgrind:valgrind strace:strace \
    curl:curl openssl:openssl)
"$PYTHON" -c 'import h2' 2>/dev/null || missing+=(python3-h2)
install_missing "${missing[@]}"
TMP=$(mktemp -d -p /dev/shm lbd-bench-h2cost.XXXXXX 2>/dev/null || mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
make_cert
start_nginx_backend 1
alloc_port LBD_PORT
cat >"$TMP/lbd.conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "h2" bind: "127.0.0.1:$LBD_PORT" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: 1024 $([[ $MODE == h2c ]] && echo 'http2 { cleartext: true }') }
  $([[ $MODE == tls ]] && echo "tls { certificates { cert_file: \"$TMP/cert.pem\" key_file: \"$TMP/key.pem\" } alpn: \"h2\" }") }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
SCHEME=http
[[ $MODE == tls ]] && SCHEME=https
URL="$SCHEME://127.0.0.1:$LBD_PORT/$FILE"

# start_lbd [WRAPPER...]: lbd (under WRAPPER, e.g. valgrind), waits until it answers over h2.
start_lbd() {
    "$@" "$LBD" -c "$TMP/lbd.conf" >"$TMP/lbd.err" 2>&1 &
    LBD_PID=$!
    PIDS+=("$LBD_PID")
    wait_port lbd "$LBD_PID" "$LBD_PORT" || { show_log "$TMP/lbd.err"; die "lbd did not start"; }
    local flag=--http2-prior-knowledge
    [[ $MODE == tls ]] && flag=--http2
    curl -sSk "$flag" -o /dev/null -w '%{http_version}' "$URL" | grep -qx 2 || die "lbd does not answer over HTTP/2"
}
stop_lbd() {
    kill -TERM "$LBD_PID"
    wait "$LBD_PID" 2>/dev/null || true
}
load() { # load N: h2load of N requests; dies unless all succeeded
    local out
    out=$(h2load -c"$CLIENTS" -m"$STREAMS" -n"$1" "$URL" 2>&1)
    grep -q "^requests: $1 total, $1 started, $1 done, $1 succeeded" <<<"$out" ||
        { printf '%s\n' "$out" >&2; die "h2load: not every request succeeded"; }
}
desc="h2load -c$CLIENTS -m$STREAMS -n$REQUESTS $MODE /$FILE"

for measure in $MEASURES; do
    case $measure in
        insn)
            out=${CALLGRIND_OUT:-$TMP/callgrind.out}
            start_lbd valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out"
            load 2000  # warm: pools, connections to the backend, HPACK tables
            callgrind_control -i on "$LBD_PID" >/dev/null
            load "$REQUESTS"
            callgrind_control -i off "$LBD_PID" >/dev/null
            stop_lbd
            # Instructions from the totals; calls into malloc's library summed over every call site.
            read -r insn allocs < <(awk -v n="$REQUESTS" -f "$REPO_ROOT/bench/callgrind_allocs.awk" "$out")
            echo "insn    $desc: $insn instructions, $allocs allocations per request"
            ;;
        sys)
            start_lbd
            load 2000
            strace_during "$LBD_PID" "$TMP/strace.out" load "$REQUESTS"
            stop_lbd
            awk -v n="$REQUESTS" -v d="$desc" '$NF == "total" { printf "sys     %s: %.3f syscalls per request\n", d, $(NF - 2) / n }
                $NF ~ /^(writev|sendmsg|write|readv|read|recvfrom|epoll_wait|epoll_ctl)$/ { per = per sprintf(" %s %.3f", $NF, $4 / n) }
                END { print "        by call:" per }' "$TMP/strace.out"
            ;;
        idle)
            start_lbd
            read -r before after bytes < <("$PYTHON" "$REPO_ROOT/bench/h2_idle.py" "$LBD_PORT" "$IDLE_CONNS" \
                "$([[ $MODE == tls ]] && echo tls || echo plain)" "$LBD_PID")
            stop_lbd
            echo "idle    $MODE: RSS $before -> $after KiB with $IDLE_CONNS idle HTTP/2 connections: $bytes bytes each"
            ;;
        *) die "unknown measure $measure (insn, sys, idle)" ;;
    esac
done
