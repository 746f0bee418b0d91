#include "core/net/local_errors.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "core/base/clock.h"

namespace lbd {

namespace {

constexpr size_t kWheres = static_cast<size_t>(LocalWhere::kCount);
constexpr size_t kCauses = static_cast<size_t>(LocalCause::kCount);
constexpr uint64_t kLogEveryMs = 1000;

struct Counters {
    std::atomic<uint64_t> count[kWheres][kCauses]{};
    std::atomic<uint64_t> last_log_ms[kWheres]{};
    std::atomic<uint64_t> unlogged[kWheres]{};
};

Counters& counters() {
    static Counters c;
    return c;
}

}  // namespace

const char* to_string(LocalWhere where) {
    switch (where) {
        case LocalWhere::kAccept: return "accept";
        case LocalWhere::kHealthCheck: return "health_check";
        case LocalWhere::kL4Connect: return "l4_connect";
        case LocalWhere::kL7Connect: return "l7_connect";
        case LocalWhere::kCount: break;
    }
    return "?";
}

const char* to_string(LocalCause cause) {
    switch (cause) {
        case LocalCause::kEmfile: return "EMFILE";
        case LocalCause::kEnfile: return "ENFILE";
        case LocalCause::kEnomem: return "ENOMEM";
        case LocalCause::kEnobufs: return "ENOBUFS";
        case LocalCause::kEaddrnotavail: return "EADDRNOTAVAIL";
        case LocalCause::kFdReserve: return "fd_reserve";
        case LocalCause::kCount: break;
    }
    return "?";
}

std::optional<LocalCause> local_cause(int err) {
    switch (err) {
        case EMFILE: return LocalCause::kEmfile;
        case ENFILE: return LocalCause::kEnfile;
        case ENOMEM: return LocalCause::kEnomem;
        case ENOBUFS: return LocalCause::kEnobufs;
        case EADDRNOTAVAIL: return LocalCause::kEaddrnotavail;
        default: return std::nullopt;
    }
}

bool count_local_error(LocalWhere where, LocalCause cause, uint64_t* unlogged) {
    Counters& c = counters();
    auto w = static_cast<size_t>(where);
    c.count[w][static_cast<size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
    uint64_t now = monotonic_ms();
    uint64_t last = c.last_log_ms[w].load(std::memory_order_relaxed);
    // One thread wins the right to log; the others count what went unlogged.
    if ((last != 0 && now - last < kLogEveryMs) ||
        !c.last_log_ms[w].compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        c.unlogged[w].fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    *unlogged = c.unlogged[w].exchange(0, std::memory_order_relaxed);
    return true;
}

uint64_t local_errors(LocalWhere where, LocalCause cause) {
    return counters().count[static_cast<size_t>(where)][static_cast<size_t>(cause)].load(std::memory_order_relaxed);
}

namespace {

// RLIMIT_NOFILE's soft limit; 0: none (RLIM_INFINITY, or unreadable).
uint64_t read_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
    return limit.rlim_cur;
}

bool in_reserve(int fd, uint64_t limit) {
    if (limit == 0) return false;
    uint64_t reserve = std::min<uint64_t>(kFdReserveMax, limit / 4);
    return static_cast<uint64_t>(fd) + 1 + reserve > limit;
}

}  // namespace

bool fd_in_reserve(int fd) {
    // Not a getrlimit per accepted connection (a system call in every new
    // connection's path): each thread keeps the limit for up to a second, and
    // reads it again before refusing anyone, so a raised limit counts at once
    // and a lowered one within a second (accept itself fails at the limit).
    struct Cached {
        uint64_t limit = 0;
        uint64_t read_ms = 0;
        bool valid = false;
    };
    thread_local Cached cached;
    uint64_t now = monotonic_ms();
    if (!cached.valid || now - cached.read_ms >= 1000 || in_reserve(fd, cached.limit)) {
        cached = {read_fd_limit(), now, true};
    }
    return in_reserve(fd, cached.limit);
}

}  // namespace lbd
