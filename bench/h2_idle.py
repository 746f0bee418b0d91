#!/usr/bin/env python3
"""bench/h2_idle.py PORT COUNT plain|tls PID [hold]: opens COUNT idle HTTP/2 connections to
127.0.0.1:PORT and prints "RSS_BEFORE_KIB RSS_AFTER_KIB BYTES_PER_CONNECTION" of process PID;
with "hold", keeps them open until its standard input ends (to look at the process then).

Each connection has its SETTINGS exchanged both ways and one GET /tiny answered, then
stays open (idle, answering what the proxy sends, as a browser does) until every one is
measured. Used by bench/h2.sh and bench/h2_cost.sh.
Needs Debian's python3-h2."""
import selectors
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events

port, count, tls, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "tls", int(sys.argv[4])

def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])

def open_one():
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        s = ctx.wrap_socket(s)
        if s.selected_alpn_protocol() != "h2":
            sys.exit(f"ALPN chose {s.selected_alpn_protocol()!r}, not h2")
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    c.send_headers(1, [(":method", "GET"), (":scheme", "https" if tls else "http"),
                       (":authority", "127.0.0.1"), (":path", "/tiny")], end_stream=True)
    s.sendall(c.data_to_send())
    acked = ended = False
    # Both SETTINGS acknowledged (h2 acknowledges the proxy's by itself) and the response read.
    while not (acked and ended):
        data = s.recv(65536)
        if not data:
            sys.exit("closed by the proxy")
        for ev in c.receive_data(data):
            if isinstance(ev, h2.events.SettingsAcknowledged):
                acked = True
            elif isinstance(ev, h2.events.StreamEnded):
                ended = True
            elif isinstance(ev, h2.events.StreamReset):
                sys.exit(f"stream reset: {ev.error_code}")
        out = c.data_to_send()
        if out:
            s.sendall(out)
    return s, c

def answer(sel, timeout):
    """Reads the connections that have bytes and sends what h2 answers (ACKs of the proxy's
    SETTINGS, as a browser's connection does while idle: lbd parks an idle connection only once
    its SETTINGS_HEADER_TABLE_SIZE 0 is acknowledged). False when none had any within `timeout`."""
    ready = sel.select(timeout)
    for key, _ in ready:
        data = key.fileobj.recv(65536)
        if not data:
            sys.exit("closed by the proxy")
        key.data.receive_data(data)
        out = key.data.data_to_send()
        if out:
            key.fileobj.sendall(out)
    return bool(ready)

# One at a time: the proxy needs one server connection for all of them, and
# what grows is the cost of idle HTTP/2 clients. The open ones are answered
# meanwhile, as clients that come one after another over a while would be,
# and all until none has had bytes for 0.5 s.
sel = selectors.DefaultSelector()
before = rss_kib()
held = []
for _ in range(count):
    s, c = open_one()
    held.append((s, c))
    sel.register(s, selectors.EVENT_READ, c)
    answer(sel, 0)
while answer(sel, 0.5):
    pass
after = rss_kib()
print(f"{before} {after} {(after - before) * 1024 // count}", flush=True)
if sys.argv[5:] == ["hold"]:
    sys.stdin.read()
