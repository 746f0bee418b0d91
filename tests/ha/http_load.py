#!/usr/bin/env python3
"""HTTP backend and load clients of the planned-handover scenarios (k and l
in tests/ha/scenarios.sh). Python's asyncio, standard library only.

  http_load.py serve NAME PORT
      A keep-alive HTTP/1.1 backend: every request gets 200 with the body
      "NAME PEER_IP\\n", PEER_IP being the lbd node that forwarded it (how the
      client tells which node of the pair answered).

  http_load.py load ADDR:PORT --sources IP,IP,... [--keepalive N] [--fresh N]
                    --until-file F [--status F] [--timeout-s 10]
      N clients on keep-alive connections and N clients with one connection
      per request (Connection: close), each sending its next request as soon
      as the last is answered, each from its own source address. Every
      request that does not end in a complete 200 is a failure, whatever the
      cause (refused, reset, EOF before or inside the answer, timeout),
      including on a keep-alive connection the server closed as the request
      went out: nothing is retried. --status is rewritten every 100 ms with
      the running counts ({"ok", "failed", "via": {IP: n}}). When F exists,
      the clients finish their request in progress and one JSON summary is
      printed: requests, ok, failed, failures by cause (and the first 20 with
      their time), answers per node, latency p50/p99/max, answers slower
      than 0.9 s (a SYN that had to be sent again), requests per second, and
      the longest the client itself was not scheduled (max_stall_ms).

  http_load.py late ADDR:PORT --sources IP,IP,... --ready-file R --go-file F
                    [--pause-ms 400] [--timeout-s 10]
      One keep-alive connection per source. Each sends a request; once all
      are answered, R is written. When F appears (the handover starts), each
      client waits --pause-ms and sends its next request on the same
      connection: a client slow to send it. Nothing is retried. Prints one
      JSON summary: requests, ok, failed (with causes), the second answers
      by node (via) and how many of them said Connection: close (closing),
      and how long after F the latest second request went out (late_ms).

Exit: 0 done (the summary says how it went), 2 usage.
"""
import argparse
import asyncio
import json
import os
import sys
import time


# ---------------------------------------------------------------- serve

async def serve_connection(name, reader, writer):
    peer = writer.get_extra_info("peername")[0]
    body = f"{name} {peer}\n".encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            if b"connection: close" in head.lower():
                await writer.drain()
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(name, port):
    server = await asyncio.start_server(lambda r, w: serve_connection(name, r, w), "0.0.0.0", port, backlog=4096)
    print(f"serve {name}: listening on 0.0.0.0:{port}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- load

class Stats:
    def __init__(self):
        self.start = time.monotonic()
        self.ok = 0
        self.failed = 0
        self.by_cause = {}
        self.first_failures = []
        self.via = {}
        self.latencies = []
        self.max_stall = 0.0  # the longest the client's event loop was late (not scheduled)

    def success(self, via, latency):
        self.ok += 1
        self.via[via] = self.via.get(via, 0) + 1
        self.latencies.append(latency)

    def failure(self, cause, client, reused, idle_ms, waited_ms):
        self.failed += 1
        key = cause + (" (reused connection)" if reused else "")
        self.by_cause[key] = self.by_cause.get(key, 0) + 1
        if len(self.first_failures) < 20:
            # at_ms: the wall clock (to line up with the nodes' logs); idle_ms: how long the
            # connection sat between its last answer and this request; waited_ms: request to failure.
            self.first_failures.append({"t_ms": int((time.monotonic() - self.start) * 1000),
                                        "at_ms": int(time.time() * 1000), "client": client, "cause": key,
                                        "idle_ms": idle_ms, "waited_ms": waited_ms})


async def read_answer(reader):
    """The status, whether the server closes, and the body of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "connection" and "close" in value:
            close = True
    body = await reader.readexactly(length)
    return status, close, body.decode("latin-1")


def cause_of(error):
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    if isinstance(error, asyncio.IncompleteReadError):
        return "eof in answer" if error.partial else "eof before answer"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, OSError):
        return f"os error {error.errno}"
    return type(error).__name__


async def client(index, keepalive, host, port, source, stop, stats, timeout):
    request = b"GET / HTTP/1.1\r\nHost: vip\r\n" + (b"" if keepalive else b"Connection: close\r\n") + b"\r\n"
    reader = writer = None
    used = 0  # requests sent on the current connection
    answered = 0.0  # when the current connection's last answer came
    while not stop.is_set():
        started = time.monotonic()
        reused = writer is not None  # a request on a connection that answered before
        idle_ms = int((started - answered) * 1000) if reused else None
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port, local_addr=(source, 0)), timeout)
                used = 0
            writer.write(request)
            used += 1
            status, close, body = await asyncio.wait_for(read_answer(reader), timeout)
            if status != 200:
                raise RuntimeError(f"status {status}")
            parts = body.split()
            answered = time.monotonic()
            stats.success(parts[1] if len(parts) > 1 else "?", answered - started)
            if close or not keepalive:
                writer.close()
                writer = None
        except Exception as error:  # every failure counts, whatever it is
            stats.failure(cause_of(error) if not isinstance(error, RuntimeError) else str(error),
                          f"{'keepalive' if keepalive else 'fresh'}-{index}", reused, idle_ms,
                          int((time.monotonic() - started) * 1000))
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


async def watch_stalls(stats, stop):
    """Measures how late the client itself runs: a ticker every 20 ms notes
    its largest lateness. A client not scheduled for longer than lbd's idle
    grace in a handover (l7/l7_worker.h: most of the drain deadline) finds
    its keep-alive connection closed under it."""
    tick = 0.02
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(tick)
        stats.max_stall = max(stats.max_stall, time.monotonic() - before - tick)


async def load(args):
    host, _, port = args.target.rpartition(":")
    sources = args.sources.split(",")
    stats = Stats()
    stop = asyncio.Event()
    tasks = []
    for i in range(args.keepalive + args.fresh):
        keepalive = i < args.keepalive
        tasks.append(asyncio.create_task(
            client(i, keepalive, host, int(port), sources[i % len(sources)], stop, stats, args.timeout_s)))
    tasks.append(asyncio.create_task(watch_stalls(stats, stop)))
    while not os.path.exists(args.until_file):
        if args.status:
            tmp = args.status + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"ok": stats.ok, "failed": stats.failed, "via": stats.via}, f)
            os.replace(tmp, args.status)
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - stats.start
    lat = sorted(stats.latencies)
    print(json.dumps({
        "requests": stats.ok + stats.failed, "ok": stats.ok, "failed": stats.failed,
        "causes": stats.by_cause, "first_failures": stats.first_failures, "via": stats.via,
        "latency_ms": {"p50": round(percentile(lat, 50) * 1000, 1), "p99": round(percentile(lat, 99) * 1000, 1),
                       "max": round((lat[-1] if lat else 0) * 1000, 1)},
        "slower_than_900ms": sum(1 for v in lat if v > 0.9),
        "max_stall_ms": round(stats.max_stall * 1000),
        "seconds": round(elapsed, 1), "per_second": round((stats.ok + stats.failed) / elapsed) if elapsed else 0,
        "clients": {"keepalive": args.keepalive, "fresh": args.fresh},
    }))


# ---------------------------------------------------------------- late

async def late_client(index, host, port, source, ready, go, pause, stats, result, timeout):
    request = b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n"
    writer = None
    reused = False
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(source, 0)), timeout)
        for second in (False, True):
            if second:
                ready.release()
                await go.wait()
                await asyncio.sleep(pause)
                result["late_ms"] = max(result["late_ms"], int((time.monotonic() - result["go_at"]) * 1000))
                reused = True
            started = time.monotonic()
            writer.write(request)
            status, close, body = await asyncio.wait_for(read_answer(reader), timeout)
            if status != 200:
                raise RuntimeError(f"status {status}")
            parts = body.split()
            stats.success(parts[1] if len(parts) > 1 else "?", time.monotonic() - started)
            if second:
                result["closing"] += close
            elif close:
                raise RuntimeError("the first answer closed the connection")
    except Exception as error:  # every failure counts, whatever it is
        stats.failure(cause_of(error) if not isinstance(error, RuntimeError) else str(error), f"late-{index}",
                      reused, None, 0)
        if not reused:
            ready.release()
    finally:
        if writer is not None:
            writer.close()


async def late(args):
    host, _, port = args.target.rpartition(":")
    sources = args.sources.split(",")
    stats = Stats()
    ready = asyncio.Semaphore(0)
    go = asyncio.Event()
    result = {"late_ms": 0, "closing": 0, "go_at": 0.0}
    tasks = [asyncio.create_task(late_client(i, host, int(port), source, ready, go, args.pause_ms / 1000, stats,
                                             result, args.timeout_s))
             for i, source in enumerate(sources)]
    for _ in sources:
        await ready.acquire()
    first_via = dict(stats.via)
    with open(args.ready_file, "w") as f:
        f.write("ready\n")
    while not os.path.exists(args.go_file):
        await asyncio.sleep(0.005)
    result["go_at"] = time.monotonic()
    go.set()
    await asyncio.gather(*tasks)
    print(json.dumps({
        "requests": stats.ok + stats.failed, "ok": stats.ok, "failed": stats.failed, "causes": stats.by_cause,
        "first_failures": stats.first_failures,
        "via": {node: n - first_via.get(node, 0) for node, n in stats.via.items() if n > first_via.get(node, 0)},
        "closing": result["closing"], "late_ms": result["late_ms"], "clients": len(sources),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("name")
    s.add_argument("port", type=int)
    l = sub.add_parser("load")
    l.add_argument("target")
    l.add_argument("--sources", required=True)
    l.add_argument("--keepalive", type=int, default=16)
    l.add_argument("--fresh", type=int, default=16)
    l.add_argument("--until-file", required=True)
    l.add_argument("--status")
    l.add_argument("--timeout-s", type=float, default=10)
    t = sub.add_parser("late")
    t.add_argument("target")
    t.add_argument("--sources", required=True)
    t.add_argument("--ready-file", required=True)
    t.add_argument("--go-file", required=True)
    t.add_argument("--pause-ms", type=int, default=400)
    t.add_argument("--timeout-s", type=float, default=10)
    args = parser.parse_args()
    if args.command == "serve":
        asyncio.run(serve(args.name, args.port))
    elif args.command == "late":
        asyncio.run(late(args))
    else:
        asyncio.run(load(args))


if __name__ == "__main__":
    main()
