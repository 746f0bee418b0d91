"""h2spec's generic cases: what a conforming server must accept (frames on streams in each state
that allow them, every frame type well formed, the usual exchanges). Each expects no error: a
response, or the answer to a PING sent after it. (generic/5, HPACK's representations, is in
cases_hpack.py.)"""
from hyperframe.frame import PingFrame, SettingsFrame

from h2conf.lib import (PREFACE, CONTINUATION, END_HEADERS, END_STREAM, HEADERS, PADDED, case, data, goaway,
                        ignored, ping, priority, raw_frame, response, rst_stream, settings, window_update)


@case("generic/1/1", "Sends a client connection preface", handshake=False)
def preface(c):
    c.send(PREFACE, settings())
    f = c.read()
    return c.outcome(isinstance(f, SettingsFrame) and "ACK" not in f.flags)


def hanging(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")))
    return sid


@case("generic/2/1", "Sends a PRIORITY frame on idle stream")
def priority_idle(c):
    c.send(priority(1))
    return ignored(c)


@case("generic/2/2", "Sends a WINDOW_UPDATE frame on half-closed (remote) stream")
def window_update_half_closed(c):
    c.send(window_update(hanging(c), 1))
    return ignored(c)


@case("generic/2/3", "Sends a PRIORITY frame on half-closed (remote) stream")
def priority_half_closed(c):
    c.send(priority(hanging(c), weight=255))
    return ignored(c)


@case("generic/2/4", "Sends a RST_STREAM frame on half-closed (remote) stream")
def rst_half_closed(c):
    c.send(rst_stream(hanging(c)))
    return ignored(c)


@case("generic/2/5", "Sends a PRIORITY frame on closed stream")
def priority_closed(c):
    sid = c.next_sid()
    c.send(c.headers(sid))
    first = response(c, sid)
    if not first.ok:
        return first
    c.send(priority(sid))
    return ignored(c)


def post(c, *bodies, padded=False):
    sid = c.next_sid()
    frames = [c.headers(sid, c.request("/", "POST"), end_stream=False)]
    for i, body in enumerate(bodies):
        last = i == len(bodies) - 1
        if padded:
            frames.append(raw_frame(0x0, PADDED | (END_STREAM if last else 0), sid, b"\x08" + body + b"\0" * 8))
        else:
            frames.append(data(sid, body, end_stream=last))
    c.send(*frames)
    return response(c, sid)


@case("generic/3.1/1", "Sends a DATA frame")
def one_data(c):
    return post(c, b"test")


@case("generic/3.1/2", "Sends multiple DATA frames")
def many_data(c):
    return post(c, b"te", b"st", b"!")


@case("generic/3.1/3", "Sends a DATA frame with padding")
def padded_data(c):
    return post(c, b"test", padded=True)


@case("generic/3.2/1", "Sends a HEADERS frame")
def headers(c):
    sid = c.next_sid()
    c.send(c.headers(sid))
    return response(c, sid)


@case("generic/3.2/2", "Sends a HEADERS frame with padding")
def padded_headers(c):
    sid = c.next_sid()
    c.send(raw_frame(HEADERS, PADDED | END_STREAM | END_HEADERS, sid,
                     b"\x08" + c.block_of(c.request()) + b"\0" * 8))
    return response(c, sid)


@case("generic/3.2/3", "Sends a HEADERS frame with priority")
def prioritized_headers(c):
    sid = c.next_sid()
    c.send(c.headers(sid, depends_on=0, stream_weight=255, exclusive=False))
    return response(c, sid)


def priority_case(cid, title, **fields):
    def run(c):
        sid = c.next_sid()
        c.send(priority(sid, **fields), c.headers(sid))
        return response(c, sid)
    case(cid, title)(run)


priority_case("generic/3.3/1", "Sends a PRIORITY frame with priority 1", weight=1)
priority_case("generic/3.3/2", "Sends a PRIORITY frame with priority 256", weight=256)
priority_case("generic/3.3/3", "Sends a PRIORITY frame with stream dependency", depends_on=0)


@case("generic/3.3/4", "Sends a PRIORITY frame with exclusive")
def priority_exclusive(c):
    sid = hanging(c)
    c.send(priority(c.next_sid(), depends_on=sid, exclusive=True))
    return ignored(c)


@case("generic/3.3/5", "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for it")
def priority_then_headers(c):
    sid = c.next_sid()
    c.send(priority(sid, weight=100))
    out = ignored(c)
    if not out.ok:
        return out
    c.send(c.headers(sid))
    return response(c, sid)


@case("generic/3.4/1", "Sends a RST_STREAM frame")
def rst(c):
    c.send(rst_stream(hanging(c)))
    return ignored(c)


@case("generic/3.5/1", "Sends a SETTINGS frame")
def settings_frame(c):
    c.send(settings((3, 100)))
    f = c.read()
    return c.outcome(isinstance(f, SettingsFrame) and "ACK" in f.flags)


@case("generic/3.7/1", "Sends a PING frame")
def ping_frame(c):
    c.send(ping(b"genericp"))
    f = c.read()
    return c.outcome(isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == b"genericp")


@case("generic/3.8/1", "Sends a GOAWAY frame")
def goaway_frame(c):
    c.send(goaway())
    return ignored(c, close_allowed=True)


@case("generic/3.9/1", "Sends a WINDOW_UPDATE frame with arbitrary ID (connection)")
def window_update_connection(c):
    c.send(window_update(0, 1))
    return ignored(c)


@case("generic/3.9/2", "Sends a WINDOW_UPDATE frame with arbitrary ID (stream)")
def window_update_stream(c):
    sid = c.next_sid()
    c.send(c.headers(sid), window_update(sid, 1))
    return response(c, sid)


def continued(c, parts):
    sid = c.next_sid()
    block = c.block_of(c.request(extra=[("x-test", "x" * 40)]))
    step = len(block) // parts + 1
    pieces = [block[i:i + step] for i in range(0, len(block), step)]
    frames = [raw_frame(HEADERS, END_STREAM, sid, pieces[0])]
    frames += [raw_frame(CONTINUATION, END_HEADERS if i == len(pieces) - 1 else 0, sid, p)
               for i, p in enumerate(pieces) if i > 0]
    c.send(*frames)
    return response(c, sid)


@case("generic/3.10/1", "Sends a CONTINUATION frame")
def one_continuation(c):
    return continued(c, 2)


@case("generic/3.10/2", "Sends multiple CONTINUATION frames")
def many_continuations(c):
    return continued(c, 4)


def exchange(cid, title, method, body=None, trailers=None):
    def run(c):
        sid = c.next_sid()
        frames = [c.headers(sid, c.request("/", method), end_stream=body is None)]
        if body is not None:
            frames.append(data(sid, body, end_stream=trailers is None))
        if trailers is not None:
            frames.append(c.headers(sid, trailers))
        c.send(*frames)
        return response(c, sid)
    case(cid, title)(run)


exchange("generic/4/1", "Sends a GET request", "GET")
exchange("generic/4/2", "Sends a HEAD request", "HEAD")
exchange("generic/4/3", "Sends a POST request", "POST", b"test")
exchange("generic/4/4", "Sends a POST request with trailers", "POST", b"test", [("x-trailer", "ok")])
