// Server addresses by name (core/config/config_resolve.h, core/daemon/server_names.h): a name from
// /etc/hosts at load, a name that does not resolve (a config error, or with resolve { optional }
// a server in MAINT until it does), and a name whose answer changes while lbd runs, served by a
// tiny DNS responder in python3 (global.resolvers points lbd at it). Also bind ":PORT".
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// A minimal DNS server on UDP 127.0.0.1 (an ephemeral port, printed first): every A query gets
// the IPv4 addresses listed in the answers file (read at each query), AAAA gets none; an empty
// file or no file is NXDOMAIN. Enough for evdns; no dnslib needed.
constexpr const char* kDnsResponder = R"PY(
import socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("dns port", s.getsockname()[1], flush=True)
while True:
    data, peer = s.recvfrom(512)
    if len(data) < 17:
        continue
    qid = struct.unpack(">H", data[:2])[0]
    i = 12
    while data[i] != 0:
        i += 1 + data[i]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    question = data[12:i + 5]
    try:
        ips = open(path).read().split()
    except OSError:
        ips = []
    answers = b""
    if qtype == 1:
        for ip in ips:
            answers += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4) + socket.inet_aton(ip)
    rcode = 0 if ips else 3
    count = len(ips) if qtype == 1 else 0
    s.sendto(struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0) + question + answers, peer)
    print("query", qtype, "->", " ".join(ips) or "NXDOMAIN", flush=True)
)PY";

struct DnsResponder {
    TempDir dir;
    std::unique_ptr<ChildProcess> process;
    uint16_t port = 0;

    DnsResponder() {
        const std::string script = dir.write_file("dns.py", kDnsResponder);
        process = std::make_unique<ChildProcess>(std::vector<std::string>{"/usr/bin/python3", script, dir.path() + "/answers"});
        auto line = process->await_line("dns port ", kIoTimeoutMs);
        if (line) port = static_cast<uint16_t>(std::stoi(line->substr(line->rfind(' ') + 1)));
    }
    // From the next query on, A answers are `ips` (space separated; "" = NXDOMAIN).
    void answer(const std::string& ips) { dir.write_file("answers", ips + "\n"); }
};

std::string named_config(const std::string& resolvers, const std::string& server, const std::string& bind = "127.0.0.1:0") {
    return "global { workers: 2 drain_timeout_ms: 2000 " + resolvers + "}\n"
           "listeners {\n  name: \"front\"\n  bind: \"" + bind + "\"\n  mode: MODE_HTTP\n  pool: \"web\"\n}\n"
           "pools {\n  name: \"web\"\n  connect_timeout_ms: 1000\n" + server + "}\n";
}

std::string served_by(uint16_t port, const std::string& path) {
    auto reply = http_request(port, get_request(path), kIoTimeoutMs);
    if (!reply) return "(no reply)";
    if (reply->status != 200) return std::to_string(reply->status);
    size_t at = reply->body.find("server=");
    return at == std::string::npos ? "?" : reply->body.substr(at + 7, reply->body.find('\n', at) - at - 7);
}

TEST_CASE("a server named localhost is resolved from /etc/hosts at load; bind \":PORT\" is every IPv4 address") {
    HttpBackend a("a");
    REQUIRE(a.port() != 0);
    // bind ":0": 0.0.0.0 and an ephemeral port, which lbd logs ("listener front bound 0.0.0.0:PORT").
    RunningLbd lbd(named_config("", "  servers { name: \"app\" address: \"localhost:" + std::to_string(a.port()) + "\" }\n",
                                ":0"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(lbd->await_line("listener front bound 0.0.0.0:", kIoTimeoutMs).has_value());
    CHECK(served_by(lbd.port(), "/hosts") == "a");
}

TEST_CASE("a server name that does not resolve at load is a config error at its line, unless optional") {
    DnsResponder dns;
    REQUIRE(dns.port != 0);
    const std::string resolvers =
        "resolvers { nameservers: \"127.0.0.1:" + std::to_string(dns.port) + "\" timeout_ms: 500 attempts: 1 } ";
    LbdProcess::CheckResult r =
        LbdProcess::run_check(named_config(resolvers, "  servers {\n    name: \"app\"\n    address: \"app.lbd.test:80\"\n  }\n"));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, r.config_path + ":13:5: server 'app': cannot resolve 'app.lbd.test'"));
    CHECK(has(r.output, "resolve { optional: true }"));

    r = LbdProcess::run_check(named_config(
        resolvers, "  servers { name: \"app\" address: \"app.lbd.test:80\" resolve { optional: true } }\n"));
    INFO(r.output);
    CHECK(r.exit_code == 0);
}

TEST_CASE("an optional name starts in MAINT, comes into service when it resolves, and follows its answer") {
    DnsResponder dns;
    REQUIRE(dns.port != 0);
    HttpBackend a("a", "127.0.0.1", 0);
    REQUIRE(a.port() != 0);
    HttpBackend b("b", "127.0.0.2", a.port());  // the same port on another address
    REQUIRE(b.port() == a.port());
    const std::string port = std::to_string(a.port());
    RunningLbd lbd(named_config(
        "resolvers { nameservers: \"127.0.0.1:" + std::to_string(dns.port) + "\" timeout_ms: 500 attempts: 1 } ",
        "  servers { name: \"app\" address: \"app.lbd.test:" + port + "\" resolve { interval_ms: 200 optional: true } }\n"));
    INFO(lbd->log());
    INFO(dns.process->output());
    REQUIRE(lbd.ok());
    CHECK(served_by(lbd.port(), "/unresolved") == "503");

    dns.answer("127.0.0.1");
    CHECK(poll_until([&] { return served_by(lbd.port(), "/first") == "a"; }, 5000));
    CHECK(lbd->await_line("server web/app: address unresolved -> 127.0.0.1:" + port + " (app.lbd.test)", kIoTimeoutMs));

    dns.answer("127.0.0.2");
    CHECK(poll_until([&] { return served_by(lbd.port(), "/moved") == "b"; }, 5000));
    CHECK(lbd->await_line("server web/app: address 127.0.0.1:" + port + " -> 127.0.0.2:" + port + " (app.lbd.test)",
                          kIoTimeoutMs));

    // A failed lookup keeps the address in use.
    dns.answer("");
    CHECK(lbd->await_line("server web/app: cannot resolve 'app.lbd.test'", kIoTimeoutMs));
    CHECK(served_by(lbd.port(), "/kept") == "b");
}

}  // namespace
}  // namespace lbd::test
