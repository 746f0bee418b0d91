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

print_header() {
    echo "== lbd failover benchmark ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo "machine:    nproc=$(nproc)  kernel=$(uname -r)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "haproxy:    $("$HAPROXY" -v 2>&1 | head -n1)"
    echo "keepalived: $(keepalived -v 2>&1 | head -n1)"
    echo "lbd:        $LBD ($(lbd_version))"
    echo "command:    ${BENCH_COMMAND}"
    echo "params:     ROUNDS=$ROUNDS LINKDOWN=$LINKDOWN; gap client: lbd_ha_probe poll VIP:$PORT_RR --interval-ms $POLL_INTERVAL_MS --timeout-ms $POLL_TIMEOUT_MS"
    echo "topology:   tests/ha/topology_netns.sh (run $TOPO_RUN): client + 50 sources, lba, lbb, b1-b3, VIP $VIP"
    echo "keepalived: VRRPv3 unicast, advert ${HA_ADVERT_MS} ms, BACKUP + nopreempt, track_process lbd-a/-b resp. haproxy-a/-b"
    echo "haproxy:    mode tcp, nbthread 2, roundrobin, stick-table ip + peers (:$PORT_STICKY), option redispatch,"
    echo "            check inter 60s observe layer4 error-limit 1 on-error mark-down; bind transparent"
    echo "lbd:        tests/ha/lib.sh render_lbd_config: workers 2, stickiness + peer sync, passive_health max_fails 3, checks every 60 s"
}

print_results() {
    local p gap link stick dead
    declare -A MGAP=() MLINK=()
    echo
    printf '%-30s %12s %14s %18s %16s %20s\n' path "kill gap ms" "VIP moved ms" "link-down gap ms" "stickiness kept" "attempts at dead b3"
    printf '%-30s %12s %14s %18s %16s %20s\n' ------------------------------ ------------ -------------- ------------------ ---------------- --------------------
    for p in "${PAIRS[@]}"; do
        gap=$(med "${GAP[$p]:-}") link=$(med "${LINK[$p]:-}") stick=$(med "${STICK[$p]:-}") dead=$(med "${DEAD[$p]:-}")
        ((LINKDOWN)) || link="-"
        MGAP[$p]=$gap MLINK[$p]=$link
        printf '%-30s %12s %14s %18s %16s %20s\n' "${PAIR_LABEL[$p]}" "$gap" "$(med "${TAKE[$p]:-}")" "$link" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$dead"
    done
    echo
    echo "medians of $ROUNDS rounds; gap: longest time between two answers of a client connecting every ${POLL_INTERVAL_MS} ms"
    echo "(${POLL_TIMEOUT_MS} ms deadline each); VIP moved: from the SIGKILL to the VIP on the new master (ip monitor);"
    echo "attempts at dead b3: connection attempts reaching b3 among 60 connections through the new master"
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
            "stick sync ms [$(samples "${SYNC[$p]:-}")]"
    done
    echo
    echo "README table:"
    echo
    echo "| pair | gap, SIGKILL of the master's proxy (ms) | VIP on the new master after (ms) | gap, link down (ms) | clients kept on their server | attempts at a backend only the master saw die (of 60) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for p in "${PAIRS[@]}"; do
        stick=$(med "${STICK[$p]:-}")
        printf '| %s | %s | %s | %s | %s | %s |\n' "${PAIR_LABEL[$p]}" "$(med "${GAP[$p]:-}")" "$(med "${TAKE[$p]:-}")" \
            "$( ((LINKDOWN)) && med "${LINK[$p]:-}" || echo -)" \
            "$([[ $stick == "$NA" ]] && echo "$NA" || echo "$stick/${#CLIENT_SOURCES[@]}")" "$(med "${DEAD[$p]:-}")"
    done
    printf '| lbd / HAProxy | %s | | %s | | |\n' "$(ratio "${MGAP[lbd]/#$NA/}" "${MGAP[haproxy]/#$NA/}")" \
        "$( ((LINKDOWN)) && ratio "${MLINK[lbd]/#$NA/}" "${MLINK[haproxy]/#$NA/}" || echo -)"
}
