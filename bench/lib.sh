# bench/lib.sh - helpers shared by the bench/*.sh scripts (sourced).
#
# The sourcing script sets BENCH (its name, for log lines) and uses:
#   TMP, PIDS          its temp dir and the servers it started: `cleanup`
#                      (installed as the EXIT trap here) stops and removes them;
#   PATHS, STATUS      the paths measured and "ok" for those that came up,
#                      for for_each_rotated.
# Everything talks to 127.0.0.1 only.

log() { printf '[%s] %s\n' "$BENCH" "$*" >&2; }
die() { log "error: $*"; exit 1; }

TMP=""
PIDS=()
CLEANUP_HOOK=:  # run first by cleanup (e.g. to end a client the script holds)
# reap PID: waits up to 5 s for a server told to stop, then kills it.
reap() {
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local pid
    trap - EXIT INT TERM
    "$CLEANUP_HOOK"
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do reap "$pid"; done
    [[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
    return 0
}
# stop_server PID: stops one server of PIDS before the end and forgets it, so
# cleanup never signals its number once the kernel has given it to another process.
stop_server() {
    local pid kept=()
    kill -TERM "$1" 2>/dev/null || true
    reap "$1"
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# install_missing PKG...: apt-get install of the Debian packages given (none: nothing).
install_missing() {
    (($# == 0)) && return 0
    log "installing missing Debian packages: $*"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# missing_commands CMD:PKG...: prints the packages of the commands not on PATH.
missing_commands() {
    local pair
    for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || echo "${pair#*:}"; done
}

# run_on CPUS CMD...: CMD pinned to the CPU list CPUS (taskset), or unpinned when CPUS is "".
run_on() {
    local cpus=$1; shift
    if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}
# spawn_on CPUS CMD... &: the same for a server started in the background; it execs, so $!
# is the server's own pid (for kill and for its RSS).
spawn_on() {
    local cpus=$1; shift
    if [[ -n $cpus ]]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

NEXT_PORT=${BASE_PORT:-18400}
# alloc_port VAR: sets VAR to a port nobody listens on (from BASE_PORT upward).
# Not "$(alloc_port)": the subshell would lose NEXT_PORT, and a server may take
# two ports before it listens on either.
alloc_port() {
    while port_busy "$NEXT_PORT" || ss -Htln "sport = :$NEXT_PORT" 2>/dev/null | grep -q .; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    printf -v "$1" '%s' "$NEXT_PORT"
    NEXT_PORT=$((NEXT_PORT + 1))
}

# wait_port NAME PID PORT: polls until PORT accepts, PID dies, or START_TIMEOUT.
wait_port() {
    local name=$1 pid=$2 port=$3 deadline=$((SECONDS + ${START_TIMEOUT:-10}))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before accepting on :$port"
            return 1
        fi
        port_busy "$port" && return 0
        sleep 0.05
    done
    log "$name not accepting on :$port after ${START_TIMEOUT:-10}s"
    return 1
}

# check_url NAME URL: one GET must answer "ok" (optionally followed by a newline).
check_url() {
    local body
    body=$(curl -fsSk --max-time 5 "$2" 2>&1) || { log "$1: $2 failed: $body"; return 1; }
    [[ $body == ok ]] || { log "$1: $2 answered '$body'"; return 1; }
}

show_log() { # show_log FILE...: last lines of a server's logs
    local f
    for f in "$@"; do [[ -s $f ]] && tail -n 20 "$f" | sed 's/^/    | /' >&2; done
    return 0
}

# nginx_common DIR: the lines every nginx http{} of the benches shares: no
# access log, long keep-alive, temp paths in DIR.
nginx_common() {
    cat <<EOF
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
EOF
}

# nginx_proxy_head NAME WORKERS: the start of an NGINX proxy's config (temp files
# under TMP/NAME*), up to and with the upstream "backend" (BACKEND_PORT, MAX_IDLE
# kept connections); the caller adds its servers and the closing brace of http{}.
nginx_proxy_head() {
    cat <<EOF
worker_processes $2;
pid $TMP/$1.pid;
error_log $TMP/$1.err warn;
events { worker_connections 16384; }
http {
$(nginx_common "$TMP/$1-tmp")
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive $MAX_IDLE;
        keepalive_requests 100000000;
    }
EOF
}

# nginx_location: the proxying every NGINX server of the benches does.
nginx_location() {
    cat <<EOF
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
}

# haproxy_defaults: the defaults section of every HAProxy of the L7 benches.
haproxy_defaults() {
    cat <<EOF
defaults
    mode http
    http-reuse always
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
EOF
}

# bench_start NAME: TMP (a fresh temp dir, on tmpfs if it can), RAW (where the report is
# kept, unless set) and as many open files as allowed.
bench_start() {
    TMP=$(mktemp -d -p /dev/shm "lbd-bench-$1.XXXXXX" 2>/dev/null || mktemp -d)
    RAW=${RAW:-$(mktemp "${TMPDIR:-/tmp}/lbd-bench-$1-$(date +%Y%m%d-%H%M%S)-XXXXXX.txt")}
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

# warn_if_busy: says so when something else keeps the machine busy.
warn_if_busy() {
    awk '$1 > 0.5 { exit 1 }' /proc/loadavg ||
        log "warning: load average $(cut -d' ' -f1 /proc/loadavg) > 0.5: something else is running, results will be noisy"
}

# record_h2load KEY LABEL OUTPUT LOG: h2load's figures (h2load_figures) appended to the
# samples of KEY in RPS, P50 and P99 (failed requests to ERRS, and said), and a line to RAW
# starting "h2load LABEL"; false, recording nothing, when OUTPUT has no figures.
record_h2load() {
    local key=$1 label=$2 rps failed p50 p99
    read -r rps failed p50 p99 < <(h2load_figures "$3" "$4") || true
    [[ -n ${rps:-} && -n ${p99:-} ]] || return 1
    RPS[$key]+="$rps " P50[$key]+="$p50 " P99[$key]+="$p99 "
    [[ ${failed:-0} != 0 ]] && { ERRS[$key]+="[$failed failed] "; log "$key: $failed requests failed"; }
    printf 'h2load %s %10s req/s  p50 %8s ms  p99 %8s ms %s\n' "$label" "$rps" "$p50" "$p99" \
        "$([[ ${failed:-0} != 0 ]] && echo "failed $failed")" >>"$RAW"
}

# h2load_figures OUTPUT LOG: "REQ/S FAILED P50_MS P99_MS" from h2load's output and its
# --log-file (column 3: microseconds from request sent to response end); nothing when no
# request ended or the output is not understood.
h2load_figures() {
    local rps failed p50 p99
    rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$1")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$1")
    read -r p50 p99 < <(cut -f3 "$2" | sort -n |
        awk '{ a[NR] = $1 } END { if (NR) printf "%.3f %.3f\n", a[int((NR + 1) * 0.5)] / 1000, a[int(NR * 0.99)] / 1000 }') ||
        return 0
    [[ -n $rps && -n $p99 ]] && echo "$rps ${failed:-0} $p50 $p99"
    return 0
}

median() { # median of the space-separated numbers in "$*" ("" if none)
    tr -s ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{v[NR] = $1}
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# to_ms VALUE: wrk's "1.23ms" / "456.78us" / "1.02s" -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# make_cert: an ECDSA P-256 self-signed certificate for 127.0.0.1 in TMP
# (cert.pem, key.pem, and haproxy.pem: both in one file).
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=bench.test -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
    cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/haproxy.pem"
}

# strace_during PID OUT CMD...: runs CMD with `strace -c -f` attached to PID; the counts go to OUT.
strace_during() {
    local pid=$1 out=$2 spid
    shift 2
    strace -c -f -p "$pid" -o "$out" &
    spid=$!
    sleep 1  # strace attaches (no output to poll for)
    "$@"
    kill -INT "$spid"
    wait "$spid" 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# nginx_worker_of PID: the pid of the (first) worker of the nginx master PID,
# whose memory is the one that matters (the master holds no connections); ""
# if none showed up within 5 s.
nginx_worker_of() {
    local i worker=""
    for ((i = 0; i < 50; i++)); do
        worker=$(pgrep -P "$1" | head -n1 || true)
        [[ -n $worker ]] && break
        sleep 0.1
    done
    echo "$worker"
}

# spread SAMPLES: "min-max" of the samples, rounded ("" if none).
spread() {
    tr -s ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR) printf "%.0f-%.0f", lo, hi }'
}

ratio() { # ratio A B -> "A/B" with 2 decimals, or n/a
    [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'
}

# for_each_rotated ROUND FUNC [ARG...]: runs FUNC ARG... PATH on every live
# path, starting at path number ROUND (mod count), so no path is always
# first or last.
for_each_rotated() {
    local round=$1 func=$2 live=() i n path
    shift 2
    for path in "${PATHS[@]}"; do [[ ${STATUS[$path]} == ok ]] && live+=("$path"); done
    n=${#live[@]}
    for ((i = 0; i < n; i++)); do
        path=${live[$(((round + i) % n))]}
        log "round $((round + 1)): $func${*:+ $*} $path"
        "$func" "$@" "$path"
    done
}

# start_nginx_backend WORKERS: the nginx that both benchmarks put behind the
# proxies, on a free port: /tiny answers "ok\n", /big sends BIG_SIZE bytes.
# Sets BACKEND_PORT, PORT[direct] and STATUS[direct] (the caller declares
# PORT and STATUS as associative arrays). BACKEND_CPUS, if set, pins it. /backend_status is
# nginx's stub_status (backend_requests: the requests it has served).
start_nginx_backend() {
    local workers=$1 conf=$TMP/backend.conf port
    alloc_port port
    mkdir -p "$TMP/www" "$TMP/backend-tmp"
    # Sparse file on tmpfs: reads of holes come from the shared zero page, so
    # the backend's sendfile costs almost no memory and no disk.
    truncate -s "$BIG_SIZE" "$TMP/www/big"
    chmod 755 "$TMP" "$TMP/www"
    chmod 644 "$TMP/www/big"
    cat >"$conf" <<EOF
worker_processes $workers;
pid $TMP/backend.pid;
error_log $TMP/backend.err warn;
events { worker_connections 16384; }
http {
$(nginx_common "$TMP/backend-tmp")
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port$( ((workers > 1)) && echo ' reuseport');
        root $TMP/www;
        location = /tiny { return 200 "ok\n"; }
        location = /big { }
        location = /backend_status { stub_status; }
    }
}
EOF
    spawn_on "${BACKEND_CPUS:-}" nginx -e "$TMP/backend.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/backend.out" &
    PIDS+=($!)
    wait_port "nginx backend" $! "$port" || { show_log "$TMP/backend.err" "$TMP/backend.out"; die "backend did not start"; }
    check_url backend "http://127.0.0.1:$port/tiny" || { show_log "$TMP/backend.err" "$TMP/backend.out"; die "backend does not answer /tiny"; }
    BACKEND_PORT=$port
    PORT[direct]=$port
    STATUS[direct]=ok
}

backend_requests() { curl -s "http://127.0.0.1:$BACKEND_PORT/backend_status" | awk 'NR == 3 { print $3 }'; }

# nginx_main NAME: the top of an nginx.conf for one worker whose pid and error log are
# TMP/NAME.pid and TMP/NAME.err.
nginx_main() {
    cat <<EOF2
worker_processes 1;
pid $TMP/$1.pid;
error_log $TMP/$1.err warn;
events { worker_connections 16384; }
EOF2
}

# start_cache_origin SMALL_SIZE BIG_SIZE TTL: the nginx origin of the cache benchmarks
# (cache.sh, cache_cost.sh) on a free port, pinned to LOAD_CPUS if set: /small and /big of
# those sizes with Cache-Control: max-age=TTL, and /miss/... answering "miss" with no-store.
# It logs each request's path to ORIGIN_LOG (origin_count). Sets ORIGIN_PORT.
ORIGIN_LOG=""
start_cache_origin() {
    local conf=$TMP/origin.conf
    alloc_port ORIGIN_PORT
    ORIGIN_LOG=$TMP/origin.log
    mkdir -p "$TMP/www" "$TMP/origin-tmp"
    head -c "$1" /dev/zero | tr '\0' s >"$TMP/www/small"
    head -c "$2" /dev/zero | tr '\0' b >"$TMP/www/big"
    chmod 755 "$TMP" "$TMP/www"
    chmod 644 "$TMP/www/"*
    cat >"$conf" <<EOF2
$(nginx_main origin)
http {
$(nginx_common "$TMP/origin-tmp")
    log_format uri_only '\$uri';
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $TMP/www;
        access_log $ORIGIN_LOG uri_only;
        location = /small { add_header Cache-Control "max-age=$3"; }
        location = /big { add_header Cache-Control "max-age=$3"; }
        location /miss/ { add_header Cache-Control "no-store" always; return 200 "miss\n"; }
    }
}
EOF2
    spawn_on "${LOAD_CPUS:-}" nginx -e "$TMP/origin.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/origin.out" &
    PIDS+=($!)
    wait_port origin $! "$ORIGIN_PORT" || { show_log "$TMP/origin.err" "$TMP/origin.out"; die "origin did not start"; }
}

# origin_count PATH: the requests start_cache_origin's nginx logged for PATH (it writes per request).
origin_count() { grep -cx -- "$1" "$ORIGIN_LOG" || true; }

# Pinning, for every bench that sources this: PIN=1 (the default on 2+ CPUs) puts the proxies
# on CPU 0 (PROXY_CPUS) and load generators and backends on the others (LOAD_CPUS); PIN=0
# leaves both empty (unpinned). For run_on and spawn_on.
PIN=${PIN:-auto}
if [[ $PIN == auto ]]; then PIN=0; (($(nproc) >= 2)) && PIN=1; fi
# shellcheck disable=SC2034  # read by the scripts that source this
PROXY_CPUS="" LOAD_CPUS=""
# shellcheck disable=SC2034
if [[ $PIN == 1 ]]; then PROXY_CPUS=0 LOAD_CPUS=1-$(($(nproc) - 1)); fi

# cpu_ticks PID: the CPU a process has used (utime + stime, all its threads), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# What bound a load run: the proxy's own CPU (% of one core) and how busy the load generators'
# CPUs were (LOAD_CPUS, "A-B"; every CPU when unpinned), from cpu_mark PID to cpu_record KEY PID,
# which appends both to PCPU[KEY] and LCPU[KEY] and leaves "P/L" in CPU_RUN; cpu_note KEY gives
# their medians for a report, cpu_legend LOADGEN the line that explains them. On this 2-core
# machine a row whose load CPUs are near 100% while the proxy's core is not is bound by the load
# side (the load generator and the backend), whatever the proxy does. A process gone meanwhile
# counts 0 (its run failed and says so).
declare -A PCPU=() LCPU=()
CPU_RUN=""
load_cpu_ticks() { # "ALL IDLE" jiffies of LOAD_CPUS
    awk -v range="$LOAD_CPUS" 'BEGIN { n = split(range, r, "-"); lo = n ? r[1] : 0; hi = n > 1 ? r[2] : (n ? r[1] : 1e9) }
        $1 ~ /^cpu[0-9]+$/ { id = substr($1, 4) + 0; if (id < lo || id > hi) next
            for (i = 2; i <= NF; i++) all += $i; idle += $5 + $6 }
        END { print all + 0, idle + 0 }' /proc/stat
}
cpu_mark() { CPU_MARK=("$(date +%s%N)" "$(cpu_ticks "$1" 2>/dev/null || echo 0)" "$(load_cpu_ticks)"); }
cpu_record() {
    local now ticks load proxy_cpu load_cpu
    now=$(date +%s%N) ticks=$(cpu_ticks "$2" 2>/dev/null || echo 0) load=$(load_cpu_ticks)
    read -r proxy_cpu load_cpu < <(awk -v t0="${CPU_MARK[0]}" -v t1="$now" -v p0="${CPU_MARK[1]}" -v p1="$ticks" \
        -v l0="${CPU_MARK[2]}" -v l1="$load" -v hz="$(getconf CLK_TCK)" 'BEGIN { split(l0, a, " "); split(l1, b, " ")
            secs = (t1 - t0) / 1e9; all = b[1] - a[1]
            printf "%.0f %.0f\n", (secs > 0 ? 100 * (p1 - p0) / hz / secs : 0), (all > 0 ? 100 * (1 - (b[2] - a[2]) / all) : 0) }')
    PCPU[$1]+="$proxy_cpu " LCPU[$1]+="$load_cpu "
    CPU_RUN="$proxy_cpu/$load_cpu"
}
cpu_note() { [[ -z ${PCPU[$1]:-} ]] || echo "cpu $(median "${PCPU[$1]}")/$(median "${LCPU[$1]}")%"; }
cpu_legend() {
    echo "cpu P/L%: medians of the proxy's CPU (% of one core) and of the load CPUs' busy share ($1 and the"
    echo "backend${LOAD_CPUS:+ on CPUs $LOAD_CPUS}): a row with L near 100 and P well below is bound by the load side"
}

# start_cost_proxy PROXY [WRAPPER...]: the cost scripts' proxy (lbd or lbd_base from TMP/lbd.conf, or
# haproxy, or nginx with master_process off) under WRAPPER (e.g. valgrind), in the foreground of its one
# process on PROXY_CPUS; waits until it listens on PROXY_PORT and answers URL. Sets PID, adds it to PIDS.
start_cost_proxy() {
    local proxy=$1; shift
    case $proxy in
        lbd) spawn_on "$PROXY_CPUS" "$@" "$LBD" -c "$TMP/lbd.conf" >"$TMP/$proxy.err" 2>&1 & ;;
        lbd_base) spawn_on "$PROXY_CPUS" "$@" "$LBD_BASE" -c "$TMP/lbd.conf" >"$TMP/$proxy.err" 2>&1 & ;;
        haproxy) spawn_on "$PROXY_CPUS" "$@" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/$proxy.err" 2>&1 & ;;
        nginx) spawn_on "$PROXY_CPUS" "$@" nginx -e "$TMP/nginx.err" -p "$TMP" -c "$TMP/nginx.conf" \
            -g 'daemon off; master_process off;' >"$TMP/$proxy.err" 2>&1 & ;;
        *) die "unknown proxy $proxy (lbd, lbd_base, haproxy, nginx)" ;;
    esac
    PID=$!
    PIDS+=("$PID")
    wait_port "$proxy" "$PID" "$PROXY_PORT" || { show_log "$TMP/$proxy.err"; die "$proxy did not start"; }
    check_url "$proxy" "$URL" || die "$proxy does not answer at $URL"
}
