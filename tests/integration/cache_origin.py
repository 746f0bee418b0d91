#!/usr/bin/env python3
"""A scripted origin for the cache scenarios (l7_cache_test.cc).

Prints "port N" once listening on 127.0.0.1. What a request gets is in its query:
  h=Name:Value     a response header (repeatable); "Date:now" writes the current date
  status=N         the status (default 200)
  size=N           a body of N bytes of 'x' (default: "path=... n=COUNT ae=ACCEPT-ENCODING\\n")
  delay_ms=N       wait before answering (collapsing tests)
  chunked=1        send the body chunked instead of with Content-Length
A request whose If-None-Match equals the ETag it would get is answered 304.
GET /__count?path=P answers the number of requests seen for path P (query ignored);
/__count is not counted itself. Threaded: slow answers do not block others.
"""
import email.utils
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.do_GET()

    def do_GET(self, head=False):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/__count":
            with lock:
                n = counts.get(query.get("path", [""])[0], 0)
            return self.reply(200, [], str(n).encode(), head)
        with lock:
            counts[url.path] = counts.get(url.path, 0) + 1
            n = counts[url.path]
        delay = int(query.get("delay_ms", ["0"])[0])
        if delay:
            time.sleep(delay / 1000)
        headers = []
        for h in query.get("h", []):
            name, _, value = h.partition(":")
            if name.lower() == "date" and value == "now":
                value = email.utils.formatdate(usegmt=True)
            headers.append((name, value))
        etag = next((v for k, v in headers if k.lower() == "etag"), None)
        if etag is not None and self.headers.get("If-None-Match") == etag:
            return self.reply(304, headers, b"", True)
        if "size" in query:
            body = b"x" * int(query["size"][0])
        else:
            ae = self.headers.get("Accept-Encoding", "-")
            body = ("path=%s n=%d ae=%s\n" % (url.path, n, ae)).encode()
        status = int(query.get("status", ["200"])[0])
        self.reply(status, headers, body, head, chunked="chunked" in query)

    def reply(self, status, headers, body, head, chunked=False):
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
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
