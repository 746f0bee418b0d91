# Sourced by bench/failover.sh: the header of a run and its results (medians,
# ratios, every round's samples, the README's table).
# shellcheck shell=bash

# ------------------------------------------------------------ reporting
numbers() { tr -s ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | paste -sd' '; }
count_na() { tr -s ' ' '\n' <<<"$1" | grep -c "^$NA\$"; }
med() { # median of the numeric samples, or n/a
    local m
    m=$(median "$(numbers "$1")")
    echo "${m:-$NA}"
}
samples() { local s; s=$(tr -s ' ' <<<"${1% }"); echo "${s:-none}"; }
# Failed requests of the planned handovers: "MEDIAN per handover (max MAX; SUM in N)", or n/a.
planned_summary() {
    local nums
    nums=$(numbers "$1")
    [[ -n $nums ]] || { echo "$NA"; return; }
    tr ' ' '\n' <<<"$nums" | awk -v m="$(median "$nums")" '{ s += $1; if ($1 > x) x = $1 } END { printf "%s (max %d; %d in %d)", m, x, s, NR }'
}

print_header() {
    echo "== lbd failover benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:    nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:    $("$HAPROXY" -v 2>&1 | head -n1)"
    echo "keepalived: $(keepalived -v 2>&1 | head -n1)"
    echo "lbd:        $LBD ($(lbd_version))"
    echo "command:    ${BENCH_COMMAND}"
    echo "params:     ROUNDS=$ROUNDS LINKDOWN=$LINKDOWN PLANNED=$PLANNED HANDOVERS=$HANDOVERS; gap client: lbd_ha_probe poll VIP:$PORT_RR --interval-ms $POLL_INTERVAL_MS --timeout-ms $POLL_TIMEOUT_MS"
    echo "load:       (planned) tests/ha/http_load.py load VIP:$PORT_HTTP --keepalive $LOAD_KEEPALIVE --fresh $LOAD_FRESH (no retries)"
    echo "handover:   lbd: lbctl ha failover (drain behind a SYN filter, then the VIP leaves);"
    echo "            HAProxy: -254 (FAULT) into the master's keepalived track file, 0 again once the VIP moved"
    echo "topology:   tests/ha/topology_netns.sh (run $TOPO_RUN): client + 50 sources, lba, lbb, b1-b3, VIP $VIP"
    echo "keepalived: VRRPv3 unicast, advert ${HA_ADVERT_MS} ms, BACKUP + nopreempt, track_process lbd-a/-b resp. haproxy-a/-b"
    echo "haproxy:    mode tcp, nbthread 2, roundrobin, stick-table ip + peers (:$PORT_STICKY), option redispatch,"
    echo "            check inter 60s observe layer4 error-limit 1 on-error mark-down; bind transparent;"
    echo "            :$PORT_HTTP mode http (keep-alive), roundrobin"
    echo "lbd:        tests/ha/lib.sh render_lbd_config: workers 2, stickiness + peer sync, passive_health max_fails 3, checks every 60 s"
}

print_results() {
    local p gap link stick dead planned tables
    declare -A MGAP=() MLINK=()
    echo
    printf '%-30s %8s %8s %9s %6s %9s %28s %10s %10s\n' path "kill gap" "VIP" "link-down" "kept" "dead b3" \
        "failed per planned handover" "synced" "refilled"
    printf '%-30s %8s %8s %9s %6s %9s %28s %10s %10s\n' "" "ms" "moved ms" "gap ms" "" "attempts" "median (max; sum in n)" \
        "ms" "ms"
    printf '%-30s %8s %8s %9s %6s %9s %28s %10s %10s\n' ------------------------------ -------- -------- --------- ------ \
        --------- ---------------------------- ---------- ----------
    for p in "${PAIRS[@]}"; do
        gap=$(med "${GAP[$p]:-}") link=$(med "${LINK[$p]:-}") stick=$(med "${STICK[$p]:-}") dead=$(med "${DEAD[$p]:-}")
        planned=$(planned_summary "${HANDOVER_FAILED[$p]:-}") tables=$(med "${REFILL[$p]:-}")
        ((LINKDOWN)) || link="-"
        ((PLANNED)) || planned="-" tables="-"
        MGAP[$p]=$gap MLINK[$p]=$link
        printf '%-30s %8s %8s %9s %6s %9s %28s %10s %10s\n' "${PAIR_LABEL[$p]}" "$gap" "$(med "${TAKE[$p]:-}")" "$link" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$dead" "$planned" \
            "$(med "${SYNC[$p]:-}")" "$tables"
    done
    echo
    echo "medians of $ROUNDS rounds; gap: longest time between two answers of a client connecting every ${POLL_INTERVAL_MS} ms"
    echo "(${POLL_TIMEOUT_MS} ms deadline each); VIP moved: from the SIGKILL to the VIP on the new master (ip monitor);"
    echo "dead b3 attempts: connection attempts reaching b3 among 60 connections through the new master;"
    echo "failed per planned handover: requests of the HTTP load that failed, counted per handover ($HANDOVERS a round);"
    echo "synced: the backup's stick table holds the ${#CLIENT_SOURCES[@]} clients, ms after their last connection (live sync);"
    echo "refilled: the backup's proxy restarted, ms from its start until its stick table holds them again (full resync)"
    echo
    printf '%-30s %12s %18s\n' "ratio lbd / HAProxy" "kill gap" "link-down gap"
    printf '%-30s %12s %18s\n' "" "$(ratio "${MGAP[lbd]/#$NA/}" "${MGAP[haproxy]/#$NA/}")" \
        "$( ((LINKDOWN)) && ratio "${MLINK[lbd]/#$NA/}" "${MLINK[haproxy]/#$NA/}" || echo -)"
    echo
    echo "all rounds (in order):"
    for p in "${PAIRS[@]}"; do
        echo "  $p: kill gap ms [$(samples "${GAP[$p]:-}")]  VIP moved ms [$(samples "${TAKE[$p]:-}")] " \
            "link-down gap ms [$(samples "${LINK[$p]:-}")]  link-down VIP moved ms [$(samples "${LTAKE[$p]:-}")]" \
            "kept [$(samples "${STICK[$p]:-}")]  dead-b3 attempts [$(samples "${DEAD[$p]:-}")]" \
            "synced ms [$(samples "${SYNC[$p]:-}")]  refilled ms [$(samples "${REFILL[$p]:-}")]" \
            "failed per planned handover [$(samples "${HANDOVER_FAILED[$p]:-}")]"
    done
    echo
    echo "README table:"
    echo
    echo "| pair | gap, SIGKILL of the master's proxy (ms) | VIP on the new master after (ms) | gap, link down (ms) | clients kept on their server | attempts at a backend only the master saw die (of 60) | failed requests per planned handover: median (max; sum in n) | peer's stick table complete after the last client (ms) | restarted peer's stick table complete after its start (ms) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for p in "${PAIRS[@]}"; do
        stick=$(med "${STICK[$p]:-}")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${PAIR_LABEL[$p]}" "$(med "${GAP[$p]:-}")" "$(med "${TAKE[$p]:-}")" \
            "$( ((LINKDOWN)) && med "${LINK[$p]:-}" || echo -)" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$(med "${DEAD[$p]:-}")" \
            "$( ((PLANNED)) && planned_summary "${HANDOVER_FAILED[$p]:-}" || echo -)" "$(med "${SYNC[$p]:-}")" \
            "$( ((PLANNED)) && med "${REFILL[$p]:-}" || echo -)"
    done
    printf '| lbd / HAProxy | %s | | %s | | | | | |\n' "$(ratio "${MGAP[lbd]/#$NA/}" "${MGAP[haproxy]/#$NA/}")" \
        "$( ((LINKDOWN)) && ratio "${MLINK[lbd]/#$NA/}" "${MLINK[haproxy]/#$NA/}" || echo -)"
}
