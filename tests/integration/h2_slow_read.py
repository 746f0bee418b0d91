#!/usr/bin/env python3
"""h2_slow_read.py PORT BIG SMALL: GET /bytes/BIG then GET /bytes/SMALL on one h2c connection,
sent at once, then read at a steady ~0.8 MB/s (16 KiB every 20 ms: a pace, not a wait for
anything). lbd sends a connection's responses one after another (RFC 9218), so the second waits
behind the first for as long as the client takes to read it. Prints `reset=N` for each reset
stream and `complete=N`, the streams whose body arrived whole. Uses h2_client.py's helpers."""
import sys
import time

import h2.events

from h2_client import connect, request_headers, response_of, stream_ended

port, big, small = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sock, conn = connect(port)
sids = []
for size in (big, small):
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("/bytes/%d" % size), end_stream=True)
    sids.append(sid)
sock.sendall(conn.data_to_send())

events = []
end = time.time() + 60
while time.time() < end and not all(stream_ended(sid)(events) for sid in sids):
    data = sock.recv(16384)
    if not data:
        break
    for ev in conn.receive_data(data):
        events.append(ev)
        if isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            print("reset=%d" % ev.stream_id, flush=True)
    sock.sendall(conn.data_to_send())
    time.sleep(0.02)

complete = sum(1 for sid, size in zip(sids, (big, small)) if response_of(events, sid)[:2] == ("200", b"x" * size))
print("complete=%d" % complete, flush=True)
