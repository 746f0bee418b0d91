#!/usr/bin/python3
"""gRPC-style HTTP/2 client (h2c, prior knowledge) for lbd's l7_h2_upstream_test, on Debian's
python3-h2, against grpc_origin.py behind lbd. Prints `key=value` lines the C++ test checks.

  unary PORT PATH MSG [TRAILER]  one call: a length-prefixed MSG (and, if given, the request
                                 trailer x-trailer: TRAILER); prints status=, message=, each
                                 response trailer as `trailer NAME=VALUE`, reset= if reset
  concurrent PORT PATH N         N calls at once on one connection; prints ok=K, the calls
                                 answered 200 with their echo and grpc-status 0
  stream PORT MIB                bidi /test.Echo/Stream: MIB MiB sent in 16 KiB DATA frames
                                 while the echo is read; prints sent=, echoed=, match=1 if the
                                 echo is the same bytes, early=1 if echo bytes came back before
                                 the request's last byte was sent, and the trailers
"""
import hashlib
import os
import select
import struct
import sys
import time

import h2.events

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2_client import TIMEOUT, connect, pump, request_headers, stream_ended  # noqa: E402


def grpc_headers(path):
    return request_headers(path, "POST", [("content-type", "application/grpc"), ("te", "trailers")])


def frame(message):
    return struct.pack(">BI", 0, len(message)) + message


def report(events, sid):
    status, body, trailers, reset = None, b"", [], None
    for e in events:
        if isinstance(e, str):
            continue
        if getattr(e, "stream_id", None) != sid:
            continue
        if isinstance(e, h2.events.ResponseReceived):
            status = dict(e.headers).get(":status")
        elif isinstance(e, h2.events.DataReceived):
            body += e.data
        elif isinstance(e, h2.events.TrailersReceived):
            trailers += list(e.headers)
        elif isinstance(e, h2.events.StreamReset):
            reset = int(e.error_code)
    return status, body, trailers, reset


def cmd_unary(port, path, msg, trailer=None):
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, grpc_headers(path))
    conn.send_data(sid, frame(msg.encode()), end_stream=trailer is None)
    if trailer is not None:
        conn.send_headers(sid, [("x-trailer", trailer)], end_stream=True)
    sock.sendall(conn.data_to_send())
    status, body, trailers, reset = report(pump(sock, conn, stream_ended(sid)), sid)
    print("status=%s" % status)
    print("message=%s" % body[5:].decode(errors="replace"))
    for name, value in trailers:
        print("trailer %s=%s" % (name, value))
    if reset is not None:
        print("reset=%d" % reset)


def cmd_concurrent(port, path, n):
    sock, conn = connect(port)
    sids = []
    for i in range(n):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, grpc_headers(path))
        conn.send_data(sid, frame(b"m%d" % i), end_stream=True)
        sids.append((sid, i))
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, lambda evs: all(stream_ended(sid)(evs) for sid, _ in sids), deadline=30)
    ok = 0
    for sid, i in sids:
        status, body, trailers, _ = report(events, sid)
        if status == "200" and body[5:].endswith(b":m%d" % i) and ("grpc-status", "0") in trailers:
            ok += 1
    print("ok=%d" % ok)


def cmd_stream(port, mib):
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, grpc_headers("/test.Echo/Stream"))
    sock.sendall(conn.data_to_send())
    total = mib << 20
    sent_hash, echo_hash = hashlib.sha256(), hashlib.sha256()
    sent = echoed = 0
    early = False
    status, trailers, reset, ended = None, [], None, False
    deadline = time.time() + 120
    while not ended and time.time() < deadline:
        while sent < total:
            window = min(conn.local_flow_control_window(sid), 16384, total - sent)
            if window <= 0:
                break
            chunk = bytes((sent + k) % 251 for k in range(window)) if window < 16384 else pattern(sent)
            sent_hash.update(chunk)
            sent += len(chunk)
            conn.send_data(sid, chunk, end_stream=sent == total)
        sock.sendall(conn.data_to_send())
        ready, _, _ = select.select([sock], [], [], TIMEOUT)
        if not ready:
            break
        data = sock.recv(1 << 20)
        if not data:
            break
        for e in conn.receive_data(data):
            if isinstance(e, h2.events.ResponseReceived):
                status = dict(e.headers).get(":status")
            elif isinstance(e, h2.events.DataReceived):
                echo_hash.update(e.data)
                echoed += len(e.data)
                if sent < total:
                    early = True
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.TrailersReceived):
                trailers += list(e.headers)
            elif isinstance(e, h2.events.StreamReset):
                reset = int(e.error_code)
                ended = True
            elif isinstance(e, h2.events.StreamEnded):
                ended = True
        sock.sendall(conn.data_to_send())
    print("status=%s" % status)
    print("sent=%d" % sent)
    print("echoed=%d" % echoed)
    print("match=%d" % int(sent == echoed and sent_hash.digest() == echo_hash.digest()))
    print("early=%d" % int(early))
    for name, value in trailers:
        print("trailer %s=%s" % (name, value))
    if reset is not None:
        print("reset=%d" % reset)


_PATTERNS = {}


def pattern(offset):
    """16 KiB of bytes ((offset + k) % 251), cached by offset % 251."""
    key = offset % 251
    if key not in _PATTERNS:
        _PATTERNS[key] = bytes((offset + k) % 251 for k in range(16384))
    return _PATTERNS[key]


def main():
    cmd, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if cmd == "unary":
        cmd_unary(port, args[0], args[1], args[2] if len(args) > 2 else None)
    elif cmd == "concurrent":
        cmd_concurrent(port, args[0], int(args[1]))
    elif cmd == "stream":
        cmd_stream(port, int(args[0]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
