#!/usr/bin/env bash
# bench/cache.sh - response cache hits: lbd (cache zone) vs Varnish vs NGINX proxy_cache.
#
# One nginx origin serves a small object (/small, SMALL_SIZE bytes) and a 100 KiB one (/big),
# both with Cache-Control: max-age=TTL, and uncacheable unique URLs (/miss/..., no-store).
# Three caches sit in front, one process or worker each, the same TTL from the origin's header:
#   lbd      a cache zone on its one route (workers: 1)
#   varnish  varnishd 7.1 -F, its own -n workdir, -s malloc, a VCL that only adds X-Cache
#   nginx    proxy_cache (worker_processes 1), its cache directory under the temp dir
# Tests (TESTS, wrk --latency, DURATION s each, ROUNDS interleaved rounds, the first proxy
# rotating each round):
#   small50 small500   /small at wrk -c50 / -c500: every request a hit
#   big50 big500       /big (100 KiB) at -c50 / -c500
#   mix50 mix500       90% /small (hits), 10% a unique /miss/N the cache must fetch (a wrk Lua script)
# Reported per test and proxy: req/s and p99 as min/median/max over the rounds, and the median's
# ratio to Varnish's. Before measuring, each proxy must answer a second GET of /small and /big
# as a hit (X-Cache: HIT; Varnish also Age and two ids in X-Varnish); after each run the origin
# must not have seen more requests for /small or /big (every request of those runs was a hit),
# else the script stops with an error.
# With PIN=1 (the default on 2+ CPUs) the proxies run on CPU 0, the origin and wrk on the others.
# See bench/README.md. Everything talks to 127.0.0.1 only.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-"small50 small500 big50 big500 mix50 mix500"}
WRK_THREADS=${WRK_THREADS:-1}
TTL=${TTL:-3600}
SMALL_SIZE=${SMALL_SIZE:-200}
BIG_SIZE=${BIG_SIZE:-102400}
BASE_PORT=${BASE_PORT:-18800}
START_TIMEOUT=${START_TIMEOUT:-10}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"
[[ -x $LBD ]] || { echo "cache.sh: no lbd at $LBD (build it, or LBD=path)" >&2; exit 1; }

BENCH=cache.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
declare -A PORT=() STATUS=()
PATHS=(lbd varnish nginx)

TMP=$(mktemp -d /tmp/lbd-bench-cache.XXXXXX)
chmod 755 "$TMP"
mapfile -t missing < <(missing_commands nginx:nginx wrk:wrk curl:curl varnishd:varnish)
install_missing "${missing[@]}"

start_lbd() {
    local conf=$TMP/lbd.conf
    alloc_port "PORT[lbd]"
    cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false
  cache_zones { name: "bench" max_bytes: 268435456 max_object_bytes: 1048576 } }
listeners { name: "bench" bind: "127.0.0.1:${PORT[lbd]}" mode: MODE_HTTP max_connections: 0
  http { max_idle_per_server: 1024 routes { pool: "origin" cache { zone: "bench" } } } }
pools { name: "origin" servers { name: "nginx" address: "127.0.0.1:$ORIGIN_PORT" } }
EOF
    spawn_on "$PROXY_CPUS" "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 &
    PIDS+=($!)
    wait_port lbd $! "${PORT[lbd]}" || { show_log "$TMP/lbd.err"; die "lbd did not start"; }
}

start_varnish() {
    local vcl=$TMP/varnish.vcl
    alloc_port "PORT[varnish]"
    # The TTL comes from the origin's Cache-Control, as for the others; the VCL only labels hits.
    cat >"$vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$ORIGIN_PORT"; }
sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
EOF
    # -j none: no privilege separation, so the workdir under TMP needs no other user.
    spawn_on "$PROXY_CPUS" varnishd -F -j none -n "$TMP/varnish" -a "127.0.0.1:${PORT[varnish]}" -f "$vcl" \
        -s malloc,256m -p default_ttl="$TTL" >"$TMP/varnish.out" 2>&1 &
    PIDS+=($!)
    wait_port varnish $! "${PORT[varnish]}" || { show_log "$TMP/varnish.out"; die "varnish did not start"; }
}

start_nginx() {
    local conf=$TMP/nginx.conf
    alloc_port "PORT[nginx]"
    mkdir -p "$TMP/nginx-tmp" "$TMP/nginx-cache"
    cat >"$conf" <<EOF
$(nginx_main nginx)
http {
$(nginx_common "$TMP/nginx-tmp")
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 1024; }
    proxy_cache_path $TMP/nginx-cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=${TTL}s use_temp_path=off;
    server {
        listen 127.0.0.1:${PORT[nginx]};
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF
    spawn_on "$PROXY_CPUS" nginx -e "$TMP/nginx.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/nginx.out" &
    PIDS+=($!)
    wait_port nginx $! "${PORT[nginx]}" || { show_log "$TMP/nginx.err"; die "nginx did not start"; }
}

# check_hits PROXY: a GET of /small and /big (filling), then another must be a hit of the
# right size; the origin must have seen one request for each. Dies otherwise.
check_hits() {
    local proxy=$1 path before headers size want
    for path in /small /big; do
        before=$(origin_count "$path")
        curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$proxy]}$path" || die "$proxy: GET $path failed"
        headers=$(curl -fsS -D - -o "$TMP/body" "http://127.0.0.1:${PORT[$proxy]}$path") || die "$proxy: GET $path failed"
        size=$(stat -c %s "$TMP/body")
        want=$(stat -c %s "$TMP/www${path}")
        [[ $size == "$want" ]] || die "$proxy: $path gave $size bytes, not $want"
        grep -qi '^X-Cache: HIT' <<<"$headers" || die "$proxy: second GET $path not a hit: $(tr -d '\r' <<<"$headers" | tr '\n' '|')"
        if [[ $proxy == varnish ]]; then
            grep -qiE '^X-Varnish: [0-9]+ [0-9]+' <<<"$headers" || die "varnish: X-Varnish shows no hit on $path"
            grep -qi '^Age:' <<<"$headers" || die "varnish: no Age on $path"
        fi
        (($(origin_count "$path") - before <= 1)) || die "$proxy: the origin saw $(($(origin_count "$path") - before)) requests for $path, not 1"
    done
    log "$proxy serves hits"
}

# The 90%-hit mix: every tenth request is a URL never seen before (the origin says no-store).
cat >"$TMP/mix.lua" <<'EOF'
local n = 0
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
request = function()
    n = n + 1
    if n % 10 == 0 then return wrk.format("GET", "/miss/" .. prefix .. "-" .. n) end
    return wrk.format("GET", "/small")
end
EOF

RAW=$TMP/raw
# measure TEST PROXY: one wrk run; appends "test proxy req/s p99_ms" to RAW. Dies when the
# origin saw a request for /small or /big meanwhile (something was not a hit).
measure() {
    local test=$1 proxy=$2 conns=${1//[a-z]/} path args=() out rps p99 small big
    case $test in
        small*) path=/small ;;
        big*) path=/big ;;
        mix*) path=/small args=(-s "$TMP/mix.lua") ;;
        *) die "unknown test $test" ;;
    esac
    small=$(origin_count /small) big=$(origin_count /big)
    out=$(run_on "$LOAD_CPUS" wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency "${args[@]}" \
        "http://127.0.0.1:${PORT[$proxy]}$path" 2>&1) || die "$proxy $test: wrk failed: $out"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && log "$proxy $test: $(grep 'Non-2xx\|Socket errors' <<<"$out")"
    [[ $(origin_count /small) == "$small" && $(origin_count /big) == "$big" ]] ||
        die "$proxy $test: the origin saw requests for /small or /big during the run: not every request was a hit"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    printf '%s %s %s %s\n' "$test" "$proxy" "$rps" "$p99" >>"$RAW"
}

# spread TEST PROXY COLUMN: "min/median/max" of a RAW column (3: req/s, 4: p99).
values() { awk -v t="$1" -v p="$2" -v c="$3" '$1 == t && $2 == p { print $c }' "$RAW"; }
spread() {
    local v
    v=$(values "$@")
    [[ -n $v ]] || { echo n/a; return; }
    printf '%s/%s/%s' "$(sort -g <<<"$v" | head -n1)" "$(median "$v")" "$(sort -g <<<"$v" | tail -n1)"
}

start_cache_origin "$SMALL_SIZE" "$BIG_SIZE" "$TTL"
start_lbd
start_varnish
start_nginx
for p in "${PATHS[@]}"; do check_hits "$p"; STATUS[$p]=ok; done
: >"$RAW"
for ((round = 0; round < ROUNDS; round++)); do
    for test in $TESTS; do for_each_rotated "$round" measure "$test"; done
done

printf '\ncache hits, %s s x %s rounds, wrk -t%s, one worker/process each, %s\n' "$DURATION" "$ROUNDS" \
    "$WRK_THREADS" "$([[ $PIN == 1 ]] && echo "proxies on CPU $PROXY_CPUS, origin and wrk on $LOAD_CPUS" || echo unpinned)"
printf '%s\n' "$(varnishd -V 2>&1 | head -n1); $(nginx -v 2>&1)"
printf '%-9s %-8s %26s %22s %9s %9s\n' test proxy "req/s min/med/max" "p99_ms min/med/max" "rps/varn" "p99/varn"
for test in $TESTS; do
    for proxy in "${PATHS[@]}"; do
        printf '%-9s %-8s %26s %22s %9s %9s\n' "$test" "$proxy" "$(spread "$test" "$proxy" 3)" \
            "$(spread "$test" "$proxy" 4)" \
            "$(ratio "$(median "$(values "$test" "$proxy" 3)")" "$(median "$(values "$test" varnish 3)")")" \
            "$(ratio "$(median "$(values "$test" "$proxy" 4)")" "$(median "$(values "$test" varnish 4)")")"
    done
done
