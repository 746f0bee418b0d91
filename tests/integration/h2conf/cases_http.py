"""h2spec's http2 cases for HTTP semantics over HTTP/2: RFC 9113 §8.1 (message framing, malformed
messages: uppercase field names, pseudo-header rules, connection-specific fields, TE, content-length
against DATA) and §8.4 (server push: a client's PUSH_PROMISE). Ids are h2spec's (RFC 7540's §8.1.2.x
is RFC 9113's §8.2 and §8.3). A malformed request is a stream error of type PROTOCOL_ERROR
(RFC 9113 §8.1.1)."""
from h2conf.lib import (END_HEADERS, PROTOCOL_ERROR, PUSH_PROMISE, case, connection_error, data, raw_frame,
                        stream_error, stream_error_or_4xx)


def malformed(c, fields, end_stream=True):
    sid = c.next_sid()
    c.send(c.headers(sid, fields, end_stream=end_stream))
    return stream_error(c, sid, PROTOCOL_ERROR)


def without(fields, name):
    return [f for f in fields if f[0] != name]


def malformed_trailers(c, fields, end_stream):
    """A POST whose body is followed by a second HEADERS frame of `fields`."""
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST"), end_stream=False), data(sid, b"test", end_stream=False),
           c.headers(sid, fields, end_stream=end_stream))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/8.1/1", "Sends a second HEADERS frame without the END_STREAM flag")
def second_headers_without_end(c):
    return malformed_trailers(c, [("x-trailer", "1")], end_stream=False)


@case("http2/8.1.2/1", "Sends a HEADERS frame that contains the field name in uppercase letters")
def uppercase_name(c):
    return malformed(c, c.request(extra=[("X-TEST", "ok")]))


@case("http2/8.1.2.1/1", "Sends a HEADERS frame that contains an unknown pseudo-header field")
def unknown_pseudo(c):
    return malformed(c, c.request() + [(":test", "ok")])


@case("http2/8.1.2.1/2", "Sends a HEADERS frame that contains the pseudo-header field defined for response")
def response_pseudo(c):
    return malformed(c, c.request() + [(":status", "200")])


@case("http2/8.1.2.1/3", "Sends a HEADERS frame that contains a pseudo-header field as trailers")
def pseudo_in_trailers(c):
    return malformed_trailers(c, [(":method", "POST")], end_stream=True)


@case("http2/8.1.2.1/4", "Sends a HEADERS frame that contains a pseudo-header field after a regular field")
def pseudo_after_regular(c):
    fields = c.request()
    return malformed(c, fields[:3] + [("x-test", "ok"), fields[3]])


@case("http2/8.1.2.2/1", "Sends a HEADERS frame that contains the connection-specific field")
def connection_specific(c):
    return malformed(c, c.request(extra=[("connection", "keep-alive")]))


@case("http2/8.1.2.2/2", "Sends a HEADERS frame that contains the TE field with any value other than trailers")
def te_not_trailers(c):
    return malformed(c, c.request(extra=[("te", "trailers, deflate")]))


@case("http2/8.1.2.3/1", "Sends a HEADERS frame with empty :path pseudo-header field")
def empty_path(c):
    return malformed(c, [(n, "" if n == ":path" else v) for n, v in c.request()])


@case("http2/8.1.2.3/2", "Sends a HEADERS frame that omits :method pseudo-header field")
def no_method(c):
    return malformed(c, without(c.request(), ":method"))


@case("http2/8.1.2.3/3", "Sends a HEADERS frame that omits :scheme pseudo-header field")
def no_scheme(c):
    return malformed(c, without(c.request(), ":scheme"))


@case("http2/8.1.2.3/4", "Sends a HEADERS frame that omits :path pseudo-header field")
def no_path(c):
    return malformed(c, without(c.request(), ":path"))


@case("http2/8.1.2.3/5", "Sends a HEADERS frame with duplicated :method pseudo-header field")
def two_methods(c):
    fields = c.request()
    return malformed(c, fields[:1] + fields)


@case("http2/8.1.2.3/6", "Sends a HEADERS frame with duplicated :scheme pseudo-header field")
def two_schemes(c):
    fields = c.request()
    return malformed(c, fields[:2] + fields[1:])


@case("http2/8.1.2.3/7", "Sends a HEADERS frame with duplicated :path pseudo-header field")
def two_paths(c):
    fields = c.request()
    return malformed(c, fields[:3] + fields[2:])


@case("http2/8.1.2.6/1", "Sends a HEADERS frame with content-length that does not equal the DATA payload length")
def length_mismatch(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST", [("content-length", "1")]), end_stream=False),
           data(sid, b"test"))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/8.1.2.6/2", "Sends a HEADERS frame with content-length that does not equal the sum of DATA lengths")
def length_mismatch_sum(c):
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/", "POST", [("content-length", "1")]), end_stream=False),
           data(sid, b"test", end_stream=False), data(sid, b"test"))
    return stream_error(c, sid, PROTOCOL_ERROR)


@case("http2/8.2/1", "Sends a PUSH_PROMISE frame")
def client_push_promise(c):
    # RFC 9113 §8.4: "A client cannot push ... MUST treat the receipt of a PUSH_PROMISE frame as a
    # connection error of type PROTOCOL_ERROR" (on a server).
    sid = c.next_sid()
    c.send(c.headers(sid, c.request("/hang")),
           raw_frame(PUSH_PROMISE, END_HEADERS, sid, b"\0\0\0\x02" + c.block_of(c.request())))
    return connection_error(c, PROTOCOL_ERROR)


# --- RFC 9113 §8.1.1-§8.3 beyond h2spec: what lbd translates to HTTP/1.1 --------------------------
# Here lbd's own checks (l7/h2_request_head.cc) may be the ones that see the fault; RFC 9113 §8.1.1
# lets a server answer a malformed request ("MAY send an HTTP response prior to closing or
# resetting the stream"), so a 4xx answer passes too, marked as such. It must never reach the server.

def refused(c, fields, end_stream=True):
    sid = c.next_sid()
    c.send(c.headers(sid, fields, end_stream=end_stream))
    return stream_error_or_4xx(c, sid)


BEYOND = [
    ("http2/8.2.1/1", "a field value with a line feed (HTTP/1.1 smuggling)", [("x-test", "a\nx-injected: 1")]),
    ("http2/8.2.1/2", "a field value with a NUL", [("x-test", "a\0b")]),
    ("http2/8.2.1/3", "a field value with leading whitespace", [("x-test", " a")]),
    ("http2/8.2.1/4", "a field name with a space", [("x test", "a")]),
    ("http2/8.2.2/1", "transfer-encoding: chunked (a connection-specific field)", [("transfer-encoding", "chunked")]),
    ("http2/8.2.2/2", "upgrade: websocket (a connection-specific field)", [("upgrade", "websocket")]),
    ("http2/8.2.2/3", "keep-alive (a connection-specific field)", [("keep-alive", "timeout=5")]),
    ("http2/8.2.2/4", "proxy-connection (a connection-specific field)", [("proxy-connection", "keep-alive")]),
    ("http2/8.1.1/1", "a content-length that is no number", [("content-length", "1x")]),
    ("http2/8.1.1/2", "two content-length values", [("content-length", "0"), ("content-length", "1")]),
]


def beyond_case(cid, title, extra):
    case(cid, "Sends a HEADERS frame with %s (beyond h2spec)" % title)(
        lambda c: refused(c, c.request(extra=extra)))


for _cid, _title, _extra in BEYOND:
    beyond_case(_cid, _title, _extra)


@case("http2/8.3.1/1", "Sends a request with neither :authority nor host (beyond h2spec)")
def no_authority(c):
    return refused(c, without(c.request(), ":authority"))


@case("http2/8.3.1/2", "Sends a request with a :path that is not origin-form (beyond h2spec)")
def path_not_origin_form(c):
    return refused(c, [(n, "abc" if n == ":path" else v) for n, v in c.request()])


@case("http2/8.3.1/3", "Sends a GET with :path * (asterisk-form is for OPTIONS; beyond h2spec)")
def asterisk_get(c):
    return refused(c, [(n, "*" if n == ":path" else v) for n, v in c.request()])


@case("http2/8.5/1", "Sends a CONNECT with :scheme and :path (beyond h2spec)")
def connect_with_path(c):
    return refused(c, [(":method", "CONNECT"), (":scheme", "http"), (":path", "/"),
                       (":authority", c.target.authority)], end_stream=False)
