#!/usr/bin/python3
"""HTTP/2 (h2c, prior knowledge) client for lbd's l7_h2_test, on Debian's python3-h2.

Each subcommand talks to lbd on 127.0.0.1:PORT and prints `key=value` lines that the C++
test checks; the exit code is 0 unless the connection itself failed unexpectedly.

  translate PORT          two Cookie fields, TE: trailers, a body without content-length
  conn_header PORT        a connection-specific header (stream error), then a good request
  concurrent PORT N       opens N streams at once without ending them; reports the refused ones
  big_head PORT BYTES     one request whose header list is BYTES long
  rapid_reset PORT N      N x (HEADERS + RST_STREAM); reports the GOAWAY
  upload PORT PATH MIB    a body of MIB MiB (content-length), as fast as the windows allow;
                          prints progress lines `sent=N` (stdout flushed) and the status
  auth PORT CRED...       one stream per Basic credential CRED (base64), all sent in one write;
                          prints a `status=S` line per stream
  made_you_reset PORT N   N x (HEADERS with content-length: 10 + DATA of 1 byte with END_STREAM),
                          which makes lbd reset the stream (PROTOCOL_ERROR) after its exchange
                          began (MadeYouReset, CVE-2025-8671); reports the resets and GOAWAY
  reset_hang PORT         the same for /hang: HEADERS; prints `sent=1` and waits for SIGUSR1; then
                          the short DATA (lbd resets the stream); prints `reset=CODE` and keeps
                          the connection open until a second SIGUSR1
  continuation PORT N     raw frames: a request head as HEADERS + N empty CONTINUATION frames +
                          a last one with END_HEADERS; reports the response status or GOAWAY
  big_response_heads PORT CONNS SIZE
                          CONNS connections, each sending GET /big/0 ... /big/3 before any is
                          read; each response's x-big field must be big_value(i, SIZE) (a head
                          over 16 KiB: HEADERS + CONTINUATION); prints `intact=N bad=M`
  order PORT N BYTES      N GET /bytes/BYTES sent at once; reports how many streams had ended
                          when half of all the bytes had come (`ended_by_half=`), and the
                          complete ones
  hold PORT N BYTES       N GET /bytes/BYTES sent at once, then nothing read (the windows stay
                          at 64 KiB); prints `sent=N` and waits for SIGUSR1; then reads them all
                          and prints the complete ones (every body byte checked)
"""
import signal
import socket
import struct
import sys
import time

import hpack
import hyperframe.frame

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

TIMEOUT = 10.0


def connect(port, validate_outbound=True):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                    validate_outbound_headers=validate_outbound,
                                    normalize_outbound_headers=validate_outbound)
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "lbd.test"), (":path", path)] + list(extra)


def pump(sock, conn, until, deadline=TIMEOUT):
    """Reads events until `until(events_so_far)` is true or the peer closes; returns all events."""
    seen = []
    end = time.time() + deadline
    while time.time() < end:
        if until(seen):
            break
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            seen.append("reset")
            break
        if not data:
            seen.append("eof")
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            seen.append("protocol_error:" + str(e))
            break
        for ev in events:
            seen.append(ev)
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                pass
    return seen


def stream_ended(sid):
    return lambda evs: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == sid
                           for e in evs if not isinstance(e, str))


def response_of(events, sid):
    status, body, reset = None, b"", None
    for e in events:
        if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
            status = dict(e.headers).get(":status")
        elif isinstance(e, h2.events.DataReceived) and e.stream_id == sid:
            body += e.data
        elif isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
            reset = int(e.error_code)
    return status, body, reset


def goaway_of(events):
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            return int(e.error_code)
    return None


def cmd_translate(port):
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("/translate", "POST",
                                           [("cookie", "a=1"), ("cookie", "b=2"), ("te", "trailers")]))
    conn.send_data(sid, b"x" * 1000)
    conn.send_data(sid, b"y" * 234, end_stream=True)
    sock.sendall(conn.data_to_send())
    status, body, reset = response_of(pump(sock, conn, stream_ended(sid)), sid)
    print("status=%s" % status)
    print("reset=%s" % reset)
    sys.stdout.write(body.decode("latin-1"))


def cmd_conn_header(port):
    sock, conn = connect(port, validate_outbound=False)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("/bad", extra=[("connection", "keep-alive")]), end_stream=True)
    sock.sendall(conn.data_to_send())
    status, _, reset = response_of(pump(sock, conn, stream_ended(sid)), sid)
    print("bad_status=%s" % status)
    print("bad_reset=%s" % reset)
    sid2 = conn.get_next_available_stream_id()
    conn.send_headers(sid2, request_headers("/after"), end_stream=True)
    sock.sendall(conn.data_to_send())
    status, _, reset = response_of(pump(sock, conn, stream_ended(sid2)), sid2)
    print("after_status=%s" % status)


def cmd_concurrent(port, n):
    sock, conn = connect(port)
    # A burst right behind the preface, before the server's SETTINGS is even read (as a
    # browser opening a page does): the streams over the limit are refused one by one
    # (nghttp2 treats a client that ignores an acknowledged limit as a connection error).
    sids = []
    for _ in range(n):
        sid = conn.get_next_available_stream_id()
        # POST without END_STREAM: each stream stays open.
        conn.send_headers(sid, request_headers("/open", "POST", [("content-length", "10")]))
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, lambda evs: False, deadline=2.0)
    print("max_concurrent=%s" % conn.remote_settings.max_concurrent_streams)
    refused = [e for e in events if isinstance(e, h2.events.StreamReset) and int(e.error_code) == 7]
    print("refused=%d" % len(refused))
    print("goaway=%s" % goaway_of(events))


def cmd_big_head(port, size):
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers("/big", extra=[("x-big", "v" * size)]), end_stream=True)
    sock.sendall(conn.data_to_send())
    status, _, reset = response_of(pump(sock, conn, stream_ended(sid)), sid)
    print("status=%s" % status)
    print("reset=%s" % reset)


def cmd_rapid_reset(port, n):
    sock, conn = connect(port)
    sent = 0
    events = []
    try:
        for i in range(n):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, request_headers("/rr%d" % i), end_stream=True)
            conn.reset_stream(sid)
            sent += 1
            if sent % 50 == 0:
                sock.sendall(conn.data_to_send())
        sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        pass
    events = pump(sock, conn, lambda evs: goaway_of(evs) is not None or "eof" in evs, deadline=5.0)
    print("sent=%d" % sent)
    print("goaway=%s" % goaway_of(events))


def cmd_upload(port, path, mib):
    sock, conn = connect(port)
    total = mib << 20
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers(path, "PUT", [("content-length", str(total))]))
    sock.sendall(conn.data_to_send())
    chunk = b"z" * 16384
    sent = 0
    last_report = 0
    events = []
    while sent < total:
        window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, total - sent)
        if window <= 0:
            evs = pump(sock, conn, lambda evs: any(isinstance(e, h2.events.WindowUpdated) for e in evs)
                       or any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, str))
                              for e in evs), deadline=3.0)
            events += evs
            if not any(isinstance(e, h2.events.WindowUpdated) for e in evs):
                print("blocked=1")
                break
            continue
        conn.send_data(sid, chunk[:window], end_stream=(sent + window == total))
        sent += window
        sock.sendall(conn.data_to_send())
        if sent - last_report >= (8 << 20):
            last_report = sent
            print("sent=%d" % sent, flush=True)
    print("sent=%d" % sent, flush=True)
    if sent == total:
        events += pump(sock, conn, stream_ended(sid), deadline=30.0)
        status, body, reset = response_of(events, sid)
        print("status=%s" % status)
        sys.stdout.write(body.decode("latin-1"))


def cmd_auth(port, credentials):
    sock, conn = connect(port)
    sids = []
    for cred in credentials:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, request_headers("/guess", extra=[("authorization", "Basic " + cred)]),
                          end_stream=True)
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, lambda evs: all(stream_ended(sid)(evs) for sid in sids))
    for sid in sids:
        print("status=%s" % response_of(events, sid)[0])


def raw_frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def short_body(sid):
    # One byte and END_STREAM where content-length said 10 (RFC 9113 §8.1.1: a stream error; a
    # WINDOW_UPDATE of 0 or DATA on a half-closed stream are connection errors in nghttp2).
    # Made by hand: h2 would not send it.
    return raw_frame(0x0, 0x1, sid, b"x")


def short_headers(path):
    return request_headers(path, "POST", [("content-length", "10")])


def cmd_made_you_reset(port, n):
    sock, conn = connect(port)
    sent = 0
    try:
        for i in range(n):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, short_headers("/myr%d" % i))
            sock.sendall(conn.data_to_send() + short_body(sid))
            sent += 1
    except OSError:
        pass
    resets_of = lambda evs: [e for e in evs if isinstance(e, h2.events.StreamReset) and int(e.error_code) == 1]
    events = pump(sock, conn, lambda evs: goaway_of(evs) is not None or "eof" in evs or len(resets_of(evs)) == sent)
    resets = resets_of(events)
    print("sent=%d" % sent)
    print("server_resets=%d" % len(resets))
    print("goaway=%s" % goaway_of(events))


def cmd_reset_hang(port):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, short_headers("/hang"))
    sock.sendall(conn.data_to_send())
    print("sent=1", flush=True)
    signal.sigtimedwait({signal.SIGUSR1}, TIMEOUT)
    sock.sendall(short_body(sid))
    _, _, reset = response_of(pump(sock, conn, stream_ended(sid)), sid)
    print("reset=%s" % reset, flush=True)
    signal.sigtimedwait({signal.SIGUSR1}, TIMEOUT)
    sock.close()


def read_frames(sock, until, deadline=TIMEOUT):
    """Raw frames from `sock` until `until(frames)` or EOF: a list of hyperframe frames."""
    frames, buf = [], b""
    end = time.time() + deadline
    while time.time() < end and not until(frames):
        try:
            data = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            frames.append(frame)
    return frames


def cmd_continuation(port, n):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    block = hpack.Encoder().encode(request_headers("/cont"))
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + raw_frame(0x4, 0, 0)   # preface, empty SETTINGS
    out += raw_frame(0x1, 0x1, 1, block)                                  # HEADERS, END_STREAM, no END_HEADERS
    out += raw_frame(0x9, 0, 1) * n                                       # empty CONTINUATIONs
    out += raw_frame(0x9, 0x4, 1)                                         # END_HEADERS
    try:
        sock.sendall(out)
    except OSError:
        pass
    done = lambda fs: any(isinstance(f, hyperframe.frame.GoAwayFrame) or
                          (isinstance(f, hyperframe.frame.HeadersFrame) and f.stream_id == 1) for f in fs)
    frames = read_frames(sock, done)
    status = goaway = None
    for f in frames:
        if isinstance(f, hyperframe.frame.HeadersFrame) and f.stream_id == 1:
            status = dict(hpack.Decoder().decode(f.data)).get(":status")
        elif isinstance(f, hyperframe.frame.GoAwayFrame):
            goaway = f.error_code
    print("status=%s" % status)
    print("goaway=%s" % goaway)


def big_value(seed, size):
    """The x-big field of /big/SEED, as the C++ test makes it (an LCG over 62 characters)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    x, out = seed + 1, []
    for _ in range(size):
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append(alphabet[(x >> 16) % 62])
    return "".join(out)


def cmd_big_response_heads(port, conns, size):
    # Every request of every connection goes out before any answer is read, so the responses'
    # header blocks (several CONTINUATION frames each) come out of one worker interleaved.
    clients = [connect(port) for _ in range(conns)]
    for sock, conn in clients:
        for i in range(4):
            conn.send_headers(conn.get_next_available_stream_id(), request_headers("/big/%d" % i), end_stream=True)
        sock.sendall(conn.data_to_send())
    expected = [big_value(i, size) for i in range(4)]
    intact = bad = 0
    for sock, conn in clients:
        sids = list(range(1, 8, 2))
        events = pump(sock, conn, lambda evs: all(stream_ended(sid)(evs) for sid in sids))
        for n, sid in enumerate(sids):
            head = next((dict(e.headers) for e in events
                         if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid), {})
            ok = head.get(":status") == "200" and head.get("x-big") == expected[n]
            intact, bad = intact + ok, bad + (not ok)
        sock.close()
    print("intact=%d bad=%d" % (intact, bad))
def get_bytes_streams(sock, conn, n, size):
    """Sends N GET /bytes/SIZE in one write; returns their stream ids."""
    sids = []
    for _ in range(n):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, request_headers("/bytes/%d" % size), end_stream=True)
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    return sids


def cmd_order(port, n, size):
    sock, conn = connect(port)
    sids = get_bytes_streams(sock, conn, n, size)
    events = pump(sock, conn, lambda evs: all(stream_ended(sid)(evs) for sid in sids), deadline=30)
    received, ended = 0, 0  # the streams whole by the time half of all the bytes came
    for e in events:
        if isinstance(e, h2.events.DataReceived):
            received += len(e.data)
        elif isinstance(e, h2.events.StreamEnded) and received <= n * size // 2:
            ended += 1
    complete = sum(1 for sid in sids if response_of(events, sid)[:2] == ("200", b"x" * size))
    print("ended_by_half=%d" % ended)
    print("complete=%d" % complete)


def cmd_hold(port, n, size):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    sock, conn = connect(port)
    sids = get_bytes_streams(sock, conn, n, size)
    print("sent=%d" % n, flush=True)
    signal.sigtimedwait({signal.SIGUSR1}, TIMEOUT)
    events = pump(sock, conn, lambda evs: all(stream_ended(sid)(evs) for sid in sids), deadline=30)
    complete = sum(1 for sid in sids if response_of(events, sid)[:2] == ("200", b"x" * size))
    print("complete=%d" % complete, flush=True)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    if cmd == "translate":
        cmd_translate(port)
    elif cmd == "conn_header":
        cmd_conn_header(port)
    elif cmd == "concurrent":
        cmd_concurrent(port, int(args[0]))
    elif cmd == "big_head":
        cmd_big_head(port, int(args[0]))
    elif cmd == "rapid_reset":
        cmd_rapid_reset(port, int(args[0]))
    elif cmd == "upload":
        cmd_upload(port, args[0], int(args[1]))
    elif cmd == "auth":
        cmd_auth(port, args)
    elif cmd == "made_you_reset":
        cmd_made_you_reset(port, int(args[0]))
    elif cmd == "reset_hang":
        cmd_reset_hang(port)
    elif cmd == "continuation":
        cmd_continuation(port, int(args[0]))
    elif cmd == "big_response_heads":
        cmd_big_response_heads(port, int(args[0]), int(args[1]))
    elif cmd == "order":
        cmd_order(port, int(args[0]), int(args[1]))
    elif cmd == "hold":
        cmd_hold(port, int(args[0]), int(args[1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
