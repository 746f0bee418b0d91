#!/usr/bin/env bash
# bench/compress.sh - response compression: lbd (gzip, brotli) vs NGINX (gzip) in one run.
#
# One nginx backend serves a 100 KiB JSON and a 100 KiB HTML body (no compression); lbd
# (`compression { gzip_level: LEVEL }`) and an NGINX proxy (`gzip on; gzip_comp_level LEVEL;`)
# sit in front, one worker each. Per body and per proxy (wrk -cCONNS, DURATION s, ROUNDS rounds,
# medians): req/s, p99, the compressed size, and the proxy's CPU seconds per GB of body
# compressed (utime+stime of the proxy over the run / bytes before compression). lbd's brotli
# is measured beside its gzip. See bench/README.md. 127.0.0.1 only.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-50}
LEVEL=${LEVEL:-6}
BASE_PORT=${BASE_PORT:-18700}
MEMSTREAMS=${MEMSTREAMS:-1000}  # slow compressed downloads for the memory row (2000 timed out NGINX here); 0 skips it
START_TIMEOUT=${START_TIMEOUT:-10}
BIG_SIZE=1  # lib.sh's backend file (unused here)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"

BENCH=compress.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
declare -A PORT=() STATUS=() PID_OF=()
PATHS=(lbd_gzip lbd_br nginx_gzip)

TMP=$(mktemp -d /tmp/lbd-bench-compress.XXXXXX)
mapfile -t missing < <(missing_commands nginx:nginx wrk:wrk curl:curl python3:python3)
install_missing "${missing[@]}"

make_bodies() { # 100 KiB of JSON and of HTML, repetitive as real ones are, not a single repeated line
    python3 - "$TMP/www" <<'EOF'
import json, random, sys
rng = random.Random(1)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
items = []
while len(json.dumps(items)) < 100 * 1024:
    items.append({"id": rng.randrange(10**6), "name": " ".join(rng.choice(words) for _ in range(3)),
                  "price": round(rng.random() * 100, 2), "tags": rng.sample(words, 3), "active": rng.random() < 0.5})
open(sys.argv[1] + "/body.json", "w").write(json.dumps(items)[:100 * 1024])
rows, html = 0, "<!doctype html><html><body><table>\n"
while len(html) < 100 * 1024:
    html += '<tr class="row"><td>%d</td><td>%s</td><td><a href="/item/%d">%s</a></td></tr>\n' % (
        rows, " ".join(rng.choice(words) for _ in range(4)), rng.randrange(10**5), rng.choice(words))
    rows += 1
open(sys.argv[1] + "/body.html", "w").write(html[:100 * 1024])
# The memory row's 4 MiB body: random bytes, so the output is as large as the input and every
# buffer after the encoder fills as it would (text would leave them a third full).
open(sys.argv[1] + "/big.txt", "wb").write(rng.randbytes(4 * 1024 * 1024))
EOF
}

start_backend() {
    local conf=$TMP/backend.conf
    alloc_port BACKEND_PORT
    mkdir -p "$TMP/www" "$TMP/backend-tmp"
    chmod 755 "$TMP" "$TMP/www"
    make_bodies
    chmod 644 "$TMP/www/"*
    cat >"$conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $TMP/backend.pid;
error_log $TMP/backend.err warn;
events { worker_connections 16384; }
http {
$(nginx_common "$TMP/backend-tmp")
    types { application/json json; text/html html; text/plain txt; }
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        root $TMP/www;
        location = /tiny { return 200 "ok\n"; }
    }
}
EOF
    nginx -e "$TMP/backend.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/backend.out" &
    PIDS+=($!)
    wait_port backend $! "$BACKEND_PORT" || die "backend did not start"
}

start_lbd() {
    local conf=$TMP/lbd.conf
    alloc_port "PORT[lbd]"
    alloc_port LBD_ADMIN_PORT
    cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false admin { http_bind: "127.0.0.1:$LBD_ADMIN_PORT" } }
listeners { name: "bench" bind: "127.0.0.1:${PORT[lbd]}" mode: MODE_HTTP pool: "backend" max_connections: 0
  http { compression { gzip_level: $LEVEL brotli_level: 4 } } }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
    "$LBD" -c "$conf" >"$TMP/lbd.err" 2>&1 &
    PIDS+=($!)
    PID_OF[lbd]=$!
    wait_port lbd $! "${PORT[lbd]}" || { show_log "$TMP/lbd.err"; die "lbd did not start"; }
}

start_nginx_proxy() {
    local conf=$TMP/nginx.conf
    alloc_port "PORT[nginx]"
    mkdir -p "$TMP/nginx-tmp"
    cat >"$conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err warn;
events { worker_connections 16384; }
http {
$(nginx_common "$TMP/nginx-tmp")
    upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 1024; }
    gzip on;
    gzip_comp_level $LEVEL;
    gzip_types application/json text/html text/plain;
    proxy_max_temp_file_size 0;  # hold the memory row's bodies in memory as lbd does, not in files
    gzip_proxied any;
    gzip_vary on;
    server {
        listen 127.0.0.1:${PORT[nginx]};
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
    nginx -e "$TMP/nginx.err" -p "$TMP" -c "$conf" -g 'daemon off;' 2>"$TMP/nginx.out" &
    PIDS+=($!)
    wait_port "nginx proxy" $! "${PORT[nginx]}" || { show_log "$TMP/nginx.err"; die "nginx did not start"; }
    # The worker does the compressing; the master's CPU is ~0.
    sleep 0.5
    PID_OF[nginx]=$(pgrep -P "$!" | head -n1)
}

RAW=$TMP/raw
# measure BODY PATH: one wrk run; appends req/s, p99 and CPU seconds per GB to RAW.
measure() {
    local body=$1 path=$2 proxy=${2%%_*} encoding=${2#*_} out rps p99 t0 t1 size url
    url="http://127.0.0.1:${PORT[$proxy]}/body.$body"
    size=$(stat -c %s "$TMP/www/body.$body")
    t0=$(cpu_ticks "${PID_OF[$proxy]}")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Accept-Encoding: $encoding" "$url" 2>&1)
    t1=$(cpu_ticks "${PID_OF[$proxy]}")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    local reqs cpu_per_gb
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    cpu_per_gb=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" -v s="$size" \
        'BEGIN { if (n == 0) print "n/a"; else printf "%.2f", (t / hz) / (n * s / 1e9) }')
    printf '%s %s %s %s %s\n' "$body" "$path" "$rps" "$p99" "$cpu_per_gb" >>"$RAW"
}

start_backend
start_lbd
start_nginx_proxy
for p in "${PATHS[@]}"; do STATUS[$p]=ok; done
for ((round = 0; round < ROUNDS; round++)); do
    for body in json html; do for_each_rotated "$round" measure "$body"; done
done

printf '\ncompression, %s s x %s rounds, wrk -c%s, level %s (brotli 4), one worker each, medians\n' \
    "$DURATION" "$ROUNDS" "$CONNS" "$LEVEL"
printf '%-5s %-11s %10s %9s %10s %12s\n' body path req/s p99_ms bytes cpu_s/GB
for body in json html; do
    for path in "${PATHS[@]}"; do
        proxy=${path%%_*} encoding=${path#*_}
        bytes=$(curl -s -H "Accept-Encoding: $encoding" "http://127.0.0.1:${PORT[$proxy]}/body.$body" | wc -c)
        rps=$(median "$(awk -v b="$body" -v p="$path" '$1 == b && $2 == p { print $3 }' "$RAW")")
        p99=$(median "$(awk -v b="$body" -v p="$path" '$1 == b && $2 == p { print $4 }' "$RAW")")
        cpu=$(median "$(awk -v b="$body" -v p="$path" '$1 == b && $2 == p { print $5 }' "$RAW")")
        printf '%-5s %-11s %10s %9s %10s %12s\n' "$body" "$path" "$rps" "$p99" "$bytes" "$cpu"
    done
    printf '%-5s lbd gzip / nginx gzip req/s: %s\n' "$body" \
        "$(ratio "$(median "$(awk -v b="$body" '$1 == b && $2 == "lbd_gzip" { print $3 }' "$RAW")")" \
                 "$(median "$(awk -v b="$body" '$1 == b && $2 == "nginx_gzip" { print $3 }' "$RAW")")")"
done

# How lbd's gzip responses went (lbd_http_compression_gzip_path_total): whole (one libdeflate call)
# or streamed (zlib; the body passed the cap, or the origin paused mid-body). Absent before that metric.
paths=$(curl -s "http://127.0.0.1:$LBD_ADMIN_PORT/metrics" | awk '/^lbd_http_compression_gzip_path_total/ {
    match($0, /path="[a-z]+"/); printf "%s %s ", substr($0, RSTART + 6, RLENGTH - 7), $2 }')
[[ -z $paths ]] || printf 'lbd gzip paths (responses): %s\n' "$paths"

# Memory per compressing stream: MEMSTREAMS slow clients at once on each path (slow_streams.py),
# after the req/s rounds so each proxy's arenas are warm; gzip only (the target is NGINX's gzip): a
# second lbd path would reuse the first's freed memory and read low.
if ((MEMSTREAMS > 0)); then
    printf '\nmemory per slow compressed download (4 MiB random body, %s streams at once): KiB per stream\n' \
        "$MEMSTREAMS"
    for path in lbd_gzip nginx_gzip; do
        proxy=${path%%_*} encoding=${path#*_}
        kib=$(python3 "$REPO_ROOT/bench/slow_streams.py" "${PORT[$proxy]}" "${PID_OF[$proxy]}" "$MEMSTREAMS" \
            /big.txt "$encoding" 2>&1 | tail -n1) || true  # a failure prints its last line instead
        printf '%-11s %s\n' "$path" "$kib"
    done
fi
