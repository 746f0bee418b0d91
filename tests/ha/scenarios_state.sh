# Sourced by tests/ha/scenarios.sh: what the pair keeps across a failover:
# stickiness (d, and the helpers h uses), a backend's health learned from
# the peer (e), the VIP staying put when the old master returns (f), and
# never two holders when both nodes start at once (g).
# shellcheck shell=bash

# Two stick rounds through the master (the second in reverse order must find
# every client's server again: the master's own table), the peer's table
# filled by the sync, then a third round in reverse order after the failover.
# Reverse order matters: round robin meets the clients in another order than
# on the master, so without the synced table about a third of them would
# land on the same backend by chance, never all 50.
stickiness_check() {
    local stage=$1 before=$2 after_file n via
    after_file=$(mktemp)
    # shellcheck disable=SC2046
    stick_round "$after_file" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$before" "$after_file")
    via=$(answered_via_count "$after_file" "$(node_ip lbb)")
    say "stickiness $stage: $n/${#CLIENT_SOURCES[@]} clients on the same backend ($via/${#CLIENT_SOURCES[@]} answered via lbb)"
    if ((n == ${#CLIENT_SOURCES[@]})); then pass "$n/${#CLIENT_SOURCES[@]}"; else fail "$n/${#CLIENT_SOURCES[@]} kept their backend"; fi
    ((via == ${#CLIENT_SOURCES[@]})) || fail "only $via/${#CLIENT_SOURCES[@]} answered via lbb"
    rm -f "$after_file"
}

# Fills the master's stick table with the 50 clients into FILE and waits for
# the peer to hold them.
stick_before() {
    local file=$1 again n via
    stick_round "$file" "${CLIENT_SOURCES[@]}" || fail "some clients got no answer: $(grep -c ' - ' "$file")"
    via=$(answered_via_count "$file" "$(node_ip lba)")
    say "before: $via/${#CLIENT_SOURCES[@]} clients answered via lba; backends: $(awk '{ n[$2]++ } END { for (b in n) printf "%s=%d ", b, n[b] }' "$file")"
    again=$(mktemp)
    # shellcheck disable=SC2046
    stick_round "$again" $(reversed "${CLIENT_SOURCES[@]}")
    n=$(same_server_count "$file" "$again")
    ((n == ${#CLIENT_SOURCES[@]})) || fail "the master itself kept only $n/${#CLIENT_SOURCES[@]} (its stick table)"
    rm -f "$again"
    if wait_until 10000 stick_has lbb sticky "${#CLIENT_SOURCES[@]}"; then
        say "lbb's stick table for pool sticky holds the ${#CLIENT_SOURCES[@]} clients (${WAITED_MS} ms after the last)"
    else
        fail "lbb's stick table for pool sticky has $(stick_entries lbb sticky)/${#CLIENT_SOURCES[@]} entries after 10 s (peer sync)"
    fi
}

scenario_d() {
    echo "d) stickiness: ${#CLIENT_SOURCES[@]} clients keep their backend across a failover (SIGKILL of the master's lbd)"
    fresh_pair || return
    local before
    before=$(mktemp)
    stick_before "$before"
    kill_lbd lba || fail "could not kill lbd on lba"
    wait_until 10000 only_holder lbb || fail "the VIP did not move to lbb within 10 s (holders: $(vip_holders))"
    stickiness_check "after the failover" "$before"
    rm -f "$before"
}

# Why passive ejection, and not different check intervals on the two nodes:
# the pair's configs are the same (one template), the way operators keep
# them, and the master learns of the dead backend the way it would in
# production between two checks: from client connections that fail. Both
# nodes check every 60 s and the scenario, which starts lbd afresh, lasts a
# few seconds, so neither node's checker probes b3 again: the new master can
# only know that b3 is dead from its peer, and b3's counter counts only
# connections forwarded to it.
scenario_e() {
    echo "e) health: b3 dies, only the master sees it (passive ejection), the new master never tries it"
    fresh_pair || return
    now_ms
    local started=$NOW_MS json ok syn0 syn1
    backend_down b3
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 30)
    ok=$(probe_json ok <<<"$json")
    say "before: 30 client connections through lba with b3 dead: $ok answered (retries on b1/b2)"
    ((ok == 30)) || fail "$ok/30 answered through lba"
    if wait_until 5000 server_is lba rr b3 DOWN; then
        say "lba: rr/b3 DOWN (passive ejection)"
    else
        fail "lba still has rr/b3 $(server_state lba rr b3) after 30 connections"
    fi
    if wait_until 10000 server_is lbb rr b3 DOWN; then
        say "lbb: rr/b3 DOWN, from its peer (${WAITED_MS} ms)"
    else
        fail "lbb has rr/b3 $(server_state lbb rr b3) after 10 s: the master's health did not reach it (peer sync)"
    fi
    # From lbb only: under systemd (the lab) lba's lbd is restarted and its
    # start-up health checks reach b3 too.
    syn0=$(backend_syn_count b3 lbb)
    kill_lbd lba || fail "could not kill lbd on lba"
    wait_until 10000 only_holder lbb || fail "the VIP did not move to lbb within 10 s (holders: $(vip_holders))"
    json=$(probe poll "$VIP:$PORT_RR" --interval-ms 10 --timeout-ms 2000 --count 60)
    syn1=$(backend_syn_count b3 lbb)
    ok=$(probe_json ok <<<"$json")
    say "after: 60 client connections through lbb: $ok answered; servers $(probe_json servers <<<"$json")"
    say "connection attempts reaching b3 during them: $((syn1 - syn0))"
    ((ok == 60)) || fail "$ok/60 answered through lbb"
    if ((syn1 - syn0 == 0)); then pass "b3 got 0 connection attempts"; else fail "b3 got $((syn1 - syn0)) connection attempts from lbb"; fi
    now_ms
    # The argument above holds only while no periodic check ran.
    ((NOW_MS - started < HA_HEALTH_INTERVAL_MS - 10000)) ||
        fail "the scenario took $((NOW_MS - started)) ms: too close to the ${HA_HEALTH_INTERVAL_MS} ms check interval to conclude"
    backend_up b3
}

scenario_f() {
    echo "f) the old master comes back: resyncs, does not take the VIP back"
    fresh_pair || return
    kill_lbd lba || fail "could not kill lbd on lba"
    wait_until 10000 only_holder lbb || { fail "the VIP did not move to lbb (holders: $(vip_holders))"; return; }
    say "lba's lbd killed; VIP on lbb after ${WAITED_MS} ms"
    vip_watch_start || { fail "cannot watch the VIP"; return; }
    now_ms
    local start=$NOW_MS
    start_lbd lba
    wait_until 30000 lbd_ready lba || { fail "lbd on lba not ready again within 30 s"; return; }
    if wait_until 15000 ha_synced lba; then
        say "lba resynced ${WAITED_MS} ms after it was ready: peer $(ha_field lba peer.node_id), role $(ha_field lba role)"
        [[ $(ha_field lba peer.node_id) == "$(node_id lbb)" ]] || fail "lba's peer is '$(ha_field lba peer.node_id)', not $(node_id lbb)"
    else
        fail "lba not resynced after 15 s: 'lbctl ha status --json' says: $(ha_json lba | tr -s ' \n' ' ' || true)"
    fi
    # lba's role comes from its keepalived, which leaves FAULT when it sees
    # lbd's process again (vrrp_track_process) and then writes BACKUP to the
    # notify FIFO: that may come after the sync, so it is waited for.
    if wait_until 10000 roles_are lba BACKUP lbb MASTER; then
        say "roles: lba BACKUP, lbb MASTER ${WAITED_MS} ms after the resync"
    else
        fail "roles after 10 s: lba '$(ha_field lba role)' (keepalived $(keepalived_state lba)), lbb '$(ha_field lbb role)'; expected BACKUP and MASTER"
    fi
    [[ $(ha_field lbb vip_present) == true ]] || fail "lbb's vip_present is '$(ha_field lbb vip_present)', expected true"
    wait_until 10000 keepalived_in lba BACKUP || fail "lba's keepalived did not return to BACKUP ($(keepalived_state lba))"
    # Then watch for STAY_MS: the VIP stays on lbb alone. Sampled (both
    # nodes' addresses) and, between samples, every change from the monitors.
    local samples=0 wrong=0 end both both_ms changes first holders
    now_ms
    end=$((NOW_MS + STAY_MS))
    while now_ms && ((NOW_MS < end)); do
        only_holder lbb || wrong=$((wrong + 1))
        samples=$((samples + 1))
        sleep "$WAIT_POLL_S"
    done
    vip_watch_stop
    read -r both both_ms changes first holders < <(vip_timeline "$start" "$NOW_MS" 0 1)
    say "VIP watched from lba's restart to ${STAY_MS} ms after its keepalived was BACKUP again: $samples samples of both nodes, $wrong not on lbb alone; $changes changes seen by the monitors, holder at the end: '$holders'"
    if ((wrong == 0 && changes == 0 && samples > 5)); then pass "VIP stayed on lbb"; else fail "VIP moved or doubled"; fi
}

scenario_g() {
    echo "g) both nodes restarted at once: never two VIP holders, exactly one after settling"
    fresh_pair || return
    stop_pair
    [[ -z $(vip_holders) ]] || { fail "VIP still on $(vip_holders) after stopping both"; return; }
    vip_watch_start || { fail "cannot watch the VIP"; return; }
    local n holders samples=0 sampled_both=0 both both_ms changes first final
    now_ms
    local start=$NOW_MS
    for n in "${LB_NODES[@]}"; do start_lbd "$n"; done
    for n in "${LB_NODES[@]}"; do start_keepalived "$n"; done
    while now_ms && ((NOW_MS - start < SETTLE_MS)); do
        holders=$(vip_holders)
        samples=$((samples + 1))
        [[ $holders == *" "* ]] && sampled_both=$((sampled_both + 1))
        sleep "$WAIT_POLL_S"
    done
    vip_watch_stop
    read -r both both_ms changes first final < <(vip_timeline "$start" "$NOW_MS" 0 0)
    say "watched ${SETTLE_MS} ms from the start of both: $samples samples of both nodes' addresses, $sampled_both with both holding"
    say "monitors: $changes changes, both holding $both times ($both_ms ms), first holder after ${first} ms, at the end '$final' (sampled: '$holders')"
    ((both == 0 && sampled_both == 0)) || fail "both nodes held the VIP ($both times, $both_ms ms; $sampled_both samples)"
    if [[ $final == lba || $final == lbb ]] && [[ $holders == "$final" ]]; then
        pass "exactly one holder: $final"
    else
        fail "holders at the end: '$final' (monitors), '$holders' (sampled)"
    fi
    for n in "${LB_NODES[@]}"; do wait_until 30000 lbd_ready "$n" || fail "lbd on $n not ready"; done
    # And lbd agrees: the holder says MASTER with its VIP, the other BACKUP.
    [[ $final == lba || $final == lbb ]] || return
    local other
    other=$(peer_of "$final")
    if wait_until 10000 roles_are "$final" MASTER "$other" BACKUP; then
        say "lbctl ha status: $final MASTER (vip_present $(ha_field "$final" vip_present)), $other BACKUP"
    else
        fail "roles: $final '$(ha_field "$final" role)', $other '$(ha_field "$other" role)'; expected MASTER and BACKUP"
    fi
    [[ $(ha_field "$final" vip_present) == true ]] || fail "$final's vip_present is not true"
}
