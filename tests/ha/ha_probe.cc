// lbd_ha_probe: the client and backend of the HA failover scenarios
// (tests/ha/scenarios.sh), one small binary so the network namespaces and
// the Vagrant lab run the same thing.
//
//   serve NAME PORT [--bind IP]
//       A backend: answers every TCP connection with "NAME PEER_IP\n" and
//       closes it. PEER_IP is the address the connection came from, i.e. the
//       lbd node that forwarded it: that is how the client tells which node
//       of the pair answered. epoll, non-blocking: many connections at once.
//   poll ADDR:PORT [--interval-ms 20] [--timeout-ms 200] [--source IP] [--overlap]
//        [--until-file F] [--duration-ms N] [--count N] [--log F]
//       A client: one connection every interval (start to start), each with
//       its own deadline. Stops at the first of: F exists, N ms passed, N
//       attempts made. Prints one JSON object: attempts, answers, the longest
//       gap between two answers, the gap across the switch from the first
//       node to another, and counts per node ("via"), server and error.
//       --log appends "T_MS ok SERVER VIA" / "T_MS fail - ERROR" per
//       attempt, flushed, so a script can watch progress. --overlap starts
//       every attempt on time even while earlier ones still wait (their SYN
//       lost with a node that went away): the gaps then measure the outage
//       within an interval, not within interval + deadline.
//   stick SRC_IP[,SRC_IP...] ADDR:PORT [--timeout-ms 1000]
//       One connection from each source address, in the order given (bind(2)
//       before connect(2)); prints "SRC SERVER VIA" per source ("SRC - ERROR"
//       when it failed). Exit 1 if any failed.
//   json PATH... < DOCUMENT
//       Prints the value at each PATH of the JSON document on stdin, one per
//       line, so the scripts need no jq. PATH: dot-separated keys (or
//       '/'-separated after a leading '/', for keys with dots: /via/10.0.0.1);
//       a numeric key indexes an array; "#" is an array's or object's size;
//       key[f=v,g=w] picks the first element of the array `key` whose fields
//       f and g are the strings v and w. Exit 1 if a path is missing.
//
// Exit codes: 0 done, 1 failed (see above), 2 usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Owns one file descriptor.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.fd_;
            other.fd_ = -1;
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

std::optional<sockaddr_in> parse_ipv4(const std::string& ip, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) return std::nullopt;
    return sa;
}

// "10.77.0.10:81" -> sockaddr. IPv4 only: the lab and the namespaces are IPv4.
std::optional<sockaddr_in> parse_endpoint(const std::string& text) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    char* end = nullptr;
    unsigned long port = std::strtoul(text.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) return std::nullopt;
    return parse_ipv4(text.substr(0, colon), static_cast<uint16_t>(port));
}

std::string ip_of(const sockaddr_in& sa) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
    return buf;
}

// ---------------------------------------------------------------- serve

int serve(const std::string& name, uint16_t port, const std::string& bind_ip) {
    auto addr = parse_ipv4(bind_ip, port);
    if (!addr) {
        std::fprintf(stderr, "serve: bad --bind address '%s'\n", bind_ip.c_str());
        return 2;
    }
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0 ||
        ::listen(listener.get(), 4096) != 0) {
        std::fprintf(stderr, "serve %s: cannot listen on %s:%u: %s\n", name.c_str(), bind_ip.c_str(), port,
                     std::strerror(errno));
        return 1;
    }
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener.get();
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listener.get(), &ev);
    std::fprintf(stderr, "serve %s: listening on %s:%u\n", name.c_str(), bind_ip.c_str(), port);

    // The answer is a few dozen bytes: it always fits in an empty socket
    // send buffer, so one write per connection and no per-connection state.
    for (;;) {
        epoll_event events[16];
        int n = ::epoll_wait(ep.get(), events, 16, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; ++i) {
            for (;;) {
                sockaddr_in peer{};
                socklen_t len = sizeof peer;
                Fd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
                if (!conn) break;  // EAGAIN: accepted everything waiting
                std::string answer = name + " " + ip_of(peer) + "\n";
                if (::send(conn.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) continue;
                ::shutdown(conn.get(), SHUT_WR);
            }
        }
    }
}

// ---------------------------------------------------------------- one exchange

struct Answer {
    bool ok = false;
    std::string server;  // backend name
    std::string via;     // the lbd node's address, as the backend saw it
    std::string error;   // when !ok: timeout, refused, reset, unreachable, empty, bind, ...
};

const char* error_name(int err) {
    switch (err) {
        case ECONNREFUSED: return "refused";
        case ECONNRESET: return "reset";
        case EHOSTUNREACH:
        case ENETUNREACH: return "unreachable";
        case ETIMEDOUT: return "timeout";
        case EADDRNOTAVAIL: return "addrnotavail";
        default: return "error";
    }
}

// Waits for `events` on fd until the deadline; 0 when it passed.
short wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return 0;
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, static_cast<int>(left));
        if (rc > 0) return p.revents;
        if (rc < 0 && errno != EINTR) return POLLERR;
    }
}

// Connects (from `source` if set), reads the answer to EOF, all within timeout_ms.
Answer exchange(const sockaddr_in& target, const std::optional<sockaddr_in>& source, int timeout_ms) {
    Answer a;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        a.error = "socket";
        return a;
    }
    if (source) {
        // Many connections from one source to one target: let the kernel
        // reuse TIME_WAIT ports (the client closes last, so it holds them).
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*source), sizeof *source) != 0) {
            a.error = "bind";
            return a;
        }
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
        if (errno != EINPROGRESS) {
            a.error = error_name(errno);
            return a;
        }
        if (wait_fd(fd.get(), POLLOUT, deadline) == 0) {
            a.error = "timeout";
            return a;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            a.error = error_name(err);
            return a;
        }
    }
    std::string data;
    for (;;) {
        char buf[256];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            data.append(buf, static_cast<size_t>(n));
            if (data.size() > 4096) break;
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            a.error = error_name(errno);
            return a;
        }
        if (wait_fd(fd.get(), POLLIN, deadline) == 0) {
            a.error = "timeout";
            return a;
        }
    }
    std::istringstream line(data);
    line >> a.server >> a.via;
    if (a.server.empty()) {
        a.error = "empty";  // lbd accepted and closed: no server for it
        return a;
    }
    a.ok = true;
    return a;
}

// ---------------------------------------------------------------- poll

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

std::string json_counts(const std::map<std::string, int64_t>& counts) {
    std::string out = "{";
    for (const auto& [key, n] : counts) {
        if (out.size() > 1) out += ", ";
        out += json_string(key) + ": " + std::to_string(n);
    }
    return out + "}";
}

struct PollOptions {
    std::string target;
    int interval_ms = 20;
    int timeout_ms = 200;
    std::string source;
    std::string until_file;
    int64_t duration_ms = 0;
    int64_t count = 0;
    std::string log_file;
    bool overlap = false;
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

int poll_target(const PollOptions& o) {
    auto target = parse_endpoint(o.target);
    if (!target) {
        std::fprintf(stderr, "poll: bad target '%s' (expected IPv4:PORT)\n", o.target.c_str());
        return 2;
    }
    std::optional<sockaddr_in> source;
    if (!o.source.empty()) {
        source = parse_ipv4(o.source, 0);
        if (!source) {
            std::fprintf(stderr, "poll: bad --source '%s'\n", o.source.c_str());
            return 2;
        }
    }
    if (o.until_file.empty() && o.duration_ms <= 0 && o.count <= 0) {
        std::fprintf(stderr, "poll: give --until-file, --duration-ms or --count\n");
        return 2;
    }
    FILE* log = nullptr;
    if (!o.log_file.empty()) {
        log = std::fopen(o.log_file.c_str(), "a");
        if (!log) {
            std::fprintf(stderr, "poll: cannot open %s: %s\n", o.log_file.c_str(), std::strerror(errno));
            return 1;
        }
    }
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);

    const auto start = Clock::now();
    int64_t attempts = 0, answers = 0;
    int64_t last_ok_ms = -1, max_gap = -1, max_gap_from = -1, max_gap_to = -1;
    std::string first_via, last_via;
    int64_t last_first_via_ms = -1, switch_gap = -1, switch_at = -1;
    std::string switch_to;
    std::map<std::string, int64_t> via_counts, server_counts, error_counts;

    auto stop_now = [&] {
        if (g_stop) return true;
        if (o.count > 0 && attempts >= o.count) return true;
        if (o.duration_ms > 0 && ms_since(start) >= o.duration_ms) return true;
        struct stat st;
        return !o.until_file.empty() && ::stat(o.until_file.c_str(), &st) == 0;
    };
    // One attempt's result, at `t` ms since the start (answers in time order).
    auto record = [&](const Answer& a, int64_t t) {
        ++attempts;
        if (a.ok) {
            ++answers;
            ++via_counts[a.via];
            ++server_counts[a.server];
            if (last_ok_ms >= 0 && t - last_ok_ms > max_gap) {
                max_gap = t - last_ok_ms;
                max_gap_from = last_ok_ms;
                max_gap_to = t;
            }
            if (first_via.empty()) first_via = a.via;
            if (a.via == first_via && switch_at < 0) last_first_via_ms = t;
            if (a.via != first_via && switch_at < 0) {
                switch_at = t;
                switch_to = a.via;
                switch_gap = t - last_first_via_ms;
            }
            last_via = a.via;
            last_ok_ms = t;
            if (log) std::fprintf(log, "%lld ok %s %s\n", static_cast<long long>(t), a.server.c_str(), a.via.c_str());
        } else {
            ++error_counts[a.error];
            if (log) std::fprintf(log, "%lld fail - %s\n", static_cast<long long>(t), a.error.c_str());
        }
        if (log) std::fflush(log);
    };
    if (o.overlap) {
        // An attempt starts every interval whether or not the earlier ones
        // have ended, so one whose SYN went to a node that is gone (and
        // waits out its deadline) does not hold back the next: the first
        // answer after a switch comes within an interval of it.
        std::vector<std::future<std::pair<int64_t, Answer>>> running;
        int64_t next = 0;
        while (!running.empty() || !stop_now()) {
            if (!stop_now() && ms_since(start) >= next) {
                running.push_back(std::async(std::launch::async, [&] {
                    Answer a = exchange(*target, source, o.timeout_ms);
                    return std::make_pair(ms_since(start), a);
                }));
                next += o.interval_ms;
            }
            std::vector<std::pair<int64_t, Answer>> done;
            for (auto it = running.begin(); it != running.end();) {
                if (it->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
                    ++it;
                    continue;
                }
                done.push_back(it->get());
                it = running.erase(it);
            }
            std::sort(done.begin(), done.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            for (const auto& [t, a] : done) record(a, t);
            ::usleep(1000);
        }
    }
    while (!o.overlap && !stop_now()) {
        const int64_t began = ms_since(start);
        Answer a = exchange(*target, source, o.timeout_ms);
        record(a, ms_since(start));
        // Start to start: an attempt that took long is followed at once.
        int64_t next = began + o.interval_ms;
        int64_t now = ms_since(start);
        if (next > now && !stop_now()) ::usleep(static_cast<useconds_t>((next - now) * 1000));
    }
    if (log) std::fclose(log);

    const int64_t duration = ms_since(start);
    std::printf(
        "{\"target\": %s, \"attempts\": %lld, \"ok\": %lld, \"failed\": %lld, \"duration_ms\": %lld,\n"
        " \"max_gap_ms\": %lld, \"max_gap_from_ms\": %lld, \"max_gap_to_ms\": %lld,\n"
        " \"first_via\": %s, \"last_via\": %s, \"switch_to\": %s, \"switch_at_ms\": %lld, \"switch_gap_ms\": %lld,\n"
        " \"via\": %s, \"servers\": %s, \"errors\": %s}\n",
        json_string(o.target).c_str(), static_cast<long long>(attempts), static_cast<long long>(answers),
        static_cast<long long>(attempts - answers), static_cast<long long>(duration), static_cast<long long>(max_gap),
        static_cast<long long>(max_gap_from), static_cast<long long>(max_gap_to), json_string(first_via).c_str(),
        json_string(last_via).c_str(), json_string(switch_to).c_str(), static_cast<long long>(switch_at),
        static_cast<long long>(switch_gap), json_counts(via_counts).c_str(), json_counts(server_counts).c_str(),
        json_counts(error_counts).c_str());
    return 0;
}

// ---------------------------------------------------------------- stick

int stick(const std::string& sources, const std::string& target_text, int timeout_ms) {
    auto target = parse_endpoint(target_text);
    if (!target) {
        std::fprintf(stderr, "stick: bad target '%s' (expected IPv4:PORT)\n", target_text.c_str());
        return 2;
    }
    std::vector<std::string> list;
    std::stringstream in(sources);
    for (std::string ip; std::getline(in, ip, ',');)
        if (!ip.empty()) list.push_back(ip);
    if (list.empty()) {
        std::fprintf(stderr, "stick: no source address\n");
        return 2;
    }
    int failed = 0;
    for (const std::string& ip : list) {
        auto source = parse_ipv4(ip, 0);
        if (!source) {
            std::fprintf(stderr, "stick: bad source '%s'\n", ip.c_str());
            return 2;
        }
        Answer a = exchange(*target, source, timeout_ms);
        if (a.ok) {
            std::printf("%s %s %s\n", ip.c_str(), a.server.c_str(), a.via.c_str());
        } else {
            ++failed;
            std::printf("%s - %s\n", ip.c_str(), a.error.c_str());
        }
    }
    return failed == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- json

using google::protobuf::Value;

std::string print_value(const Value& v) {
    switch (v.kind_case()) {
        case Value::kStringValue: return v.string_value();
        case Value::kBoolValue: return v.bool_value() ? "true" : "false";
        case Value::kNullValue: return "null";
        case Value::kNumberValue: {
            double d = v.number_value();
            if (std::floor(d) == d && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
            std::ostringstream out;
            out << d;
            return out.str();
        }
        default: {
            std::string out;
            google::protobuf::util::MessageToJsonString(v, &out);
            return out;
        }
    }
}

// The text of a scalar for matching key[f=v]: strings as they are, others printed.
bool field_equals(const Value& element, const std::string& field, const std::string& want) {
    if (element.kind_case() != Value::kStructValue) return false;
    const auto& fields = element.struct_value().fields();
    auto it = fields.find(field);
    return it != fields.end() && print_value(it->second) == want;
}

// One step of a path; nullptr when it does not exist.
const Value* step(const Value* at, const std::string& segment) {
    std::string key = segment;
    std::vector<std::pair<std::string, std::string>> filter;
    if (size_t open = segment.find('['); open != std::string::npos && segment.back() == ']') {
        key = segment.substr(0, open);
        std::stringstream conds(segment.substr(open + 1, segment.size() - open - 2));
        for (std::string cond; std::getline(conds, cond, ',');) {
            size_t eq = cond.find('=');
            if (eq == std::string::npos) return nullptr;
            filter.emplace_back(cond.substr(0, eq), cond.substr(eq + 1));
        }
    }
    if (!key.empty()) {
        if (at->kind_case() == Value::kStructValue) {
            const auto& fields = at->struct_value().fields();
            auto it = fields.find(key);
            if (it == fields.end()) return nullptr;
            at = &it->second;
        } else if (at->kind_case() == Value::kListValue) {
            char* end = nullptr;
            unsigned long index = std::strtoul(key.c_str(), &end, 10);
            if (*end != '\0' || index >= static_cast<unsigned long>(at->list_value().values_size())) return nullptr;
            at = &at->list_value().values(static_cast<int>(index));
        } else {
            return nullptr;
        }
    }
    if (filter.empty()) return at;
    if (at->kind_case() != Value::kListValue) return nullptr;
    for (const Value& element : at->list_value().values()) {
        bool all = true;
        for (const auto& [field, want] : filter) all = all && field_equals(element, field, want);
        if (all) return &element;
    }
    return nullptr;
}

int json_get(const std::vector<std::string>& paths) {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    Value root;
    if (!google::protobuf::util::JsonStringToMessage(text, &root).ok()) {
        std::fprintf(stderr, "json: stdin is not a JSON document\n");
        return 1;
    }
    int missing = 0;
    for (const std::string& path : paths) {
        const Value* at = &root;
        // "/via/10.77.0.11": keys that contain dots take the '/' form.
        const char separator = !path.empty() && path[0] == '/' ? '/' : '.';
        std::stringstream segments(separator == '/' ? path.substr(1) : path);
        std::string segment;
        bool count = false;
        while (at && std::getline(segments, segment, separator)) {
            if (segment == "#") {
                count = true;
                break;
            }
            at = step(at, segment);
        }
        if (!at) {
            std::fprintf(stderr, "json: no %s\n", path.c_str());
            ++missing;
            continue;
        }
        if (count) {
            if (at->kind_case() == Value::kListValue)
                std::printf("%d\n", at->list_value().values_size());
            else if (at->kind_case() == Value::kStructValue)
                std::printf("%zu\n", at->struct_value().fields().size());
            else
                std::printf("0\n");
            continue;
        }
        std::printf("%s\n", print_value(*at).c_str());
    }
    return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"lbd_ha_probe: client and backend of the lbd HA failover scenarios"};
    app.require_subcommand(1);

    std::string name, bind_ip = "0.0.0.0";
    uint16_t port = 0;
    auto* serve_cmd = app.add_subcommand("serve", "A backend: answer each connection with 'NAME PEER_IP' and close");
    serve_cmd->add_option("NAME", name, "This backend's name")->required();
    serve_cmd->add_option("PORT", port, "TCP port")->required();
    serve_cmd->add_option("--bind", bind_ip, "Address to listen on")->capture_default_str();

    PollOptions poll;
    auto* poll_cmd = app.add_subcommand("poll", "Connect every interval; print answers and the longest gap as JSON");
    poll_cmd->add_option("TARGET", poll.target, "IPv4:PORT")->required();
    poll_cmd->add_option("--interval-ms", poll.interval_ms, "Start-to-start interval")->capture_default_str();
    poll_cmd->add_option("--timeout-ms", poll.timeout_ms, "Deadline of one connection")->capture_default_str();
    poll_cmd->add_option("--source", poll.source, "Source address to bind");
    poll_cmd->add_option("--until-file", poll.until_file, "Stop once this file exists");
    poll_cmd->add_option("--duration-ms", poll.duration_ms, "Stop after this long");
    poll_cmd->add_option("--count", poll.count, "Stop after this many attempts");
    poll_cmd->add_option("--log", poll.log_file, "Append one line per attempt here");
    poll_cmd->add_flag("--overlap", poll.overlap, "Start each attempt on time, even while earlier ones wait out their deadline");

    std::string sources, target;
    int stick_timeout_ms = 1000;
    auto* stick_cmd = app.add_subcommand("stick", "One connection from each source address; print who answered");
    stick_cmd->add_option("SOURCES", sources, "Comma-separated IPv4 source addresses")->required();
    stick_cmd->add_option("TARGET", target, "IPv4:PORT")->required();
    stick_cmd->add_option("--timeout-ms", stick_timeout_ms, "Deadline of one connection")->capture_default_str();

    std::vector<std::string> paths;
    auto* json_cmd = app.add_subcommand("json", "Print values of the JSON document on stdin");
    json_cmd->add_option("PATH", paths, "a.b.0.c, list.#, list[field=value].c, /key.with.dots/d")->required();

    CLI11_PARSE(app, argc, argv);
    if (serve_cmd->parsed()) return serve(name, port, bind_ip);
    if (poll_cmd->parsed()) return poll_target(poll);
    if (stick_cmd->parsed()) return stick(sources, target, stick_timeout_ms);
    if (json_cmd->parsed()) return json_get(paths);
    return 2;
}
