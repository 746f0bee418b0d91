#!/usr/bin/env bash
# bench/h2.sh - HTTP/2 to clients: lbd vs HAProxy vs NGINX in front of one HTTP/1.1 backend.
#
# In one run, each proxy (one worker) speaks HTTP/2 to h2load and HTTP/1.1 keep-alive to the same
# nginx backend, and per test (h2load -c100 for DURATION s, ROUNDS rounds, first proxy rotating,
# min/median/max) it measures req/s and p99:
#   {tls,h2c}_m{10,100}_{small,64k}
#     tls:   TLS with ALPN h2 (a full ECDSA P-256 handshake per h2load client, 100 per run)
#     h2c:   plain TCP, HTTP/2 with prior knowledge (h2load's default for http:// URLs)
#     m10, m100: h2load -m (concurrent streams per connection)
#     small: GET /tiny ("ok\n"); 64k: GET /big (BIG_SIZE, 64 KiB)
#   idle_h2c, idle_tls
#     memory per idle HTTP/2 connection: IDLE_CONNS connections, each with its SETTINGS
#     exchanged both ways (the proxy's acknowledged, ours acknowledged by it) and one GET
#     /tiny answered, then left open; RSS of the proxy process (NGINX: its worker) with them
#     minus RSS before, divided by the count. Measured once, before any load.
# p99 comes from h2load --log-file (per request: microseconds from request sent to response
# end), sorted; p50 likewise. Every row first checks, with curl -v, that the proxy really
# answers over HTTP/2 on that listener (ALPN h2, or prior knowledge), and h2load's own
# "Application protocol" line must say h2 / h2c: a proxy that falls back to HTTP/1.1 fails
# loudly instead of being measured as HTTP/2.
# Ratios: to HAProxy and to the better of HAProxy and NGINX (req/s: the higher, p99 and
# memory: the lower).
# With PIN=1 (the default on 2+ CPUs) the proxies run on CPU 0, the backend, h2load and the
# idle client on the others.
#
# See bench/README.md. Everything talks to 127.0.0.1 only.
set -euo pipefail

# ---------------------------------------------------------------- parameters
DURATION=${DURATION:-10}              # seconds per h2load run (-D), after WARMUP s
WARMUP=${WARMUP:-2}                   # h2load --warm-up-time, s (-m100: 10,000 streams open server connections first)
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-100}               # h2load -c
IDLE_CONNS=${IDLE_CONNS:-1000}        # idle HTTP/2 connections for the memory rows
BIG_SIZE=${BIG_SIZE:-64K}             # size of /big (truncate -s syntax)
MAX_IDLE=${MAX_IDLE:-1024}            # server connections kept for reuse (lbd, NGINX)
PYTHON=${PYTHON:-/usr/bin/python3}    # Debian's, which has python3-h2 (not a pyenv one)
TESTS=${TESTS:-"idle_h2c idle_tls tls_m10_small tls_m100_small tls_m10_64k tls_m100_64k h2c_m10_small h2c_m100_small h2c_m10_64k h2c_m100_64k"}
BASE_PORT=${BASE_PORT:-18900}
START_TIMEOUT=${START_TIMEOUT:-10}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"

PATHS=(lbd haproxy nginx)

BENCH=h2.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
BACKEND_CPUS=$LOAD_CPUS

declare -A PORT=() TLS_PORT=() STATUS=() RSS_PID=()

ensure_packages() {
    local missing
    mapfile -t missing < <(missing_commands haproxy:haproxy nginx:nginx curl:curl openssl:openssl \
        python3:python3 h2load:nghttp2-client)
    "$PYTHON" -c 'import h2' 2>/dev/null || missing+=(python3-h2)
    install_missing "${missing[@]}"
}

# ------------------------------------------------------------------ proxies
# Each proxy: PORT = h2c with prior knowledge, TLS_PORT = TLS with ALPN h2 (http/1.1 too).

start_lbd() {
    local conf=$TMP/lbd.conf
    [[ -x $LBD ]] || { STATUS[lbd]="n/a (no binary at $LBD)"; log "no lbd binary at $LBD"; return 0; }
    alloc_port "PORT[lbd]"
    alloc_port "TLS_PORT[lbd]"
    cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "h2c" bind: "127.0.0.1:${PORT[lbd]}" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: $MAX_IDLE http2 { cleartext: true } } }
listeners { name: "h2" bind: "127.0.0.1:${TLS_PORT[lbd]}" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { max_idle_per_server: $MAX_IDLE }
  tls { certificates { cert_file: "$TMP/cert.pem" key_file: "$TMP/key.pem" } alpn: "h2" alpn: "http/1.1" } }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
    "$LBD" -t -c "$conf" >"$TMP/lbd.check" 2>&1 || { show_log "$TMP/lbd.check"; STATUS[lbd]="n/a (config refused)"; return 0; }
    spawn_on "$PROXY_CPUS" "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 &
    launched lbd $! "$TMP/lbd.err"
}

start_haproxy() {
    local conf=$TMP/haproxy.cfg
    alloc_port "PORT[haproxy]"
    alloc_port "TLS_PORT[haproxy]"
    cat >"$conf" <<EOF
global
    nbthread 1
    maxconn 8000
    tune.ssl.default-dh-param 2048
$(haproxy_defaults)
frontend bench
    bind 127.0.0.1:${PORT[haproxy]} proto h2
    bind 127.0.0.1:${TLS_PORT[haproxy]} ssl crt $TMP/haproxy.pem alpn h2,http/1.1
    default_backend backend
backend backend
    server nginx 127.0.0.1:$BACKEND_PORT
EOF
    haproxy -c -q -f "$conf" >"$TMP/haproxy.err" 2>&1 || { show_log "$TMP/haproxy.err"; die "bad haproxy config"; }
    spawn_on "$PROXY_CPUS" haproxy -db -f "$conf" >"$TMP/haproxy.err" 2>&1 &
    launched haproxy $! "$TMP/haproxy.err"
}

start_nginx() {
    local conf=$TMP/nginx.conf
    alloc_port "PORT[nginx]"
    alloc_port "TLS_PORT[nginx]"
    mkdir -p "$TMP/nginx-tmp"
    # NGINX 1.22: `listen ... http2` without ssl is HTTP/2 with prior knowledge only.
    cat >"$conf" <<EOF
$(nginx_proxy_head nginx 1)
    server {
        listen 127.0.0.1:${PORT[nginx]} http2;
        listen 127.0.0.1:${TLS_PORT[nginx]} ssl http2;
$(nginx_location)
    }
}
EOF
    spawn_on "$PROXY_CPUS" nginx -e "$TMP/nginx.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/nginx.out" &
    launched nginx $! "$TMP/nginx.err" "$TMP/nginx.out"
    RSS_PID[nginx]=$(nginx_worker_of "${RSS_PID[nginx]}")
}

# speaks_h2 NAME: curl over each listener must report HTTP/2 and get "ok".
speaks_h2() {
    local name=$1 out
    out=$(curl -sSkv --max-time 5 --http2-prior-knowledge "http://127.0.0.1:${PORT[$name]}/tiny" 2>&1) || true
    if ! grep -q '^< HTTP/2 200' <<<"$out" || ! grep -qx 'ok' <<<"$out"; then
        log "$name: no HTTP/2 with prior knowledge on :${PORT[$name]}:"; show_text "$out"; return 1
    fi
    out=$(curl -sSkv --max-time 5 --http2 "https://127.0.0.1:${TLS_PORT[$name]}/tiny" 2>&1) || true
    if ! grep -q 'ALPN.*accepted.*h2' <<<"$out" || ! grep -q '^< HTTP/2 200' <<<"$out" || ! grep -qx 'ok' <<<"$out"; then
        log "$name: no HTTP/2 by ALPN on :${TLS_PORT[$name]}:"; show_text "$out"; return 1
    fi
}

show_text() { printf '%s\n' "$1" | sed 's/^/    | /' >&2; }

# launched NAME PID LOGS...: PID (just started) is stopped on exit, its RSS measured, and
# it must come up speaking HTTP/2 (proxy_up).
launched() {
    PIDS+=("$2")
    RSS_PID[$1]=$2
    proxy_up "$@"
}

# proxy_up NAME PID LOGS...: both ports accept and speak HTTP/2, else die: a proxy that is
# not measured as HTTP/2 must not be reported.
proxy_up() {
    local name=$1 pid=$2; shift 2
    if wait_port "$name" "$pid" "${PORT[$name]}" && wait_port "$name tls" "$pid" "${TLS_PORT[$name]}" &&
        speaks_h2 "$name"; then
        STATUS[$name]=ok
        return 0
    fi
    show_log "$@"
    die "$name does not speak HTTP/2 on both listeners"
}

# ---------------------------------------------------------------- measurements
declare -A RPS=() P50=() P99=() ERRS=() MEM=()

url_of() { # url_of TEST PATH
    local scheme=http port=${PORT[$2]} file=tiny
    [[ $1 == tls_* ]] && scheme=https port=${TLS_PORT[$2]}
    [[ $1 == *_64k ]] && file=big
    echo "$scheme://127.0.0.1:$port/$file"
}

# measure TEST PATH: one h2load run; req/s, p50 and p99 (ms) from its per-request log.
measure() {
    local test=$1 path=$2 key="$1 $2" url out proto want=h2c streams reqlog=$TMP/h2load.log
    [[ $test == idle_* ]] && { measure_idle "$test" "$path"; return 0; }
    url=$(url_of "$test" "$path")
    streams=${test#*_m}; streams=${streams%%_*}
    [[ $test == tls_* ]] && want=h2
    rm -f "$reqlog"
    cpu_mark "${RSS_PID[$path]}"
    # h2load 1.52 in timing mode once hung after "Stopped all clients" (TLS, 64 KiB, HAProxy):
    # such a run is cut and its sample dropped, not waited for.
    out=$(run_on "$LOAD_CPUS" timeout -k 5 $((WARMUP + DURATION + 30)) h2load -c"$CLIENTS" -m"$streams" \
        -D"$DURATION" --warm-up-time="$WARMUP" --log-file="$reqlog" "$url" 2>&1) ||
        { log "$key: h2load failed or hung (sample dropped):"; show_text "$(tail -n 5 <<<"$out")"; return 0; }
    cpu_record "$key" "${RSS_PID[$path]}"
    echo "cpu $key: ${CPU_RUN}% (proxy's core / load CPUs)" >>"$RAW"
    proto=$(sed -n 's/^Application protocol: //p' <<<"$out" | head -n1)
    [[ $proto == "$want" ]] || die "$key: h2load spoke '$proto', not $want"
    record_h2load "$key" "$(printf '%-15s %-8s' "$test" "$path")" "$out" "$reqlog" ||
        { log "$key: no request completed, or h2load's output not understood:"; show_text "$(tail -n 12 <<<"$out")"; }
    return 0
}

# measure_idle idle_{h2c,tls} PATH: once, in round 0 (later the heaps have grown under load
# and memory freed then would be reused, hiding the cost).
measure_idle() {
    local test=$1 path=$2 kind=plain port=${PORT[$2]} out before after bytes
    [[ $test == idle_tls ]] && kind=tls port=${TLS_PORT[$path]}
    out=$(run_on "$LOAD_CPUS" "$PYTHON" "$REPO_ROOT/bench/h2_idle.py" "$port" "$IDLE_CONNS" "$kind" "${RSS_PID[$path]}" 2>&1) ||
        { log "$path $test: idle client failed: $out"; return 0; }
    read -r before after bytes <<<"$out"
    MEM[$test $path]=$bytes
    printf 'idle %-5s %-8s RSS %s -> %s KiB with %s HTTP/2 connections: %s bytes each\n' \
        "$kind" "$path" "$before" "$after" "$IDLE_CONNS" "$bytes" >>"$RAW"
}

# ---------------------------------------------------------------- reporting
print_header() {
    echo "== lbd HTTP/2 benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:  nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:  $(haproxy -v 2>&1 | head -n1)"
    echo "nginx:    $(nginx -v 2>&1 | head -n1)"
    echo "h2load:   $(h2load --version 2>&1 | head -n1)"
    echo "openssl:  $(openssl version)"
    echo "lbd:      $LBD ($("$LBD" -v 2>&1 | head -n1 || true); ${STATUS[lbd]:-})"
    echo "params:   DURATION=${DURATION}s WARMUP=${WARMUP}s ROUNDS=$ROUNDS CLIENTS=$CLIENTS IDLE_CONNS=$IDLE_CONNS BIG_SIZE=$BIG_SIZE"
    echo "          tests: $TESTS"
    echo "          h2load -c$CLIENTS -mM -D$DURATION --warm-up-time=$WARMUP; tls: ALPN h2 (ECDSA P-256, TLS 1.3);"
    echo "          h2c: prior knowledge; small: GET /tiny (ok), 64k: GET /big ($BIG_SIZE)"
    echo "          one worker each; lbd max_idle_per_server $MAX_IDLE; haproxy http-reuse always;"
    echo "          nginx upstream keepalive $MAX_IDLE; backend: nginx, 1 worker, HTTP/1.1"
    if [[ $PIN == 1 ]]; then echo "pinning:  proxies on CPU $PROXY_CPUS; backend, h2load, idle client on CPUs $LOAD_CPUS"
    else echo "pinning:  none"; fi
    echo "ports:    backend=$BACKEND_PORT lbd=${PORT[lbd]:--}/${TLS_PORT[lbd]:--}" \
         "haproxy=${PORT[haproxy]}/${TLS_PORT[haproxy]} nginx=${PORT[nginx]}/${TLS_PORT[nginx]} (h2c/tls)"
}

# best_of MODE SAMPLES-PER-PEER...: the higher (MODE=max) or lower (min) non-empty value.
best_of() {
    local mode=$1; shift
    printf '%s\n' "$@" | awk -v m="$mode" 'NF { if (!n++ || (m == "max" ? $1 > b : $1 < b)) b = $1 }
        END { if (n) print b }'
}

print_results() {
    local test path key rps p99 p50 ref_rps ref_p99 best_rps best_p99 note
    echo
    printf '%-15s %-8s %9s %13s %9s %9s %7s %7s %8s %8s  %s\n' test path "req/s" "min-max" "p50 ms" "p99 ms" \
        rps/hap rps/best p99/hap p99/best note
    for test in $TESTS; do
        [[ $test == idle_* ]] && continue
        ref_rps=$(median "${RPS[$test haproxy]:-}") ref_p99=$(median "${P99[$test haproxy]:-}")
        best_rps=$(best_of max "$ref_rps" "$(median "${RPS[$test nginx]:-}")")
        best_p99=$(best_of min "$ref_p99" "$(median "${P99[$test nginx]:-}")")
        for path in "${PATHS[@]}"; do
            key="$test $path"
            rps=$(median "${RPS[$key]:-}") p50=$(median "${P50[$key]:-}") p99=$(median "${P99[$key]:-}")
            note=$(cpu_note "$key")
            note+=${ERRS[$key]:+ errors: ${ERRS[$key]}}
            [[ ${STATUS[$path]:-} == ok ]] || note=${STATUS[$path]:-}
            printf '%-15s %-8s %9s %13s %9s %9s %7s %7s %8s %8s  %s\n' "$test" "$path" \
                "$([[ -n $rps ]] && awk -v r="$rps" 'BEGIN { printf "%.0f", r }' || echo n/a)" \
                "$(spread "${RPS[$key]:-}")" "${p50:-n/a}" "${p99:-n/a}" "$(ratio "$rps" "$ref_rps")" \
                "$(ratio "$rps" "$best_rps")" "$(ratio "$p99" "$ref_p99")" "$(ratio "$p99" "$best_p99")" "$note"
        done
    done
    echo
    echo "medians of $ROUNDS rounds of ${DURATION}s, min-max of the rounds beside them; /hap: ratio to HAProxy,"
    echo "/best: to the better of HAProxy and NGINX (req/s: higher is better; p99: lower is better);"
    cpu_legend h2load
    [[ " $TESTS " == *" idle_"* ]] || return 0
    echo
    printf '%-9s %-8s %14s %8s %8s\n' test path "bytes/conn" /hap /best
    for test in $TESTS; do
        [[ $test == idle_* ]] || continue
        for path in "${PATHS[@]}"; do
            printf '%-9s %-8s %14s %8s %8s\n' "$test" "$path" "${MEM[$test $path]:-n/a}" \
                "$(ratio "${MEM[$test $path]:-}" "${MEM[$test haproxy]:-}")" \
                "$(ratio "${MEM[$test $path]:-}" "$(best_of min "${MEM[$test haproxy]:-}" "${MEM[$test nginx]:-}")")"
        done
    done
    echo "(RSS growth of the proxy process (NGINX: its worker) / $IDLE_CONNS idle HTTP/2 connections, each with"
    echo " SETTINGS exchanged and one request answered, opened one at a time before any load; lower is better)"
}

# ---------------------------------------------------------------------- main
main() {
    ensure_packages
    bench_start h2

    make_cert
    start_nginx_backend 1
    start_lbd
    start_haproxy
    start_nginx

    print_header | tee "$RAW"
    warn_if_busy
    echo "-- raw samples" >>"$RAW"

    local test
    for ((ROUND = 0; ROUND < ROUNDS; ROUND++)); do
        for test in $TESTS; do
            ((ROUND > 0)) && [[ $test == idle_* ]] && continue  # memory: once, before any load
            for_each_rotated "$ROUND" measure "$test"
        done
    done

    print_results | tee -a "$RAW"
    echo
    echo "-- raw samples (also in $RAW)"
    sed -n '/^-- raw samples$/,/^$/{/^-- raw/d;p}' "$RAW"
}

main "$@"
