"""h2spec's http2 cases for RFC 9113 §3.4 (preface), §4 (frames, frame size, field blocks) and §5
(stream states, identifiers, concurrency, priority, error handling, extensions). Ids are h2spec's,
numbered by RFC 7540's sections, which RFC 9113 keeps for these."""
from h2conf.lib import (GOAWAY, CANCEL, COMPRESSION_ERROR, DATA, END_HEADERS, END_STREAM, FRAME_SIZE_ERROR,
                        HEADERS, MAX_CONCURRENT_STREAMS, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM, STREAM_CLOSED,
                        case, connection_error, continuation, data, ignored, priority, raw_frame, response,
                        rst_stream, settings, stream_error, window_update)
import struct

from hyperframe.frame import SettingsFrame


@case("http2/3.5/1", "Sends client connection preface: SETTINGS first", handshake=False)
def preface(c):
    c.send(PREFACE, settings())
    first = c.read()
    return c.outcome(isinstance(first, SettingsFrame) and "ACK" not in first.flags)


@case("http2/3.5/2", "Sends invalid connection preface", handshake=False)
def bad_preface(c):
    # RFC 9113 §3.4: a connection error PROTOCOL_ERROR, whose GOAWAY MAY be omitted. The first 18
    # bytes are the preface's: on a listener that also takes HTTP/1, they are HTTP/1's request line
    # "PRI * HTTP/2.0", which may be answered as HTTP/1 (505) before the close.
    c.send(PREFACE[:18] + b"XX\r\n\r\n", settings())
    got = c.read_until_close()
    if got is None:
        return c.outcome(False, "the connection stayed open")
    if got.startswith(b"HTTP/1.1 "):
        return c.outcome(got[9:10] in (b"4", b"5"), "closed after HTTP/1: %r" % got.split(b"\r\n")[0])
    codes = [struct.unpack(">I", got[i + 13:i + 17])[0] for i in frame_offsets(got) if got[i + 3] == GOAWAY]
    return c.outcome(got == b"" or codes == [PROTOCOL_ERROR], "closed after %d bytes, GOAWAY %s" % (len(got), codes))


def frame_offsets(stream):
    i = 0
    while i + 9 <= len(stream):
        yield i
        i += 9 + int.from_bytes(stream[i:i + 3], "big")


@case("http2/4.1/1", "Sends a frame with unknown type")
def unknown_type(c):
    c.send(raw_frame(0x16, 0, 0, b"\0" * 8))
    return ignored(c)


@case("http2/4.1/2", "Sends a frame with undefined flag")
def undefined_flag(c):
    c.send(raw_frame(0x6, 0x16, 0, b"\0" * 8))  # a PING with flags that mean nothing (0x10, 0x04, 0x02)
    return ignored(c, b"\0" * 8)


@case("http2/4.1/3", "Sends a frame with reserved field bit")
def reserved_bit(c):
    sid = c.next_sid()
    hdr = c.headers(sid)
    c.send(hdr[:5] + bytes([hdr[5] | 0x80]) + hdr[6:])  # R bit of the stream identifier set
    return response(c, sid)


@case("http2/4.2/1", "Sends a DATA frame with 2^14 octets in length")
def data_max_size(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST"), end_stream=False), data(sid, b"x" * 16384))
    return response(c, sid)


@case("http2/4.2/2", "Sends a large size DATA frame that exceeds SETTINGS_MAX_FRAME_SIZE")
def data_too_big(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST"), end_stream=False), raw_frame(DATA, END_STREAM, sid, b"x" * 16385))
    # RFC 9113 §4.2: "MUST send an error code of FRAME_SIZE_ERROR"; on a DATA frame a stream error does.
    return stream_error(c, sid, FRAME_SIZE_ERROR)


@case("http2/4.2/3", "Sends a large size HEADERS frame that exceeds SETTINGS_MAX_FRAME_SIZE")
def headers_too_big(c):
    sid = c.next_sid()
    fields = c.request(extra=[("x-test%d" % i, "x" * 100) for i in range(170)])
    block = c.encoder.encode(fields, huffman=False)
    c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, sid, block[:16385]))
    # §4.2: a frame that could alter the whole connection's state (a field block): connection error.
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/4.3/1", "Sends invalid field block fragment")
def bad_block(c):
    sid = c.next_sid()
    c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, sid, b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff"))
    return connection_error(c, COMPRESSION_ERROR)


@case("http2/4.3/2", "Sends a PRIORITY frame while sending the field block")
def priority_in_block(c):
    sid = c.next_sid()
    c.send(c.headers(sid, end_headers=False), priority(sid))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/4.3/3", "Sends a HEADERS frame to another stream while sending the field block")
def headers_in_block(c):
    sid = c.next_sid()
    other = c.next_sid()
    c.send(c.headers(sid, end_headers=False), c.headers(other))
    return connection_error(c, PROTOCOL_ERROR)


# --- §5.1 stream states -------------------------------------------------------------------

@case("http2/5.1/1", "idle: Sends a DATA frame")
def idle_data(c):
    c.send(data(1, b"test"))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.1/2", "idle: Sends a RST_STREAM frame")
def idle_rst(c):
    c.send(rst_stream(1))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.1/3", "idle: Sends a WINDOW_UPDATE frame")
def idle_window_update(c):
    c.send(window_update(1, 100))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.1/4", "idle: Sends a CONTINUATION frame")
def idle_continuation(c):
    c.send(continuation(1, c.block_of(c.request())))
    return connection_error(c, PROTOCOL_ERROR)


def half_closed(c):
    """A stream the client ended with its head, to /hang, so it stays half-closed (remote)."""
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")))
    return sid


def reset_by_client(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST"), end_stream=False), rst_stream(sid, CANCEL))
    return sid


def ended_both_ways(c):
    """A stream closed by END_STREAM both ways (the response read to its end); None if it failed."""
    sid = c.next_sid()
    c.send(c.headers(sid))
    return sid if response(c, sid).ok else None


def state_case(cid, title, opener, frame_of, expect, *codes):
    """Opens a stream in a state (`opener`), sends it `frame_of(c, sid)`, expects `expect`."""
    def run(c):
        sid = opener(c)
        if sid is None:
            return c.outcome(False)
        c.send(frame_of(c, sid))
        return stream_error(c, sid, *codes) if expect is stream_error else connection_error(c, *codes)
    case(cid, title)(run)


def data_frame(c, sid):
    return data(sid, b"test")


def trailer_frame(c, sid):
    return c.headers(sid, [("x-trailer", "1")])


def continuation_frame(c, sid):
    return continuation(sid, c.block_of([("x-test", "ok")]))


# RFC 9113 §5.1. A CONTINUATION that follows no open field block is also a connection error
# PROTOCOL_ERROR (§6.10), so it may get either code (as in h2spec).
state_case("http2/5.1/5", "half closed (remote): Sends a DATA frame", half_closed, data_frame, stream_error,
           STREAM_CLOSED)
state_case("http2/5.1/6", "half closed (remote): Sends a HEADERS frame", half_closed, trailer_frame, stream_error,
           STREAM_CLOSED)
state_case("http2/5.1/7", "half closed (remote): Sends a CONTINUATION frame (STREAM_CLOSED or PROTOCOL_ERROR)",
           half_closed, continuation_frame, stream_error, STREAM_CLOSED, PROTOCOL_ERROR)
state_case("http2/5.1/8", "closed: Sends a DATA frame after sending RST_STREAM frame", reset_by_client, data_frame,
           stream_error, STREAM_CLOSED)
state_case("http2/5.1/9", "closed: Sends a HEADERS frame after sending RST_STREAM frame", reset_by_client,
           lambda c, sid: c.headers(sid), stream_error, STREAM_CLOSED)
state_case("http2/5.1/10", "closed: Sends a CONTINUATION frame after sending RST_STREAM frame (STREAM_CLOSED or "
           "PROTOCOL_ERROR)", reset_by_client, continuation_frame, stream_error, STREAM_CLOSED, PROTOCOL_ERROR)
state_case("http2/5.1/11", "closed: Sends a DATA frame", ended_both_ways, data_frame, connection_error,
           STREAM_CLOSED)
state_case("http2/5.1/12", "closed: Sends a HEADERS frame", ended_both_ways, lambda c, sid: c.headers(sid),
           connection_error, STREAM_CLOSED)
state_case("http2/5.1/13", "closed: Sends a CONTINUATION frame (STREAM_CLOSED or PROTOCOL_ERROR)", ended_both_ways,
           continuation_frame, connection_error, STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2/5.1.1/1", "Sends even-numbered stream identifier")
def even_stream(c):
    c.send(c.headers(2))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.1.1/2", "Sends stream identifier that is numerically smaller than previous")
def smaller_stream(c):
    c.send(c.headers(5), c.headers(3))
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.1.2/1", "Sends HEADERS frames that cause the advertised concurrent stream limit to be exceeded")
def too_many_streams(c):
    limit = c.server_settings.get(MAX_CONCURRENT_STREAMS)
    if limit is None or limit > 1000:
        return c.outcome(False, "no usable SETTINGS_MAX_CONCURRENT_STREAMS (%s)" % limit)
    heads = [c.headers(c.next_sid(), c.request("/hang")) for _ in range(limit + 1)]
    c.send(*heads)
    # RFC 9113 §5.1.2: "stream error of type PROTOCOL_ERROR or REFUSED_STREAM".
    return stream_error(c, c.sid, PROTOCOL_ERROR, REFUSED_STREAM)


@case("http2/5.3.1/1", "Sends HEADERS frame that depends on itself")
def headers_self_dependency(c):
    sid = c.next_sid()
    c.send(c.headers(sid, depends_on=sid, stream_weight=15))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/5.3.1/2", "Sends PRIORITY frame that depend on itself")
def priority_self_dependency(c):
    sid = c.next_sid()
    c.send(priority(sid, depends_on=sid))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/5.4.1/1", "Sends an invalid PING frame for connection close")
def invalid_ping_goaway(c):
    c.send(raw_frame(0x6, 0, 3, b"\0" * 8))  # a PING on a stream
    return connection_error(c, PROTOCOL_ERROR)


@case("http2/5.4.1/2", "Sends an invalid PING frame to receive GOAWAY frame, then the close")
def invalid_ping_close(c):
    c.send(raw_frame(0x6, 0, 0, b"\0" * 6))  # connection_error() also requires the close
    return connection_error(c, FRAME_SIZE_ERROR)


@case("http2/5.5/1", "Sends an unknown extension frame")
def unknown_extension(c):
    c.send(raw_frame(0xff, 0, 0, b"\0" * 8))
    return ignored(c)


@case("http2/5.5/2", "Sends an unknown extension frame in the middle of a field block")
def unknown_extension_in_block(c):
    sid = c.next_sid()
    c.send(c.headers(sid, end_headers=False), raw_frame(0xff, 0, 0, b"\0" * 8))
    return connection_error(c, PROTOCOL_ERROR)

