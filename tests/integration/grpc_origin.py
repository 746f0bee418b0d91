#!/usr/bin/python3
"""A small gRPC-style HTTP/2 server (h2c, prior knowledge) on Debian's python3-h2, for
lbd's l7_h2_upstream_test: the servers of a pool with `protocol: SERVER_PROTOCOL_H2C`.

  grpc_origin.py [MAX_STREAMS]

Prints `port N` once listening, then `accepted N` for each connection it accepts (N: the
count so far), flushed, so the test can count the connections lbd opened. MAX_STREAMS is the
SETTINGS_MAX_CONCURRENT_STREAMS it announces (default 100).

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
Anything else: 404 with trailers grpc-status: 12.
"""
import select
import socket
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


class Connection:
    def __init__(self, sock, max_streams):
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams,
                                          h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.streams = {}

    def respond_head(self, sid, status=200):
        self.conn.send_headers(sid, [(":status", str(status)), ("content-type", "application/grpc")])

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
                self.finish(sid, frame(b"slow:" + bytes(s.body[5:])), [("grpc-status", "0")])
            while s.out:
                window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk = bytes(s.out[:window])
                del s.out[:window]
                self.conn.send_data(sid, chunk)
            if not s.out and s.trailers is not None:
                self.conn.send_headers(sid, s.trailers, end_stream=True)
                del self.streams[sid]
                if s.path == "/test.Echo/GoAway":
                    self.conn.close_connection(last_stream_id=sid)

    def run(self):
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        while True:
            timeout = 0.05 if any(s.due for s in self.streams.values()) else 1.0
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if ready:
                try:
                    data = self.sock.recv(1 << 20)
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


def serve(sock, max_streams):
    try:
        Connection(sock, max_streams).run()
    finally:
        sock.close()


def main():
    global accepted
    max_streams = int(sys.argv[1]) if len(sys.argv) > 1 else 100
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
        threading.Thread(target=serve, args=(sock, max_streams), daemon=True).start()


if __name__ == "__main__":
    main()
