#!/usr/bin/env bash
# bench/tls_cost.sh - what lbd, HAProxy and NGINX each spend per full TLS handshake (bench/l7.sh's
# tls_full row), with measures whose answer does not depend on the machine's load (so it can be
# run on a shared machine, unlike bench/l7.sh's req/s):
#   cpu      CPU seconds (utime + stime from /proc/PID/stat) of the proxy per 1000 handshakes
#   sys      syscalls per handshake (strace -c -f on the proxy), with the main ones
#   insn     instructions per handshake (valgrind --tool=callgrind, counted only during the
#            load), and the top functions (callgrind_annotate) in TMP/insn-PROXY.txt (KEEP=1
#            keeps a copy of TMP, named at the end)
#   client   instructions h2load spends per handshake with the proxy (callgrind on h2load): the
#            load generator's share, which bounds req/s when h2load saturates its CPU first
#   wire     what the proxy sends in one handshake: records of the server's flights and the
#            NewSessionTicket messages (openssl s_client -msg), TLS 1.3 and 1.2
# for h2load --h1 -c$CLIENTS -n$HANDSHAKES -H 'Connection: close' (one request per connection,
# a full ECDHE + ECDSA P-256 handshake each) against each proxy's listener that resumes nothing,
# configured as bench/l7.sh configures it, one worker, to one nginx backend. NGINX runs with
# `master_process off` (its one process is the worker). See bench/README.md (issue 17).
# Usage: bench/tls_cost.sh [LBD]; PROXIES="lbd haproxy nginx" MEASURES="cpu sys insn client wire".
# 127.0.0.1 only.
set -euo pipefail

HANDSHAKES=${HANDSHAKES:-6000}
INSN_HANDSHAKES=${INSN_HANDSHAKES:-1000}   # under valgrind, 50x slower
CLIENTS=${CLIENTS:-50}
PROXIES=${PROXIES:-"lbd haproxy nginx"}
MEASURES=${MEASURES:-"cpu sys insn client wire"}
BASE_PORT=${BASE_PORT:-19300}
START_TIMEOUT=${START_TIMEOUT:-60}         # a proxy under valgrind starts slowly
BIG_SIZE=1                                 # the backend's /big, unused here

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
BENCH=tls_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
# shellcheck disable=SC2034  # filled by start_nginx_backend (lib.sh)
declare -A PORT=() STATUS=()

mapfile -t missing < <(missing_commands nginx:nginx haproxy:haproxy h2load:nghttp2-client valgrind:valgrind \
    strace:strace curl:curl openssl:openssl)
install_missing "${missing[@]}"
TMP=$(mktemp -d -p /dev/shm lbd-bench-tlscost.XXXXXX 2>/dev/null || mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
make_cert
start_nginx_backend 1
alloc_port PROXY_PORT
URL="https://127.0.0.1:$PROXY_PORT/tiny"

# The listeners of bench/l7.sh's full-handshake port.
cat >"$TMP/lbd.conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "bench_full" bind: "127.0.0.1:$PROXY_PORT" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: 1024 }
  tls { certificates { cert_file: "$TMP/cert.pem" key_file: "$TMP/key.pem" } session_tickets: false session_cache_size: 0 } }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
    tune.ssl.default-dh-param 2048
    tune.ssl.cachesize 0
$(haproxy_defaults)
frontend bench
    bind 127.0.0.1:$PROXY_PORT ssl crt $TMP/haproxy.pem no-tls-tickets
    default_backend backend
backend backend
    server nginx 127.0.0.1:$BACKEND_PORT
EOF
MAX_IDLE=1024
mkdir -p "$TMP/nginx-tmp"
cat >"$TMP/nginx.conf" <<EOF
$(nginx_proxy_head nginx 1)
    server {
        listen 127.0.0.1:$PROXY_PORT ssl;
        ssl_session_tickets off;
        ssl_session_cache off;
$(nginx_location)
    }
}
EOF

# start PROXY [WRAPPER...]: the proxy (under WRAPPER, e.g. valgrind) in the foreground of its
# one process; waits until it answers over TLS. Sets PID.
start() {
    local proxy=$1; shift
    case $proxy in
        lbd) "$@" "$LBD" -c "$TMP/lbd.conf" >"$TMP/$proxy.err" 2>&1 & ;;
        haproxy) "$@" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/$proxy.err" 2>&1 & ;;
        nginx) "$@" nginx -e "$TMP/nginx.err" -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off; master_process off;' \
            >"$TMP/$proxy.err" 2>&1 & ;;
        *) die "unknown proxy $proxy (lbd, haproxy, nginx)" ;;
    esac
    PID=$!
    PIDS+=("$PID")
    wait_port "$proxy" "$PID" "$PROXY_PORT" || { show_log "$TMP/$proxy.err"; die "$proxy did not start"; }
    check_url "$proxy" "$URL" || die "$proxy does not answer over TLS"
}
stop() {
    stop_server "$PID"
}
load() { # load N: N requests, each on a new connection with a full handshake; dies unless all succeeded
    local out
    out=$(h2load --h1 -c"$CLIENTS" -n"$1" -H 'Connection: close' "$URL" 2>&1)
    grep -q "^requests: $1 total, $1 started, $1 done, $1 succeeded" <<<"$out" ||
        { printf '%s\n' "$out" >&2; die "h2load: not every request succeeded"; }
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for proxy in $PROXIES; do
    for measure in $MEASURES; do
        desc="$(printf '%-7s' "$proxy") h2load -c$CLIENTS full handshakes"
        case $measure in
            cpu)
                start "$proxy"
                load 1000  # warm: connections to the backend, allocator
                before=$(cpu_ticks "$PID")
                load "$HANDSHAKES"
                after=$(cpu_ticks "$PID")
                stop
                awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$HANDSHAKES" -v d="$desc" \
                    'BEGIN { printf "cpu   %s: %.3f CPU s per 1000 handshakes (%d handshakes)\n", d, t / hz / n * 1000, n }'
                ;;
            sys)
                start "$proxy"
                load 1000
                strace_during "$PID" "$TMP/strace-$proxy.out" load "$HANDSHAKES"
                stop
                awk -v n="$HANDSHAKES" -v d="$desc" '$NF == "total" { printf "sys   %s: %.2f syscalls per handshake\n", d, $(NF - 2) / n }
                    $4 ~ /^[0-9]+$/ && $NF != "total" && $4 / n >= 0.05 { per = per sprintf(" %s %.2f", $NF, $4 / n) }
                    END { print "      by call:" per }' "$TMP/strace-$proxy.out"
                ;;
            insn)
                out=$TMP/callgrind-$proxy.out
                start "$proxy" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out"
                load 200
                callgrind_control -i on "$PID" >/dev/null
                load "$INSN_HANDSHAKES"
                callgrind_control -i off "$PID" >/dev/null
                # Not stop(): valgrind writes its file on exit, which may take longer than its 5 s.
                kill -TERM "$PID"
                wait "$PID" 2>/dev/null || true
                callgrind_annotate "$out" >"$TMP/insn-$proxy.txt" 2>&1 || true
                awk -v n="$INSN_HANDSHAKES" -v d="$desc" '/^totals:/ { printf "insn  %s: %.0f instructions per handshake\n", d, $2 / n }' "$out"
                ;;
            wire)
                start "$proxy"
                for version in -tls1_3 -tls1_2; do
                    # A request, and -ign_eof: s_client reads until the proxy closes, so it sees
                    # the tickets a TLS 1.3 server sends after the handshake.
                    msgs=$(printf 'GET /tiny HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' |
                        openssl s_client "$version" -ign_eof -msg -connect "127.0.0.1:$PROXY_PORT" 2>/dev/null || true)
                    awk -v d="$desc" -v v="${version#-}" '
                        /^<<< .*RecordHeader/ { records++ }
                        /^<<< .*, NewSessionTicket/ { tickets++ }
                        END { printf "wire  %s %s: %d records received, %d NewSessionTicket\n", d, v, records, tickets }' <<<"$msgs"
                done
                stop
                ;;
            client)
                # h2load is one thread: under callgrind, the difference between two runs over their
                # difference in handshakes is what one handshake costs the client, start-up excluded.
                start "$proxy"
                for n in 200 $((200 + INSN_HANDSHAKES)); do
                    valgrind --tool=callgrind --callgrind-out-file="$TMP/client-$proxy-$n.out" \
                        h2load --h1 -c"$CLIENTS" -n"$n" -H 'Connection: close' "$URL" >"$TMP/client-$proxy-$n.log" 2>&1
                    grep -q "^requests: $n total, $n started, $n done, $n succeeded" "$TMP/client-$proxy-$n.log" ||
                        { cat "$TMP/client-$proxy-$n.log" >&2; die "h2load: not every request succeeded"; }
                done
                stop
                lo=$(awk '/^totals:/ { print $2 }' "$TMP/client-$proxy-200.out")
                hi=$(awk '/^totals:/ { print $2 }' "$TMP/client-$proxy-$((200 + INSN_HANDSHAKES)).out")
                awk -v lo="$lo" -v hi="$hi" -v n="$INSN_HANDSHAKES" -v d="$desc" \
                    'BEGIN { printf "client %s: %.0f h2load instructions per handshake\n", d, (hi - lo) / n }'
                ;;
            *) die "unknown measure $measure (cpu, sys, insn, wire, client)" ;;
        esac
    done
done
if [[ ${KEEP:-0} == 1 ]]; then
    cp -r "$TMP" "$TMP.kept" && log "kept in $TMP.kept"
fi
