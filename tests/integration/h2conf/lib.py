"""The conformance suite's harness (h2_conformance.py): one raw HTTP/2 connection per case, frames
built with hyperframe (or by hand where a case needs them malformed), header blocks with hpack, and
the three outcomes a case can expect of the server, each with the RFC's exact error code:

  connection_error(conn, CODE...)   GOAWAY with one of the codes, then the connection closes
                                    (RFC 9113 §5.4.1: "MUST close the TCP connection")
  stream_error(conn, SID, CODE...)  RST_STREAM on SID with one of the codes, and the connection still
                                    answers a PING; a GOAWAY with the same code passes too, marked
                                    "escalated" (RFC 9113 §5.4: "MAY choose to treat a stream error as
                                    a connection error"), and counted apart in the summary
  stream_error_or_4xx(conn, SID)    a malformed request: as stream_error(conn, SID, PROTOCOL_ERROR),
                                    or a 4xx answer (RFC 9113 §8.1.1 lets a server answer one)
  ignored(conn)                     the server answers a PING after it, nothing else in between
  response(conn, SID)               a response head with a 2xx status and the stream's end

Anything else (another code, a bare close, nothing before the case's deadline) is a failure, with
what was seen.
"""
import socket
import ssl
import struct
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
          "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
          "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
(NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR,
 REFUSED_STREAM, CANCEL, COMPRESSION_ERROR) = range(10)
# Frame types and flags for frames built by hand (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# SETTINGS parameters (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE = 1, 2, 3, 4, 5
MAX_HEADER_LIST_SIZE, ENABLE_CONNECT_PROTOCOL, NO_RFC7540_PRIORITIES = 6, 8, 9  # RFC 9113, 8441, 9113 §5.3.2
MAX_WINDOW = 2**31 - 1


def error_name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def raw_frame(ftype, flags, sid, payload=b"", length=None):
    """A frame as bytes, any of its fields free to be wrong (`length` can lie about the payload)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def frame(cls, sid, flags=(), **fields):
    """A well-formed frame, serialized by hyperframe."""
    f = cls(sid, **fields)
    for name in flags:
        f.flags.add(name)
    return bytes(f.serialize())


def settings(*pairs, ack=False):
    # By hand: hyperframe's dict would fold a parameter sent twice (http2/6.5.3/1).
    return raw_frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def data(sid, payload=b"", end_stream=True):
    return frame(DataFrame, sid, ["END_STREAM"] if end_stream else [], data=payload)


def ping(payload=b"h2conf!!", ack=False):
    return frame(PingFrame, 0, ["ACK"] if ack else [], opaque_data=payload)


def rst_stream(sid, code=CANCEL):
    return frame(RstStreamFrame, sid, error_code=code)


def window_update(sid, increment):
    return raw_frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))  # 0 allowed here (hyperframe refuses)


def priority(sid, depends_on=0, weight=16, exclusive=False):
    return raw_frame(PRIORITY, 0, sid, struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight - 1))


def goaway(last_sid=0, code=NO_ERROR):
    return frame(GoAwayFrame, 0, last_stream_id=last_sid, error_code=code)


def continuation(sid, block, end_headers=True):
    return raw_frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)


class Outcome:
    def __init__(self, ok, seen, escalated=False):
        self.ok, self.seen, self.escalated = ok, seen, escalated


def describe(f):
    name = type(f).__name__.replace("Frame", "").upper()
    if isinstance(f, GoAwayFrame):
        return "GOAWAY(%s)" % error_name(f.error_code)
    if isinstance(f, RstStreamFrame):
        return "RST_STREAM(%d, %s)" % (f.stream_id, error_name(f.error_code))
    if isinstance(f, (HeadersFrame, ContinuationFrame)) and getattr(f, "fields", None):
        return "HEADERS(%d, :status %s)" % (f.stream_id, dict(f.fields).get(":status", "?"))
    if isinstance(f, DataFrame):
        return "DATA(%d, %d bytes%s)" % (f.stream_id, len(f.data), ", END_STREAM" if "END_STREAM" in f.flags else "")
    return "%s(%d%s)" % (name, f.stream_id, ", ACK" if "ACK" in f.flags else "")


class Target:
    """Where the cases connect: host, port, and TLS (ALPN h2) or h2c with prior knowledge."""

    def __init__(self, host, port, tls=False, deadline=2.0):
        self.host, self.port, self.tls, self.deadline = host, port, tls, deadline
        self.authority = "%s:%d" % (host, port)


class Conn:
    def __init__(self, target):
        self.target = target
        self.deadline = time.monotonic() + target.deadline
        sock = socket.create_connection((target.host, target.port), timeout=target.deadline)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=target.host)
        self.sock = sock
        self.inbuf = b""
        self.encoder, self.decoder = hpack.Encoder(), hpack.Decoder()
        self.block = b""  # a response head in HEADERS + CONTINUATION, until END_HEADERS
        self.server_settings = {}
        self.seen = []  # what came, described, for the case's line
        self.sid = -1

    def next_sid(self):
        self.sid += 2
        return self.sid

    def send(self, *chunks):
        try:
            self.sock.sendall(b"".join(chunks))
        except OSError as e:  # the server may close before it reads everything
            self.seen.append("send: %s" % e.strerror)

    def handshake(self, *pairs):
        """The preface and SETTINGS both ways, each acknowledged (as h2spec's handshake)."""
        self.send(PREFACE, settings(*pairs))
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            f = self.read()
            if not isinstance(f, Frame):
                raise RuntimeError("handshake: %s" % f)
            if isinstance(f, SettingsFrame) and "ACK" in f.flags:
                got_ack = True
            elif isinstance(f, SettingsFrame):
                self.server_settings.update(f.settings)
                got_settings = True
                self.send(settings(ack=True))
        # What the server sends right after (nghttp2: the connection's WINDOW_UPDATE) comes
        # before the answer to a PING: the case starts with nothing pending.
        if not ignored(self, b"hndshake").ok:
            raise RuntimeError("handshake: no PING answer: %s" % self.trail())
        self.seen.clear()
        return self

    def _recv_exactly(self, n):
        while len(self.inbuf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:  # a reset (or a TLS alert) ends the connection as a close does
                chunk = b""
            if not chunk:
                return b""
            self.inbuf += chunk
        out, self.inbuf = self.inbuf[:n], self.inbuf[n:]
        return out

    def read_until_close(self):
        """All the bytes until the server closes; None if it does not before the deadline."""
        got, self.inbuf = self.inbuf, b""
        while True:
            byte = self._recv_exactly(1)
            if byte is None:
                return None
            if byte == b"":
                return got
            got, self.inbuf = got + byte + self.inbuf, b""

    def read(self):
        """The next frame, "eof" or "timeout" (the case's deadline); response heads decoded."""
        head = self._recv_exactly(9)
        if head is None or head == b"":
            result = "timeout" if head is None else "eof"
            self.seen.append(result)
            return result
        f, length = Frame.parse_frame_header(memoryview(head))
        body = self._recv_exactly(length)
        if body is None or (length and body == b""):
            self.seen.append("truncated frame")
            return "eof"
        f.parse_body(memoryview(body))
        if isinstance(f, (HeadersFrame, ContinuationFrame)):
            self.block += f.data
            if "END_HEADERS" in f.flags:
                f.fields = self.decoder.decode(self.block, raw=False)
                self.block = b""
        if isinstance(f, DataFrame) and f.flow_controlled_length:
            # Keep responses flowing; the flow-control cases send their own.
            self.send(window_update(0, f.flow_controlled_length))
        self.seen.append(describe(f))
        return f

    def request(self, path="/", method="GET", extra=(), scheme=None):
        return [(":method", method), (":scheme", scheme or ("https" if self.target.tls else "http")),
                (":path", path), (":authority", self.target.authority)] + list(extra)

    def block_of(self, fields):
        return self.encoder.encode(fields)

    def headers(self, sid, fields=None, end_stream=True, end_headers=True, block=None, **extra):
        flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
        if "depends_on" in extra:
            flags.append("PRIORITY")
        return frame(HeadersFrame, sid, flags, data=block if block is not None else self.block_of(
            fields if fields is not None else self.request()), **extra)

    def outcome(self, ok, why=None):
        return Outcome(ok, why or self.trail())

    def trail(self):
        return ", ".join(self.seen[-6:]) or "nothing"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _closes(conn):
    while True:
        f = conn.read()
        if f == "eof":
            return True
        if f == "timeout":
            return False


# After a case's frames, a PING: once its answer is back the server has read them all (it answers
# in order and reads nothing after a connection error). An error it has not sent by then would
# have left with that answer (nghttp2 sends what one read queues in one write); GRACE bounds the
# wait for a straggler, so a server that ignores a frame fails in GRACE, not the case's deadline.
PROBE = b"h2probe!"
GRACE = 0.3


def _probe_answered(conn, f):
    if isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == PROBE:
        conn.deadline = min(conn.deadline, time.monotonic() + GRACE)
        conn.seen[-1] = "PING answered (the frames were read)"


def connection_error(conn, *codes, close_allowed=False):
    """`close_allowed`: a bare close passes too (RFC 9113 §3.4: a GOAWAY MAY be omitted)."""
    conn.send(ping(PROBE))
    while True:
        f = conn.read()
        _probe_answered(conn, f)
        if isinstance(f, GoAwayFrame):
            if f.error_code not in codes:
                return Outcome(False, conn.trail())
            if not _closes(conn):
                return Outcome(False, conn.trail() + " (GOAWAY but the connection stayed open)")
            return Outcome(True, conn.trail())
        if f == "eof":
            return Outcome(close_allowed, conn.trail())
        if f == "timeout":
            return Outcome(False, conn.trail())


def _judge_stream_error(conn, sid, f, codes):
    """The verdict on frame `f` for an expected stream error on `sid`; None: read on."""
    if isinstance(f, RstStreamFrame) and f.stream_id == sid:
        if f.error_code not in codes:
            return Outcome(False, conn.trail())
        conn.deadline = time.monotonic() + conn.target.deadline
        after = ignored(conn)  # a stream error leaves the connection usable
        return Outcome(after.ok, conn.trail())
    if isinstance(f, GoAwayFrame):
        return Outcome(f.error_code in codes and _closes(conn), conn.trail(), escalated=True)
    if f in ("eof", "timeout"):
        return Outcome(False, conn.trail())
    return None


def stream_error(conn, sid, *codes):
    conn.send(ping(PROBE))
    while True:
        f = conn.read()
        _probe_answered(conn, f)
        verdict = _judge_stream_error(conn, sid, f, codes)
        if verdict is not None:
            return verdict


def stream_error_or_4xx(conn, sid):
    """A malformed request: a stream error PROTOCOL_ERROR, or a 4xx answer to it (RFC 9113
    §8.1.1: a server "MAY send an HTTP response prior to closing or resetting the stream")."""
    conn.send(ping(PROBE))
    while True:
        f = conn.read()
        _probe_answered(conn, f)
        if getattr(f, "fields", None) and f.stream_id == sid:
            ok = dict(f.fields).get(":status", "").startswith("4")
            return Outcome(ok, conn.trail() + (" (a 4xx answer, RFC 9113 §8.1.1)" if ok else ""))
        verdict = _judge_stream_error(conn, sid, f, (PROTOCOL_ERROR,))
        if verdict is not None:
            return verdict


def ignored(conn, payload=b"h2conf!!", close_allowed=False):
    """`close_allowed`: the server may close instead (after the client's GOAWAY, RFC 9113 §6.8)."""
    conn.send(ping(payload))
    while True:
        f = conn.read()
        if isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == payload:
            return Outcome(True, conn.trail())
        if close_allowed and (f == "eof" or isinstance(f, GoAwayFrame) and f.error_code == NO_ERROR):
            return Outcome(True, conn.trail())
        if isinstance(f, (GoAwayFrame, RstStreamFrame)) or f in ("eof", "timeout"):
            return Outcome(False, conn.trail())


def response(conn, sid, status_class="2"):
    status = None
    while True:
        f = conn.read()
        if isinstance(f, (HeadersFrame, ContinuationFrame)) and f.stream_id == sid and getattr(f, "fields", None):
            status = status or dict(f.fields).get(":status")
        if isinstance(f, (HeadersFrame, DataFrame)) and f.stream_id == sid and "END_STREAM" in f.flags:
            ok = status is not None and status.startswith(status_class)
            return Outcome(ok, conn.trail())
        if (isinstance(f, RstStreamFrame) and f.stream_id == sid) or isinstance(f, GoAwayFrame) or \
                f in ("eof", "timeout"):
            return Outcome(False, conn.trail())


def data_of_length(conn, sid, n):
    """The server's next DATA on `sid` carries exactly n bytes (flow-control cases)."""
    while True:
        f = conn.read()
        if isinstance(f, DataFrame) and f.stream_id == sid:
            return Outcome(len(f.data) == n, conn.trail())
        if isinstance(f, (GoAwayFrame, RstStreamFrame)) or f in ("eof", "timeout"):
            return Outcome(False, conn.trail())


class Case:
    def __init__(self, cid, title, run, handshake=True):
        self.id, self.title, self.run, self.handshake = cid, title, run, handshake


CASES = []


def case(cid, title, handshake=True):
    """Registers `run(conn) -> Outcome` as case `cid` (h2spec's id)."""
    def register(run):
        CASES.append(Case(cid, title, run, handshake))
        return run
    return register
