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
# A second lbd binary (say, the previous commit's) measured in the same run as
# path lbd_base, in the same interleaved rounds: old and new side by side.
LBD_BASE=${LBD_BASE:-}
if [[ -n $LBD_BASE ]]; then
    [[ $LBD_BASE = /* ]] || LBD_BASE="$REPO_ROOT/$LBD_BASE"
    PATHS+=(lbd_base)
fi

# ------------------------------------------------------------------- helpers
BENCH=l4.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

ensure_packages() {
    local missing
    mapfile -t missing < <(missing_commands haproxy:haproxy nginx:nginx wrk:wrk curl:curl)
    [[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || missing+=(libnginx-mod-stream)
    install_missing "${missing[@]}"
}

check_path() { check_url "$1" "http://127.0.0.1:$2/tiny"; }  # NAME PORT: /tiny answers "ok"

# ------------------------------------------------------------ backend + proxies
declare -A PORT=() STATUS=()

start_backend() { start_nginx_backend "$BACKEND_WORKERS"; }

start_lbd() { # start_lbd NAME BINARY
    local name=$1 bin=$2 conf=$TMP/$1.conf port pid
    if [[ ! -x $bin ]]; then
        log "lbd binary not found at $bin: $name row will be n/a"
        STATUS[$name]="n/a (no binary at $bin)"
        return 0
    fi
    alloc_port port
    cat >"$conf" <<EOF
global { workers: $WORKERS log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: "bench" bind: "127.0.0.1:$port" pool: "backend" max_connections: 0 }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
    # shellcheck disable=SC2086  # LBD_ARGS is a word list on purpose
    "$bin" $LBD_ARGS "$conf" >"$TMP/$name.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_port "$name" "$pid" "$port" && check_path "$name" "$port"; then
        PORT[$name]=$port
        STATUS[$name]=ok
    else
        show_log "$TMP/$name.err"
        STATUS[$name]="n/a (failed to start, see above)"
        kill -TERM "$pid" 2>/dev/null || true
    fi
}

start_haproxy() {
    local conf=$TMP/haproxy.cfg port pid
    alloc_port port
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
    alloc_port port
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

# ---------------------------------------------------------------- reporting
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
    [[ -z $LBD_BASE ]] || echo "lbd_base: $LBD_BASE ($("$LBD_BASE" -v 2>&1 | head -n1 || true); ${STATUS[lbd_base]:-})"
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
    for path in lbd ${LBD_BASE:+lbd_base} nginx direct; do
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
    start_lbd lbd "$LBD"
    [[ -z $LBD_BASE ]] || start_lbd lbd_base "$LBD_BASE"
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
