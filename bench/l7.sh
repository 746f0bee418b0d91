#!/usr/bin/env bash
# bench/l7.sh - L7 (HTTP) proxy benchmark: direct vs lbd vs HAProxy vs NGINX.
#
# Puts three HTTP reverse proxies in front of ONE nginx backend, in one run on
# this machine, and measures per path (wrk --latency, ROUNDS rounds, medians):
#   small50   small responses over keep-alive, wrk -c50
#   small500  the same at -c500
#   new50     a new (plain) connection per request, wrk -c50
#   big       1 MiB responses, wrk -c10
#   tls_new   new TLS connections per second, one request each, wrk -c50: wrk
#             resumes its TLS session, so these are abbreviated handshakes
#   tls_full  the same with full handshakes (ECDSA P-256, ECDHE): h2load -c50,
#             TLS_FULL_REQUESTS connections per run, to a TLS listener of each
#             proxy that resumes nothing (no tickets, no session cache): h2load
#             1.52 keeps its SSL and session across reconnects and resumes when
#             the server allows it, so on the resuming listener this row measured
#             abbreviated handshakes
#   tls_ka    requests/s over TLS keep-alive connections, wrk -c50
#   small50_w2, new50_w2  small50 and new50 with a second instance of each proxy
#             running 2 workers (lbd workers: 2, HAProxy nbthread 2, NGINX
#             worker_processes 2), unpinned
# and the memory each proxy spends on an idle keep-alive client connection,
# plain and TLS: the slope of its RSS between IDLE_BASE and IDLE_CONNS open
# connections (one request each, then idle), IDLE_SAMPLES samples, each on a
# freshly started proxy; median and min-max. A slope, not RSS delta / count:
# what a proxy keeps once, whatever the count (free heap left by the last
# connections' requests, say), is in both readings and cancels out.
# Within a round every test visits every path, the first path rotating each
# round, so slow drift on this shared machine hits every path alike.
# With PIN=1 (the default on 2+ CPUs) the 1-worker proxies run on CPU 0 and the
# backend and the load generators (wrk, h2load, the idle client) on the others,
# so a proxy never shares its core with the load it is measured under.
# Every proxy speaks TLS 1.2 and 1.3 (Debian 12's NGINX 1.22 offers only up to
# 1.2 unless told: TLS 1.3 joined its default in 1.23.4).
#
# See bench/README.md. Everything talks to 127.0.0.1 only.
set -euo pipefail

# ---------------------------------------------------------------- parameters
DURATION=${DURATION:-10}              # seconds per wrk run
ROUNDS=${ROUNDS:-3}                   # rounds (each runs every test on every path)
WRK_THREADS=${WRK_THREADS:-1}
IDLE_CONNS=${IDLE_CONNS:-3000}        # idle keep-alive connections for the memory test
IDLE_BASE=${IDLE_BASE:-$((IDLE_CONNS / 3))}  # the lower count of the memory slope
IDLE_SAMPLES=${IDLE_SAMPLES:-5}       # memory samples, each on freshly started proxies
((IDLE_BASE > 0 && IDLE_BASE < IDLE_CONNS)) || { echo "IDLE_BASE must be between 0 and IDLE_CONNS" >&2; exit 2; }
BIG_SIZE=${BIG_SIZE:-1M}              # size of /big (head -c syntax)
# Idle server connections a proxy may keep for reuse: lbd max_idle_per_server,
# nginx upstream keepalive (HAProxy's http-reuse keeps every one). Below the
# client count, a share of the requests pays a connect to the backend.
MAX_IDLE=${MAX_IDLE:-1024}
TESTS=${TESTS:-"small50 small500 new50 big tls_new tls_full tls_ka small50_w2 new50_w2"}
TLS_FULL_REQUESTS=${TLS_FULL_REQUESTS:-10000}  # full handshakes per tls_full run
BASE_PORT=${BASE_PORT:-18500}         # first port tried; busy ones are skipped
START_TIMEOUT=${START_TIMEOUT:-10}    # seconds a server gets to start accepting

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"

PATHS=(direct lbd haproxy nginx)
PROXIES=(lbd haproxy nginx)
# The 2-worker instances, started only when a *_w2 test is asked for.
[[ " $TESTS " == *_w2\ * ]] && PATHS+=(lbd_w2 haproxy_w2 nginx_w2) PROXIES+=(lbd_w2 haproxy_w2 nginx_w2)
# A second lbd binary (say, the previous commit's) measured in the same run as
# path lbd_base, in the same interleaved rounds: old and new side by side.
LBD_BASE=${LBD_BASE:-}
if [[ -n $LBD_BASE ]]; then
    [[ $LBD_BASE = /* ]] || LBD_BASE="$REPO_ROOT/$LBD_BASE"
    PATHS+=(lbd_base)
    PROXIES+=(lbd_base)
    # and on the *_w2 rows, its 2-worker instance
    [[ " $TESTS " == *_w2\ * ]] && PATHS+=(lbd_base_w2) PROXIES+=(lbd_base_w2)
fi

# ------------------------------------------------------------------- helpers
BENCH=l7.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
# shellcheck source=bench/l7_idle.sh
source "$REPO_ROOT/bench/l7_idle.sh"
BACKEND_CPUS=$LOAD_CPUS
IDLE_PID=""
end_idle_client() { [[ -z $IDLE_PID ]] || kill -TERM "$IDLE_PID" 2>/dev/null || true; }
CLEANUP_HOOK=end_idle_client

ensure_packages() {
    local missing
    mapfile -t missing < <(missing_commands haproxy:haproxy nginx:nginx wrk:wrk curl:curl openssl:openssl \
        python3:python3 h2load:nghttp2-client)
    install_missing "${missing[@]}"
}

# ------------------------------------------------------------ backend + proxies
# Per proxy instance: PORT (plain), TLS_PORT (resuming TLS), FULL_PORT (TLS that
# resumes nothing, for tls_full).
# SERVER_PID: the process started (for NGINX the master; RSS_PID is its worker);
# FRESH: 1 until an idle-memory sample has used the instance.
declare -A PORT=() TLS_PORT=() FULL_PORT=() STATUS=() TLS_STATUS=() RSS_PID=() SERVER_PID=() FRESH=()

start_backend() {
    start_nginx_backend 1
    TLS_STATUS[direct]="n/a (the backend speaks plain HTTP)"
}

# workers_of NAME: 2 for the *_w2 instances, else 1; cpus_of NAME: where it runs.
workers_of() { if [[ $1 == *_w2 ]]; then echo 2; else echo 1; fi; }
cpus_of() { [[ $1 == *_w2 ]] || echo "$PROXY_CPUS"; }

# resumes HOST:PORT: whether a second TLS connection resumes the first one's session.
resumes() {
    local sess=$TMP/resume.sess
    rm -f "$sess"
    openssl s_client -connect "$1" -sess_out "$sess" </dev/null >/dev/null 2>&1 || return 1
    openssl s_client -connect "$1" -sess_in "$sess" </dev/null 2>/dev/null | grep -q '^Reused,'
}

# proxy_started NAME PID CONF_LOGS...: waits for the plain and TLS ports; checks
# that the full-handshake port resumes nothing.
proxy_started() {
    local name=$1 pid=$2; shift 2
    if wait_port "$name" "$pid" "${PORT[$name]}" && check_url "$name" "http://127.0.0.1:${PORT[$name]}/tiny"; then
        STATUS[$name]=ok
    else
        show_log "$@"
        STATUS[$name]="n/a (failed to start, see above)"
        TLS_STATUS[$name]="n/a"
        return 0
    fi
    [[ ${TLS_STATUS[$name]:-} == pending ]] || return 0
    if wait_port "$name tls" "$pid" "${TLS_PORT[$name]}" && check_url "$name" "https://127.0.0.1:${TLS_PORT[$name]}/tiny" &&
        wait_port "$name tls" "$pid" "${FULL_PORT[$name]}" && check_url "$name" "https://127.0.0.1:${FULL_PORT[$name]}/tiny"; then
        TLS_STATUS[$name]=ok
        if resumes "127.0.0.1:${FULL_PORT[$name]}"; then
            log "$name resumes sessions on its full-handshake port: its tls_full row would measure abbreviated handshakes"
            TLS_STATUS[$name]="n/a (resumes on the full-handshake port)"
        fi
    else
        show_log "$@"
        TLS_STATUS[$name]="n/a (TLS listener failed, see above)"
    fi
}

start_lbd() { # start_lbd NAME BINARY
    local name=$1 bin=$2 conf=$TMP/$1.conf pid plain tls cert
    if [[ ! -x $bin ]]; then
        log "lbd binary not found at $bin: $name rows will be n/a"
        STATUS[$name]="n/a (no binary at $bin)"
        TLS_STATUS[$name]="n/a"
        return 0
    fi
    alloc_port "PORT[$name]"
    alloc_port "TLS_PORT[$name]"
    alloc_port "FULL_PORT[$name]"
    cert="certificates { cert_file: \"$TMP/cert.pem\" key_file: \"$TMP/key.pem\" }"
    plain="global { workers: $(workers_of "$name") log_level: LOG_LEVEL_WARNING log_connections: false }
listeners { name: \"bench\" bind: \"127.0.0.1:${PORT[$name]}\" mode: MODE_HTTP pool: \"backend\" max_connections: 0 http { max_idle_per_server: $MAX_IDLE } }
pools { name: \"backend\" servers { name: \"nginx\" address: \"127.0.0.1:$BACKEND_PORT\" } }"
    tls="listeners { name: \"bench_tls\" bind: \"127.0.0.1:${TLS_PORT[$name]}\" mode: MODE_HTTP pool: \"backend\" max_connections: 0 http { max_idle_per_server: $MAX_IDLE }
  tls { $cert } }
listeners { name: \"bench_full\" bind: \"127.0.0.1:${FULL_PORT[$name]}\" mode: MODE_HTTP pool: \"backend\" max_connections: 0 http { max_idle_per_server: $MAX_IDLE }
  tls { $cert session_tickets: false session_cache_size: 0 } }"
    printf '%s\n%s\n' "$plain" "$tls" >"$conf"
    if "$bin" -t -c "$conf" >"$TMP/$name.check" 2>&1; then
        TLS_STATUS[$name]=pending
    else
        TLS_STATUS[$name]="skipped (this lbd refuses a tls block: $(head -n1 "$TMP/$name.check"))"
        log "$name: TLS rows skipped: $(head -n1 "$TMP/$name.check")"
        printf '%s\n' "$plain" >"$conf"
    fi
    spawn_on "$(cpus_of "$name")" "$bin" -c "$conf" >"$TMP/$name.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    RSS_PID[$name]=$pid SERVER_PID[$name]=$pid FRESH[$name]=1
    proxy_started "$name" "$pid" "$TMP/$name.err"
}

start_haproxy() { # start_haproxy NAME
    local name=$1 conf=$TMP/$1.cfg pid
    alloc_port "PORT[$name]"
    alloc_port "TLS_PORT[$name]"
    alloc_port "FULL_PORT[$name]"
    # tune.ssl.cachesize is global in HAProxy 2.6: 0 turns its session cache off, so the
    # full-handshake bind (no-tls-tickets) resumes nothing, while the other bind still
    # resumes by ticket, which is how wrk resumes in tls_new.
    cat >"$conf" <<EOF
global
    nbthread $(workers_of "$name")
    maxconn 8000
    tune.ssl.default-dh-param 2048
    tune.ssl.cachesize 0
$(haproxy_defaults)
frontend bench
    bind 127.0.0.1:${PORT[$name]}
    bind 127.0.0.1:${TLS_PORT[$name]} ssl crt $TMP/haproxy.pem
    bind 127.0.0.1:${FULL_PORT[$name]} ssl crt $TMP/haproxy.pem no-tls-tickets
    default_backend backend
backend backend
    server nginx 127.0.0.1:$BACKEND_PORT
EOF
    haproxy -c -q -f "$conf" >"$TMP/$name.err" 2>&1 || { show_log "$TMP/$name.err"; die "bad haproxy config"; }
    spawn_on "$(cpus_of "$name")" haproxy -db -f "$conf" >"$TMP/$name.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    RSS_PID[$name]=$pid SERVER_PID[$name]=$pid FRESH[$name]=1
    TLS_STATUS[$name]=pending
    proxy_started "$name" "$pid" "$TMP/$name.err"
}

start_nginx() { # start_nginx NAME
    local name=$1 conf=$TMP/$1.conf pid reuse=""
    alloc_port "PORT[$name]"
    alloc_port "TLS_PORT[$name]"
    alloc_port "FULL_PORT[$name]"
    mkdir -p "$TMP/$name-tmp"
    [[ $name == *_w2 ]] && reuse=" reuseport"  # one accept queue per worker, as lbd and HAProxy
    cat >"$conf" <<EOF
$(nginx_proxy_head "$name" "$(workers_of "$name")")
    server {
        listen 127.0.0.1:${PORT[$name]}$reuse;
        listen 127.0.0.1:${TLS_PORT[$name]} ssl$reuse;
$(nginx_location)
    }
    server {
        listen 127.0.0.1:${FULL_PORT[$name]} ssl$reuse;
        ssl_session_tickets off;
        ssl_session_cache off;
$(nginx_location)
    }
}
EOF
    spawn_on "$(cpus_of "$name")" nginx -e "$TMP/$name.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/$name.out" &
    pid=$!
    PIDS+=("$pid")
    SERVER_PID[$name]=$pid FRESH[$name]=1
    TLS_STATUS[$name]=pending
    proxy_started "$name" "$pid" "$TMP/$name.err" "$TMP/$name.out"
    RSS_PID[$name]=$(nginx_worker_of "$pid")
}

# restart_proxy NAME: stops the instance and starts it again, on new ports: a heap that
# once held IDLE_CONNS connections would hold the next ones in what they freed.
restart_proxy() {
    local name=$1
    stop_server "${SERVER_PID[$name]}"
    case $name in
        lbd_base*) start_lbd "$name" "$LBD_BASE" ;;
        lbd*) start_lbd "$name" "$LBD" ;;
        haproxy*) start_haproxy "$name" ;;
        nginx*) start_nginx "$name" ;;
    esac
}

# ---------------------------------------------------------------- measurements
declare -A RPS=() P50=() P99=() ERRS=() MEM=() MEM_TLS=()  # space-separated samples per "test path"

# url_of TEST PATH -> the URL wrk hits, or "" when the path cannot run TEST: a *_w2 test
# runs on the 2-worker instances (and direct), every other test on the rest.
url_of() {
    if [[ $1 == *_w2 ]]; then [[ $2 == *_w2 || $2 == direct ]] || return 0
    else [[ $2 != *_w2 ]] || return 0; fi
    case ${1%_w2} in
        small50 | small500 | new50) echo "http://127.0.0.1:${PORT[$2]}/tiny" ;;
        big) echo "http://127.0.0.1:${PORT[$2]}/big" ;;
        tls_new | tls_ka) [[ ${TLS_STATUS[$2]:-} == ok ]] && echo "https://127.0.0.1:${TLS_PORT[$2]}/tiny" ;;
        tls_full) [[ ${TLS_STATUS[$2]:-} == ok ]] && echo "https://127.0.0.1:${FULL_PORT[$2]}/tiny" ;;
    esac
    return 0
}

# reference_of TEST: the path the ratios of TEST's rows divide by.
reference_of() { if [[ $1 == *_w2 ]]; then echo haproxy_w2; else echo haproxy; fi; }

# wrk_args TEST: sets WRK_ARGS to its connections and headers. An array, so that "Connection: close"
# stays one word with its space: wrk 4.1 keeps a -H value only when ": " follows the name, and
# dropped the "Connection:close" this once passed, so new50 and tls_new ran keep-alive.
wrk_args() {
    case ${1%_w2} in
        small50 | tls_ka) WRK_ARGS=(-c50) ;;
        small500) WRK_ARGS=(-c500) ;;
        big) WRK_ARGS=(-c10) ;;
        tls_new | new50) WRK_ARGS=(-c50 -H "Connection: close") ;;
    esac
}

# measure_h2load TEST PATH: one h2load run (tls_full): TLS_FULL_REQUESTS requests with
# "Connection: close" over 50 clients, each reconnecting with a full handshake (the URL is
# the proxy's listener that resumes nothing). p50/p99 from its per-request log (request sent
# to response end).
measure_h2load() {
    local test=$1 path=$2 key="$1 $2" url=$3 out reqlog=$TMP/h2load.log
    out=$(run_on "$LOAD_CPUS" h2load --h1 -c50 -n "$TLS_FULL_REQUESTS" -H "Connection: close" --log-file="$reqlog" "$url" 2>&1) ||
        { log "$key: h2load failed: $out"; return 0; }
    record_h2load "$key" "$(printf '%-6s %-8s' "$test" "$path")" "$out" "$reqlog" ||
        { log "$key: could not parse h2load output:"; printf '%s\n' "$out" | sed 's/^/    | /' >&2; }
    return 0
}

# measure TEST PATH: one wrk run (h2load for tls_full); appends req/s, p50 and p99 (ms).
measure() {
    local test=$1 path=$2 key="$1 $2" url out rps p50 p99 errs
    url=$(url_of "$test" "$path")
    [[ -n $url ]] || return 0
    [[ $test == tls_full ]] && { measure_h2load "$test" "$path" "$url"; return 0; }
    wrk_args "$test"
    # The proxy's CPU and the load CPUs' (bench/lib.sh cpu_mark): for a 1-worker proxy (its
    # process, RSS_PID), not for direct or the 2-worker instances.
    local pid=${RSS_PID[$path]:-}
    [[ $path == *_w2 ]] && pid=""
    [[ -n $pid ]] && cpu_mark "$pid"
    out=$(run_on "$LOAD_CPUS" wrk -t"$WRK_THREADS" "${WRK_ARGS[@]}" -d"${DURATION}s" --latency "$url" 2>&1) ||
        { log "$key: wrk failed: $out"; return 0; }
    CPU_RUN=""
    [[ -z $pid ]] || cpu_record "$key" "$pid"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | paste -sd';' || true)
    if [[ -z $rps || -z $p99 ]]; then
        log "$key: could not parse wrk output:"; printf '%s\n' "$out" | sed 's/^/    | /' >&2
        return 0
    fi
    p50=$(to_ms "$p50") p99=$(to_ms "$p99")
    RPS[$key]+="$rps " P50[$key]+="$p50 " P99[$key]+="$p99 "
    [[ -n $errs ]] && { ERRS[$key]+="[$errs] "; log "$key: $errs"; }
    printf 'wrk %-9s %-8s %10s req/s  p50 %8s ms  p99 %8s ms %s%s\n' "$test" "$path" "$rps" "$p50" "$p99" "$errs" \
        "${CPU_RUN:+  cpu ${CPU_RUN}%}" >>"$RAW"
}

# ---------------------------------------------------------------- reporting
print_header() {
    echo "== lbd L7 benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:  nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:  $(haproxy -v 2>&1 | head -n1)"
    echo "nginx:    $(nginx -v 2>&1 | head -n1)"
    echo "wrk:      $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
    echo "openssl:  $(openssl version)"
    echo "lbd:      $LBD ($([[ -x $LBD ]] && { "$LBD" -v 2>&1 | head -n1 || true; } || echo absent); ${STATUS[lbd]}; TLS ${TLS_STATUS[lbd]})"
    [[ -z $LBD_BASE ]] || echo "lbd_base: $LBD_BASE ($("$LBD_BASE" -v 2>&1 | head -n1 || true); ${STATUS[lbd_base]:-}; TLS ${TLS_STATUS[lbd_base]:-})"
    echo "params:   DURATION=${DURATION}s ROUNDS=$ROUNDS WRK_THREADS=$WRK_THREADS IDLE_CONNS=$IDLE_CONNS IDLE_BASE=$IDLE_BASE"
    echo "          IDLE_SAMPLES=$IDLE_SAMPLES BIG_SIZE=$BIG_SIZE"
    echo "          tests: $TESTS"
    echo "          small50/small500: wrk -c50/-c500 GET /tiny (\"ok\\n\"); new50: the same with -H 'Connection: close';"
    echo "          big: wrk -c10 GET /big;"
    echo "          tls_new: wrk -c50 -H 'Connection: close' https (wrk resumes its TLS session: abbreviated handshakes);"
    echo "          tls_full: h2load --h1 -c50 -n $TLS_FULL_REQUESTS -H 'Connection: close' to a listener without tickets or"
    echo "          session cache (a full ECDSA P-256 handshake each); TLS 1.2 and 1.3 on every proxy;"
    echo "          tls_ka: wrk -c50 https keep-alive; idle: python3 opens IDLE_BASE, then IDLE_CONNS keep-alive connections"
    echo "          lbd: workers 1, MODE_HTTP, log_connections false, max_idle_per_server $MAX_IDLE;"
    echo "          haproxy: mode http, http-reuse always, nbthread 1;"
    echo "          nginx: worker_processes 1, upstream keepalive $MAX_IDLE, access_log off; backend: nginx, 1 worker;"
    echo "          *_w2: the same with 2 workers (lbd workers 2, haproxy nbthread 2, nginx worker_processes 2 reuseport)"
    if [[ $PIN == 1 ]]; then
        echo "pinning:  1-worker proxies on CPU $PROXY_CPUS; backend, wrk, h2load and the idle client on CPUs $LOAD_CPUS; *_w2 unpinned"
    else
        echo "pinning:  none (PIN=0 or a single CPU)"
    fi
    echo "ports:    backend=$BACKEND_PORT lbd=${PORT[lbd]:--}/${TLS_PORT[lbd]:--}/${FULL_PORT[lbd]:--}" \
         "haproxy=${PORT[haproxy]:--}/${TLS_PORT[haproxy]:--}/${FULL_PORT[haproxy]:--}" \
         "nginx=${PORT[nginx]:--}/${TLS_PORT[nginx]:--}/${FULL_PORT[nginx]:--} (plain/tls/tls without resumption)"
}

print_results() {
    local test path key rps p50 p99 note ref
    declare -A MRPS=() MP99=()
    echo
    printf '%-10s %-10s %9s %13s %9s %9s %8s %8s  %s\n' test path "req/s" "min-max" "p50 ms" "p99 ms" "rps/hap" "p99/hap" note
    printf '%-10s %-10s %9s %13s %9s %9s %8s %8s\n' ---------- ---------- --------- ------------- --------- --------- -------- --------
    for test in $TESTS; do
        ref=$(reference_of "$test")
        for path in "${PATHS[@]}"; do
            key="$test $path"
            MRPS[$key]=$(median "${RPS[$key]:-}") MP99[$key]=$(median "${P99[$key]:-}")
        done
        for path in "${PATHS[@]}"; do
            key="$test $path"
            # the *_w2 rows: the 2-worker instances and direct; the others: the rest
            if [[ $test == *_w2 ]]; then [[ $path == *_w2 || $path == direct ]] || continue
            else [[ $path != *_w2 ]] || continue; fi
            rps=${MRPS[$key]} p99=${MP99[$key]} p50=$(median "${P50[$key]:-}")
            note=$(cpu_note "$key")
            note+=${ERRS[$key]:+ errors: ${ERRS[$key]}}
            if [[ -z $rps ]]; then
                [[ ${STATUS[$path]} != ok ]] && note=${STATUS[$path]}
                [[ $test == tls_* && ${STATUS[$path]} == ok ]] && note=${TLS_STATUS[$path]}
            fi
            printf '%-10s %-10s %9s %13s %9s %9s %8s %8s  %s\n' "$test" "$path" \
                "$( [[ -n $rps ]] && awk -v r="$rps" 'BEGIN { printf "%.0f", r }' || echo n/a)" \
                "$(spread "${RPS[$key]:-}")" "${p50:-n/a}" "${p99:-n/a}" "$(ratio "$rps" "${MRPS[$test $ref]}")" \
                "$(ratio "$p99" "${MP99[$test $ref]}")" "$note"
        done
    done
    echo
    echo "medians of $ROUNDS rounds of ${DURATION}s, min-max of the rounds beside them; rps/hap and p99/hap: ratio to"
    echo "HAProxy (to HAProxy with 2 threads on the *_w2 rows; req/s: higher is better; p99: lower);"
    cpu_legend wrk
    print_idle_results
}

# ---------------------------------------------------------------------- main
main() {
    ensure_packages
    bench_start l7

    make_cert
    write_idle_client
    start_backend
    start_lbd lbd "$LBD"
    [[ -z $LBD_BASE ]] || start_lbd lbd_base "$LBD_BASE"
    start_haproxy haproxy
    start_nginx nginx
    if [[ " ${PATHS[*]} " == *" lbd_w2 "* ]]; then
        start_lbd lbd_w2 "$LBD"
        start_haproxy haproxy_w2
        start_nginx nginx_w2
        [[ -z $LBD_BASE ]] || start_lbd lbd_base_w2 "$LBD_BASE"
    fi

    print_header | tee "$RAW"
    warn_if_busy
    echo "-- raw samples" >>"$RAW"

    local r s test
    # Idle memory first, each sample on fresh proxies: a heap grown under wrk, or by an
    # earlier sample, would hold the connections in memory it freed, hiding the cost.
    for ((s = 0; s < IDLE_SAMPLES; s++)); do
        for_each_rotated "$s" measure_idle
        for_each_rotated "$s" measure_idle tls
    done
    for ((r = 0; r < ROUNDS; r++)); do
        for test in $TESTS; do for_each_rotated "$r" measure "$test"; done
    done

    print_results | tee -a "$RAW"
    echo
    echo "-- raw samples (also in $RAW)"
    sed -n '/^-- raw samples$/,/^$/{/^-- raw/d;p}' "$RAW"
}

main "$@"
