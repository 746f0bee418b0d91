#!/usr/bin/python3
"""An HTTP/2 conformance suite for lbd in the manner of h2spec (which Debian does not package), on
Debian's python3-hyperframe and python3-hpack: the cases of RFC 9113 (h2spec's `http2`, numbered
as h2spec numbers them), RFC 7541 (`hpack`) and h2spec's `generic`, each over a connection of its
own, each expecting what the RFC requires: a connection error with its exact GOAWAY code, a stream
error with its exact RST_STREAM code, or a normal answer (h2conf/lib.py says how each is judged).

  h2_conformance.py PORT [--tls-port PORT] [--host HOST] [--deadline SECONDS] [--only REGEX]

PORT is a listener that takes h2c with prior knowledge (`http2 { cleartext: true }`); with
--tls-port, a TLS listener that offers ALPN h2 also gets the handshake and the generic/4 exchanges.
The server behind must answer any path with 200, `/bytes/N` with N bytes, and never answer `/hang`
(lbd's test backend, tests/support/http_backend.h). One line per case, then a summary; the exit
status is 1 if a case failed, or if a known deviation (KNOWN_DEVIATIONS) passed: then the list is
out of date.
"""
import argparse
import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Registered in this order, which is the order they run and print in.
from h2conf import cases_streams, cases_frames, cases_http, cases_hpack, cases_generic  # noqa: E402,F401
from h2conf.lib import CASES, Conn, Outcome, Target  # noqa: E402

# Where lbd (nghttp2 1.52 with lbd's options) does not do what the RFC requires, and why it is left.
KNOWN_DEVIATIONS = {
    # nghttp2 keeps no state for a stream once it is closed: lbd sets NGHTTP2_OPT_NO_CLOSED_STREAMS
    # (h2_connection.cc), so a frame on a stream the client reset, or that ended both ways, is
    # dropped; it opens nothing there, and nghttp2 gives DATA's bytes back to the connection window.
    # Without the option these four pass (tried: GOAWAY STREAM_CLOSED), but nghttp2 would then keep
    # up to max_concurrent_streams closed streams (~230 bytes each) per connection, and only the
    # last ones, so it would conform for recent streams alone at a cost to every idle connection.
    "http2/5.1/8": "DATA after the client's RST_STREAM is ignored, not a stream error STREAM_CLOSED",
    "http2/5.1/9": "HEADERS after the client's RST_STREAM is ignored, not a stream error STREAM_CLOSED",
    "http2/5.1/11": "DATA on a stream closed both ways is ignored, not a connection error STREAM_CLOSED",
    "http2/5.1/12": "HEADERS on a stream closed both ways is ignored, not a connection error STREAM_CLOSED",
    # nghttp2 1.52 (nghttp2_session_on_request_headers_received) ignores a HEADERS whose stream id
    # is below the last one but that it does not know: it does not remember every id it saw.
    "http2/5.1.1/2": "HEADERS with a smaller stream id than a previous one is ignored, not PROTOCOL_ERROR",
    # lbd sends SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 scheduling: a connection's responses one
    # after another); nghttp2 then skips PRIORITY frames unread, so a stream said to depend on itself
    # is not seen (RFC 9218 §2.1 lets a receiver ignore the RFC 7540 signals). A PRIORITY frame on
    # stream 0 is still a connection error: lbd checks its frame header (H2Connection::on_begin_frame).
    "http2/5.3.1/2": "a PRIORITY frame making a stream depend on itself is ignored, not a stream error",
}

# Run again over TLS with --tls-port: the preface and the plain exchanges.
TLS_CASES = re.compile(r"^(http2/3\.5/1|generic/4/\d+)$")


def run_case(k, target):
    conn = None
    try:
        conn = Conn(target)
        if target.tls and conn.sock.selected_alpn_protocol() != "h2":
            return Outcome(False, "ALPN chose %r" % conn.sock.selected_alpn_protocol())
        if k.handshake:
            conn.handshake()
        return k.run(conn)
    except Exception as e:  # a case that broke is a failed case, with its reason
        return Outcome(False, "%s: %s" % (type(e).__name__, e))
    finally:
        if conn is not None:
            conn.close()


def section_of(cid):
    """http2/6.5.2/1 -> http2/6; hpack/5.2/3 -> hpack/5; generic/3.10/1 -> generic/3."""
    group, number, _ = cid.split("/")
    return "%s/%s" % (group, number.split(".")[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--deadline", type=float, default=3.0, help="per case, seconds")
    ap.add_argument("--only", default="", help="regex on case ids")
    args = ap.parse_args()
    only = re.compile(args.only)
    plain = Target(args.host, args.port, deadline=args.deadline)
    runs = [(k, plain, k.id) for k in CASES if only.search(k.id)]
    if args.tls_port:
        tls = Target(args.host, args.tls_port, tls=True, deadline=args.deadline)
        runs += [(k, tls, k.id + "[tls]") for k in CASES if TLS_CASES.match(k.id) and only.search(k.id)]

    started = time.monotonic()
    tally = collections.defaultdict(collections.Counter)
    failed, escalated = [], []
    for k, target, name in runs:
        t0 = time.monotonic()
        out = run_case(k, target)
        known = KNOWN_DEVIATIONS.get(k.id)
        if known is not None:
            verdict = "FIXED?" if out.ok else "KNOWN"
        else:
            verdict = "PASS" if out.ok else "FAIL"
        if verdict in ("FAIL", "FIXED?"):
            failed.append(name)
        if out.ok and out.escalated:
            escalated.append(name)
        tally[section_of(k.id)][verdict] += 1
        note = " (stream error as a connection error, RFC 9113 §5.4)" if out.ok and out.escalated else ""
        print("%-18s %-6s %s: %s%s [%.0f ms]%s" % (name, verdict, k.title, out.seen, note,
                                                   1000 * (time.monotonic() - t0),
                                                   " -- known deviation: " + known if known else ""))
        sys.stdout.flush()

    print("\nby section:")
    for section in sorted(tally, key=lambda s: (s.split("/")[0], int(s.split("/")[1]))):
        counts = tally[section]
        print("  %-10s %s" % (section, ", ".join("%d %s" % (counts[v], v) for v in ("PASS", "FAIL", "KNOWN", "FIXED?")
                                                   if counts[v])))
    total = collections.Counter()
    for counts in tally.values():
        total.update(counts)
    print("summary: %d cases, %d passed (%d of them stream errors escalated to connection errors), %d failed, "
          "%d known deviations, %d known deviations now passing; %.1f s" %
          (len(runs), total["PASS"], len(escalated), total["FAIL"], total["KNOWN"], total["FIXED?"],
           time.monotonic() - started))
    if failed:
        print("failed: " + " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
