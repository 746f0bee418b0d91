#!/usr/bin/env python3
"""A scripted origin for the cache scenarios (l7_cache_test.cc).

Prints "port N" once listening on 127.0.0.1. What a request gets is in its query:
  h=Name:Value     a response header (repeatable); "Date:now" writes the current date
  status=N         the status (default 200)
  size=N           a body of N bytes of 'x' (default: "path=... n=COUNT ae=ACCEPT-ENCODING\\n")
  delay_ms=N       wait before answering (collapsing tests)
  chunked=1        send the body chunked instead of with Content-Length
  trickle_ms=N     send the head at once and the body chunked in 10 pieces over N ms
  h1=Name:Value    a response header on the path's first request only
  echo=Name        the default body also says " name=VALUE" (the request's header; the Vary and poisoning tests)
  stream=N         a body of N bytes, byte k being k % 251, written 1 MiB at a time (never held whole:
                   the 1 GiB pass-through test)
  hold=NAME        wait (at most 60 s) until GET /__release?name=NAME before answering (the 1,000-miss
                   collapsing test holds its one fetch until every client waits at lbd)
A request whose If-None-Match holds the ETag it would get (weak comparison,
as RFC 9110 13.1.2 asks of If-None-Match) is answered 304.
GET /__count?path=P answers the number of requests seen for path P (query ignored);
GET /__conns the number of connections that carried a counted request;
GET /__mode?path=P&status=N&delay_ms=N makes every later request for path P
answer status N (with no cache headers) and/or wait delay_ms first, whatever
its query says (the serve-stale tests: an origin that starts failing);
/__count, /__conns, /__mode and /__release are not counted themselves. Threaded: slow answers do not block others.
"""
import email.utils
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
modes = {}
holds = {}  # name -> threading.Event
connections = [0]
lock = threading.Lock()


def hold_event(name):
    with lock:
        return holds.setdefault(name, threading.Event())


# Byte k of a stream= body is k % 251: a prime period, so a byte lost, doubled or moved shows.
PATTERN = bytes(k % 251 for k in range(251 + (1 << 20)))


def opaque(tag):
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        self.do_GET()

    def read_body(self):
        # Any request may have one (a GET with a body: the bypass tests); unread it would be taken
        # for the next request on the connection.
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                self.rfile.read(size + 2)
                if size == 0:
                    return
        self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self, head=False):
        self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/__count":
            with lock:
                n = counts.get(query.get("path", [""])[0], 0)
            return self.reply(200, [], str(n).encode(), head)
        if url.path == "/__conns":
            with lock:
                n = connections[0]
            return self.reply(200, [], str(n).encode(), head)
        if url.path == "/__release":
            hold_event(query["name"][0]).set()
            return self.reply(200, [], b"ok", head)
        if url.path == "/__mode":
            with lock:
                modes[query["path"][0]] = {k: v[0] for k, v in query.items() if k != "path"}
            return self.reply(200, [], b"ok", head)
        with lock:
            mode = modes.get(url.path, {})
            counts[url.path] = counts.get(url.path, 0) + 1
            n = counts[url.path]
            if not getattr(self, "counted", False):
                self.counted = True
                connections[0] += 1
        if "hold" in query:
            hold_event(query["hold"][0]).wait(60)
        delay = int(mode.get("delay_ms", query.get("delay_ms", ["0"])[0]))
        if delay:
            time.sleep(delay / 1000)
        if "status" in mode:
            return self.reply(int(mode["status"]), [], b"failing\n", head)
        headers = []
        for h in query.get("h", []) + (query.get("h1", []) if n == 1 else []):
            name, _, value = h.partition(":")
            if name.lower() == "date" and value == "now":
                value = email.utils.formatdate(usegmt=True)
            headers.append((name, value))
        etag = next((v for k, v in headers if k.lower() == "etag"), None)
        inm = self.headers.get("If-None-Match")
        if etag is not None and inm is not None and opaque(etag) in [opaque(t) for t in inm.split(",")]:
            return self.reply(304, headers, b"", True)
        if "stream" in query:
            return self.stream(int(query["stream"][0]), headers, head, chunked="chunked" in query)
        if "size" in query:
            body = b"x" * int(query["size"][0])
        else:
            ae = self.headers.get("Accept-Encoding", "-")
            echoed = "".join(" %s=%s" % (e.lower(), self.headers.get(e, "-")) for e in query.get("echo", []))
            body = ("path=%s n=%d ae=%s%s\n" % (url.path, n, ae, echoed)).encode()
        status = int(query.get("status", ["200"])[0])
        trickle = int(query.get("trickle_ms", ["0"])[0])
        self.reply(status, headers, body, head, chunked="chunked" in query or trickle > 0, trickle_ms=trickle)

    def reply(self, status, headers, body, head, chunked=False, trickle_ms=0):
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        if status == 304:
            self.end_headers()
            return
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if chunked:
            step = max(1, len(body) // 10) if trickle_ms else 4096
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                if trickle_ms:
                    self.wfile.flush()
                    time.sleep(trickle_ms / 10000)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)


    def stream(self, size, headers, head, chunked):
        self.send_response_only(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(size))
        self.end_headers()
        if head:
            return
        view = memoryview(PATTERN)
        sent = 0
        while sent < size:
            n = min(1 << 20, size - sent)
            part = view[sent % 251:sent % 251 + n]
            if chunked:
                self.wfile.write(b"%x\r\n" % n)
            self.wfile.write(part)
            if chunked:
                self.wfile.write(b"\r\n")
            sent += n
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
