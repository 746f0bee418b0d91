#!/usr/bin/env bash
# bench/h2_burst.sh - what each proxy does with its server connections at h2load -c100 -m100
# (bench/h2.sh's -m100 rows: 10,000 streams in flight, each an HTTP/1.1 request of its own).
#
# bench/h2.sh's backend and proxy configs (lbd, HAProxy, NGINX; one worker each, pinned as there),
# run in a network namespace of their own (unshare -n) so that the kernel's TCP counters count
# this run only. Per h2load run (interleaved: every round runs every proxy, the first rotating):
#   req/s and failed requests (h2load's),
#   connects   TcpActiveOpens during the run minus h2load's own CLIENTS: the proxy's server connects,
#   warm       the proxy's established connections to the backend when the run starts,
#   overflows  TcpExtListenOverflows, TcpExtListenDrops, TcpExtTCPSynRetrans during the run (the
#              backend's listen queue is the only one that can overflow here: 511 deep),
#   requests   the requests the backend served during the run (its stub_status), and per 1000 of
#              them the proxy's CPU time (utime + stime), and per request its minor page faults,
#   peak RSS   the proxy's VmHWM (NGINX: its worker's) after the run,
#   with MIDRUN=1, lbd only: halfway through the run, its RSS, the response bytes its HTTP/2
#              connections hold (lbd_http2_response_buffered_bytes) and its server connections,
#   with IDLE_RSS_AFTER=S: its RSS (VmRSS) S seconds after the run, idle (what it gave back),
#   lbd only: lbd_server_connect_failures_total and the requests it ended by cause,
#   with STRACE=1: the proxy's system calls per request (strace -c -f attached for the run; it
#              slows the proxy, so that run's req/s and CPU time are not comparable to others).
# Usage: bench/h2_burst.sh [LBD]; TESTS (h2c_m100_64k tls_m100_64k), PATHS_RUN (lbd haproxy
# nginx), ROUNDS (3), DURATION (8), WARMUP (2), GAP (s between runs, 2). Root (unshare -n).
set -euo pipefail

if [[ -z ${H2_BURST_NETNS:-} ]]; then
    exec unshare -n env H2_BURST_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-100}
GAP=${GAP:-2}
BIG_SIZE=${BIG_SIZE:-64K}
MAX_IDLE=${MAX_IDLE:-1024}
TESTS=${TESTS:-"h2c_m100_64k tls_m100_64k"}
PATHS_RUN=${PATHS_RUN:-"lbd haproxy nginx"}
PERF_DIR=${PERF_DIR:-}                # if set: perf record -g of lbd per run, into PERF_DIR/TEST-ROUND.data
MIDRUN=${MIDRUN:-0}                   # 1: sample lbd halfway through each run (see above)
IDLE_RSS_AFTER=${IDLE_RSS_AFTER:-0}   # seconds idle after each run before its RSS is read (0: not read)
STRACE=${STRACE:-0}                   # 1: system calls per request of each proxy (strace -c -f)
LBD_EXTRA=${LBD_EXTRA:-}              # more of lbd's listener http { } (e.g. a new option to try)
BASE_PORT=${BASE_PORT:-19300}
START_TIMEOUT=${START_TIMEOUT:-10}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
BENCH=h2_burst.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BACKEND_CPUS=$LOAD_CPUS
read -r -a PATHS <<<"$PATHS_RUN"
declare -A PORT=() TLS_PORT=() STATUS=() PID_OF=()

bench_start h2burst
make_cert
start_nginx_backend 1
alloc_port ADMIN_PORT

start_path() { # start_path NAME: the proxy NAME with bench/h2.sh's config, waits for both ports
    local name=$1 conf
    alloc_port "PORT[$name]"
    alloc_port "TLS_PORT[$name]"
    case $name in
    lbd)
        conf=$TMP/lbd.conf
        cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false admin { http_bind: "127.0.0.1:$ADMIN_PORT" } }
listeners { name: "h2c" bind: "127.0.0.1:${PORT[lbd]}" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: $MAX_IDLE http2 { cleartext: true } $LBD_EXTRA } }
listeners { name: "h2" bind: "127.0.0.1:${TLS_PORT[lbd]}" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: $MAX_IDLE $LBD_EXTRA }
  tls { certificates { cert_file: "$TMP/cert.pem" key_file: "$TMP/key.pem" } alpn: "h2" alpn: "http/1.1" } }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
        spawn_on "$PROXY_CPUS" "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 &
        PID_OF[lbd]=$! ;;
    haproxy)
        conf=$TMP/haproxy.cfg
        printf 'global\n    nbthread 1\n    maxconn 8000\n%s\nfrontend bench\n    bind 127.0.0.1:%s proto h2\n    bind 127.0.0.1:%s ssl crt %s alpn h2,http/1.1\n    default_backend backend\nbackend backend\n    server nginx 127.0.0.1:%s\n' \
            "$(haproxy_defaults)" "${PORT[haproxy]}" "${TLS_PORT[haproxy]}" "$TMP/haproxy.pem" "$BACKEND_PORT" >"$conf"
        spawn_on "$PROXY_CPUS" haproxy -db -f "$conf" >"$TMP/haproxy.err" 2>&1 &
        PID_OF[haproxy]=$! ;;
    nginx)
        conf=$TMP/nginx.conf
        mkdir -p "$TMP/nginx-tmp"
        printf '%s\n    server {\n        listen 127.0.0.1:%s http2;\n        listen 127.0.0.1:%s ssl http2;\n%s\n    }\n}\n' \
            "$(nginx_proxy_head nginx 1)" "${PORT[nginx]}" "${TLS_PORT[nginx]}" "$(nginx_location)" >"$conf"
        spawn_on "$PROXY_CPUS" nginx -e "$TMP/nginx.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/nginx.out" &
        PID_OF[nginx]=$! ;;
    esac
    PIDS+=("${PID_OF[$name]}")
    wait_port "$name" "${PID_OF[$name]}" "${PORT[$name]}" && wait_port "$name" "${PID_OF[$name]}" "${TLS_PORT[$name]}" ||
        { show_log "$TMP/$name.err"; die "$name did not start"; }
    [[ $name == nginx ]] && PID_OF[nginx]=$(nginx_worker_of "${PID_OF[nginx]}")
    STATUS[$name]=ok
}

kernel_counters() { nstat -asz TcpActiveOpens TcpExtListenOverflows TcpExtListenDrops TcpExtTCPSynRetrans | awk '!/^#/ { printf "%s ", $2 }'; }
minor_faults() { awk '{ print $10 }' "/proc/$1/stat"; }
peak_rss_mib() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
lbd_metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'; }
# lbd_ends: "TERM COUNT" per termination of lbd_http_requests_ended_total (summed over labels).
lbd_ends() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | sed -n 's/^lbd_http_requests_ended_total{.*term="\([a-z_]*\)".* \([0-9]*\)$/\1 \2/p' |
    awk '{ s[$1] += $2 } END { for (t in s) print t, s[t] }'; }
warm_conns() { ss -Htnp state established "dport = :$BACKEND_PORT" | grep -c "pid=$1," || true; }

# run TEST PATH: one h2load run and what it cost, as one line.
run() {
    local test=$1 path=$2 scheme=http port file=tiny streams out rps ok failed pid=${PID_OF[$2]}
    local k0 k1 c0 c1 m0 m1 r0 r1 f0 f1 warm ends=""
    port=${PORT[$path]}
    [[ $test == tls_* ]] && scheme=https port=${TLS_PORT[$path]}
    [[ $test == *_64k ]] && file=big
    streams=${test#*_m}; streams=${streams%%_*}
    sleep "$GAP"  # the previous run's connections settle (as between bench/h2.sh's runs)
    warm=$(warm_conns "$pid")
    read -r -a k0 <<<"$(kernel_counters)"
    c0=$(cpu_ticks "$pid")
    m0=$(minor_faults "$pid") r0=$(backend_requests)
    [[ $path == lbd ]] && f0=$(lbd_metric lbd_server_connect_failures_total) && ends=$(lbd_ends)
    local perf_pid=""
    if [[ -n $PERF_DIR && $path == lbd ]]; then
        perf record -q -g -F 999 -p "$pid" -o "$PERF_DIR/$test-$ROUND.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    local strace_pid=""
    if [[ $STRACE == 1 ]]; then
        strace -c -f -p "$pid" -o "$TMP/strace-$path.out" 2>/dev/null &
        strace_pid=$!
        sleep 1  # strace attaches (no output to poll for)
    fi
    local mid_pid=""
    if [[ $MIDRUN == 1 && $path == lbd ]]; then
        { sleep $((WARMUP + DURATION / 2))  # a bench's sample point, not a synchronisation
          printf '  midrun: RSS %s MiB, held %s bytes, server conns %s' "$(rss_mib "$pid")" \
              "$(lbd_metric lbd_http2_response_buffered_bytes)" "$(warm_conns "$pid")"; } >"$TMP/midrun" &
        mid_pid=$!
    fi
    out=$(run_on "$LOAD_CPUS" timeout -k 5 $((WARMUP + DURATION + 30)) h2load -c"$CLIENTS" -m"$streams" \
        -D"$DURATION" --warm-up-time="$WARMUP" "$scheme://127.0.0.1:$port/$file" 2>&1) || true
    c1=$(cpu_ticks "$pid")
    [[ -n $perf_pid ]] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
    [[ -n $strace_pid ]] && { kill -INT "$strace_pid"; wait "$strace_pid" || true; }
    m1=$(minor_faults "$pid") r1=$(backend_requests)
    read -r -a k1 <<<"$(kernel_counters)"
    rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
    printf '%-13s %-8s %9s req/s %6s failed  warm %5s  connects %6s  overflows %6s drops %6s synretrans %6s  requests %6s  cpu %6.1f ms/kreq  faults/req %5.1f  peak RSS %5s MiB' \
        "$test" "$path" "${rps:-n/a}" "${failed:-n/a}" "$warm" $((k1[0] - k0[0] - CLIENTS)) $((k1[1] - k0[1])) \
        $((k1[2] - k0[2])) $((k1[3] - k0[3])) $((r1 - r0)) \
        "$(awk -v t=$((c1 - c0)) -v n=$((r1 - r0)) 'BEGIN { print n ? t * 10000 / n : 0 }')" \
        "$(awk -v f=$((m1 - m0)) -v n=$((r1 - r0)) 'BEGIN { print n ? f / n : 0 }')" "$(peak_rss_mib "$pid")"
    if [[ -n $strace_pid ]]; then
        # Per backend request: all calls, then the six most frequent by name.
        printf '  syscalls/req %s:' "$(awk -v n=$((r1 - r0)) '$NF == "total" { printf "%.2f", n ? $4 / n : 0 }' "$TMP/strace-$path.out")"
        printf ' %s' $(awk -v n=$((r1 - r0)) '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s=%.2f\n", $NF, n ? $4 / n : 0 }' \
            "$TMP/strace-$path.out" | sort -t= -k2 -rn | head -n6)
    fi
    if [[ $path == lbd ]]; then
        f1=$(lbd_metric lbd_server_connect_failures_total)
        printf '  connect_failures %s  ended: %s' $((f1 - f0)) "$(awk 'NR == FNR { b[$1] = $2; next }
            $2 - b[$1] { printf "%s=%d ", $1, $2 - b[$1] }' <(echo "$ends") <(lbd_ends))"
    fi
    [[ -n $mid_pid ]] && { wait "$mid_pid" || true; cat "$TMP/midrun"; }
    if ((IDLE_RSS_AFTER > 0)); then
        sleep "$IDLE_RSS_AFTER"  # a bench, not a test: the peers have nothing to poll
        printf '  RSS after %ss idle %5s MiB' "$IDLE_RSS_AFTER" "$(rss_mib "$pid")"
    fi
    echo
}

for path in "${PATHS[@]}"; do start_path "$path"; done
log "netns of its own; backend :$BACKEND_PORT; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((ROUND = 0; ROUND < ROUNDS; ROUND++)); do
    for test in $TESTS; do for_each_rotated "$ROUND" run "$test" 2>/dev/null; done
done
