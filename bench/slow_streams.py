#!/usr/bin/env python3
"""Memory per slow compressed download, for bench/compress.sh.

Usage: slow_streams.py PORT PID[,PID...] N PATH ENCODING
N clients with a 4 KiB receive buffer each ask for PATH with Accept-Encoding ENCODING and read
8 KiB of the reply (so every stream holds an encoder mid-body); a second later the summed RSS of
PIDS is read. Prints the RSS growth per stream in KiB. The same method as l7_compress_test's
"slow compressed downloads" case, applied to any proxy."""
import resource, socket, sys, time
port, pids, n, path, enc = int(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def rss_kib():
    total = 0
    for pid in pids:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # N sockets
req = f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {enc}\r\n\r\n".encode()
def warm():
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req.replace(b"HTTP/1.1", b"HTTP/1.0"))
        while s.recv(65536):
            pass
        s.close()
warm()
before = rss_kib()
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
for s in socks:
    got = b""
    s.settimeout(60)
    while len(got) < 8192:
        chunk = s.recv(8192 - len(got))
        if not chunk:
            raise SystemExit("closed early")
        got += chunk
    if enc.encode() not in got.split(b"\r\n\r\n")[0]:
        raise SystemExit("not compressed: " + got[:300].decode(errors="replace"))
time.sleep(1)  # a measurement window: let each proxy fill what buffers it will
during = rss_kib()
print(f"{(during - before) / n:.0f}")
