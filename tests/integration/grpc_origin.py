#!/usr/bin/python3
"""A small gRPC-style HTTP/2 server (h2c, prior knowledge) on Debian's python3-h2, for
lbd's l7_h2_upstream_test: the servers of a pool with `protocol: SERVER_PROTOCOL_H2C`.

  grpc_origin.py [MAX_STREAMS] [--tls CERT KEY] [--alpn PROTOCOL]...

Prints `port N` once listening, then `accepted N` for each connection it accepts (N: the
count so far) and `closed N` for each that ended, flushed, so the test can count the
connections lbd opened and closed; `scheme S` the first time a request's :scheme is S. MAX_STREAMS is the SETTINGS_MAX_CONCURRENT_STREAMS it
announces (default 100). --tls: HTTP/2 over TLS with that certificate, selecting by ALPN one of
the --alpn protocols (default just "h2"; a client offering none of them gets no ALPN).

Methods (the :path), each answering 200 with content-type application/grpc:
  /test.Echo/Unary    reads one length-prefixed message M, answers one: b"echo:" + M (and
                      b";x-trailer=" + V if the request had the trailer x-trailer: V);
                      trailers grpc-status: 0, grpc-message: ok
  /test.Echo/Fail     reads the request, answers no message; trailers grpc-status: 13,
                      grpc-message: boom
  /test.Echo/Stream   bidi: every DATA byte is echoed back at once as it comes (raw bytes, any
                      length), both ways streaming; trailers grpc-status: 0 at the request's end
  /test.Echo/Slow     like Unary, but answers 300 ms after the request ended
  /test.Echo/GoAway   like Unary, then a graceful GOAWAY (last stream: this one); the connection
                      stays open, taking no new stream
  /test.Echo/Length   like Unary, with a content-length header on the response, and the
                      trailers 200 ms after the DATA
  /test.Echo/Empty    a response head with content-length: 0, no DATA; trailers grpc-status: 0,
                      grpc-message: empty
  /test.Echo/Hold     like Unary, answered 1500 ms after the request ended; prints `holding`
                      when the request has come
Anything else: 404 with trailers grpc-status: 12.
"""
import select
import socket
import ssl
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

accepted = 0
schemes_seen = set()  # each request's :scheme, printed once per value
lock = threading.Lock()


def frame(message):
    return struct.pack(">BI", 0, len(message)) + message


class Stream:
    def __init__(self, path):
        self.path = path
        self.body = bytearray()
        self.out = bytearray()       # DATA not yet sent (flow control)
        self.trailers = None         # to send once `out` is empty
        self.due = None              # Slow: when to answer
        self.req_trailer = None      # the request's x-trailer trailer, if any
        self.trailers_at = None      # Length: the trailers wait until then


class Connection:
    def __init__(self, sock, max_streams):
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams,
                                          h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.streams = {}

    def respond_head(self, sid, status=200, extra=()):
        self.conn.send_headers(sid, [(":status", str(status)), ("content-type", "application/grpc")] + list(extra))

    def finish(self, sid, data, trailers):
        s = self.streams[sid]
        s.out += data
        s.trailers = trailers

    def on_request_end(self, sid):
        s = self.streams[sid]
        if s.path in ("/test.Echo/Unary", "/test.Echo/GoAway"):
            msg = bytes(s.body[5:])
            if s.req_trailer is not None:
                msg += b";x-trailer=" + s.req_trailer.encode()
            self.respond_head(sid)
            self.finish(sid, frame(b"echo:" + msg), [("grpc-status", "0"), ("grpc-message", "ok")])
        elif s.path == "/test.Echo/Length":
            body = frame(b"echo:" + bytes(s.body[5:]))
            self.respond_head(sid, extra=[("content-length", str(len(body)))])
            self.finish(sid, body, [("grpc-status", "0"), ("grpc-message", "ok")])
            s.trailers_at = time.monotonic() + 0.2
        elif s.path == "/test.Echo/Empty":
            self.respond_head(sid, extra=[("content-length", "0")])
            self.finish(sid, b"", [("grpc-status", "0"), ("grpc-message", "empty")])
        elif s.path == "/test.Echo/Hold":
            print("holding", flush=True)
            s.due = time.monotonic() + 1.5
        elif s.path == "/test.Echo/Fail":
            self.respond_head(sid)
            self.finish(sid, b"", [("grpc-status", "13"), ("grpc-message", "boom")])
        elif s.path == "/test.Echo/Stream":
            s.trailers = [("grpc-status", "0")]
        elif s.path == "/test.Echo/Slow":
            s.due = time.monotonic() + 0.3
        else:
            self.respond_head(sid, 404)
            self.finish(sid, b"", [("grpc-status", "12")])

    def handle(self, event):
        if isinstance(event, h2.events.RequestReceived):
            path = dict(event.headers).get(":path", "")
            scheme = dict(event.headers).get(":scheme", "")
            if scheme not in schemes_seen:
                schemes_seen.add(scheme)
                print("scheme %s" % scheme, flush=True)
            self.streams[event.stream_id] = Stream(path)
            if path == "/test.Echo/Stream":
                self.respond_head(event.stream_id)
            if event.stream_ended:
                self.on_request_end(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            s = self.streams.get(event.stream_id)
            if s is None:
                return
            if s.path == "/test.Echo/Stream":
                s.out += event.data
            else:
                s.body += event.data
            if event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            s = self.streams.get(event.stream_id)
            if s is not None:
                s.req_trailer = dict(event.headers).get("x-trailer")
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id in self.streams:
                self.on_request_end(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.streams.pop(event.stream_id, None)

    def flush_streams(self):
        now = time.monotonic()
        for sid, s in list(self.streams.items()):
            if s.due is not None and now >= s.due:
                s.due = None
                self.respond_head(sid)
                word = b"slow:" if s.path == "/test.Echo/Slow" else b"held:"
                self.finish(sid, frame(word + bytes(s.body[5:])), [("grpc-status", "0")])
            while s.out:
                window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk = bytes(s.out[:window])
                del s.out[:window]
                self.conn.send_data(sid, chunk)
            if not s.out and s.trailers is not None and (s.trailers_at is None or now >= s.trailers_at):
                self.conn.send_headers(sid, s.trailers, end_stream=True)
                del self.streams[sid]
                if s.path == "/test.Echo/GoAway":
                    self.conn.close_connection(last_stream_id=sid)

    def run(self):
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        while True:
            timeout = 0.05 if any(s.due or s.trailers_at for s in self.streams.values()) else 1.0
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if ready:
                try:
                    data = self.sock.recv(1 << 20)
                    # TLS: a record may hold more than one recv returned; select does not see it.
                    while data and getattr(self.sock, "pending", lambda: 0)():
                        data += self.sock.recv(1 << 20)
                except OSError:
                    return
                if not data:
                    return
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    continue  # after our GOAWAY: nothing more is taken
                for event in events:
                    self.handle(event)
                    if isinstance(event, h2.events.ConnectionTerminated):
                        self.sock.sendall(self.conn.data_to_send())
                        return
            self.flush_streams()
            out = self.conn.data_to_send()
            if out:
                try:
                    self.sock.sendall(out)
                except OSError:
                    return


closed = 0


def serve(sock, max_streams, tls):
    global closed
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock, server_side=True)
        Connection(sock, max_streams).run()
    except (OSError, ssl.SSLError):
        pass
    finally:
        sock.close()
        with lock:
            closed += 1
            print("closed %d" % closed, flush=True)


def parse_args(argv):
    max_streams, tls, alpn = 100, None, []
    i = 0
    while i < len(argv):
        if argv[i] == "--tls":
            tls = (argv[i + 1], argv[i + 2])
            i += 3
        elif argv[i] == "--alpn":
            alpn.append(argv[i + 1])
            i += 2
        else:
            max_streams = int(argv[i])
            i += 1
    if tls is None:
        return max_streams, None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    ctx.set_alpn_protocols(alpn or ["h2"])
    return max_streams, ctx


def main():
    global accepted
    max_streams, tls = parse_args(sys.argv[1:])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("port %d" % listener.getsockname()[1], flush=True)
    while True:
        sock, _ = listener.accept()
        with lock:
            accepted += 1
            print("accepted %d" % accepted, flush=True)
        threading.Thread(target=serve, args=(sock, max_streams, tls), daemon=True).start()


if __name__ == "__main__":
    main()
