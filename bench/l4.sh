#!/usr/bin/env bash
# bench/l4.sh - L4 (TCP) proxy benchmark: direct vs lbd vs HAProxy vs NGINX stream.
#
# Puts four paths in front of ONE nginx HTTP backend, in one run on this
# machine, and measures per path:
#   1. throughput of one 1 GiB download (curl, TP_REPEATS times, median);
#   2. small keep-alive HTTP requests (wrk -t1 -c50, ROUNDS rounds, medians
#      of req/s and p99 latency).
# Paths are measured round-robin, the starting path rotating each round, so
# that noise on this shared machine hits every path alike.
#
# See bench/README.md. Everything talks to 127.0.0.1 only.
set -euo pipefail

# ---------------------------------------------------------------- parameters
WORKERS=${WORKERS:-1}                 # lbd workers / haproxy nbthread / nginx worker_processes
BACKEND_WORKERS=${BACKEND_WORKERS:-2} # worker_processes of the nginx backend
DURATION=${DURATION:-10}              # seconds per wrk run
ROUNDS=${ROUNDS:-3}                   # wrk rounds (each round runs every path once)
TP_REPEATS=${TP_REPEATS:-3}           # 1 GiB downloads per path
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-50}
BIG_SIZE=${BIG_SIZE:-1G}              # size of the throughput file (truncate -s syntax)
BASE_PORT=${BASE_PORT:-18400}         # first port tried; busy ones are skipped
START_TIMEOUT=${START_TIMEOUT:-10}    # seconds a server gets to start accepting

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${LBD:-build/cli/lbd}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
# How lbd is told its config file: "$LBD $LBD_ARGS <config>".
LBD_ARGS=${LBD_ARGS:--c}

PATHS=(direct lbd haproxy nginx)

# ------------------------------------------------------------------- helpers
log() { printf '[l4.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

TMP=""
PIDS=()
cleanup() {
    local pid i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_packages() {
    local missing=() cmd pkg
    for pair in haproxy:haproxy nginx:nginx wrk:wrk curl:curl; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || missing+=(libnginx-mod-stream)
    ((${#missing[@]} == 0)) && return 0
    log "installing missing Debian packages: ${missing[*]}"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

NEXT_PORT=$BASE_PORT
alloc_port() { # prints a port nobody listens on (from BASE_PORT upward)
    while port_busy "$NEXT_PORT" || ss -Htln "sport = :$NEXT_PORT" 2>/dev/null | grep -q .; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    echo "$NEXT_PORT"
    NEXT_PORT=$((NEXT_PORT + 1))
}

# wait_port NAME PID PORT: polls until PORT accepts, PID dies, or the deadline.
wait_port() {
    local name=$1 pid=$2 port=$3 deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before accepting on :$port"
            return 1
        fi
        port_busy "$port" && return 0
        sleep 0.05
    done
    log "$name not accepting on :$port after ${START_TIMEOUT}s"
    return 1
}

# check_path NAME PORT: one request through the path must answer "ok".
check_path() {
    local body
    body=$(curl -fsS --max-time 5 "http://127.0.0.1:$2/tiny" 2>&1) || { log "$1: /tiny failed: $body"; return 1; }
    [[ $body == ok ]] || { log "$1: /tiny answered '$body'"; return 1; }
}

show_log() { # show_log FILE...: last lines of a server's logs
    local f
    for f in "$@"; do [[ -s $f ]] && tail -n 20 "$f" | sed 's/^/    | /' >&2; done
    return 0
}

median() { # median of the space-separated numbers in "$*" ("" if none)
    tr -s ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{v[NR] = $1}
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ------------------------------------------------------------ backend + proxies
declare -A PORT=() STATUS=()

start_backend() {
    local conf=$TMP/backend.conf port
    port=$(alloc_port)
    mkdir -p "$TMP/www" "$TMP/backend-tmp"
    # Sparse file on tmpfs: reads of holes come from the shared zero page, so
    # the backend's sendfile costs almost no memory and no disk.
    truncate -s "$BIG_SIZE" "$TMP/www/big"
    chmod 755 "$TMP" "$TMP/www"
    chmod 644 "$TMP/www/big"
    cat >"$conf" <<EOF
worker_processes $BACKEND_WORKERS;
pid $TMP/backend.pid;
error_log $TMP/backend.err warn;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    client_body_temp_path $TMP/backend-tmp/body;
    proxy_temp_path $TMP/backend-tmp/proxy;
    fastcgi_temp_path $TMP/backend-tmp/fastcgi;
    uwsgi_temp_path $TMP/backend-tmp/uwsgi;
    scgi_temp_path $TMP/backend-tmp/scgi;
    server {
        listen 127.0.0.1:$port$( ((BACKEND_WORKERS > 1)) && echo ' reuseport');
        root $TMP/www;
        location = /tiny { return 200 "ok\n"; }
        location = /big { }
    }
}
EOF
    nginx -e "$TMP/backend.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/backend.out" &
    PIDS+=($!)
    wait_port "nginx backend" $! "$port" || { show_log "$TMP/backend.err" "$TMP/backend.out"; die "backend did not start"; }
    check_path "backend" "$port" || { show_log "$TMP/backend.err" "$TMP/backend.out"; die "backend does not answer /tiny"; }
    BACKEND_PORT=$port
    PORT[direct]=$port
    STATUS[direct]=ok
}

start_lbd() {
    local conf=$TMP/lbd.conf port pid
    if [[ ! -x $LBD ]]; then
        log "lbd binary not found at $LBD: lbd row will be n/a"
        STATUS[lbd]="n/a (no binary at $LBD)"
        return 0
    fi
    port=$(alloc_port)
    cat >"$conf" <<EOF
global { workers: $WORKERS log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "bench" bind: "127.0.0.1:$port" pool: "backend" max_connections: 0 }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
    # shellcheck disable=SC2086  # LBD_ARGS is a word list on purpose
    "$LBD" $LBD_ARGS "$conf" >"$TMP/lbd.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_port "lbd" "$pid" "$port" && check_path "lbd" "$port"; then
        PORT[lbd]=$port
        STATUS[lbd]=ok
    else
        show_log "$TMP/lbd.err"
        STATUS[lbd]="n/a (failed to start, see above)"
        kill -TERM "$pid" 2>/dev/null || true
    fi
}

start_haproxy() {
    local conf=$TMP/haproxy.cfg port pid
    port=$(alloc_port)
    cat >"$conf" <<EOF
global
    nbthread $WORKERS
    maxconn 4096
defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend bench
    bind 127.0.0.1:$port
    default_backend backend
backend backend
    server nginx 127.0.0.1:$BACKEND_PORT
EOF
    haproxy -c -q -f "$conf" >"$TMP/haproxy.err" 2>&1 || { show_log "$TMP/haproxy.err"; die "bad haproxy config"; }
    haproxy -db -f "$conf" >"$TMP/haproxy.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_port "haproxy" "$pid" "$port" && check_path "haproxy" "$port"; then
        PORT[haproxy]=$port
        STATUS[haproxy]=ok
    else
        show_log "$TMP/haproxy.err"
        STATUS[haproxy]="n/a (failed to start)"
    fi
}

start_nginx_stream() {
    local conf=$TMP/stream.conf port pid
    port=$(alloc_port)
    cat >"$conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes $WORKERS;
pid $TMP/stream.pid;
error_log $TMP/stream.err warn;
events { worker_connections 16384; }
stream {
    upstream backend { server 127.0.0.1:$BACKEND_PORT; }
    server {
        listen 127.0.0.1:$port$( ((WORKERS > 1)) && echo ' reuseport');
        proxy_pass backend;
    }
}
EOF
    nginx -e "$TMP/stream.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/stream.out" &
    pid=$!
    PIDS+=("$pid")
    if wait_port "nginx stream" "$pid" "$port" && check_path "nginx stream" "$port"; then
        PORT[nginx]=$port
        STATUS[nginx]=ok
    else
        show_log "$TMP/stream.err" "$TMP/stream.out"
        STATUS[nginx]="n/a (failed to start)"
    fi
}

# ---------------------------------------------------------------- measurements
declare -A TP=() RPS=() P99=() ERRS=()  # space-separated samples per path

# measure_throughput PATH: one download of /big; appends MiB/s to TP[PATH].
measure_throughput() {
    local path=$1 out speed size code mib
    out=$(curl -sS -o /dev/null --max-time 300 -w '%{speed_download} %{size_download} %{http_code}' \
        "http://127.0.0.1:${PORT[$path]}/big") || { log "$path: download failed"; return 0; }
    read -r speed size code <<<"$out"
    if [[ $code != 200 || $size != "$BIG_BYTES" ]]; then
        log "$path: download got HTTP $code, $size of $BIG_BYTES bytes: sample dropped"
        return 0
    fi
    mib=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1048576 }')
    TP[$path]+="$mib "
    printf 'throughput %-8s %10s MiB/s\n' "$path" "$mib" >>"$RAW"
}

# to_ms VALUE: wrk's "1.23ms" / "456.78us" / "1.02s" -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# measure_wrk PATH: one wrk run on /tiny; appends req/s and p99 (ms).
measure_wrk() {
    local path=$1 out rps p99 errs
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency \
        "http://127.0.0.1:${PORT[$path]}/tiny" 2>&1) || { log "$path: wrk failed: $out"; return 0; }
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | paste -sd';' || true)
    if [[ -z $rps || -z $p99 ]]; then
        log "$path: could not parse wrk output:"; printf '%s\n' "$out" | sed 's/^/    | /' >&2
        return 0
    fi
    p99=$(to_ms "$p99")
    RPS[$path]+="$rps "
    P99[$path]+="$p99 "
    [[ -n $errs ]] && { ERRS[$path]+="[$errs] "; log "$path: $errs"; }
    printf 'wrk        %-8s %10s req/s  p99 %8s ms %s\n' "$path" "$rps" "$p99" "$errs" >>"$RAW"
}

# for_each_rotated ROUND FUNC: runs FUNC on every live path, starting at
# path number ROUND (mod count), so no path is always first or last.
for_each_rotated() {
    local round=$1 func=$2 live=() i n path
    for path in "${PATHS[@]}"; do [[ ${STATUS[$path]} == ok ]] && live+=("$path"); done
    n=${#live[@]}
    for ((i = 0; i < n; i++)); do
        path=${live[$(((round + i) % n))]}
        log "round $((round + 1)): $func $path"
        "$func" "$path"
    done
}

# ---------------------------------------------------------------- reporting
ratio() { # ratio A B -> "A/B" with 2 decimals, or n/a
    [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'
}
pct() { # pct A B -> "A/B" in percent
    [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.1f%%", 100 * a / b }'
}

print_header() {
    echo "== lbd L4 benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:  nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:  $(haproxy -v 2>&1 | head -n1)"
    echo "nginx:    $(nginx -v 2>&1 | head -n1)"
    echo "wrk:      $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
    echo "curl:     $(curl --version | head -n1 | cut -d' ' -f1-2)"
    echo "lbd:      $LBD ($([[ -x $LBD ]] && { "$LBD" -v 2>&1 | head -n1 || true; } || echo absent); ${STATUS[lbd]})"
    echo "params:   WORKERS=$WORKERS BACKEND_WORKERS=$BACKEND_WORKERS DURATION=${DURATION}s ROUNDS=$ROUNDS" \
         "TP_REPEATS=$TP_REPEATS BIG_SIZE=$BIG_SIZE ($BIG_BYTES bytes, sparse file on tmpfs)"
    echo "          wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency http://127.0.0.1:PORT/tiny"
    echo "          curl -s -o /dev/null -w '%{speed_download}' http://127.0.0.1:PORT/big"
    echo "          haproxy: mode tcp, option splice-auto, nbthread $WORKERS;" \
         "nginx stream: worker_processes $WORKERS$( ((WORKERS > 1)) && echo ', reuseport');" \
         "lbd: workers $WORKERS"
    echo "ports:    backend=$BACKEND_PORT lbd=${PORT[lbd]:--} haproxy=${PORT[haproxy]:--} nginx=${PORT[nginx]:--}"
}

print_results() {
    local path tp rps p99 gbit
    declare -A MTP=() MRPS=()
    echo
    printf '%-9s %12s %10s %12s %10s  %s\n' path "MiB/s" "Gbit/s" "req/s" "p99 ms" "note"
    printf '%-9s %12s %10s %12s %10s\n' --------- ------------ ---------- ------------ ----------
    for path in "${PATHS[@]}"; do
        if [[ ${STATUS[$path]} != ok ]]; then
            printf '%-9s %12s %10s %12s %10s  %s\n' "$path" n/a n/a n/a n/a "${STATUS[$path]}"
            continue
        fi
        tp=$(median "${TP[$path]:-}") rps=$(median "${RPS[$path]:-}") p99=$(median "${P99[$path]:-}")
        MTP[$path]=$tp MRPS[$path]=$rps
        gbit=""
        [[ -n $tp ]] && gbit=$(awk -v m="$tp" 'BEGIN { printf "%.2f", m * 1048576 * 8 / 1e9 }')
        printf '%-9s %12s %10s %12s %10s  %s\n' "$path" "${tp:-n/a}" "${gbit:-n/a}" \
            "$( [[ -n $rps ]] && awk -v r="$rps" 'BEGIN { printf "%.0f", r }' || echo n/a)" \
            "${p99:-n/a}" "${ERRS[$path]:+errors: ${ERRS[$path]}}"
    done
    echo
    echo "medians: throughput of $TP_REPEATS x $BIG_SIZE downloads; req/s and p99 of $ROUNDS wrk rounds"
    echo
    printf '%-22s %10s %10s\n' "ratio to haproxy" "req/s" "throughput"
    for path in lbd nginx direct; do
        printf '%-22s %10s %10s\n' "$path/haproxy" \
            "$(ratio "${MRPS[$path]:-}" "${MRPS[haproxy]:-}")" "$(ratio "${MTP[$path]:-}" "${MTP[haproxy]:-}")"
    done
    echo
    printf '%-22s %10s\n' "lbd vs direct tput" "$(pct "${MTP[lbd]:-}" "${MTP[direct]:-}")"
    printf '%-22s %10s\n' "haproxy vs direct tput" "$(pct "${MTP[haproxy]:-}" "${MTP[direct]:-}")"
    printf '%-22s %10s\n' "nginx vs direct tput" "$(pct "${MTP[nginx]:-}" "${MTP[direct]:-}")"
}

# ---------------------------------------------------------------------- main
main() {
    [[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer"
    ensure_packages
    TMP=$(mktemp -d -p /dev/shm lbd-bench-l4.XXXXXX 2>/dev/null || mktemp -d)
    RAW=${RAW:-$(mktemp "${TMPDIR:-/tmp}/lbd-bench-l4-$(date +%Y%m%d-%H%M%S)-XXXXXX.txt")}

    start_backend
    BIG_BYTES=$(stat -c %s "$TMP/www/big")
    start_lbd
    start_haproxy
    start_nginx_stream

    print_header | tee "$RAW"
    awk '$1 > 0.5 { exit 1 }' /proc/loadavg ||
        log "warning: load average $(cut -d' ' -f1 /proc/loadavg) > 0.5: something else is running, results will be noisy"
    echo "-- raw samples" >>"$RAW"

    local r
    for ((r = 0; r < TP_REPEATS; r++)); do for_each_rotated "$r" measure_throughput; done
    for ((r = 0; r < ROUNDS; r++)); do for_each_rotated "$r" measure_wrk; done

    print_results | tee -a "$RAW"
    echo
    echo "-- raw samples (also in $RAW)"
    sed -n '/^-- raw samples$/,/^$/{/^-- raw/d;p}' "$RAW"
}

main "$@"
