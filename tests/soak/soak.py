#!/usr/bin/env python3
"""Soak and fault run of the real lbd (issue 16): mixed L4 / L7 / TLS load with faults injected on
a schedule, lbd's RSS, descriptors and CPU sampled every second; fails on growth, on lbd dying, or
on client errors that no injected fault explains.

    tests/soak/soak.py --lbd build/cli/lbd                  # the short run (150 s), as ctest runs it
    tests/soak/soak.py --lbd build/cli/lbd --duration 1800  # a long run; the summary goes to stdout

Everything is on 127.0.0.1 with ephemeral ports. Load: wrk on the HTTP listener (volume, its
totals reported), and timestamped Python clients on the TCP, HTTP and HTTPS listeners (every
request's time and outcome kept, so each error can be matched with a fault window). Faults, each
with the window in which errors are expected:
  reload       SIGHUP every 10 s                                   (none: a reload drops nothing)
  backend kill SIGKILL of one backend every 30 s, restarted 5 s later (from the kill until the
               health check has seen it: 3 s)
  slowloris    200 connections sending a request head a byte a second   (none)
  admin abuse  a 1 GB POST, an endless header, 100 idle connections on the admin port (none)
  fd exhaust   lbd's RLIMIT_NOFILE lowered to what it holds + 2 for 8 s (until 2 s after)
The verdict: RSS at the end at most max(25%, 16 MiB) above the sample after warm-up; descriptors
back within 32 of the warm-up count once the faults are over; no client error outside a window;
lbd alive. Needs wrk, curl, openssl, python3; prlimit(2) on our own child needs no privilege.
"""
import argparse
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

BACKEND_COUNT = 3


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise SystemExit(f"soak: timed out waiting for {what}")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


BACKEND_CODE = r'''
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"hello from " + sys.argv[2].encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


class Backend:
    def __init__(self, name):
        self.name, self.port, self.proc = name, free_port(), None

    def start(self):
        # Its tracebacks for clients that reset (lbd's health checks do) are noise here.
        self.proc = subprocess.Popen([sys.executable, "-c", BACKEND_CODE, str(self.port), self.name],
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open(self.port), 10, f"backend {self.name}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def lbd_config(tmp, backends, cert):
    servers = "".join(f'  servers {{ name: "{b.name}" address: "127.0.0.1:{b.port}" }}\n' for b in backends)
    check = "  health_check { interval_ms: 500 timeout_ms: 300 rise: 1 fall: 1 }\n"
    http_check = ("  health_check { interval_ms: 500 timeout_ms: 300 rise: 1 fall: 1 "
                  'http { path: "/" expect_status: "200" } }\n')
    return (
        f'global {{ workers: 2 drain_timeout_ms: 2000 log_connections: false\n'
        f'  admin {{ socket_path: "{tmp}/admin.sock" http_bind: "127.0.0.1:0" }} }}\n'
        'listeners { name: "tcp" bind: "127.0.0.1:0" pool: "tcp" }\n'
        'listeners { name: "http" bind: "127.0.0.1:0" mode: MODE_HTTP pool: "web" }\n'
        'listeners { name: "https" bind: "127.0.0.1:0" mode: MODE_HTTP pool: "web"\n'
        f'  tls {{ certificates {{ cert_file: "{cert}" key_file: "{cert}" }} }} }}\n'
        'pools {\n  name: "tcp"\n  retries: 2\n' + servers + check + '}\n'
        'pools {\n  name: "web"\n  retries: 2\n' + servers + http_check + '}\n')


class Lbd:
    def __init__(self, binary, config_path):
        self.proc = subprocess.Popen([binary, "-c", config_path], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines, self.ports, self.admin_port = [], {}, 0
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(15):
            raise SystemExit("soak: lbd did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"listener (\S+) bound 127\.0\.0\.1:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
            m = re.search(r"admin http listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.admin_port = int(m.group(1))
            if "lbd ready" in line:
                self.ready.set()

    def sample(self):
        pid = self.proc.pid
        with open(f"/proc/{pid}/status") as f:
            rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss_kb, fds, cpu_s

    def lowest_free_fd(self):
        used = {int(n) for n in os.listdir(f"/proc/{self.proc.pid}/fd")}
        fd = 0
        while fd in used:
            fd += 1
        return fd


class Outcomes:
    """Every client request: (time, client kind, ok, detail)."""

    def __init__(self):
        self.lock, self.items = threading.Lock(), []

    def add(self, kind, ok, detail=""):
        with self.lock:
            self.items.append((time.monotonic(), kind, ok, detail))


def l7_client(port, use_tls, outcomes, stop):
    kind = "https" if use_tls else "http"
    ctx = ssl._create_unverified_context() if use_tls else None
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx) if use_tls
                        else http.client.HTTPConnection("127.0.0.1", port, timeout=5))
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            outcomes.add(kind, resp.status == 200 and body.startswith(b"hello"), f"HTTP {resp.status}")
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            outcomes.add(kind, False, type(e).__name__ + ": " + str(e))
            conn = None
        time.sleep(0.02)


def l4_client(port, outcomes, stop):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            outcomes.add("tcp", b"hello" in data, data[:40].decode(errors="replace") or "empty reply")
        except OSError as e:
            outcomes.add("tcp", False, type(e).__name__ + ": " + str(e))
        time.sleep(0.02)


def open_partial(port, count, head):
    """`count` connections that each sent `head` (an unfinished request), those that opened."""
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(head)
            socks.append(s)
        except OSError:
            pass
    return socks


def slowloris(port, count, seconds):
    socks = open_partial(port, count, b"GET / HTTP/1.1\r\nHost: x\r\n")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in socks:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()


def admin_abuse(port):
    def send(data, read_for=2.0):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=read_for) as s:
                s.sendall(data)
                s.recv(1024)
        except OSError:
            pass
    send(b"POST /api/servers/web/s1/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n" + b"x" * 65536)
    send(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 262144)
    idle = open_partial(port, 100, b"GET /met")
    time.sleep(6)  # past the admin listener's 5 s request deadline
    for s in idle:
        s.close()


class Faults:
    """Runs the fault schedule; `windows` are (start, end, name) spans where errors are expected."""

    def __init__(self, lbd, backends, duration):
        self.lbd, self.backends, self.duration = lbd, backends, duration
        self.windows, self.counts, self.lock = [], {}, threading.Lock()

    def note(self, name, start, end):
        with self.lock:
            self.windows.append((start, end, name))
            self.counts[name] = self.counts.get(name, 0) + 1

    def explained(self, t):
        return next((name for start, end, name in self.windows if start <= t <= end), None)

    def run(self, stop, start):
        # Offsets (s) of the one-off faults within the run, scaled to its length.
        d = self.duration
        plan = {"slowloris": 0.25 * d, "admin_abuse": 0.45 * d, "fd_exhaust": 0.65 * d}
        done, next_reload, next_kill, victim = set(), 10.0, 30.0, 0
        quiet_after = 0.8 * d  # no new faults in the last 20%: the descriptors must come back
        while not stop.is_set():
            t = time.monotonic() - start
            if t >= next_reload:
                self.lbd.proc.send_signal(signal.SIGHUP)
                self.note("reload", time.monotonic(), time.monotonic())
                next_reload += 10
            if t >= next_kill and t < quiet_after:
                b = self.backends[victim % len(self.backends)]
                victim += 1
                t0 = time.monotonic()
                b.kill()
                log(f"killed backend {b.name}")
                threading.Timer(5, b.start).start()
                self.note("backend_kill", t0, t0 + 3.0)
                next_kill += 30
            for name, at in plan.items():
                if name not in done and t >= at:
                    done.add(name)
                    threading.Thread(target=getattr(self, name), daemon=True).start()
            time.sleep(0.1)

    def slowloris(self):
        log("slowloris: 200 connections on the HTTP listener")
        t0 = time.monotonic()
        slowloris(self.lbd.ports["http"], 200, 15)
        self.note("slowloris", t0, t0)  # expected to cost no error

    def admin_abuse(self):
        log("admin abuse: 1 GB POST, endless header, 100 idle connections")
        t0 = time.monotonic()
        admin_abuse(self.lbd.admin_port)
        self.note("admin_abuse", t0, t0)

    def fd_exhaust(self):
        pid = self.lbd.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        low = self.lbd.lowest_free_fd() + 2
        log(f"fd exhaustion: RLIMIT_NOFILE {soft} -> {low} (2 free) for 8 s")
        t0 = time.monotonic()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (low, hard))
        time.sleep(8)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        self.note("fd_exhaust", t0, time.monotonic() + 2.0)


def make_cert(tmp):
    path = os.path.join(tmp, "soak.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=soak.test", "-days", "2", "-keyout", path, "-out", path + ".crt"],
                   check=True, capture_output=True)
    with open(path, "a") as out, open(path + ".crt") as crt:
        out.write(crt.read())
    return path


def start_wrk(port, duration, connections, tmp):
    out = open(os.path.join(tmp, "wrk.txt"), "w")
    if connections == 0:
        return None, out.name
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", f"http://127.0.0.1:{port}/"],
                            stdout=out, stderr=subprocess.STDOUT), out.name


def verdict(samples, outcomes, faults, lbd, warmup_at):
    failures = []
    base = next(s for s in samples if s[0] >= warmup_at)
    end = samples[-1]
    rss_growth = end[1] - base[1]
    if rss_growth > max(base[1] * 0.25, 16 * 1024):
        failures.append(f"RSS grew {base[1]} -> {end[1]} KiB")
    if end[2] - base[2] > 32:
        failures.append(f"descriptors grew {base[2]} -> {end[2]}")
    errors, unexplained = {}, []
    for t, kind, ok, detail in outcomes.items:
        if ok:
            continue
        cause = faults.explained(t)
        errors[cause or "UNEXPLAINED"] = errors.get(cause or "UNEXPLAINED", 0) + 1
        if cause is None:
            unexplained.append(f"{kind}: {detail}")
    if unexplained:
        failures.append(f"{len(unexplained)} client errors outside any fault window, e.g. {unexplained[:3]}")
    if lbd.proc.poll() is not None:
        failures.append(f"lbd exited with {lbd.proc.returncode}")
    return failures, errors


def print_local_errors(admin_port):
    """lbd's own shortages during the run, from /metrics (the fd exhaustion should show here)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException) as e:
        print(f"metrics: {e}")
        return
    for line in text.splitlines():
        if line.startswith("lbd_local_errors_total") and not line.endswith(" 0"):
            print("lbd:", line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lbd", default="build/cli/lbd")
    ap.add_argument("--duration", type=float, default=150.0, help="seconds of load (default 150)")
    ap.add_argument("--wrk-connections", type=int, default=20, help="wrk's connections; 0 = no wrk")
    args = ap.parse_args()
    if args.duration < 60:
        raise SystemExit("soak: --duration must be at least 60 s (the fault schedule needs it)")
    tmp = tempfile.mkdtemp(prefix="lbd-soak-")
    backends = [Backend(f"s{i + 1}") for i in range(BACKEND_COUNT)]
    for b in backends:
        b.start()
    config = os.path.join(tmp, "lbd.conf")
    with open(config, "w") as f:
        f.write(lbd_config(tmp, backends, make_cert(tmp)))
    lbd = Lbd(os.path.abspath(args.lbd), config)
    log(f"lbd pid {lbd.proc.pid}, listeners {lbd.ports}, admin {lbd.admin_port}")
    stop, outcomes = threading.Event(), Outcomes()
    faults = Faults(lbd, backends, args.duration)
    start = time.monotonic()
    clients = [threading.Thread(target=l4_client, args=(lbd.ports["tcp"], outcomes, stop), daemon=True),
               threading.Thread(target=l7_client, args=(lbd.ports["http"], False, outcomes, stop), daemon=True),
               threading.Thread(target=l7_client, args=(lbd.ports["https"], True, outcomes, stop), daemon=True)]
    for c in clients:
        c.start()
    wrk, wrk_out = start_wrk(lbd.ports["http"], args.duration, args.wrk_connections, tmp)
    threading.Thread(target=faults.run, args=(stop, start), daemon=True).start()
    samples = []  # (time since start, rss KiB, fds, cpu s)
    try:
        while time.monotonic() - start < args.duration and lbd.proc.poll() is None:
            rss, fds, cpu = lbd.sample()
            samples.append((time.monotonic() - start, rss, fds, cpu))
            time.sleep(1)
    finally:
        stop.set()
        for c in clients:
            c.join(10)
        if wrk is not None:
            wrk.wait(30)
    if lbd.proc.poll() is None:
        time.sleep(2)  # the last connections close
        rss, fds, cpu = lbd.sample()
        samples.append((time.monotonic() - start, rss, fds, cpu))
    failures, errors = verdict(samples, outcomes, faults, lbd, warmup_at=5.0)

    total = len(outcomes.items)
    print(f"\n== soak summary ({args.duration:.0f} s) ==")
    print(f"client requests: {total}, errors by cause: {errors or 'none'}")
    print(f"faults injected: {faults.counts}")
    print("lbd samples (t s, RSS MiB, fds, CPU s):")
    step = max(1, len(samples) // 12)
    for t, rss, fds, cpu in samples[::step] + [samples[-1]]:
        print(f"  {t:7.1f} {rss / 1024:8.1f} {fds:6d} {cpu:8.2f}")
    with open(wrk_out) as f:
        wrk_text = f.read()
    for line in wrk_text.splitlines():
        if "requests in" in line or "Non-2xx" in line or "Socket errors" in line:
            print("wrk:", line.strip())
    print_local_errors(lbd.admin_port)
    lbd.proc.send_signal(signal.SIGTERM)
    try:
        lbd.proc.wait(10)
    except subprocess.TimeoutExpired:
        lbd.proc.kill()
    for b in backends:
        if b.proc.poll() is None:
            b.kill()
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("SOAK FAILED:\n  " + "\n  ".join(failures))
        print("last lbd lines:\n  " + "\n  ".join(lbd.lines[-20:]))
        return 1
    print("SOAK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
