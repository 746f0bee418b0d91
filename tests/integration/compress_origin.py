#!/usr/bin/env python3
"""The origin and the decoders of the compression scenarios (l7_compress_test.cc).

    compress_origin.py serve          an HTTP/1.1 origin on 127.0.0.1:0; prints "port N"
    compress_origin.py decode ALG F   decodes file F (gzip, br, zstd, identity) whole; prints its sha256
    compress_origin.py prefix ALG F   decodes what a cut stream F holds so far; prints its length

The origin answers /r?... (any path ending in /r) with a body described by the query:
    size=N kind=text|random   the body (deterministic: the same N and kind, the same bytes)
    frame=length|chunked|close   how it is framed (default length)
    status=N type=T (type=none: no Content-Type) ce=C cc=C etag=E vary=V   the head
    hold=N   send N bytes, then wait until /release is asked (a streaming origin)
Every answer has X-Body-Sha256: the sha256 of the identity body. HEAD gets the head only.
"""
import hashlib
import random
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_bodies = {}
_lock = threading.Lock()
_release = threading.Event()


def body(kind, size):
    key = (kind, size)
    with _lock:
        if key not in _bodies:
            if kind == "random":
                data = random.Random(size).randbytes(size)
            else:
                line, out, n = b"", bytearray(), 0
                while len(out) < size:
                    out += b'<li class="item" id="i%d">item %d of the list</li>\n' % (n, n * 7919 % 10007)
                    n += 1
                data = bytes(out[:size])
            _bodies[key] = (data, hashlib.sha256(data).hexdigest())
        return _bodies[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.answer(head_only=True)

    def do_GET(self):
        self.answer(head_only=False)

    def answer(self, head_only):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/release":
            _release.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        q = dict(urllib.parse.parse_qsl(url.query))
        status = int(q.get("status", "200"))
        data, digest = body(q.get("kind", "text"), int(q.get("size", "1000")))
        frame = q.get("frame", "length")
        if status in (204, 304):
            data, frame = b"", "none"
        self.send_response(status)
        if q.get("type", "text/html; charset=utf-8") != "none":
            self.send_header("Content-Type", q.get("type", "text/html; charset=utf-8"))
        for field, name in (("ce", "Content-Encoding"), ("cc", "Cache-Control"), ("etag", "ETag"), ("vary", "Vary")):
            if field in q:
                self.send_header(name, q[field])
        self.send_header("X-Body-Sha256", digest)
        self.send_header("Accept-Ranges", "bytes")
        if frame == "length":
            self.send_header("Content-Length", str(len(data)))
        elif frame == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif frame == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if head_only or frame == "none":
            return
        hold = int(q.get("hold", "-1"))
        pieces = [data] if hold < 0 else [data[:hold], None, data[hold:]]
        for i, piece in enumerate(pieces):
            if piece is None:
                _release.wait(20)
                _release.clear()
                continue
            # Each piece in one write (chunks of 64 KiB, the last chunk with the last piece): an
            # origin that pauses only where hold= says, so lbd's whole-body gzip sees no other pause.
            out = bytearray()
            for at in range(0, len(piece), 65536):
                part = piece[at:at + 65536]
                out += b"%x\r\n%s\r\n" % (len(part), part) if frame == "chunked" else part
            if frame == "chunked" and i == len(pieces) - 1:
                out += b"0\r\n\r\n"
            self.wfile.write(out)
            self.wfile.flush()


def decode(alg, data, whole):
    if alg == "identity":
        return data
    if alg == "gzip":
        import zlib
        d = zlib.decompressobj(16 + 15)
        out = d.decompress(data)
        if whole and not d.eof:
            raise SystemExit("gzip stream not finished")
        return out
    if alg == "zstd":
        import zstandard  # Debian's python3-zstandard
        # RFC 9659 3: the 8 MiB window a browser decodes at most; a frame asking more fails here.
        d = zstandard.ZstdDecompressor(max_window_size=8 << 20).decompressobj()
        out = d.decompress(data)
        if whole and not d.eof:
            raise SystemExit("zstd frame not finished")
        return out
    import brotli
    if whole:
        return brotli.decompress(data)
    d = brotli.Decompressor()
    return d.process(data)


def main():
    if sys.argv[1] == "serve":
        class Server(ThreadingHTTPServer):
            request_queue_size = 4096  # listen()'s backlog: the memory test connects 200 (or 2000) at once
            daemon_threads = True

        server = Server(("127.0.0.1", 0), Handler)
        print("port", server.server_address[1], flush=True)
        server.serve_forever()
    with open(sys.argv[3], "rb") as f:
        data = f.read()
    if sys.argv[1] == "decode":
        print(hashlib.sha256(decode(sys.argv[2], data, True)).hexdigest())
    elif sys.argv[1] == "prefix":
        print(len(decode(sys.argv[2], data, False)))


if __name__ == "__main__":
    main()
