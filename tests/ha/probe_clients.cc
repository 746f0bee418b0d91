// lbd_ha_probe's clients: `poll` (one connection every interval, the
// gaps of a failover) and `stick` (one connection per source address).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <sstream>

#include "probe.h"

namespace probe {

namespace {

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

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

}  // namespace

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
    // The log's times are ms since `start`; this lines them up with other
    // clocks (ip monitor's, keepalived's log).
    const int64_t start_epoch_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
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
    // One attempt's result, at `t` ms since the start (answers in time
    // order); the attempt began at `began`.
    auto record = [&](const Answer& a, int64_t t, int64_t began) {
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
            if (log)
                std::fprintf(log, "%lld ok %s %s %lld\n", static_cast<long long>(t), a.server.c_str(), a.via.c_str(),
                             static_cast<long long>(began));
        } else {
            ++error_counts[a.error];
            if (log)
                std::fprintf(log, "%lld fail - %s %lld\n", static_cast<long long>(t), a.error.c_str(),
                             static_cast<long long>(began));
        }
        if (log) std::fflush(log);
    };
    if (o.overlap) {
        // An attempt starts every interval whether or not the earlier ones
        // have ended, so one whose SYN went to a node that is gone (and
        // waits out its deadline) does not hold back the next: the first
        // answer after a switch comes within an interval of it.
        struct Attempt {
            int64_t ended, began;
            Answer answer;
        };
        std::vector<std::future<Attempt>> running;
        int64_t next = 0;
        while (!running.empty() || !stop_now()) {
            if (!stop_now() && ms_since(start) >= next) {
                running.push_back(std::async(std::launch::async, [&] {
                    const int64_t began = ms_since(start);
                    Answer a = exchange(*target, source, o.timeout_ms);
                    return Attempt{ms_since(start), began, a};
                }));
                next += o.interval_ms;
            }
            std::vector<Attempt> done;
            for (auto it = running.begin(); it != running.end();) {
                if (it->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
                    ++it;
                    continue;
                }
                done.push_back(it->get());
                it = running.erase(it);
            }
            std::sort(done.begin(), done.end(), [](const auto& x, const auto& y) { return x.ended < y.ended; });
            for (const Attempt& attempt : done) record(attempt.answer, attempt.ended, attempt.began);
            ::usleep(1000);
        }
    }
    while (!o.overlap && !stop_now()) {
        const int64_t began = ms_since(start);
        Answer a = exchange(*target, source, o.timeout_ms);
        record(a, ms_since(start), began);
        // Start to start: an attempt that took long is followed at once.
        int64_t next = began + o.interval_ms;
        int64_t now = ms_since(start);
        if (next > now && !stop_now()) ::usleep(static_cast<useconds_t>((next - now) * 1000));
    }
    if (log) std::fclose(log);

    const int64_t duration = ms_since(start);
    std::printf(
        "{\"target\": %s, \"start_epoch_ms\": %lld, \"attempts\": %lld, \"ok\": %lld, \"failed\": %lld, "
        "\"duration_ms\": %lld,\n"
        " \"max_gap_ms\": %lld, \"max_gap_from_ms\": %lld, \"max_gap_to_ms\": %lld,\n"
        " \"first_via\": %s, \"last_via\": %s, \"switch_to\": %s, \"switch_at_ms\": %lld, \"switch_gap_ms\": %lld,\n"
        " \"via\": %s, \"servers\": %s, \"errors\": %s}\n",
        json_string(o.target).c_str(), static_cast<long long>(start_epoch_ms), static_cast<long long>(attempts), static_cast<long long>(answers),
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

}  // namespace probe
