#include "core/base/log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace lbd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug: return "debug";
        case LogLevel::kInfo: return "info";
        case LogLevel::kWarning: return "warning";
        case LogLevel::kError: return "error";
    }
    return "?";
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void log_line_v(LogLevel level, const char* fmt, va_list args) {
    char line[2048];
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm local{};
    gmtime_r(&now.tv_sec, &local);
    int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", local.tm_year + 1900,
                          local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                          now.tv_nsec / 1000000, level_name(level));
    if (n < 0) return;
    int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, args);
    if (m < 0) return;
    size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
    if (len > sizeof line - 2) len = sizeof line - 2;  // truncated line
    line[len++] = '\n';
    // One write(2): atomic with respect to other lines for sizes under PIPE_BUF
    // on a pipe, and never interleaved mid-line by our own threads.
    ssize_t rc = ::write(STDERR_FILENO, line, len);
    (void)rc;
}

void log_line(LogLevel level, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    log_line_v(level, fmt, args);
    va_end(args);
}

}  // namespace lbd
