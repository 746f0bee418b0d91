#!/usr/bin/python3
"""Parked HTTP/2 connections (l7/h2_connection_park.cc) for lbd's l7_h2_flow_test, on Debian's
python3-h2 and h2_client.py's helpers. Prints `key=value` lines that the C++ test checks.

  park PORT ADMIN CYCLES  on one connection, CYCLES x (three GETs whose fields the client's HPACK
                          table indexes, then refers to; a 100,000-byte POST; a 70,000-byte GET;
                          quiet until ADMIN's
                          lbd_http_connections_parked says 1); then 3 MiB each way; a late
                          WINDOW_UPDATE and RST_STREAM for the last (closed) stream and a request;
                          then HEADERS on a spent stream id (ignored) and a request. Prints counts,
                          the GOAWAY seen (`goaway=None`) and what came for the spent id
  park_drain PORT ADMIN   two GETs, quiet until parked; prints `parked=1`, then waits for the
                          GOAWAY and prints its error code, last stream id, and whether EOF came
  open_goaway PORT        a POST of 10 bytes with 5 sent (stream 1 open); prints `open=1`, waits
                          for the GOAWAY (printed as above), sends the other 5, prints the
                          response's status and body, then whether EOF came
"""
import socket
import struct
import sys
import time
import urllib.request

import h2.events
import hyperframe.frame

from h2_client import (TIMEOUT, connect, goaway_of, pump, raw_frame, read_frames, request_headers, response_of,
                       stream_ended)


def parked_connections(admin):
    metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=TIMEOUT).read().decode()
    for line in metrics.splitlines():
        if line.startswith('lbd_http_connections_parked{listener="front"} '):
            return float(line.split()[-1])
    return None


def await_parked(admin, sock, conn):
    """Reads the connection (lbd parks it only once its SETTINGS are acknowledged) and polls lbd's
    gauge, as no frame says "parked", until the gauge counts this connection."""
    end = time.time() + TIMEOUT
    sock.settimeout(0.005)
    try:
        while time.time() < end:
            events = pump(sock, conn, lambda evs: False, deadline=0.005)
            if any(e in ("eof", "reset") or isinstance(e, h2.events.ConnectionTerminated) for e in events):
                return False
            if parked_connections(admin) == 1:
                return True
    finally:
        sock.settimeout(TIMEOUT)
    return False


def exchange(sock, conn, path, extra=(), body=None):
    """One request (a POST of `body`, sent as the windows allow), its response read whole:
    (status, body, events)."""
    sid = conn.get_next_available_stream_id()
    method = "GET" if body is None else "POST"
    fields = list(extra) + ([] if body is None else [("content-length", str(len(body)))])
    conn.send_headers(sid, request_headers(path, method, fields), end_stream=body is None)
    sock.sendall(conn.data_to_send())
    events, sent = [], 0
    while body is not None and sent < len(body):
        window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(body) - sent)
        if window <= 0:
            events += pump(sock, conn, lambda evs: any(isinstance(e, (h2.events.WindowUpdated, str)) for e in evs),
                           deadline=3.0)
            if not any(isinstance(e, h2.events.WindowUpdated) for e in events):
                break
            continue
        conn.send_data(sid, body[sent:sent + window], end_stream=sent + window == len(body))
        sent += window
        sock.sendall(conn.data_to_send())
    events += pump(sock, conn, stream_ended(sid), deadline=30.0)
    status, data, _ = response_of(events, sid)
    return status, data, events


def cmd_park(port, admin, cycles):
    sock, conn = connect(port)
    events, gets, posts, downloads, parked = [], 0, 0, 0, 0
    for i in range(cycles):
        if i == cycles // 2:
            # lbd's connection send window, below 65,535 until now (h2 returns it lazily), past it.
            conn.increment_flow_control_window(4 << 20)
            sock.sendall(conn.data_to_send())
        # The first GET after a wake goes with the table emptied (size 0); lbd's SETTINGS give it
        # back, so the second adds the fields to the client's table and the third refers to them.
        fields = [("x-park", "cycle-%d" % i), ("cookie", "session=" + "c" * 40)]
        for j in range(3):
            status, body, evs = exchange(sock, conn, "/park/%d/%d" % (i, j), fields)
            events += evs
            gets += status == "200" and ("x-park: cycle-%d" % i).encode() in body
        # Less than half the connection window: bytes lbd has not given back by itself.
        status, body, evs = exchange(sock, conn, "/post/%d" % i, body=b"p" * 100000)
        events += evs
        posts += status == "200" and b"body_bytes=100000\n" in body
        # More than the client's initial connection window: lbd's send window as the client knows
        # it (a new session that sends more than the client granted is a FLOW_CONTROL_ERROR).
        status, body, evs = exchange(sock, conn, "/bytes/70000")
        events += evs
        downloads += status == "200" and body == b"x" * 70000
        parked += await_parked(admin, sock, conn)
    print("gets=%d" % gets)
    print("posts=%d" % posts)
    print("downloads=%d" % downloads)
    print("parked=%d" % parked)
    status, body, evs = exchange(sock, conn, "/up", body=b"u" * (3 << 20))
    events += evs
    print("upload=%s" % (status == "200" and b"body_bytes=%d\n" % (3 << 20) in body))
    status, body, evs = exchange(sock, conn, "/bytes/%d" % (3 << 20))
    events += evs
    print("download=%s" % (status == "200" and body == b"x" * (3 << 20)))
    print("parked_after_bodies=%s" % await_parked(admin, sock, conn))
    # RFC 9113 lets these come for a stream the peer has closed; a new session must know it is closed.
    last = conn.highest_outbound_stream_id
    sock.sendall(raw_frame(0x8, 0, last, struct.pack(">I", 1000)) + raw_frame(0x3, 0, last, struct.pack(">I", 8)))
    status, body, evs = exchange(sock, conn, "/after-late-frames")
    events += evs
    print("after_late=%s" % status)
    print("goaway=%s" % goaway_of(events))
    print("parked_again=%s" % await_parked(admin, sock, conn))
    # A spent stream id: nghttp2 ignores HEADERS on one (a fresh session would take it as a new
    # request and answer it). Static-table fields only, so the client's HPACK state is untouched.
    sock.sendall(raw_frame(0x1, 0x5, 1, b"\x82\x86\x84\x01\x01x"))
    status, body, evs = exchange(sock, conn, "/after-spent-id")
    spent = [e for e in evs if isinstance(e, str) or getattr(e, "stream_id", None) == 1]
    print("after_spent=%s spent_id_events=%d goaway=%s" % (status, len(spent), goaway_of(evs)))


def cmd_park_drain(port, admin):
    sock, conn = connect(port)
    for i in range(2):
        exchange(sock, conn, "/drain/%d" % i)
    print("parked=%d" % await_parked(admin, sock, conn), flush=True)
    events = pump(sock, conn, lambda evs: "eof" in evs or "reset" in evs)
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            print("goaway=%d last_stream=%s" % (int(e.error_code), e.last_stream_id))
    print("eof=%s" % ("eof" in events))



def cmd_open_goaway(port):
    sock, conn = connect(port)
    conn.send_headers(1, request_headers("/open-goaway", "POST", [("content-length", "10")]))
    conn.send_data(1, b"12345")
    sock.sendall(conn.data_to_send())
    print("open=1", flush=True)
    events = pump(sock, conn, lambda evs: goaway_of(evs) is not None or "eof" in evs)
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            print("goaway=%d last_stream=%s" % (int(e.error_code), e.last_stream_id), flush=True)
    # python-h2 sends and takes nothing once it has a GOAWAY: the rest of the stream by hand,
    # its HEADERS decoded with the connection's own HPACK decoder.
    sock.sendall(raw_frame(0x0, 0x1, 1, b"67890"))
    ended = lambda frames: any(f.stream_id == 1 and "END_STREAM" in f.flags for f in frames)
    frames = read_frames(sock, ended)
    status, body, reset = None, b"", None
    for f in frames:
        if f.stream_id != 1:
            continue
        if isinstance(f, hyperframe.frame.HeadersFrame):
            status = dict(conn.decoder.decode(f.data)).get(":status")
        elif isinstance(f, hyperframe.frame.DataFrame):
            body += f.data
        elif isinstance(f, hyperframe.frame.RstStreamFrame):
            reset = f.error_code
    print("status=%s reset=%s" % (status, reset))
    print("body=" + body.decode(errors="replace").replace("\n", " "))
    sock.settimeout(TIMEOUT)
    try:
        eof = sock.recv(65536) == b""
    except (socket.timeout, ConnectionResetError):
        eof = False
    print("eof=%s" % eof)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    if cmd == "park":
        cmd_park(port, int(args[0]), int(args[1]))
    elif cmd == "park_drain":
        cmd_park_drain(port, int(args[0]))
    elif cmd == "open_goaway":
        cmd_open_goaway(port)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
