# Sourced by tests/ha/scenarios.sh: the pair under load: planned handovers
# under HTTP load with not one failed request (k), keep-alive clients slow to
# send their next request in a handover (l), and both nodes' CPUs saturated
# with not one election (s).
# shellcheck shell=bash

# Planned handovers under load. Clients: KEEPALIVE_CLIENTS on keep-alive
# connections and FRESH_CLIENTS opening one connection per request, each from
# its own address, none pausing. The handover must fail none of their
# requests: in-flight ones finish, keep-alive connections end after an
# answer with Connection: close, and new connections' SYNs are dropped (not
# refused) until the peer holds the VIP.
scenario_k() {
    echo "k) ${HANDOVERS} planned handovers (lbctl ha failover) back and forth under HTTP load: no request may fail"
    if ! declare -F http_load >/dev/null; then
        say "skipped: this topology has no HTTP load client"
        return
    fi
    fresh_pair || return
    local stopf=$CLIENT_TMP/load.stop statusf=$CLIENT_TMP/load.status out i holder other before line
    local drains=() lefts=() failed_handovers=0
    out=$(mktemp)
    rm -f "$stopf" "$statusf"
    run_http_load "$KEEPALIVE_CLIENTS" "$FRESH_CLIENTS" "$stopf" "$statusf" >"$out" &
    local loader=$!
    wait_until 15000 load_moved_on "$statusf" lba 200 || fail "the load got no 200 answers via lba"
    for ((i = 1; i <= HANDOVERS; i++)); do
        holder=$(vip_holders)
        other=$(peer_of "$holder")
        if ! wait_until 15000 can_hand_over "$holder"; then
            fail "handover $i: $holder cannot hand over (role $(ha_field "$holder" role), peer $(ha_field "$other" role), track $(ha_field "$other" track_value))"
            break
        fi
        before=$(load_via "$statusf" "$other")
        if ! line=$(lbctl_on "$holder" ha failover ${HANDOVER_DRAIN_MS:+--drain-timeout "$HANDOVER_DRAIN_MS"} 2>&1); then
            fail "handover $i: lbctl ha failover on $holder: $line"
            failed_handovers=$((failed_handovers + 1))
            break
        fi
        # "failover: drained N connections in X ms...; the virtual IPs left after Y ms; role R"
        [[ $line =~ in\ ([0-9]+)\ ms.*left\ after\ ([0-9]+)\ ms ]] && drains+=("${BASH_REMATCH[1]}") && lefts+=("${BASH_REMATCH[2]}")
        ((i <= 3 || i == HANDOVERS)) && say "handover $i ($holder -> $other): $line"
        wait_until 10000 only_holder "$other" || { fail "handover $i: holders '$(vip_holders)', expected $other"; break; }
        wait_until 15000 load_moved_on "$statusf" "$other" $((before + 200)) ||
            { fail "handover $i: the load does not flow via $other"; break; }
    done
    touch "$stopf"
    wait "$loader"
    local json requests ok failed
    json=$(<"$out")
    rm -f "$out" "$stopf" "$statusf"
    read -r requests ok failed < <(probe_json requests ok failed <<<"$json" | tr '\n' ' ')
    say "load: $requests requests, $ok answered, $failed failed; $(probe_json per_second <<<"$json")/s over $(probe_json seconds <<<"$json") s; via lba $(probe_json /via/"$(node_ip lba)" <<<"$json" 2>/dev/null || echo 0), via lbb $(probe_json /via/"$(node_ip lbb)" <<<"$json" 2>/dev/null || echo 0)"
    say "latency p50 $(probe_json latency_ms.p50 <<<"$json") ms, p99 $(probe_json latency_ms.p99 <<<"$json") ms, max $(probe_json latency_ms.max <<<"$json") ms; $(probe_json slower_than_900ms <<<"$json") answers took over 0.9 s (a SYN sent again); the client was late by up to $(probe_json max_stall_ms <<<"$json") ms"
    if ((${#drains[@]} > 0)); then
        local dm dx lm lx
        read -r dm dx < <(median_max "${drains[@]}")
        read -r lm lx < <(median_max "${lefts[@]}")
        say "${#drains[@]} handovers: drained in median ${dm} ms (max ${dx}), VIP left after median ${lm} ms (max ${lx})"
    fi
    if [[ $failed == 0 && $requests =~ ^[0-9]+$ ]] && ((requests > 0)); then
        pass "0 of $requests requests failed across ${#drains[@]} handovers"
    else
        # A client not scheduled for longer than lbd's idle grace in a handover (l7/l7_worker.h)
        # meets keep-alive connections closed under it: "eof before answer (reused connection)".
        fail "$failed of $requests requests failed: $(probe_json causes <<<"$json" 2>/dev/null); client late by up to $(probe_json max_stall_ms <<<"$json") ms; first: $(probe_json first_failures <<<"$json" 2>/dev/null | head -c 600)"
    fi
    ((${#drains[@]} == HANDOVERS)) || fail "${#drains[@]} of ${HANDOVERS} handovers completed"
}

handover_began() { [[ -n $(ha_field "$1" handover.phase) ]]; }

# Keep-alive clients late with their next request: LATE_CLIENTS connections,
# each answered once by lba; the handover starts, and each client sends its
# next request on the same connection LATE_REQUEST_MS later (past the 250 ms
# idle grace lbd once gave: a client not scheduled for that long, or whose
# request's first bytes arrive late). lbd keeps an idle connection for a
# grace the drain deadline sets (l7/l7_worker.h), so every request must be
# answered, by lba, with Connection: close; none retried.
scenario_l() {
    echo "l) ${LATE_CLIENTS} keep-alive clients send their next request ${LATE_REQUEST_MS} ms into a planned handover: every one answered"
    if ! declare -F http_load >/dev/null; then
        say "skipped: this topology has no HTTP load client"
        return
    fi
    fresh_pair || return
    wait_until 15000 can_hand_over lba || { fail "lba cannot hand over (role $(ha_field lba role), peer $(ha_field lbb role))"; return; }
    local readyf=$CLIENT_TMP/late.ready gof=$CLIENT_TMP/late.go out line json
    out=$(mktemp)
    rm -f "$readyf" "$gof"
    http_load late "$VIP:$PORT_HTTP" --sources "$(csv "${CLIENT_SOURCES[@]:0:$LATE_CLIENTS}")" \
        --ready-file "$readyf" --go-file "$gof" --pause-ms "$LATE_REQUEST_MS" >"$out" &
    local loader=$!
    wait_until 15000 test -e "$readyf" || fail "the clients' first requests were not all answered"
    # The clients' clock starts once lba has begun the handover (lbctl itself
    # may take a while to start on a loaded machine).
    lbctl_on lba ha failover ${HANDOVER_DRAIN_MS:+--drain-timeout "$HANDOVER_DRAIN_MS"} >"$out.failover" 2>&1 &
    local failover=$!
    wait_until 15000 handover_began lba || fail "lba did not begin the handover"
    touch "$gof"
    wait "$failover" || fail "lbctl ha failover on lba: $(<"$out.failover")"
    say "$(<"$out.failover")"
    rm -f "$out.failover"
    wait "$loader"
    json=$(<"$out")
    rm -f "$out" "$readyf" "$gof"
    local requests ok failed closing late_ms via_lba
    read -r requests ok failed closing late_ms < <(probe_json requests ok failed closing late_ms <<<"$json" | tr '\n' ' ')
    via_lba=$(probe_json /via/"$(node_ip lba)" <<<"$json" 2>/dev/null || echo 0)
    say "$ok of $requests answered ($LATE_CLIENTS first requests, then $LATE_CLIENTS sent up to $late_ms ms after lba was seen handing over): $via_lba of the late ones by lba, $closing with Connection: close"
    if [[ $failed == 0 && $ok == $((2 * LATE_CLIENTS)) ]]; then
        pass "every late request answered on its keep-alive connection"
    else
        fail "$failed of $requests requests failed: $(probe_json causes <<<"$json" 2>/dev/null); first: $(probe_json first_failures <<<"$json" 2>/dev/null | head -c 600)"
    fi
    ((closing == LATE_CLIENTS)) || fail "$closing of $LATE_CLIENTS late answers said Connection: close"
}

# No false failover under CPU saturation: stress-ng keeps every core of the
# machine busy from inside both nodes (SATURATE_HOGS each) while the pair
# sits idle with the VIP on lba. Every keepalived state change and every
# move of the VIP (ip monitor) in that window is an unprovoked election.
# Only lbd's VRRP neighbours are real-time (vrrp_rt_priority); lbd itself,
# the sync link and the track file writer compete with the hogs.
scenario_s() {
    echo "s) both nodes' CPUs saturated (stress-ng, ${SATURATE_HOGS} CPU hogs per node) for ${SATURATE_S} s; advert interval ${HA_ADVERT_MS} ms: no election"
    command -v stress-ng >/dev/null || { fail "stress-ng is not installed (.ci/install-deps)"; return; }
    fresh_pair || return
    wait_until 15000 ha_synced lba || fail "lba not in sync with lbb before the run"
    local n before_a before_b hogs=() samples=0 wrong=0 start end
    before_a=$(keepalived_transitions lba)
    before_b=$(keepalived_transitions lbb)
    local sync_before
    sync_before=$(ha_field lba peer.disconnects || echo 0)
    vip_watch_start || { fail "cannot watch the VIP"; return; }
    now_ms
    start=$NOW_MS
    for n in "${LB_NODES[@]}"; do
        on_node "$n" stress-ng --cpu "$SATURATE_HOGS" --cpu-method all --timeout "${SATURATE_S}s" --quiet &
        hogs+=($!)
    done
    end=$((start + SATURATE_S * 1000))
    # Sampled every 0.5 s besides the monitors (the sampler is not real-time either).
    while now_ms && ((NOW_MS < end)); do
        only_holder lba || wrong=$((wrong + 1))
        samples=$((samples + 1))
        sleep 0.5
    done
    wait "${hogs[@]}"
    now_ms
    vip_watch_stop
    local both both_ms changes first holders after_a after_b load
    read -r both both_ms changes first holders < <(vip_timeline "$start" "$NOW_MS" 1 0)
    after_a=$(keepalived_transitions lba)
    after_b=$(keepalived_transitions lbb)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    say "saturated $(((NOW_MS - start) / 1000)) s (load average at the end: $load): $samples samples, $wrong without lba alone holding the VIP"
    say "VIP changes seen by ip monitor: $changes (both holding $both times); keepalived state changes: lba $((after_a - before_a)), lbb $((after_b - before_b)); holder at the end: '$holders'"
    # Reported, not asserted: a sync link that drops and resyncs moves no VIP.
    say "lbd roles: lba $(ha_field lba role), lbb $(ha_field lbb role); sync link drops meanwhile: $(($(ha_field lba peer.disconnects || echo 0) - sync_before))"
    if ((changes == 0 && wrong == 0 && after_a == before_a && after_b == before_b)) && [[ $holders == lba ]]; then
        pass "0 elections, 0 VIP moves in ${SATURATE_S} s of saturated CPUs"
    else
        fail "unprovoked elections under saturated CPUs: $changes VIP changes, $wrong bad samples, keepalived state changes lba $((after_a - before_a)) lbb $((after_b - before_b))"
    fi
}
