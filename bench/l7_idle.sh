# bench/l7_idle.sh - the idle-memory rows of bench/l7.sh (sourced by it): bytes per idle
# keep-alive connection, plain and TLS, as the slope of the proxy's RSS between IDLE_BASE
# and IDLE_CONNS open connections, one sample per fresh instance.
#
# Uses l7.sh's TMP, IDLE_*, PORT, TLS_PORT, TLS_STATUS, STATUS, RSS_PID, FRESH, PROXIES,
# restart_proxy and RAW; fills MEM and MEM_TLS (space-separated samples per path).

# write_idle_client: a python client that opens keep-alive connections up to each count of
# its second argument ("1000,3000") in turn, says "ready COUNT" and waits for a line on its
# stdin before the next count; it holds them all until its stdin ends.
write_idle_client() {
    cat >"$TMP/idle.py" <<'EOF'
import socket, ssl, sys
port, counts, tls = int(sys.argv[1]), [int(c) for c in sys.argv[2].split(",")], sys.argv[3] == "tls"
req = b"GET /tiny HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
socks = []
# One at a time: each connection makes its request and gets its whole
# response ("ok\n") before the next opens, so the proxy needs one server
# connection for them all and what grows is the cost of idle clients.
for count in counts:
    while len(socks) < count:
        s = socket.create_connection(("127.0.0.1", port))
        if tls:
            s = ctx.wrap_socket(s)
        s.sendall(req)
        buf = b""
        while not (b"\r\n\r\n" in buf and buf.rstrip(b"\n").endswith(b"ok")):
            chunk = s.recv(4096)
            if not chunk:
                sys.exit("closed by the proxy")
            buf += chunk
        socks.append(s)
    print("ready", count, flush=True)
    if not sys.stdin.readline():
        break  # told to go early
sys.stdin.read()  # hold the connections until told to go
EOF
}

# idle_client_at COUNT: waits (60 s at most) until the idle client says it holds COUNT
# connections; fails if it exits first.
idle_client_at() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -qx "ready $1" "$TMP/idle.out" 2>/dev/null && return 0
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -qx "ready $1" "$TMP/idle.out" 2>/dev/null
}

# measure_idle [tls] PATH: one sample of the proxy's bytes per idle keep-alive connection
# (over TLS: a full handshake each): its RSS with IDLE_BASE and with IDLE_CONNS connections
# open, the difference over the difference of the counts. An instance that served an
# earlier sample is started afresh first.
measure_idle() {
    local kind=plain
    (($# == 2)) && { kind=$1; shift; }
    local path=$1 pid before base top fifo=$TMP/idle.fifo bytes port
    [[ $path != direct && $path != *_w2 && -n ${RSS_PID[$path]:-} ]] || return 0
    [[ $kind == plain || ${TLS_STATUS[$path]:-} == ok ]] || return 0
    if [[ ${FRESH[$path]} != 1 ]]; then
        restart_proxy "$path"
        [[ ${STATUS[$path]} == ok && ( $kind == plain || ${TLS_STATUS[$path]:-} == ok ) ]] ||
            { log "$path did not come back for its idle-memory sample"; return 0; }
    fi
    FRESH[$path]=0
    pid=${RSS_PID[$path]} port=${PORT[$path]}
    [[ $kind == tls ]] && port=${TLS_PORT[$path]}
    rm -f "$fifo"; mkfifo "$fifo"
    before=$(rss_kib "$pid")
    spawn_on "$LOAD_CPUS" python3 "$TMP/idle.py" "$port" "$IDLE_BASE,$IDLE_CONNS" "$kind" <"$fifo" >"$TMP/idle.out" 2>&1 &
    IDLE_PID=$!
    exec 4>"$fifo"
    if idle_client_at "$IDLE_BASE" && base=$(rss_kib "$pid") && echo more >&4 && idle_client_at "$IDLE_CONNS"; then
        top=$(rss_kib "$pid")
        bytes=$(( (top - base) * 1024 / (IDLE_CONNS - IDLE_BASE) ))
        if [[ $kind == tls ]]; then MEM_TLS[$path]+="$bytes "; else MEM[$path]+="$bytes "; fi
        printf 'idle %-5s %-8s RSS %s -> %s -> %s KiB with 0, %s, %s connections: %s bytes each (whole delta / count: %s)\n' \
            "$kind" "$path" "$before" "$base" "$top" "$IDLE_BASE" "$IDLE_CONNS" "$bytes" \
            "$(( (top - before) * 1024 / IDLE_CONNS ))" >>"$RAW"
    else
        log "$path: idle client failed: $(cat "$TMP/idle.out")"
    fi
    exec 4>&-
    wait "$IDLE_PID" 2>/dev/null || true
    IDLE_PID=""
}

# print_idle_results: the table of the idle-memory rows, if any were measured.
print_idle_results() {
    local path mem tls_mem
    [[ -n ${MEM[haproxy]:-}${MEM[lbd]:-}${MEM[nginx]:-} ]] || return 0
    echo
    printf '%-8s %20s %13s %6s %20s %13s %6s\n' path "bytes per idle conn" "min-max" "/hap" \
        "idle TLS conn" "min-max" "/hap"
    for path in "${PROXIES[@]}"; do
        [[ $path == *_w2 ]] && continue
        mem=$(median "${MEM[$path]:-}") tls_mem=$(median "${MEM_TLS[$path]:-}")
        printf '%-8s %20s %13s %6s %20s %13s %6s\n' "$path" \
            "$( [[ -n $mem ]] && awk -v m="$mem" 'BEGIN { printf "%.0f", m }' || echo n/a)" "$(spread "${MEM[$path]:-}")" \
            "$(ratio "$mem" "$(median "${MEM[haproxy]:-}")")" \
            "$( [[ -n $tls_mem ]] && awk -v m="$tls_mem" 'BEGIN { printf "%.0f", m }' || echo n/a)" \
            "$(spread "${MEM_TLS[$path]:-}")" "$(ratio "$tls_mem" "$(median "${MEM_TLS[haproxy]:-}")")"
    done
    echo "(median of $IDLE_SAMPLES samples, min-max beside it; a sample: the RSS of the proxy process (NGINX: its"
    echo " worker) with $IDLE_CONNS minus with $IDLE_BASE keep-alive connections open, divided by $((IDLE_CONNS - IDLE_BASE)); each"
    echo " connection made one request, one at a time; each sample on freshly started proxies, before other traffic)"
}
