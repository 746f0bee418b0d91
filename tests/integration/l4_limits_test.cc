// L4 scenarios for health, balancing and limits against the real lbd: passive ejection and its
// fail_timeout, active-check recovery of a restarted server, source-IP stickiness and its
// re-placement, hash balancing (maglev, source_hash), least_conn, per-server max_connections with
// the pool queue, listener max_connections, and a pool whose servers are all DRAIN/MAINT.
//
// Every scenario starts its own lbd on 127.0.0.1:0 with in-process backends whose greeting
// ("NAME\n") tells the client which server it reached. Waits are polls with deadlines; the few
// places that assert that something does *not* happen use a short bounded wait and say why.
// On a failed check doctest prints lbd's whole log (INFO(lbd->log()) is evaluated only then).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

// How long a "nothing arrives" check waits. lbd reacts to a connection in well under a
// millisecond on loopback (a few ms under the sanitizers), so a greeting that was going to be
// forwarded would arrive long before this; the wait can only be fooled by an lbd slower than
// that, never fail a correct one.
constexpr int kAbsenceWaitMs = 300;

// A client connection through lbd together with the server whose greeting it read.
struct Held {
    UniqueFd fd;
    std::string server;  // the greeting without its '\n', or "<...>" when there was none
    uint16_t client_port = 0;
};

Held open_held(uint16_t port, const std::string& source_ip = "127.0.0.1") {
    Held h;
    h.fd = connect_from(source_ip, port, kIoTimeoutMs);
    if (!h.fd) {
        h.server = "<connect failed>";
        return h;
    }
    h.client_port = local_port(h.fd.get());
    std::optional<std::string> line = recv_line(h.fd.get(), kIoTimeoutMs);
    if (!line) {
        h.server = "<no greeting>";
        return h;
    }
    line->pop_back();
    h.server = *line;
    return h;
}

// One short connection: which server greeted it.
std::string visit(uint16_t port, const std::string& source_ip = "127.0.0.1") { return open_held(port, source_ip).server; }

// Milliseconds since midnight (UTC) of a log line's timestamp ("2026-11-22T11:51:02.122Z ...").
std::optional<int64_t> log_time_ms(const std::string& line) {
    int h = 0, m = 0, s = 0, ms = 0;
    if (std::sscanf(line.c_str(), "%*4d-%*2d-%*2dT%2d:%2d:%2d.%3dZ", &h, &m, &s, &ms) != 4) return std::nullopt;
    return ((int64_t{h} * 60 + m) * 60 + s) * 1000 + ms;
}

// Time from line `a` to line `b` by their timestamps (a midnight in between is handled).
int64_t log_span_ms(const std::string& a, const std::string& b) {
    std::optional<int64_t> ta = log_time_ms(a), tb = log_time_ms(b);
    if (!ta || !tb) return -1;
    int64_t d = *tb - *ta;
    return d < 0 ? d + 24 * 3600 * 1000 : d;
}

// A greeting server ("NAME\n" on accept, then echo) on a port of the test's choosing, so a
// server can be stopped and come back on the same port (the shared Backend always takes port 0).
// SO_REUSEADDR lets a new instance bind while connections of the previous one are in TIME_WAIT.
// One thread runs a poll loop; stop() closes the listener (new connects are refused) and every
// connection with FIN.
class FixedPortServer {
public:
    FixedPortServer(std::string name, uint16_t port) : greeting_(std::move(name) + "\n") {
        listen_fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!listen_fd_ || !wake_fd_) return;
        int one = 1;
        ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return;
        if (::listen(listen_fd_.get(), 128) != 0) return;
        port_ = local_port(listen_fd_.get());
        thread_ = std::thread([this] { run(); });
    }
    ~FixedPortServer() { stop(); }
    FixedPortServer(const FixedPortServer&) = delete;
    FixedPortServer& operator=(const FixedPortServer&) = delete;

    uint16_t port() const { return port_; }  // 0 if it could not listen

    void stop() {
        if (thread_.joinable()) {
            uint64_t one = 1;
            ssize_t rc = ::write(wake_fd_.get(), &one, sizeof one);
            (void)rc;
            thread_.join();
        }
        listen_fd_.reset();
    }

private:
    void run() {
        std::vector<UniqueFd> conns;
        std::vector<pollfd> fds;
        for (;;) {
            fds.clear();
            fds.push_back({wake_fd_.get(), POLLIN, 0});
            fds.push_back({listen_fd_.get(), POLLIN, 0});
            for (const UniqueFd& c : conns) fds.push_back({c.get(), POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
            if (fds[0].revents) return;  // stop(): `conns` close with FIN as the vector goes
            for (size_t i = 0; i < conns.size(); ++i) {
                if (!fds[i + 2].revents) continue;
                char buf[4096];
                ssize_t n = ::recv(conns[i].get(), buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) {
                    // Small test messages: one send fits the socket buffer.
                    ssize_t sent = ::send(conns[i].get(), buf, static_cast<size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
                    (void)sent;
                } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    conns[i].reset();
                }
            }
            std::erase_if(conns, [](const UniqueFd& c) { return !c; });
            if (!fds[1].revents) continue;
            for (;;) {
                int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                // Health probes reset at once: a failed greeting is harmless.
                ssize_t sent = ::send(fd, greeting_.data(), greeting_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                (void)sent;
                conns.emplace_back(fd);
            }
        }
    }

    std::string greeting_;
    UniqueFd listen_fd_;
    UniqueFd wake_fd_;
    uint16_t port_ = 0;
    std::thread thread_;
};

// --- 1. passive ejection ------------------------------------------------------------------------

TEST_CASE("passive ejection without active checks: max_fails takes a refusing server DOWN, it gets no "
          "connect attempts, and fail_timeout_ms brings it back UP") {
    NamedServer a("a");
    REQUIRE(a.port() != 0);
    const uint16_t dead_port = pick_free_port();  // bound then closed: connects are refused
    REQUIRE(dead_port != 0);
    // One worker, so the order of picks is the test's; DEBUG for lbd's per-attempt
    // "connect to b failed" lines, the only outside trace of an attempt on a refusing port.
    RunningLbd lbd(pool_config("round_robin",
                               server_entry("a", a.port()) + server_entry("b", dead_port) +
                                   "  passive_health { max_fails: 2 fail_timeout_ms: 1500 }\n",
                               "", "workers: 1 drain_timeout_ms: 2000 log_level: LOG_LEVEL_DEBUG"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    const LinePattern b_attempt_failed("pool p: connect to b failed");
    const LinePattern b_down("server p/b is DOWN (passive");
    const LinePattern b_up("server p/b is UP (passive: ejection_ms elapsed");

    // Round robin sends about every other connection to b; each is retried on a, so every client
    // is served. Two failures take b DOWN.
    size_t visits = 0;
    while (visits < 20 && lbd->count(b_attempt_failed) < 2) {
        CHECK(visit(lbd.port()) == "a");
        ++visits;
    }
    std::optional<std::string> down_line = lbd->await_line(b_down, kIoTimeoutMs);
    REQUIRE(down_line);
    CHECK(down_line->find("ejected after 2 failures within 1500 ms, last: connect failed") != std::string::npos);

    // While b is DOWN every connection goes straight to a: not one more attempt on b.
    for (int i = 0; i < 10; ++i) {
        CHECK(visit(lbd.port()) == "a");
        ++visits;
    }
    CHECK(lbd->count(b_up) == 0);  // the ten visits above did fall inside the DOWN period
    CHECK(lbd->count(b_attempt_failed) == 2);
    CHECK(a.accepted() == visits);  // each client reached a exactly once (no checks run here)

    // fail_timeout_ms later b is back, by the passive timer (there is no active check).
    std::optional<std::string> up_line = lbd->await_line(b_up, 1500 + kIoTimeoutMs);
    REQUIRE(up_line);
    int64_t down_for = log_span_ms(*down_line, *up_line);
    CHECK(down_for >= 1450);  // timestamps are truncated to the ms; libevent timers never fire early
    CHECK(down_for <= 1500 + 1000);
    CHECK(lbd->count(b_attempt_failed) == 2);

    // And it is really back in rotation: b is tried again (and, still refusing, retried on a).
    size_t before = lbd->count(b_attempt_failed);
    for (int i = 0; i < 10 && lbd->count(b_attempt_failed) == before; ++i) CHECK(visit(lbd.port()) == "a");
    CHECK(lbd->await_count(b_attempt_failed, before + 1, kIoTimeoutMs));
}

// --- 2. active check recovery -------------------------------------------------------------------

TEST_CASE("active checks: a stopped server goes DOWN, and once restarted on its port comes UP after rise "
          "successes and takes connections again") {
    NamedServer a("a");
    REQUIRE(a.port() != 0);
    std::optional<FixedPortServer> r;
    r.emplace("r", 0);
    const uint16_t r_port = r->port();
    REQUIRE(r_port != 0);
    RunningLbd lbd(pool_config("round_robin",
                               server_entry("a", a.port()) + server_entry("r", r_port) +
                                   "  health_check { interval_ms: 100 timeout_ms: 100 rise: 2 fall: 1 }\n",
                               "", "workers: 1 drain_timeout_ms: 2000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Round robin over two UP servers with one worker: two connections reach both.
    std::set<std::string> seen;
    for (int i = 0; i < 2; ++i) seen.insert(visit(lbd.port()));
    CHECK(seen == std::set<std::string>{"a", "r"});

    r->stop();
    std::optional<std::string> down = lbd->await_line("server p/r is DOWN (health check:", kIoTimeoutMs);
    REQUIRE(down);
    CHECK(down->find("1/1 failures") != std::string::npos);
    for (int i = 0; i < 4; ++i) CHECK(visit(lbd.port()) == "a");

    const size_t mark = lbd->line_count();
    r.emplace("r", r_port);  // the same address again
    REQUIRE(r->port() == r_port);
    std::optional<std::string> up = lbd->await_line("server p/r is UP (health check:", kIoTimeoutMs, mark);
    REQUIRE(up);
    CHECK(up->find("2/2 successes") != std::string::npos);

    // Back in the rotation: with one worker and two UP servers, r within two connections.
    bool reached_r = false;
    for (int i = 0; i < 4 && !reached_r; ++i) {
        std::string server = visit(lbd.port());
        CHECK((server == "a" || server == "r"));
        reached_r = server == "r";
    }
    CHECK(reached_r);
}

// --- 3. stickiness --------------------------------------------------------------------------------

TEST_CASE("stickiness: a client IP keeps its server, and is re-placed for good when that server dies") {
    NamedServer a("a"), b("b"), c("c");
    REQUIRE((a.port() && b.port() && c.port()));
    std::map<std::string, Backend*> by_name{{"a", &a}, {"b", &b}, {"c", &c}};
    // Two workers: the stick table is shared, so a client sticks whichever worker accepts it.
    RunningLbd lbd(pool_config("round_robin", server_entry("a", a.port()) + server_entry("b", b.port()) +
                                                  server_entry("c", c.port()) + "  stickiness {}\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    const std::string first = visit(lbd.port());
    REQUIRE(by_name.count(first) == 1);
    for (int i = 1; i < 20; ++i) CHECK(visit(lbd.port()) == first);  // round robin alone would rotate

    // Other client IPs are placed by round robin on their first connection, then stick too. Seven
    // first placements over two workers: some worker places four, which round robin spreads.
    std::set<std::string> placements{first};
    for (int x = 2; x <= 7; ++x) {
        const std::string ip = "127.0.0." + std::to_string(x);
        CAPTURE(ip);
        const std::string server = visit(lbd.port(), ip);
        REQUIRE(by_name.count(server) == 1);
        placements.insert(server);
        for (int i = 0; i < 3; ++i) CHECK(visit(lbd.port(), ip) == server);
    }
    CHECK(placements.size() >= 2);

    // The stuck server dies (no checks configured: only the failed connect tells lbd). The next
    // connection is retried elsewhere, and the entry follows: the client stays on the new server.
    by_name[first]->kill();
    Held moved = open_held(lbd.port());
    CHECK(moved.server != first);
    REQUIRE(by_name.count(moved.server) == 1);
    moved.fd.reset();  // the l4 line is written when the connection ends
    std::optional<std::string> line = lbd->await_line(l4_line_of(moved.client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "server") == "p/" + moved.server);
    for (int i = 0; i < 10; ++i) CHECK(visit(lbd.port()) == moved.server);
}

// --- 4. hash balancing ----------------------------------------------------------------------------

void check_source_affinity(const std::string& balance) {
    NamedServer a("a"), b("b"), c("c");
    REQUIRE((a.port() && b.port() && c.port()));
    // Two workers, each with its own balancer: the same IP must map alike on both.
    RunningLbd lbd(pool_config(balance, server_entry("a", a.port()) + server_entry("b", b.port()) +
                                            server_entry("c", c.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    std::map<std::string, int> clients_per_server;
    for (int x = 10; x <= 39; ++x) {
        const std::string ip = "127.0.0." + std::to_string(x);
        CAPTURE(ip);
        const std::string server = visit(lbd.port(), ip);
        CHECK((server == "a" || server == "b" || server == "c"));
        ++clients_per_server[server];
        for (int i = 0; i < 2; ++i) CHECK(visit(lbd.port(), ip) == server);
    }
    CAPTURE(clients_per_server.size());
    CHECK(clients_per_server.size() >= 2);
}

TEST_CASE("maglev: a source IP always reaches the same server, and 30 IPs use more than one") {
    check_source_affinity("maglev");
}

TEST_CASE("source_hash: a source IP always reaches the same server, and 30 IPs use more than one") {
    check_source_affinity("source_hash");
}

// --- 5. least_conn --------------------------------------------------------------------------------

TEST_CASE("least_conn: a new connection goes to the server with fewer open connections") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(pool_config("least_conn", server_entry("a", a.port()) + server_entry("b", b.port()), "",
                               "workers: 1 drain_timeout_ms: 2000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    Held first = open_held(lbd.port());
    REQUIRE((first.server == "a" || first.server == "b"));
    const std::string x = first.server;
    const std::string y = x == "a" ? "b" : "a";

    Held second = open_held(lbd.port());
    CHECK(second.server == y);  // x has one, y none

    // Close the second and wait until lbd has ended it (its log line is written after the slot is
    // given back): y is empty again, x still has the first.
    REQUIRE(shutdown_write(second.fd.get()));
    CHECK(std::string(to_string(recv_until_eof(second.fd.get(), kIoTimeoutMs).end)) == "eof");
    second.fd.reset();
    REQUIRE(lbd->wait_for_line(l4_line_of(second.client_port), kIoTimeoutMs));

    Held third = open_held(lbd.port());
    CHECK(third.server == y);

    // One each now: the next may go either way, and the one after to the other.
    Held fourth = open_held(lbd.port());
    REQUIRE((fourth.server == "a" || fourth.server == "b"));
    Held fifth = open_held(lbd.port());
    CHECK(fifth.server == (fourth.server == "a" ? "b" : "a"));
    CHECK(echoes(first.fd.get(), "still open\n"));
}

// --- 6. per-server max_connections and the pool queue -----------------------------------------

TEST_CASE("server max_connections with a queue: one waits for the slot, the next is refused, a freed slot "
          "serves the waiter, and a waiter past queue_timeout_ms is closed") {
    NamedServer s("s");
    REQUIRE(s.port() != 0);
    RunningLbd lbd(pool_config("round_robin",
                               "  servers { name: \"s\" address: \"127.0.0.1:" + std::to_string(s.port()) +
                                   "\" max_connections: 1 }\n"
                                   "  queue_size: 1\n"
                                   "  queue_timeout_ms: 800\n",
                               "", "workers: 1 drain_timeout_ms: 2000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    Held conn1 = open_held(lbd.port());
    REQUIRE(conn1.server == "s");

    // conn2 finds s full and waits in the queue: no greeting (bounded wait, see kAbsenceWaitMs).
    UniqueFd conn2 = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(conn2);
    uint16_t conn2_port = local_port(conn2.get());
    RecvResult waiting = recv_until_eof(conn2.get(), kAbsenceWaitMs);
    CHECK(std::string(to_string(waiting.end)) == "timeout");
    CHECK(waiting.data.empty());

    // conn3: the queue (size 1) is taken by conn2, so it is refused at once with no data.
    UniqueFd conn3 = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(conn3);
    uint16_t conn3_port = local_port(conn3.get());
    uint64_t start = monotonic_ms();
    RecvResult refused = recv_until_eof(conn3.get(), kIoTimeoutMs);
    CHECK(std::string(to_string(refused.end)) != "timeout");
    CHECK(refused.data.empty());
    CHECK(monotonic_ms() - start < 500);  // at once, not after queue_timeout_ms
    std::optional<std::string> line3 = lbd->await_line(l4_line_of(conn3_port), kIoTimeoutMs);
    REQUIRE(line3);
    CHECK(field(*line3, "end") == "queue_full");
    CHECK(field(*line3, "server") == "-");

    // Free the slot: the queued conn2 gets it promptly (well before its queue timeout).
    start = monotonic_ms();
    conn1.fd.reset();
    std::optional<std::string> greeting = recv_line(conn2.get(), kIoTimeoutMs);
    CHECK(greeting.value_or("<none>") == "s\n");
    CHECK(monotonic_ms() - start < 500);
    CHECK(echoes(conn2.get(), "served after waiting\n"));
    CHECK(s.accepted() == 2);

    // Sub-case: with the slot held (by conn2 now), a queued connection waits queue_timeout_ms,
    // then is closed with no data.
    UniqueFd conn4 = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(conn4);
    uint16_t conn4_port = local_port(conn4.get());
    start = monotonic_ms();
    RecvResult expired = recv_until_eof(conn4.get(), 800 + kIoTimeoutMs);
    uint64_t waited = monotonic_ms() - start;
    CHECK(std::string(to_string(expired.end)) != "timeout");
    CHECK(expired.data.empty());
    CHECK(waited >= 700);  // ~800 ms from lbd's accept, a little earlier than our connect returned
    CHECK(waited < 800 + 1000);
    std::optional<std::string> line4 = lbd->await_line(l4_line_of(conn4_port), kIoTimeoutMs);
    REQUIRE(line4);
    CHECK(field(*line4, "end") == "queue_timeout");
    CHECK(field(*line4, "server") == "-");
    CHECK(std::stoul(log_field(*line4, "duration_ms").value_or("0")) >= 800);
    CHECK(s.accepted() == 2);  // neither refused nor expired connections reached the server

    CHECK(echoes(conn2.get(), "still served\n"));
    conn2.reset();
    CHECK(lbd->wait_for_line(l4_line_of(conn2_port), kIoTimeoutMs));
}

// --- 7. listener max_connections -----------------------------------------------------------------

TEST_CASE("listener max_connections: a connection past the limit waits in the accept queue until one "
          "closes, then is served") {
    NamedServer s("s");
    REQUIRE(s.port() != 0);
    RunningLbd lbd(pool_config("round_robin", server_entry("s", s.port()), "  max_connections: 2\n",
                               "workers: 1 drain_timeout_ms: 2000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    Held conn1 = open_held(lbd.port());
    Held conn2 = open_held(lbd.port());
    REQUIRE(conn1.server == "s");
    REQUIRE(conn2.server == "s");
    CHECK(echoes(conn1.fd.get(), "one\n"));
    CHECK(echoes(conn2.fd.get(), "two\n"));

    // The kernel completes the handshake (backlog), but lbd does not accept it: nothing comes
    // back and the server never sees it (bounded wait, see kAbsenceWaitMs).
    UniqueFd conn3 = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(conn3);
    RecvResult waiting = recv_until_eof(conn3.get(), kAbsenceWaitMs);
    CHECK(std::string(to_string(waiting.end)) == "timeout");
    CHECK(waiting.data.empty());
    CHECK(s.accepted() == 2);

    // One closes: the waiting connection is accepted and served.
    conn1.fd.reset();
    CHECK(recv_line(conn3.get(), kIoTimeoutMs).value_or("<none>") == "s\n");
    CHECK(echoes(conn3.get(), "three\n"));
    CHECK(echoes(conn2.fd.get(), "two again\n"));
    CHECK(s.accepted() == 3);
}

// --- 8. every server out of service by config ---------------------------------------------------

TEST_CASE("every server DRAIN or MAINT by config: a connection ends at once with end=no_server") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(pool_config("round_robin",
                               "  servers { name: \"a\" address: \"127.0.0.1:" + std::to_string(a.port()) +
                                   "\" admin_state: ADMIN_STATE_DRAIN }\n"
                                   "  servers { name: \"b\" address: \"127.0.0.1:" + std::to_string(b.port()) +
                                   "\" admin_state: ADMIN_STATE_MAINT }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    for (int i = 0; i < 3; ++i) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        uint16_t client_port = local_port(client.get());
        uint64_t start = monotonic_ms();
        RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
        CHECK(std::string(to_string(r.end)) != "timeout");
        CHECK(r.data.empty());
        CHECK(monotonic_ms() - start < 1000);
        std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
        REQUIRE(line);
        CHECK(field(*line, "end") == "no_server");
        CHECK(field(*line, "server") == "-");
    }
    CHECK(a.accepted() == 0);
    CHECK(b.accepted() == 0);
}

}  // namespace
}  // namespace lbd::test
