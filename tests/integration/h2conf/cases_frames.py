"""h2spec's http2 cases for RFC 9113 §6 (each frame type: DATA, HEADERS, PRIORITY, RST_STREAM,
SETTINGS and its parameters' bounds, PING, GOAWAY, WINDOW_UPDATE and flow control, CONTINUATION)
and §7 (unknown error codes)."""
import struct

from hyperframe.frame import DataFrame, PingFrame, SettingsFrame

from h2conf.lib import (CONTINUATION, DATA, ENABLE_CONNECT_PROTOCOL, ENABLE_PUSH, END_HEADERS, END_STREAM,
                        FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADER_TABLE_SIZE, HEADERS, INITIAL_WINDOW_SIZE,
                        MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, MAX_WINDOW,
                        NO_RFC7540_PRIORITIES, PADDED, PING, PRIORITY, PROTOCOL_ERROR, RST_STREAM, SETTINGS,
                        STREAM_CLOSED, WINDOW_UPDATE, case, connection_error, continuation, data, data_of_length,
                        goaway, ignored, ping, priority, raw_frame, response, rst_stream, settings, stream_error,
                        window_update)


def post_head(c, sid):
    return c.headers(sid, c.request("/", "POST"), end_stream=False)


# --- §6.1 DATA --------------------------------------------------------------------------

@case("http2/6.1/1", "Sends a DATA frame with 0x0 stream identifier")
def data_stream0(c):
    sid = c.next_sid()
    c.send(post_head(c, sid), raw_frame(DATA, END_STREAM, 0, b"test"))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.1/2", "Sends a DATA frame on the stream that is not in open or half-closed (local) state")
def data_half_closed(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), data(sid, b"test"))
    return stream_error(c, sid, STREAM_CLOSED)


@case("http2/6.1/3", "Sends a DATA frame with invalid pad length")
def data_bad_padding(c):
    sid = c.next_sid()
    # Pad Length 6 in a payload of 5 octets (RFC 9113 §6.1: "MUST treat this as a connection error").
    c.send(post_head(c, sid), raw_frame(DATA, PADDED | END_STREAM, sid, b"\x06test"))
    return connection_error(c, PROTOCOL_ERROR)


# --- §6.2 HEADERS -----------------------------------------------------------------------

@case("http2/6.2/1", "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame")
def headers_then_priority(c):
    sid = c.next_sid()
    c.send(c.headers(sid, end_headers=False), priority(sid))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.2/2", "Sends a HEADERS frame to another stream while sending a HEADERS frame")
def headers_interleaved(c):
    sid = c.next_sid()
    c.send(c.headers(sid, end_headers=False), c.headers(c.next_sid()))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.2/3", "Sends a HEADERS frame with 0x0 stream identifier")
def headers_stream0(c):
    c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 0, c.block_of(c.request())))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.2/4", "Sends a HEADERS frame with invalid pad length")
def headers_bad_padding(c):
    block = c.block_of(c.request())
    c.send(raw_frame(HEADERS, PADDED | END_STREAM | END_HEADERS, c.next_sid(), bytes([len(block) + 1]) + block))
    return connection_error(c, PROTOCOL_ERROR)


# --- §6.3 PRIORITY, §6.4 RST_STREAM ------------------------------------------------------

@case("http2/6.3/1", "Sends a PRIORITY frame with 0x0 stream identifier")
def priority_stream0(c):
    c.send(priority(0, depends_on=1))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.3/2", "Sends a PRIORITY frame with a length other than 5 octets")
def priority_bad_length(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), raw_frame(PRIORITY, 0, sid, b"\0\0\0\0\x0f\0"))
    return stream_error(c, sid, FRAME_SIZE_ERROR)


@case("http2/6.4/1", "Sends a RST_STREAM frame with 0x0 stream identifier")
def rst_stream0(c):
    c.send(raw_frame(RST_STREAM, 0, 0, b"\0\0\0\x08"))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.4/2", "Sends a RST_STREAM frame on an idle stream")
def rst_idle(c):
    c.send(rst_stream(1))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.4/3", "Sends a RST_STREAM frame with a length other than 4 octets")
def rst_bad_length(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), raw_frame(RST_STREAM, 0, sid, b"\0\0\0\x08\0"))
    return connection_error(c, FRAME_SIZE_ERROR)


# --- §6.5 SETTINGS ------------------------------------------------------------------------

@case("http2/6.5/1", "Sends a SETTINGS frame with ACK flag and payload")
def settings_ack_payload(c):
    c.send(raw_frame(SETTINGS, 0x1, 0, struct.pack(">HI", INITIAL_WINDOW_SIZE, 100)))
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/6.5/2", "Sends a SETTINGS frame with a stream identifier other than 0x0")
def settings_on_stream(c):
    c.send(raw_frame(SETTINGS, 0, 1, struct.pack(">HI", INITIAL_WINDOW_SIZE, 100)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5/3", "Sends a SETTINGS frame with a length other than a multiple of 6 octets")
def settings_bad_length(c):
    c.send(raw_frame(SETTINGS, 0, 0, struct.pack(">HI", INITIAL_WINDOW_SIZE, 100)[:5]))
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/6.5.2/1", "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1")
def settings_push_value(c):
    c.send(settings((ENABLE_PUSH, 2)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5.2/2", "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum window size")
def settings_window_too_big(c):
    c.send(settings((INITIAL_WINDOW_SIZE, MAX_WINDOW + 1)))
    return connection_error(c, FLOW_CONTROL_ERROR)


@case("http2/6.5.2/3", "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value")
def settings_frame_size_small(c):
    c.send(settings((MAX_FRAME_SIZE, 16383)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5.2/4", "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size")
def settings_frame_size_big(c):
    c.send(settings((MAX_FRAME_SIZE, 2**24)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5.2/5", "Sends a SETTINGS frame with unknown identifier")
def settings_unknown(c):
    c.send(settings((0xff, 1)))
    return ignored(c)


@case("http2/6.5.2/6", "Sends each parameter's extreme valid values, then a request (beyond h2spec)")
def settings_extremes(c):
    sid = c.next_sid()
    c.send(settings((HEADER_TABLE_SIZE, 0), (HEADER_TABLE_SIZE, 2**32 - 1), (ENABLE_PUSH, 1), (ENABLE_PUSH, 0),
                    (MAX_CONCURRENT_STREAMS, 0), (INITIAL_WINDOW_SIZE, 0), (INITIAL_WINDOW_SIZE, MAX_WINDOW),
                    (MAX_FRAME_SIZE, 2**24 - 1), (MAX_FRAME_SIZE, 16384), (MAX_HEADER_LIST_SIZE, 2**32 - 1)),
           c.headers(sid))
    return response(c, sid)


@case("http2/6.5.2/7", "SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8): Sends the value other than 0 or 1 "
      "(RFC 8441 §3, beyond h2spec)")
def settings_connect_protocol_value(c):
    c.send(settings((ENABLE_CONNECT_PROTOCOL, 2)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5.2/8", "SETTINGS_NO_RFC7540_PRIORITIES (0x9): Sends the value other than 0 or 1 "
      "(RFC 9113 §5.3.2, beyond h2spec)")
def settings_no_priorities_value(c):
    c.send(settings((NO_RFC7540_PRIORITIES, 2)))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.5.3/1", "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE: the last one holds")
def settings_last_value(c):
    sid = c.next_sid()
    c.send(settings((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)), c.headers(sid, c.request("/bytes/100")))
    return data_of_length(c, sid, 1)


@case("http2/6.5.3/2", "Sends a SETTINGS frame without ACK flag: it is acknowledged")
def settings_acked(c):
    c.send(settings((INITIAL_WINDOW_SIZE, 65535)))
    while True:
        f = c.read()
        if isinstance(f, SettingsFrame) and "ACK" in f.flags:
            return c.outcome(True)
        return c.outcome(False)


# --- §6.7 PING, §6.8 GOAWAY -----------------------------------------------------------

@case("http2/6.7/1", "Sends a PING frame: the ACK carries the same data")
def ping_ack(c):
    return ignored(c, b"\x01\x02\x03\x04\x05\x06\x07\x08")


@case("http2/6.7/2", "Sends a PING frame with ACK: no answer")
def ping_ack_unanswered(c):
    c.send(ping(b"unsolici", ack=True))
    c.send(ping(b"expected"))
    f = c.read()
    # The first frame back must answer the second PING, not the first.
    return c.outcome(isinstance(f, PingFrame) and f.opaque_data == b"expected")


@case("http2/6.7/3", "Sends a PING frame with a stream identifier field value other than 0x0")
def ping_on_stream(c):
    c.send(raw_frame(PING, 0, 1, b"\0" * 8))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.7/4", "Sends a PING frame with a length field value other than 8")
def ping_bad_length(c):
    c.send(raw_frame(PING, 0, 0, b"\0" * 6))
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/6.8/1", "Sends a GOAWAY frame with a stream identifier other than 0x0")
def goaway_on_stream(c):
    c.send(raw_frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    return connection_error(c, PROTOCOL_ERROR)


# --- §6.9 WINDOW_UPDATE and flow control --------------------------------------------------

@case("http2/6.9/1", "Sends a WINDOW_UPDATE frame with a flow control window increment of 0")
def window_update_zero(c):
    c.send(window_update(0, 0))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.9/2", "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream")
def window_update_zero_stream(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), window_update(sid, 0))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/6.9/3", "Sends a WINDOW_UPDATE frame with a length other than 4 octets")
def window_update_bad_length(c):
    c.send(raw_frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\x01\0"))
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/6.9.1/1", "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame")
def window_of_one(c):
    sid = c.next_sid()
    c.send(settings((INITIAL_WINDOW_SIZE, 1)), c.headers(sid, c.request("/bytes/100")))
    return data_of_length(c, sid, 1)


@case("http2/6.9.1/2", "Sends multiple WINDOW_UPDATE frames increasing the window to above 2^31-1")
def connection_window_overflow(c):
    c.send(window_update(0, MAX_WINDOW), window_update(0, MAX_WINDOW))
    return connection_error(c, FLOW_CONTROL_ERROR)


@case("http2/6.9.1/3", "Sends multiple WINDOW_UPDATE frames increasing the window to above 2^31-1 on a stream")
def stream_window_overflow(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), window_update(sid, MAX_WINDOW), window_update(sid, MAX_WINDOW))
    return stream_error(c, sid, FLOW_CONTROL_ERROR)


@case("http2/6.9.2/1", "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame")
def window_opened_by_settings(c):
    sid = c.next_sid()
    c.send(settings((INITIAL_WINDOW_SIZE, 0)), c.headers(sid, c.request("/bytes/100")))
    # The response head comes; no DATA while the window is 0. Then the new size opens it.
    while True:
        f = c.read()
        if isinstance(f, str) or (isinstance(f, DataFrame) and f.stream_id == sid):
            return c.outcome(False)
        if getattr(f, "fields", None) and f.stream_id == sid:
            break
    c.send(settings((INITIAL_WINDOW_SIZE, 1)))
    return data_of_length(c, sid, 1)


@case("http2/6.9.2/2", "Sends a SETTINGS frame for window size to be negative")
def negative_window(c):
    sid = c.next_sid()
    c.send(settings((INITIAL_WINDOW_SIZE, 3)), c.headers(sid, c.request("/bytes/100")))
    first = data_of_length(c, sid, 3)
    if not first.ok:
        return first
    # The window goes 0 -> -2 by the new size; an increment of 3 leaves room for exactly 1 byte.
    c.send(settings((INITIAL_WINDOW_SIZE, 1)), window_update(sid, 3))
    return data_of_length(c, sid, 1)


@case("http2/6.9.2/3", "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window size value")
def settings_window_overflow(c):
    c.send(settings((INITIAL_WINDOW_SIZE, MAX_WINDOW + 1)))
    return connection_error(c, FLOW_CONTROL_ERROR)


# --- §6.10 CONTINUATION ---------------------------------------------------------------------

def split_head(c, sid, parts=3):
    block = c.block_of(c.request(extra=[("x-test", "x" * 60)]))
    step = len(block) // parts + 1
    return [block[i:i + step] for i in range(0, len(block), step)]


@case("http2/6.10/1", "Sends multiple CONTINUATION frames preceded by a HEADERS frame")
def continuations(c):
    sid = c.next_sid()
    first, *rest = split_head(c, sid)
    frames = [raw_frame(HEADERS, END_STREAM, sid, first)]
    frames += [continuation(sid, part, end_headers=(i == len(rest) - 1)) for i, part in enumerate(rest)]
    c.send(*frames)
    return response(c, sid)


@case("http2/6.10/2", "Sends a CONTINUATION frame followed by any frame other than CONTINUATION")
def continuation_then_data(c):
    sid = c.next_sid()
    first, second, *_ = split_head(c, sid)
    c.send(raw_frame(HEADERS, 0, sid, first), continuation(sid, second, end_headers=False), data(sid, b"test"))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.10/3", "Sends a CONTINUATION frame with 0x0 stream identifier")
def continuation_stream0(c):
    sid = c.next_sid()
    first, second, *_ = split_head(c, sid)
    c.send(raw_frame(HEADERS, END_STREAM, sid, first), continuation(0, second))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.10/4", "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag")
def continuation_after_end_headers(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), continuation(sid, c.block_of([("x-test", "ok")])))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.10/5", "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag")
def continuation_after_continuation_end(c):
    sid = c.next_sid()
    first, second = split_head(c, sid, parts=2)
    c.send(raw_frame(HEADERS, END_STREAM, sid, first), continuation(sid, second, end_headers=True),
           continuation(sid, c.block_of([("x-test", "ok")]), end_headers=True))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/6.10/6", "Sends a CONTINUATION frame preceded by a DATA frame")
def continuation_after_data(c):
    sid = c.next_sid()
    c.send(post_head(c, sid), data(sid, b"test", end_stream=False), raw_frame(CONTINUATION, END_HEADERS, sid,
                                                                              c.block_of([("x-test", "ok")])))
    return connection_error(c, PROTOCOL_ERROR)


# --- §7 error codes ---------------------------------------------------------------------------

@case("http2/7/1", "Sends a GOAWAY frame with unknown error code")
def goaway_unknown_code(c):
    c.send(goaway(0, 0xff))
    return ignored(c, close_allowed=True)


@case("http2/7/2", "Sends a RST_STREAM frame with unknown error code")
def rst_unknown_code(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")), rst_stream(sid, 0xff))
    return ignored(c)
