#!/usr/bin/env python3
"""h2_late_request.py PORT BIG SMALL AFTER [PRIORITY]: GET /bytes/BIG on one h2c connection;
once AFTER bytes of it arrived, GET /bytes/SMALL on the same connection (both with a
`priority: PRIORITY` field if given). Windows of 64 MiB, so flow control never holds the first stream back,
and a small receive buffer read at a pace (32 KiB every 5 ms), so the client is what limits the
connection and lbd always has the first stream's bytes at hand. Prints `big_at_small_end=N`,
the bytes of BIG received when SMALL ended, and `complete=N`, the streams whose body arrived
whole. Uses h2_client.py's helpers."""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

from h2_client import request_headers

port, big, small, after = (int(a) for a in sys.argv[1:5])
priority = sys.argv[5] if len(sys.argv) > 5 else None
window = 64 << 20

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
sock.settimeout(10)
sock.connect(("127.0.0.1", port))
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.local_settings = h2.settings.Settings(client=True, initial_values={
    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
conn.initiate_connection()
conn.increment_flow_control_window(window - 65535)
extra = [("priority", priority)] if priority else []
big_sid = conn.get_next_available_stream_id()
conn.send_headers(big_sid, request_headers("/bytes/%d" % big, extra=extra), end_stream=True)
sock.sendall(conn.data_to_send())

small_sid, big_received, big_at_small_end = None, 0, None
ended, status, intact = set(), {}, {}  # per stream id; bodies checked as they come, not kept
end = time.time() + 60
while time.time() < end and not (big_sid in ended and small_sid in ended):
    data = sock.recv(32 * 1024)
    if not data:
        break
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            status[ev.stream_id] = dict(ev.headers).get(":status")
        elif isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            intact[ev.stream_id] = intact.get(ev.stream_id, 0) + (len(ev.data) if ev.data.count(b"x") == len(ev.data) else -(1 << 40))
            if ev.stream_id == big_sid:
                big_received += len(ev.data)
        elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
            ended.add(ev.stream_id)
            if ev.stream_id == small_sid and isinstance(ev, h2.events.StreamEnded):
                big_at_small_end = big_received
    if small_sid is None and big_received >= after:
        small_sid = conn.get_next_available_stream_id()
        conn.send_headers(small_sid, request_headers("/bytes/%d" % small, extra=extra), end_stream=True)
    sock.sendall(conn.data_to_send())
    time.sleep(0.005)

print("big_at_small_end=%s" % big_at_small_end, flush=True)
sizes = {big_sid: big, small_sid: small}
complete = sum(1 for sid, size in sizes.items() if status.get(sid) == "200" and intact.get(sid) == size)
print("complete=%d" % complete, flush=True)
