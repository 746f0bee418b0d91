#!/usr/bin/python3
"""WebSocket over HTTP/2 (RFC 8441) client for lbd's l7_h2_websocket_test, on Debian's python3-h2.

Talks h2c with prior knowledge to lbd on 127.0.0.1:PORT and prints `key=value` lines that the C++
test checks. WebSocket frames (RFC 6455 §5.2) are built and parsed here: masked from the client,
unmasked from the server, compared byte for byte with what was sent.

  echo PORT STREAMS BIG   STREAMS WebSocket streams on one connection at once, with an ordinary GET
                          between them; each echoes two text frames, stream 0 also a binary message
                          of BIG bytes (more than the windows: flow control both ways); stream 0 ends
                          with a close frame (the server closes first), the others with the client's
                          END_STREAM first; prints `settings_connect=`, `wsI_status=`, `wsI_echo=`,
                          `wsI_protocol=`, `wsI_ended=`, `big_echo=`, `get_status=`
  connect PORT PATH PROTO one extended CONNECT with :protocol PROTO to PATH, then a GET on the same
                          connection; prints `status=`, `reset=`, `body=`, `settings_connect=`,
                          `get_status=`
  drain PORT              a WebSocket stream echoing; waits for lbd's GOAWAY (the test stops lbd), echoes
                          a frame after it, then waits for the close; prints `goaway=CODE`,
                          `echo_after=`, `closed=`, `open_ms=` (from the GOAWAY to the close)
  reset PORT              a WebSocket stream, one frame echoed, then RST_STREAM CANCEL from the client;
                          prints `echo=`, then `done=1` and keeps the connection open for 5 s
"""
import os
import socket
import struct
import sys
import time

import hyperframe.frame

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings

TIMEOUT = 15.0


def ws_frame(opcode, payload, fin=True):
    """A client frame: masked (RFC 6455 §5.3)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xffff:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_big(payload, mask)
    return head + mask + masked


def _mask_big(payload, mask):
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[:len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


def parse_frames(buf):
    """Server frames (unmasked) at the start of buf: [(opcode, payload)], rest."""
    frames = []
    while len(buf) >= 2:
        n = buf[1] & 0x7f
        at = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, at = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, at = struct.unpack("!Q", buf[2:10])[0], 10
        if buf[1] & 0x80 or len(buf) < at + n:
            break
        frames.append((buf[0] & 0x0f, buf[at:at + n]))
        buf = buf[at + n:]
    return frames, buf


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.settings_connect = None
        self.status, self.headers, self.data, self.ended, self.reset = {}, {}, {}, set(), {}
        self.closed = False
        self.goaway = None
        self.keep_after_goaway = False
        # A graceful GOAWAY leaves open streams running (RFC 9113 §6.8); python-h2 4.1 closes the
        # whole connection on it, even for the frames after it in the same read, so with
        # keep_after_goaway its state goes back to open at once.
        receive_goaway = self.conn._receive_goaway_frame

        def on_goaway(frame):
            result = receive_goaway(frame)
            if self.keep_after_goaway and frame.error_code == 0:
                self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
            return result
        self.conn._frame_dispatch_table[hyperframe.frame.GoAwayFrame] = on_goaway
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def recv_once(self):
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except ConnectionResetError:  # lbd's close at the drain deadline
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                s = ev.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                if s is not None:
                    self.settings_connect = s.new_value
            elif isinstance(ev, h2.events.ResponseReceived):
                self.headers[ev.stream_id] = dict(ev.headers)
                self.status[ev.stream_id] = self.headers[ev.stream_id].get(":status")
            elif isinstance(ev, h2.events.DataReceived):
                self.data[ev.stream_id] = self.data.get(ev.stream_id, b"") + ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.reset[ev.stream_id] = int(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = int(ev.error_code)
                self.closed = self.closed or not (self.goaway == 0 and self.keep_after_goaway)
        self.flush()
        return True

    def until(self, done, deadline=TIMEOUT):
        end = time.time() + deadline
        while not done() and not self.closed and time.time() < end:
            self.recv_once()
        return done()

    def request(self, path, method="GET", protocol=None, extra=()):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method)]
        if protocol:
            fields.append((":protocol", protocol))
        fields += [(":scheme", "http"), (":authority", "lbd.test"), (":path", path)] + list(extra)
        self.conn.send_headers(sid, fields, end_stream=(method == "GET"))
        self.flush()
        return sid

    def send(self, sid, data, end=False):
        """Sends all of data as the windows allow (waiting for WINDOW_UPDATE)."""
        while data:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                if not self.recv_once() and self.closed:
                    return False
                continue
            self.conn.send_data(sid, data[:window])
            data = data[window:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()
        return True

    def ws_read(self, sid, count):
        """Waits for `count` whole server frames on sid; returns them and keeps the rest."""
        def have():
            frames, _ = parse_frames(self.data.get(sid, b""))
            return len(frames) >= count
        self.until(have)
        frames, rest = parse_frames(self.data.get(sid, b""))
        self.data[sid] = rest
        return frames


WS_HEADERS = [("sec-websocket-version", "13"), ("sec-websocket-protocol", "chat"), ("origin", "http://lbd.test")]


def cmd_echo(port, streams, big):
    c = Client(port)
    sids = [c.request("/ws", "CONNECT", "websocket", WS_HEADERS) for _ in range(streams)]
    get = c.request("/plain")
    c.until(lambda: all(s in c.status for s in sids) and get in c.ended)
    print("settings_connect=%s" % c.settings_connect)
    print("get_status=%s" % c.status.get(get))
    for i, sid in enumerate(sids):
        print("ws%d_status=%s" % (i, c.status.get(sid)))
        print("ws%d_protocol=%s" % (i, c.headers.get(sid, {}).get("sec-websocket-protocol")))
    # Every stream sends its frames first, then all read: the streams are open at once.
    texts = {sid: [("hello %d" % i).encode(), ("second frame of %d " % i).encode() * 20] for i, sid in enumerate(sids)}
    for sid in sids:
        c.send(sid, b"".join(ws_frame(0x1, t) for t in texts[sid]))
    for i, sid in enumerate(sids):
        frames = c.ws_read(sid, 2)
        print("ws%d_echo=%s" % (i, "ok" if frames == [(0x1, t) for t in texts[sid]] else "bad %r" % frames[:2]))
    payload = os.urandom(big)
    c.send(sids[0], ws_frame(0x2, payload))
    frames = c.ws_read(sids[0], 1)
    print("big_echo=%s" % ("ok" if frames == [(0x2, payload)] else "bad (%d frames)" % len(frames)))
    # Stream 0: a close frame; the server echoes it and closes: END_STREAM reaches us first.
    c.send(sids[0], ws_frame(0x8, b"\x03\xe8"))
    c.until(lambda: sids[0] in c.ended)
    print("ws0_close=%s" % ("ok" if c.ws_read(sids[0], 1) == [(0x8, b"\x03\xe8")] else "bad"))
    print("ws0_ended=%d" % (sids[0] in c.ended))
    c.conn.end_stream(sids[0])
    c.flush()
    # The others: our END_STREAM first; the server sees EOF and closes: theirs follows.
    for sid in sids[1:]:
        c.conn.end_stream(sid)
    c.flush()
    c.until(lambda: all(s in c.ended for s in sids[1:]))
    for i, sid in enumerate(sids[1:], 1):
        print("ws%d_ended=%d" % (i, sid in c.ended))
    print("resets=%s" % sorted(c.reset.values()))
    after = c.request("/after")
    c.until(lambda: after in c.ended)
    print("after_status=%s" % c.status.get(after))


def cmd_connect(port, path, proto):
    c = Client(port)
    c.until(lambda: c.settings_connect is not None, 2.0)
    print("settings_connect=%s" % c.settings_connect)
    sid = c.request(path, "CONNECT", proto, WS_HEADERS)
    c.until(lambda: sid in c.ended or sid in c.reset)
    print("status=%s" % c.status.get(sid))
    print("reset=%s" % c.reset.get(sid))
    print("body=%s" % c.data.get(sid, b"").decode("latin-1").strip())
    if sid not in c.ended and sid not in c.reset:
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
    get = c.request("/plain")
    c.until(lambda: get in c.ended)
    print("get_status=%s" % c.status.get(get))


def cmd_drain(port):
    c = Client(port)
    c.keep_after_goaway = True  # lbd may drain before the first echo
    sid = c.request("/ws", "CONNECT", "websocket", WS_HEADERS)
    c.until(lambda: sid in c.status)
    c.send(sid, ws_frame(0x1, b"before"))
    print("echo_before=%s" % ("ok" if c.ws_read(sid, 1) == [(0x1, b"before")] else "bad"))
    sys.stdout.flush()
    c.until(lambda: c.goaway is not None, 20.0)
    at = time.time()
    print("goaway=%s" % c.goaway)
    c.send(sid, ws_frame(0x1, b"after"))
    print("echo_after=%s" % ("ok" if c.ws_read(sid, 1) == [(0x1, b"after")] else "bad"))
    c.until(lambda: c.closed, 20.0)  # the drain deadline closes it (EOF)
    print("closed=%d" % c.closed)
    print("open_ms=%d" % int((time.time() - at) * 1000))


def cmd_reset(port):
    c = Client(port)
    sid = c.request("/ws", "CONNECT", "websocket", WS_HEADERS)
    c.until(lambda: sid in c.status)
    c.send(sid, ws_frame(0x1, b"ping"))
    print("echo=%s" % ("ok" if c.ws_read(sid, 1) == [(0x1, b"ping")] else "bad"))
    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    print("done=1")
    sys.stdout.flush()
    c.until(lambda: False, 5.0)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "echo":
        cmd_echo(port, int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "connect":
        cmd_connect(port, sys.argv[3], sys.argv[4])
    elif cmd == "drain":
        cmd_drain(port)
    elif cmd == "reset":
        cmd_reset(port)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
