#!/usr/bin/env python3
"""Fills a pool's stick table of a running lbd through its admin socket:
COUNT source-IP entries (10.0.0.0 upwards), spread over SERVERS, as
`lbctl stick set` would make them one at a time, pipelined on one
connection (the admin socket answers requests in order).

  ha_stick_fill.py SOCKET POOL COUNT SERVER[,SERVER...]

Prints "filled COUNT entries in S s". Standard library only: the
AdminRequest (core/proto/lbd/v1/admin.proto, stick_set = 7 {pool = 1,
key = 2, server = 3}) is encoded by hand."""
import ipaddress
import socket
import sys
import time

BATCH = 2000  # requests written before their answers are read


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def stick_set(pool, key, server):
    body = field(7, field(1, pool) + field(2, key) + field(3, server))
    return varint(len(body)) + body


def read_answers(sock, buffer, count):
    """Reads COUNT length-prefixed answers; returns what is left over."""
    while count:
        while True:
            length, shift, i = 0, 0, 0
            while i < len(buffer):
                length |= (buffer[i] & 0x7F) << shift
                shift += 7
                i += 1
                if not buffer[i - 1] & 0x80:
                    break
            else:
                i = -1
            if i > 0 and len(buffer) >= i + length:
                break
            chunk = sock.recv(1 << 20)
            if not chunk:
                sys.exit("lbd closed the admin connection")
            buffer += chunk
        buffer = buffer[i + length:]
        count -= 1
    return buffer


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path, pool, count, servers = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4].split(",")
    servers = [s.encode() for s in servers]
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    start = time.monotonic()
    buffer = b""
    for first in range(0, count, BATCH):
        n = min(BATCH, count - first)
        sock.sendall(b"".join(stick_set(pool, str(ipaddress.IPv4Address(base + first + j)).encode(),
                                        servers[(first + j) % len(servers)]) for j in range(n)))
        buffer = read_answers(sock, buffer, n)
    print(f"filled {count} entries in {time.monotonic() - start:.1f} s")


main()
