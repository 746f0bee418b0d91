# Sourced by bench/failover.sh: the client side and the four measurements
# (kill, health, link, planned), each on a fresh pair, its samples appended
# per pair to GAP, STICK, DEAD, LINK, SYNC, TAKE, LTAKE, HANDOVER_FAILED and REFILL.
# shellcheck shell=bash

# ------------------------------------------------------------ client side

# gap_during ACTION...: the client polls VIP:PORT_RR every POLL_INTERVAL_MS;
# with 10 answers via lba, ACTION; stops at 10 answers via lbb (15 s
# deadline). Sets GAP_MS (longest gap between two answers; "" if the client
# never got through lbb), SWITCH_MS (lba's last answer to lbb's first),
# TAKEOVER_MS (from ACTION to the VIP on lbb's eth0, seen by `ip monitor`)
# and POLL_SUMMARY.
ACTION_MS=0
timed() { now_ms; ACTION_MS=$NOW_MS; "$@"; }
vip_added_on() { # NODE SINCE_MS: ms from SINCE_MS to the VIP's first arrival on NODE after it
    vip_events "$1" | awk -v t="$2" '$2 == "add" && $1 >= t { print $1 - t; exit }'
}
gap_during() {
    local log stopf out json gap sw att ok
    GAP_MS="" SWITCH_MS="" TAKEOVER_MS="" POLL_SUMMARY=""
    vip_watch_start || log "cannot watch the VIP: no takeover time"
    log=$CLIENT_TMP/poll.$RANDOM.log
    stopf=$CLIENT_TMP/poll.$RANDOM.stop
    out=$(mktemp)
    rm -f "$log" "$stopf"
    probe poll "$VIP:$PORT_RR" --interval-ms "$POLL_INTERVAL_MS" --timeout-ms "$POLL_TIMEOUT_MS" \
        --until-file "$stopf" --log "$log" >"$out" &
    local poller=$! reached=1
    wait_until 10000 answers_via "$log" "$(node_ip lba)" 10 || { say "no 10 answers via lba before the failover"; reached=0; }
    if ((reached)); then
        timed "$@" || { say "'$*' failed"; reached=0; }
    fi
    if ((reached)); then
        wait_until 15000 answers_via "$log" "$(node_ip lbb)" 10 || { say "no 10 answers via lbb within 15 s of '$*'"; reached=0; }
    fi
    touch "$stopf"
    wait "$poller"
    vip_watch_stop
    ((reached)) && TAKEOVER_MS=$(vip_added_on lbb "$ACTION_MS")
    json=$(<"$out")
    rm -f "$out" "$log" "$stopf"
    read -r gap sw att ok < <(probe_json max_gap_ms switch_gap_ms attempts ok <<<"$json" | tr '\n' ' ')
    POLL_SUMMARY="$att connections, $ok answered, errors $(probe_json errors <<<"$json" 2>/dev/null | tr -d ' \n')"
    ((reached)) || return 1
    GAP_MS=$gap SWITCH_MS=$sw
}

# ------------------------------------------------------------ measurements
declare -A GAP=() STICK=() DEAD=() LINK=() SYNC=() TAKE=() LTAKE=() HANDOVER_FAILED=() REFILL=()  # space-separated samples per pair
NA="n/a"

# kill: 50 clients stuck through lba (the second round, reversed, finds each
# one's server again in lba's own table), lbb's table holds them, then the
# gap poll around SIGKILL of lba's proxy, then the 50 again in reverse order
# (round robin meets them in another order: without the table, about a third
# would land on their backend by chance). Scenarios a + d of tests/ha.
measure_kill() {
    local before again after n via
    echo "- $PAIR: SIGKILL of the master's proxy (gap; stickiness of ${#CLIENT_SOURCES[@]} clients)"
    raw "- $PAIR: kill"
    fresh_pair || { GAP[$PAIR]+="$NA " STICK[$PAIR]+="$NA "; return 1; }
    before=$(mktemp) again=$(mktemp) after=$(mktemp)
    stick_round "$before" "${CLIENT_SOURCES[@]}" || say "some clients got no answer before: $(grep -c ' - ' "$before")"
    # shellcheck disable=SC2046
    stick_round "$again" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$before" "$again")
    via=$(answered_via_count "$before" "$(node_ip lba)")
    say "before: $via/${#CLIENT_SOURCES[@]} via lba, backends $(awk '{ c[$2]++ } END { for (b in c) printf "%s=%d ", b, c[b] }' "$before")(lba's own table kept $n/${#CLIENT_SOURCES[@]})"
    if wait_until 10000 p_stick_has lbb "${#CLIENT_SOURCES[@]}"; then
        say "lbb's stick table holds the ${#CLIENT_SOURCES[@]} clients (${WAITED_MS} ms after the last)"
        SYNC[$PAIR]+="$WAITED_MS "
    else
        say "lbb's stick table holds $(p_stick_entries lbb)/${#CLIENT_SOURCES[@]} after 10 s"
    fi
    if gap_during p_kill lba; then
        say "gap: $GAP_MS ms longest between two answers, $SWITCH_MS ms from lba's last to lbb's first; VIP on lbb ${TAKEOVER_MS:-?} ms after the kill ($POLL_SUMMARY)"
        GAP[$PAIR]+="$GAP_MS "
        TAKE[$PAIR]+="${TAKEOVER_MS:-$NA} "
    else
        say "gap: client never reached lbb ($POLL_SUMMARY)"
        GAP[$PAIR]+="$NA " TAKE[$PAIR]+="$NA "
    fi
    # shellcheck disable=SC2046
    stick_round "$after" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$before" "$after")
    via=$(answered_via_count "$after" "$(node_ip lbb)")
    say "stickiness: $n/${#CLIENT_SOURCES[@]} on the same backend after the failover ($via/${#CLIENT_SOURCES[@]} answered via lbb)"
    STICK[$PAIR]+="$n "
    raw "  raw: gap=$GAP_MS switch=$SWITCH_MS takeover=$TAKEOVER_MS stick=$n"
    rm -f "$before" "$again" "$after"
}

# health: scenario e of tests/ha. Both nodes check every 60 s and each pair
# starts afresh, so the only checks a node has made are its first ones
# (lbd: at start; HAProxy: spread over the first interval, see README):
# what lbb knows of b3 it learned from lba, or not at all.
measure_health() {
    local json ok syn0 syn1 n state_b wait_note="" extra=""
    echo "- $PAIR: b3 dies, only the master sees it; SIGKILL of the master's proxy; 60 connections"
    raw "- $PAIR: health"
    fresh_pair || { DEAD[$PAIR]+="$NA "; return 1; }
    backend_down b3
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 30)
    ok=$(probe_json ok <<<"$json")
    if wait_until 5000 p_server_is lba rr b3 DOWN; then
        say "lba: 30 connections with b3 dead, $ok answered; lba marked rr/b3 DOWN (passive)"
    else
        say "lba: 30 connections with b3 dead, $ok answered; lba has rr/b3 '$(p_server_state lba rr b3)' after 5 s"
    fi
    if [[ $PAIR == lbd ]]; then
        if wait_until 10000 p_server_is lbb rr b3 DOWN; then wait_note="from its peer after ${WAITED_MS} ms"; else wait_note="after 10 s"; fi
    else
        wait_note="(HAProxy does not sync health)"
    fi
    state_b=$(p_server_state lbb rr b3)
    [[ $PAIR == haproxy ]] && wait_note+=", its last check of rr/b3: '$(hap_check_status lbb rr b3)' (INI: none yet)"
    say "lbb: rr/b3 ${state_b:-?} $wait_note"
    syn0=$(backend_syn_count b3)
    if ! p_kill lba; then setup_failed "could not kill $PAIR on lba"; DEAD[$PAIR]+="$NA "; return 1; fi
    if ! wait_until 10000 only_holder lbb; then
        setup_failed "the VIP did not move to lbb within 10 s (holders: '$(vip_holders)')"
        DEAD[$PAIR]+="$NA "
        return 1
    fi
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 60)
    syn1=$(backend_syn_count b3)
    ok=$(probe_json ok <<<"$json")
    n=$((syn1 - syn0))
    [[ $PAIR == haproxy ]] && extra=", lbb's last check of b3: '$(hap_check_status lbb rr b3)', rr/b3 now $(hap_server_state lbb rr b3)"
    say "after: 60 connections through lbb, $ok answered, servers $(probe_json servers <<<"$json" | tr -d ' \n'), errors $(probe_json errors <<<"$json" | tr -d ' \n')"
    say "connection attempts reaching b3: $n$extra"
    # No periodic check may have probed b3 meanwhile: lbd checks every server
    # at start, then 60 s later; HAProxy 2.6 spreads the first checks of its
    # 6 servers over the interval (one every 10 s, in config order), so
    # sticky/b3 is first checked 20 s after start, rr/b3 50 s after.
    local window=$((HA_HEALTH_INTERVAL_MS - 10000))
    [[ $PAIR == haproxy ]] && window=19000
    now_ms
    if ((NOW_MS - PAIR_STARTED_MS < window)); then
        say "(the pair started $((NOW_MS - PAIR_STARTED_MS)) ms ago: no periodic check of b3 yet)"
    else
        say "WARNING: the pair started $((NOW_MS - PAIR_STARTED_MS)) ms ago (> $window ms): a check of b3 may be in this count"
    fi
    DEAD[$PAIR]+="$n "
    raw "  raw: dead_backend_attempts=$n answered=$ok/60"
    backend_up b3 || true
}

measure_link() {
    echo "- $PAIR: ip link set eth0 down on the master (gap)"
    raw "- $PAIR: link down"
    fresh_pair || { LINK[$PAIR]+="$NA "; return 1; }
    if gap_during link_down lba; then
        say "gap: $GAP_MS ms longest between two answers, $SWITCH_MS ms from lba's last to lbb's first; VIP on lbb ${TAKEOVER_MS:-?} ms after the link went down ($POLL_SUMMARY)"
        LINK[$PAIR]+="$GAP_MS "
        LTAKE[$PAIR]+="${TAKEOVER_MS:-$NA} "
    else
        say "gap: client never reached lbb ($POLL_SUMMARY)"
        LINK[$PAIR]+="$NA " LTAKE[$PAIR]+="$NA "
    fi
    link_up lba
    raw "  raw: link_gap=$GAP_MS switch=$SWITCH_MS takeover=$TAKEOVER_MS"
}

# planned: scenario k of tests/ha, on both pairs, after a rolling upgrade's
# first step. 50 clients fill lba's stick table; lbb's proxy is restarted (as
# after its upgrade) and timed from its start until its table holds the 50
# again (REFILL: a full resync from lba, lbd's snapshot resp. HAProxy's peers
# resync); then HTTP load through the VIP (LOAD_KEEPALIVE keep-alive clients
# and LOAD_FRESH opening a connection per request, tests/ha/http_load.py, no
# retries) while the master hands over HANDOVERS times, back and forth.
# Failed requests are counted per handover, from the load's running count
# just before it to the same just before the next (the last: to the end).
measure_planned() {
    local before stopf statusf out i holder other start n line json refill_ms="$NA" total
    local marks=() failed_per=()
    echo "- $PAIR: $HANDOVERS planned handovers under HTTP load (lbb restarted first: its tables refilled)"
    raw "- $PAIR: planned"
    fresh_pair || { HANDOVER_FAILED[$PAIR]+="$NA " REFILL[$PAIR]+="$NA "; return 1; }
    before=$(mktemp)
    stick_round "$before" "${CLIENT_SOURCES[@]}" || say "some clients got no answer: $(grep -c ' - ' "$before")"
    rm -f "$before"
    wait_until 10000 p_stick_has lbb "${#CLIENT_SOURCES[@]}" || say "lbb's table holds $(p_stick_entries lbb) before the restart"
    p_stop lbb || say "$PAIR on lbb did not stop cleanly"
    now_ms
    start=$NOW_MS
    p_start lbb
    wait_until 30000 p_ready lbb || { setup_failed "$PAIR on lbb not ready within 30 s of its restart"; HANDOVER_FAILED[$PAIR]+="$NA " REFILL[$PAIR]+="$NA "; return 1; }
    local ready_ms=$WAITED_MS
    if wait_until 30000 p_stick_has lbb "${#CLIENT_SOURCES[@]}"; then
        now_ms
        refill_ms=$((NOW_MS - start))
        say "lbb restarted: ready after $ready_ms ms, its stick table holds the ${#CLIENT_SOURCES[@]} clients $refill_ms ms after the start"
    else
        say "lbb restarted: ready after $ready_ms ms, its stick table holds $(p_stick_entries lbb)/${#CLIENT_SOURCES[@]} 30 s after"
    fi
    stopf=$CLIENT_TMP/load.stop statusf=$CLIENT_TMP/load.status out=$(mktemp)
    rm -f "$stopf" "$statusf"
    run_http_load "$LOAD_KEEPALIVE" "$LOAD_FRESH" "$stopf" "$statusf" >"$out" &
    local loader=$!
    wait_until 15000 load_moved_on "$statusf" lba 200 || say "the load got no 200 answers via lba"
    for ((i = 1; i <= HANDOVERS; i++)); do
        holder=$(vip_holders)
        other=$(peer_of "$holder")
        if ! wait_until 15000 p_can_hand_over "$holder"; then
            say "handover $i: '$holder' cannot hand over within 15 s"
            break
        fi
        n=$(load_via "$statusf" "$other")
        marks+=("$(load_failed "$statusf")")
        if ! p_hand_over "$holder"; then
            say "handover $i on $holder failed: $HANDOVER_SAID"
            unset 'marks[-1]'
            break
        fi
        line="handover $i ($holder -> $other): $HANDOVER_SAID"
        wait_until 10000 only_holder "$other" || { say "$line; VIP holders '$(vip_holders)' after 10 s"; break; }
        p_handed_over "$holder"
        wait_until 15000 load_moved_on "$statusf" "$other" $((n + 200)) || { say "$line; the load does not flow via $other"; break; }
        say "$line"
    done
    REFILL[$PAIR]+="$refill_ms "
    touch "$stopf"
    wait "$loader"
    json=$(<"$out")
    total=$(probe_json failed <<<"$json" 2>/dev/null)
    [[ $total =~ ^[0-9]+$ ]] || total=$(load_failed "$statusf")  # the client died: its last count
    rm -f "$out" "$stopf" "$statusf"
    marks+=("$total")
    for ((i = 1; i < ${#marks[@]}; i++)); do failed_per+=($((marks[i] - marks[i - 1]))); done
    if ((${#failed_per[@]} == HANDOVERS)); then
        HANDOVER_FAILED[$PAIR]+="${failed_per[*]} "
    else
        HANDOVER_FAILED[$PAIR]+="${failed_per[*]:+${failed_per[*]} }$NA "
    fi
    say "load: $(probe_json requests <<<"$json") requests, $(probe_json failed <<<"$json") failed ($(probe_json causes <<<"$json" | tr '\n' ' ' | tr -s ' ')), $(probe_json per_second <<<"$json")/s; p99 $(probe_json latency_ms.p99 <<<"$json") ms, max $(probe_json latency_ms.max <<<"$json") ms; client late by up to $(probe_json max_stall_ms <<<"$json") ms"
    say "failed per handover: ${failed_per[*]:-none} (before the first: ${marks[0]:-?})"
    raw "  raw: failed_per_handover=${failed_per[*]} refill_ms=$refill_ms"
}
