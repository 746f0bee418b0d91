#!/usr/bin/env bash
# bench/l4_cost.sh - what one GiB through lbd's L4 tier costs, counted rather than timed, so the
# figures hold on this (shared) machine:
#   CPU seconds per GiB   of lbd, of the client (curl) and of the backend (nginx), user and
#                         system apart (/proc/PID/stat, GNU time), and of the whole machine
#                         (/proc/stat, user + system + softirq; niced work, such as other
#                         people's builds, counted apart), for the direct path and through lbd;
#   syscalls per GiB      of lbd, by name (perf stat on the syscall tracepoints, exact counts);
#   bytes per splice      from the return values of lbd's splice calls (syscalls:sys_exit_splice);
#   where the cycles go   perf record -e cpu-clock -a -g of the whole machine during one
#                         transfer per path (PROFILE=1), summed by process and by kernel area.
# Paths: `direct` (curl to the backend), `lbd` (LBD), and any EXTRA="NAME=BINARY ..." lbd builds,
# measured in the same interleaved rounds (the first path rotating) so drift hits all alike.
# See bench/README.md (l4.sh section). 127.0.0.1 only.
set -euo pipefail

SIZE=${SIZE:-1G}                 # the download of the CPU rounds (truncate -s syntax)
ROUNDS=${ROUNDS:-5}              # CPU rounds, each path once per round
COUNT_SIZE=${COUNT_SIZE:-256M}   # the download during which syscalls are counted
PROFILE=${PROFILE:-1}            # 1: perf record one transfer per path
KEEP=${KEEP:-}                   # a directory: perf.data files and reports are copied there
EXTRA=${EXTRA:-}                 # more lbd paths: "NAME=BINARY[,VAR=VALUE...] ...", each with its environment
LBD_CONFIG_EXTRA=${LBD_CONFIG_EXTRA:-}  # text added to lbd's global { } (all lbd paths)
BACKEND_WORKERS=${BACKEND_WORKERS:-1}
BASE_PORT=${BASE_PORT:-18700}
START_TIMEOUT=${START_TIMEOUT:-10}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBD=${1:-${LBD:-build/cli/lbd}}
[[ $LBD = /* ]] || LBD="$REPO_ROOT/$LBD"

BENCH=l4_cost.sh
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"
mapfile -t missing < <(missing_commands nginx:nginx curl:curl perf:linux-perf /usr/bin/time:time)
install_missing "${missing[@]}"
bench_start l4-cost
BIG_SIZE=$SIZE
TICK=$(getconf CLK_TCK)

declare -A PORT=() STATUS=() PID=() BIN=()
PATHS=(direct)

start_lbd() { # start_lbd NAME BINARY[,VAR=VALUE...] (the variables in lbd's environment)
    local name=$1 bin=${2%%,*} vars=() conf=$TMP/$1.conf port pid
    [[ $2 != *,* ]] || IFS=, read -r -a vars <<<"${2#*,}"
    [[ -x $bin ]] || die "no lbd at $bin (build it, or LBD=path)"
    alloc_port port
    cat >"$conf" <<EOF
global { workers: 1 log_level: LOG_LEVEL_WARNING log_connections: false $LBD_CONFIG_EXTRA }
listeners { name: "cost" bind: "127.0.0.1:$port" pool: "backend" max_connections: 0 }
pools { name: "backend" servers { name: "nginx" address: "127.0.0.1:$BACKEND_PORT" } }
EOF
    env "${vars[@]}" "$bin" -c "$conf" >"$TMP/$name.err" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "$name" "$pid" "$port" || { show_log "$TMP/$name.err"; die "$name did not start"; }
    check_url "$name" "http://127.0.0.1:$port/tiny" || die "$name does not forward /tiny"
    PORT[$name]=$port PID[$name]=$pid BIN[$name]=$2 STATUS[$name]=ok
    PATHS+=("$name")
}

# cpu_ticks PID...: utime and stime of the processes (all their threads), in ticks.
cpu_ticks() {
    local pid u=0 s=0 f
    for pid in "$@"; do
        # Fields after the command (which may hold spaces): utime is the 12th, stime the 13th.
        read -r -a f <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
        u=$((u + f[11])) s=$((s + f[12]))
    done
    echo "$u $s"
}
# ctx_switches PID: voluntary and involuntary context switches of all the process's threads.
ctx_switches() {
    cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/ { v += $2 } /^nonvoluntary_ctxt/ { n += $2 } END { print v + 0, n + 0 }'
}
# machine_ticks: "busy niced": user+system+irq+softirq of all CPUs, and nice, in ticks.
machine_ticks() { awk '$1 == "cpu" { print $2 + $4 + $7 + $8, $3 }' /proc/stat; }

declare -A SAMPLES=()  # "PATH KEY" -> space-separated samples
add() { SAMPLES["$1 $2"]+="$3 "; }
per_gib() { awk -v t="$1" -v b="$2" -v hz="$TICK" 'BEGIN { printf "%.3f", t / hz * 1073741824 / b }'; }

# measure PATH: one download of SIZE; records MiB/s and CPU seconds per GiB of each party.
measure() {
    local path=$1 proxy=() p0 p1 b0 b1 m0 m1 x0=(0 0) x1=(0 0) out bytes code speed cu cs cw cc
    [[ $path == direct ]] || proxy=("${PID[$path]}")
    ((${#proxy[@]} == 0)) || read -r -a x0 <<<"$(ctx_switches "${proxy[0]}")"
    read -r -a p0 <<<"$( ((${#proxy[@]})) && cpu_ticks "${proxy[@]}" || echo 0 0)"
    read -r -a b0 <<<"$(cpu_ticks "${BACKEND_WORKERS_PIDS[@]}")"
    read -r -a m0 <<<"$(machine_ticks)"
    out=$(/usr/bin/time -f '%U %S %w %c' -o "$TMP/time" curl -sS -o /dev/null --max-time 300 \
        -w '%{size_download} %{http_code} %{speed_download}' "http://127.0.0.1:${PORT[$path]}/big")
    read -r -a m1 <<<"$(machine_ticks)"
    read -r -a b1 <<<"$(cpu_ticks "${BACKEND_WORKERS_PIDS[@]}")"
    read -r -a p1 <<<"$( ((${#proxy[@]})) && cpu_ticks "${proxy[@]}" || echo 0 0)"
    ((${#proxy[@]} == 0)) || read -r -a x1 <<<"$(ctx_switches "${proxy[0]}")"
    read -r bytes code speed <<<"$out"
    [[ $code == 200 && $bytes == "$BIG_BYTES" ]] || { log "$path: HTTP $code, $bytes bytes: sample dropped"; return 0; }
    read -r cu cs cw cc <"$TMP/time"
    add "$path" proxy_cs "$(awk -v v=$((x1[0] - x0[0])) -v n=$((x1[1] - x0[1])) -v b="$bytes" \
        'BEGIN { printf "%.0f", (v + n) * 1073741824 / b }')"
    add "$path" curl_cs "$(awk -v v="$cw" -v n="$cc" -v b="$bytes" 'BEGIN { printf "%.0f", (v + n) * 1073741824 / b }')"
    add "$path" mibs "$(awk -v s="$speed" 'BEGIN { printf "%.0f", s / 1048576 }')"
    add "$path" proxy_user "$(per_gib $((p1[0] - p0[0])) "$bytes")"
    add "$path" proxy_sys "$(per_gib $((p1[1] - p0[1])) "$bytes")"
    add "$path" proxy "$(per_gib $((p1[0] + p1[1] - p0[0] - p0[1])) "$bytes")"
    add "$path" curl_user "$(awk -v c="$cu" -v b="$bytes" 'BEGIN { printf "%.3f", c * 1073741824 / b }')"
    add "$path" curl_sys "$(awk -v c="$cs" -v b="$bytes" 'BEGIN { printf "%.3f", c * 1073741824 / b }')"
    add "$path" backend "$(per_gib $((b1[0] + b1[1] - b0[0] - b0[1])) "$bytes")"
    add "$path" parties "$(awk -v p=$((p1[0] + p1[1] - p0[0] - p0[1] + b1[0] + b1[1] - b0[0] - b0[1])) -v hz="$TICK" \
        -v c="$cu" -v s="$cs" -v b="$bytes" 'BEGIN { printf "%.3f", (p / hz + c + s) * 1073741824 / b }')"
    add "$path" machine "$(per_gib $((m1[0] - m0[0])) "$bytes")"
    add "$path" niced "$(per_gib $((m1[1] - m0[1])) "$bytes")"
    printf '%-10s %6s MiB/s  proxy %s+%s  curl %s+%s  backend %s  machine %s (niced %s) s/GiB\n' "$path" \
        "$(awk -v s="$speed" 'BEGIN { printf "%.0f", s / 1048576 }')" \
        "$(per_gib $((p1[0] - p0[0])) "$bytes")" "$(per_gib $((p1[1] - p0[1])) "$bytes")" "$cu" "$cs" \
        "$(per_gib $((b1[0] + b1[1] - b0[0] - b0[1])) "$bytes")" "$(per_gib $((m1[0] - m0[0])) "$bytes")" \
        "$(per_gib $((m1[1] - m0[1])) "$bytes")" >>"$RAW"
    printf '%-10s context switches: proxy %s voluntary + %s involuntary, curl %s + %s\n' "$path" \
        $((x1[0] - x0[0])) $((x1[1] - x0[1])) "$cw" "$cc" >>"$RAW"
}

summary() { # summary PATH KEY: "median (min-max)"
    local s=${SAMPLES["$1 $2"]:-}
    [[ -n $s ]] || { echo "n/a"; return; }
    tr -s ' ' '\n' <<<"$s" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3g (%.3g-%.3g)", m, v[1], v[NR] }'
}

# count_syscalls NAME: lbd's syscalls (by name) and splice return values during one COUNT_SIZE
# download. perf stat counts every syscall tracepoint hit exactly; a second download under
# perf record of sys_exit_splice gives the bytes each splice moved.
count_syscalls() {
    local name=$1 pid=${PID[$1]} url="http://127.0.0.1:${PORT[$1]}/count" perfpid bytes events
    events=raw_syscalls:sys_enter
    for s in splice epoll_wait epoll_ctl recvfrom sendto read write setsockopt getsockopt; do
        events+=",syscalls:sys_enter_$s"
    done
    perf stat -x, -e "$events" -p "$pid" -o "$TMP/$name.stat" &
    perfpid=$!
    sleep 0.5  # perf attaches asynchronously; the download must start after (no event lost)
    bytes=$(curl -sS -o /dev/null -w '%{size_download}' "$url")
    kill -INT "$perfpid"; wait "$perfpid" || true
    echo "-- $name: syscalls per GiB ($COUNT_SIZE download, perf stat -p lbd)"
    awk -F, -v b="$bytes" '$3 ~ /sys/ { n = $3; sub(/.*sys_enter_?/, "", n); if (n == "") n = "all syscalls";
        printf "  %-14s %10.0f\n", n, $1 * 1073741824 / b }' "$TMP/$name.stat"
    perf record -q -e syscalls:sys_exit_splice -p "$pid" -o "$TMP/$name.splice.data" 2>/dev/null &
    perfpid=$!
    sleep 0.5
    curl -sS -o /dev/null "$url"
    kill -INT "$perfpid"; wait "$perfpid" || true
    echo "-- $name: bytes per splice call (return values; two splices carry each byte)"
    # The tracepoint prints the return value in hex: errors (-EAGAIN) are huge unsigned numbers.
    perf script -i "$TMP/$name.splice.data" -F trace 2>/dev/null | perl -ne '
        next unless /0x([0-9a-f]+)/; my $n = hex($1);
        if ($n > 2**62) { $err++; next } $c++; $s += $n;
        if ($n == 0) { $z++ } elsif ($n < 16384) { $k0++ } elsif ($n < 65536) { $k1++ } else { $k2++ }
        END { printf "  calls %d (errors, EAGAIN: %d), mean %.0f bytes; <16 KiB %d, 16-64 KiB %d, >=64 KiB %d, zero %d\n",
              $c + $err, $err, $c ? $s / $c : 0, $k0, $k1, $k2, $z }'
}

# profile NAME: perf record of the whole machine during one SIZE download on path NAME, folded by
# bench/l4_profile_fold.pl into CPU seconds per GiB of each party (lbd, curl, the backend) and kind of work.
profile() {
    local name=$1 data=$TMP/$1.perf.data perfpid curlpid parties=()
    perf record -q -e cpu-clock -a -g -o "$data" 2>/dev/null &
    perfpid=$!
    sleep 0.5  # perf attaches asynchronously
    curl -sS -o /dev/null "http://127.0.0.1:${PORT[$name]}/big" &
    curlpid=$!
    wait "$curlpid"
    kill -INT "$perfpid"; wait "$perfpid" || true
    [[ $name == direct ]] || parties+=("lbd=${PID[$name]}")
    parties+=("curl=$curlpid" "backend=$(IFS=,; echo "${BACKEND_WORKERS_PIDS[*]}")")
    echo "-- $name: where the machine's cycles went during one download (perf record -e cpu-clock -a -g)"
    perf script -i "$data" -F pid,period,ip,sym,dso 2>/dev/null | perl "$REPO_ROOT/bench/l4_profile_fold.pl" "$BIG_BYTES" "${parties[@]}"
    [[ -z $KEEP ]] || { mkdir -p "$KEEP"; cp "$data" "$KEEP/"; }
}

main() {
    start_nginx_backend "$BACKEND_WORKERS"
    BIG_BYTES=$(stat -c %s "$TMP/www/big")
    truncate -s "$COUNT_SIZE" "$TMP/www/count"
    chmod 644 "$TMP/www/count"
    mapfile -t BACKEND_WORKERS_PIDS < <(pgrep -P "${PIDS[-1]}")
    start_lbd lbd "$LBD"
    local spec
    for spec in $EXTRA; do start_lbd "${spec%%=*}" "${spec#*=}"; done

    {
        echo "== lbd L4 cost ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
        echo "machine: nproc=$(nproc) kernel=$(uname -r) load $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "params:  SIZE=$SIZE ($BIG_BYTES bytes) ROUNDS=$ROUNDS COUNT_SIZE=$COUNT_SIZE BACKEND_WORKERS=$BACKEND_WORKERS"
        local p
        for p in "${PATHS[@]}"; do [[ $p == direct ]] || echo "$p: ${BIN[$p]}"; done
    } | tee "$RAW"
    warn_if_busy
    echo "-- raw samples" >>"$RAW"
    local r
    for ((r = 0; r < ROUNDS; r++)); do for_each_rotated "$r" measure; done

    {
        echo
        echo "CPU seconds per GiB, median (min-max) of $ROUNDS; 'machine' is user+system+softirq of all CPUs (niced work apart)"
        local key
        printf '%-12s' key; printf ' %-22s' "${PATHS[@]}"; echo
        for key in mibs parties proxy proxy_user proxy_sys curl_user curl_sys backend machine niced proxy_cs curl_cs; do
            printf '%-12s' "$key"
            for p in "${PATHS[@]}"; do printf ' %-22s' "$(summary "$p" "$key")"; done
            echo
        done
        echo "(mibs: MiB/s; parties (proxy + curl + backend), proxy, backend, machine, niced: CPU seconds per GiB; *_cs: context switches per GiB)"
        echo
        for p in "${PATHS[@]}"; do [[ $p == direct ]] || count_syscalls "$p"; done
        if [[ $PROFILE == 1 ]]; then for p in "${PATHS[@]}"; do echo; profile "$p"; done; fi
    } | tee -a "$RAW"
    echo "(also in $RAW)"
}

main "$@"
