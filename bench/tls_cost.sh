#!/usr/bin/env bash
# bench/tls_cost.sh - what lbd, HAProxy and NGINX each spend per full TLS handshake (bench/l7.sh's
# tls_full row), or with HANDSHAKE=resumed per resumed one (its tls_new row), with measures whose
# answer does not depend on the machine's load (so it can be run on a shared machine, unlike
# bench/l7.sh's req/s):
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
# `master_process off` (its one process is the worker).
# HANDSHAKE=resumed: each proxy's listener that resumes (l7.sh's tls_new: tickets on, as each
# proxy has them by default) under wrk -c$CLIENTS -H 'Connection: close', which keeps its SSL
# session across reconnects, so every connection but its first few is a resumed TLS 1.3
# handshake (a ticket, and still an ECDHE: psk_dhe_ke). The measures cover WINDOW_S s of a wrk
# run, after WARM_PER_CLIENT requests per connection and WARM_S s (so wrk's first, full,
# handshakes and the backend connections are outside), and count the requests the backend
# served meanwhile (its stub_status): one per connection. `client` is wrk's instructions per
# request (two runs under callgrind, their difference); `tcp`, the segments of wrk -c1; `wire`
# shows the second of two s_client connections, resumed with the first one's session.
# See bench/README.md (issue 17).
# Usage: bench/tls_cost.sh [LBD]; PROXIES="lbd haproxy nginx" MEASURES="cpu sys insn client wire tcp"
# HANDSHAKE=full|resumed ROUNDS=1; LBD_BASE=<another lbd binary> adds it as proxy lbd_base.
# 127.0.0.1 only.
set -euo pipefail

HANDSHAKES=${HANDSHAKES:-6000}
INSN_HANDSHAKES=${INSN_HANDSHAKES:-1000}   # under valgrind, 50x slower
CLIENTS=${CLIENTS:-50}
PROXIES=${PROXIES:-"lbd haproxy nginx"}
MEASURES=${MEASURES:-"cpu sys insn client wire"}
BASE_PORT=${BASE_PORT:-19300}
START_TIMEOUT=${START_TIMEOUT:-60}         # a proxy under valgrind starts slowly
HANDSHAKE=${HANDSHAKE:-full}               # full | resumed
WARM_S=${WARM_S:-1}                        # resumed: wrk's first seconds, not measured...
WARM_PER_CLIENT=${WARM_PER_CLIENT:-4}      # ...after this many requests per connection
WINDOW_S=${WINDOW_S:-10}                   # resumed: the seconds measured
INSN_WINDOW_S=${INSN_WINDOW_S:-20}         # resumed, under valgrind
ROUNDS=${ROUNDS:-1}                        # every measure of every proxy, ROUNDS times, interleaved
[[ $HANDSHAKE == full || $HANDSHAKE == resumed ]] || { echo "HANDSHAKE is full or resumed" >&2; exit 2; }
BIG_SIZE=1                                 # the backend's /big, unused here

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
# A second lbd binary (say, the previous commit's), measured as proxy lbd_base with the same config.
LBD_BASE=${LBD_BASE:-}
[[ -z $LBD_BASE || $LBD_BASE = /* ]] || LBD_BASE="$REPO_ROOT/$LBD_BASE"
[[ -n $LBD_BASE ]] && PROXIES=${PROXIES/lbd /lbd lbd_base }
BENCH=tls_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
# shellcheck disable=SC2034  # filled by start_nginx_backend (lib.sh)
declare -A PORT=() STATUS=()

mapfile -t missing < <(missing_commands nginx:nginx haproxy:haproxy h2load:nghttp2-client valgrind:valgrind \
    strace:strace curl:curl openssl:openssl wrk:wrk)
install_missing "${missing[@]}"
TMP=$(mktemp -d -p /dev/shm lbd-bench-tlscost.XXXXXX 2>/dev/null || mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
make_cert
# Resumed: pinned as bench/l7.sh pins (PIN, lib.sh): the proxy on CPU 0, the backend and wrk on the
# others, so that the CPU each spends is measured where the row spends it.
[[ $HANDSHAKE == resumed ]] || PROXY_CPUS="" LOAD_CPUS=""
BACKEND_CPUS=$LOAD_CPUS
start_nginx_backend 1
BACKEND_WORKER=$(nginx_worker_of "${PIDS[0]}")
WRK_PID=0  # resumed: the wrk running
alloc_port PROXY_PORT
URL="https://127.0.0.1:$PROXY_PORT/tiny"

# The listeners of bench/l7.sh's full-handshake port, or (resumed) of its resuming TLS port:
# each proxy's defaults, tickets on. HAProxy's session cache is off there too (l7.sh: its
# tune.ssl.cachesize is global), so it resumes by ticket, as the others do with wrk.
if [[ $HANDSHAKE == full ]]; then
    LBD_TLS_OPTIONS="session_tickets: false session_cache_size: 0"
    HAPROXY_BIND_OPTIONS=" no-tls-tickets"
    NGINX_SSL_OPTIONS=$'        ssl_session_tickets off;\n        ssl_session_cache off;'
else
    LBD_TLS_OPTIONS="" HAPROXY_BIND_OPTIONS="" NGINX_SSL_OPTIONS=""
fi
cat >"$TMP/lbd.conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "bench_tls" bind: "127.0.0.1:$PROXY_PORT" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: 1024 }
  tls { certificates { cert_file: "$TMP/cert.pem" key_file: "$TMP/key.pem" } $LBD_TLS_OPTIONS } }
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
    bind 127.0.0.1:$PROXY_PORT ssl crt $TMP/haproxy.pem$HAPROXY_BIND_OPTIONS
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
$NGINX_SSL_OPTIONS
$(nginx_location)
    }
}
EOF

stop() {
    stop_server "$PID"
}
load() { # load N: N requests, each on a new connection with a full handshake; dies unless all succeeded
    local out
    out=$(h2load --h1 -c"$CLIENTS" -n"$1" -H 'Connection: close' "$URL" 2>&1)
    grep -q "^requests: $1 total, $1 started, $1 done, $1 succeeded" <<<"$out" ||
        { printf '%s\n' "$out" >&2; die "h2load: not every request succeeded"; }
}
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }  # "USER SYS"

# measured WINDOW WRAPPER...: runs the load of one measure with WRAPPER... (e.g. strace_during PID
# OUT) around its measured part; COUNT = the connections (requests) in it. full: a warm-up of 1000
# handshakes (connections to the backend, allocator), then HANDSHAKES (INSN_HANDSHAKES under
# valgrind: WINDOW "insn"). resumed: wrk for WARM_S + WINDOW s and a little more (strace
# takes a second to attach), measured for WINDOW s after WARM_S.
measured() {
    local span=$1 wrk_pid out=$TMP/wrk.out n0; shift
    if [[ $HANDSHAKE == full ]]; then
        COUNT=$HANDSHAKES
        [[ $span == insn ]] && COUNT=$INSN_HANDSHAKES
        load 1000
        "$@" load "$COUNT"
        return
    fi
    [[ $span == insn ]] && span=$INSN_WINDOW_S
    spawn_on "$LOAD_CPUS" wrk -t1 -c"$CLIENTS" -d"$((span + 300))s" -H 'Connection: close' "$URL" >"$out" 2>&1 &
    wrk_pid=$!
    WRK_PID=$wrk_pid
    # Warm: each of wrk's connections makes one full handshake before it resumes; under
    # valgrind those take seconds.
    warm_until "$((WARM_PER_CLIENT * CLIENTS))"
    sleep "$WARM_S"
    # The backend's count around the whole of WRAPPER (strace_during attaches for a second
    # before its command); its stub_status counts its own request: one less.
    n0=$(backend_requests)
    "$@" sleep "$span"
    COUNT=$(($(backend_requests) - n0 - 1))
    kill -INT "$wrk_pid"  # wrk stops and prints its summary
    wait "$wrk_pid" || true
    grep -q 'requests in' "$out" || { cat "$out" >&2; die "wrk: no requests"; }
    ! grep -E 'Non-2xx' "$out" >&2 || die "wrk: requests failed"
    ((COUNT > 0)) || die "the backend served no request during the window"
}
# warm_until N: polls until the backend has served N more requests (dies after 180 s).
warm_until() {
    local target polls=1 deadline=$((SECONDS + 180))
    target=$(($(backend_requests) + $1))
    until (($(backend_requests) - polls >= target)); do  # each look is a request too
        ((SECONDS < deadline)) || die "the backend did not see $1 requests in 180 s"
        sleep 0.2
        polls=$((polls + 1))
    done
}
# cpu_around PID CMD...: CMD; TICKS = "USER SYS" CPU ticks PID spent meanwhile; resumed, also
# CLIENT_TICKS and BACKEND_TICKS: wrk's and the backend worker's.
cpu_around() {
    local pid=$1 before client backend; shift
    before=$(cpu_ticks "$pid") client=$(cpu_ticks "$WRK_PID") backend=$(cpu_ticks "$BACKEND_WORKER")
    "$@"
    TICKS=$(ticks_since "$pid" "$before") CLIENT_TICKS=$(ticks_since "$WRK_PID" "$client")
    BACKEND_TICKS=$(ticks_since "$BACKEND_WORKER" "$backend")
}
ticks_since() { # ticks_since PID "USER SYS"
    local now
    now=$(cpu_ticks "$1")
    awk -v a="$now" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print x[1] - y[1], x[2] - y[2] }'
}
# per_1000 "USER SYS" N: "U + S = T" CPU ms per 1000 connections... as s per 1000.
per_1000() {
    awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { split(t, x, " "); u = x[1] / hz / n * 1000; s = x[2] / hz / n * 1000; printf "%.3f + %.3f = %.3f", u, s, u + s }'
}
# strace_client OUT CMD...: strace_during on the wrk running.
strace_client() { local out=$1; shift; strace_during "$WRK_PID" "$out" "$@"; }
# syscalls_per STRACE_OUT LABEL: strace -c's total and main calls per connection (COUNT).
syscalls_per() {
    awk -v n="$COUNT" -v d="$2" '$NF == "total" { printf "%s: %.2f syscalls per handshake\n", d, $(NF - 2) / n }
        $4 ~ /^[0-9]+$/ && $NF != "total" && $4 / n >= 0.05 { per = per sprintf(" %s %.2f", $NF, $4 / n) }
        END { print "      by call:" per }' "$1"
}
# callgrind_around PID CMD...: CMD with callgrind's instrumentation on in PID.
callgrind_around() {
    local pid=$1; shift
    callgrind_control -i on "$pid" >/dev/null
    "$@"
    callgrind_control -i off "$pid" >/dev/null
}

# wire_counts DESC VERSION [s_client options...]: the records and NewSessionTicket messages of
# one connection with a request, the ECDHE group and whether it resumed. -ign_eof: s_client
# reads until the proxy closes, so it sees the tickets a TLS 1.3 server sends after the handshake.
wire_counts() {
    local desc=$1 version=$2 msgs; shift 2
    msgs=$(printf 'GET /tiny HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' |
        openssl s_client "$version" -ign_eof -msg -connect "127.0.0.1:$PROXY_PORT" "$@" 2>/dev/null || true)
    awk -v d="$desc" -v v="${version#-}" '
        /^<<< .*RecordHeader/ { records++ }
        /^<<< .*, NewSessionTicket/ { tickets++ }
        /^Server Temp Key:/ { sub(/^Server Temp Key: /, ""); group = $0 }
        /^(New|Reused),/ { how = $1 }
        END { printf "wire  %s %s: %d records received, %d NewSessionTicket, %s %s\n", d, v, records, tickets, how, group }' <<<"$msgs"
}

if [[ $HANDSHAKE == full ]]; then
    LOAD_DESC="h2load -c$CLIENTS full handshakes"
else
    LOAD_DESC="wrk -c$CLIENTS resumed handshakes"
fi
for ((round = 1; round <= ROUNDS; round++)); do
for proxy in $PROXIES; do
    for measure in $MEASURES; do
        desc="$(printf '%-8s' "$proxy") $LOAD_DESC"
        case $measure in
            cpu)
                start_cost_proxy "$proxy"
                measured "$WINDOW_S" cpu_around "$PID"
                stop
                echo "cpu   $desc: $(per_1000 "$TICKS" "$COUNT") CPU s (user + sys) per 1000 handshakes ($COUNT)"
                [[ $HANDSHAKE == full ]] ||
                    echo "      meanwhile per 1000: wrk $(per_1000 "$CLIENT_TICKS" "$COUNT"), backend $(per_1000 "$BACKEND_TICKS" "$COUNT"); $((COUNT / WINDOW_S)) conn/s"
                ;;
            sys)
                start_cost_proxy "$proxy"
                measured "$WINDOW_S" strace_during "$PID" "$TMP/strace-$proxy.out"
                stop
                syscalls_per "$TMP/strace-$proxy.out" "sys   $desc"
                if [[ $HANDSHAKE == resumed ]]; then
                    # And what wrk makes per connection with this proxy (one wakeup per segment it gets).
                    start_cost_proxy "$proxy"
                    measured "$WINDOW_S" strace_client "$TMP/strace-wrk-$proxy.out"
                    stop
                    syscalls_per "$TMP/strace-wrk-$proxy.out" "sys   $desc, wrk's"
                fi
                ;;
            insn)
                out=$TMP/callgrind-$proxy.out
                start_cost_proxy "$proxy" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out"
                [[ $HANDSHAKE == full ]] && load 200
                measured insn callgrind_around "$PID"
                # Not stop(): valgrind writes its file on exit, which may take longer than its 5 s.
                kill -TERM "$PID"
                wait "$PID" 2>/dev/null || true
                callgrind_annotate "$out" >"$TMP/insn-$proxy.txt" 2>&1 || true
                awk -v n="$COUNT" -v d="$desc" '/^totals:/ { printf "insn  %s: %.0f instructions per handshake (%d)\n", d, $2 / n, n }' "$out"
                ;;
            wire)
                start_cost_proxy "$proxy"
                for version in -tls1_3 -tls1_2; do
                    if [[ $HANDSHAKE == full ]]; then
                        wire_counts "$desc" "$version"
                    else
                        # The second of two connections, resumed with the first one's session.
                        rm -f "$TMP/wire.sess"
                        wire_counts "$desc" "$version" -sess_out "$TMP/wire.sess" >/dev/null
                        wire_counts "$desc" "$version" -sess_in "$TMP/wire.sess"
                    fi
                done
                stop
                ;;
            client)
                start_cost_proxy "$proxy"
                if [[ $HANDSHAKE == resumed ]]; then
                    # wrk is one thread (-t1): the difference between a run and one twice as long,
                    # over their difference in requests, is what a resumed connection costs it
                    # (start-up and each connection's first, full, handshake excluded).
                    for secs in $((INSN_WINDOW_S / 2)) "$INSN_WINDOW_S"; do
                        valgrind --tool=callgrind --callgrind-out-file="$TMP/client-$proxy-$secs.out" \
                            wrk -t1 -c"$CLIENTS" -d"${secs}s" -H 'Connection: close' "$URL" >"$TMP/client-$proxy-$secs.log" 2>&1 ||
                            { cat "$TMP/client-$proxy-$secs.log" >&2; die "wrk under valgrind failed"; }
                    done
                    stop
                    read -r lo_n hi_n < <(awk '/requests in/ { printf "%s ", $1 } END { print "" }' "$TMP/client-$proxy-$((INSN_WINDOW_S / 2)).log" \
                        "$TMP/client-$proxy-$INSN_WINDOW_S.log")
                    lo=$(awk '/^totals:/ { print $2 }' "$TMP/client-$proxy-$((INSN_WINDOW_S / 2)).out")
                    hi=$(awk '/^totals:/ { print $2 }' "$TMP/client-$proxy-$INSN_WINDOW_S.out")
                    awk -v lo="$lo" -v hi="$hi" -v n="$((hi_n - lo_n))" -v d="$desc" \
                        'BEGIN { printf "client %s: %.0f wrk instructions per handshake (%d)\n", d, (hi - lo) / n, n }'
                    continue
                fi
                # h2load is one thread: under callgrind, the difference between two runs over their
                # difference in handshakes is what one handshake costs the client, start-up excluded.
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
            tcp)
                # The segments of a few connections, one after another (wrk -c1), to see who closes.
                start_cost_proxy "$proxy"
                timeout 5 tcpdump -i lo -nn -S -tt -w "$TMP/tcp-$proxy.pcap" "tcp port $PROXY_PORT" 2>/dev/null &
                tpid=$!
                sleep 1
                wrk -t1 -c1 -d1s -H 'Connection: close' "$URL" >/dev/null 2>&1
                wait "$tpid" || true
                stop
                tcpdump -nn -r "$TMP/tcp-$proxy.pcap" 2>/dev/null | tail -n 30 >"$TMP/tcp-$proxy.txt"
                echo "tcp $proxy: $(tcpdump -nn -r "$TMP/tcp-$proxy.pcap" 2>/dev/null | wc -l) segments, $(tcpdump -nn -r "$TMP/tcp-$proxy.pcap" 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0' 2>/dev/null | wc -l) connections, $(tcpdump -nn -r "$TMP/tcp-$proxy.pcap" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l) RST"
                ;;
            *) die "unknown measure $measure (cpu, sys, insn, wire, client)" ;;
        esac
    done
done
done
if [[ ${KEEP:-0} == 1 ]]; then
    cp -r "$TMP" "$TMP.kept" && log "kept in $TMP.kept"
fi
