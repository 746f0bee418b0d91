// One line per event on stderr, where systemd's journal picks it up.
//
// Thread-safe: each line is formatted into a local buffer and written with a
// single write(2), so lines from different workers never interleave.
#pragma once

#include <atomic>
#include <cstdarg>

namespace lbd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Set once at start-up and on reload.
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// printf-style; a trailing newline is added.
void log_line(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_line_v(LogLevel level, const char* fmt, va_list args);

}  // namespace lbd

#define LBD_LOG(level, ...)                                              \
    do {                                                                 \
        if (::lbd::log_enabled(level)) ::lbd::log_line(level, __VA_ARGS__); \
    } while (0)
#define LOG_DEBUG(...) LBD_LOG(::lbd::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) LBD_LOG(::lbd::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) LBD_LOG(::lbd::LogLevel::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) LBD_LOG(::lbd::LogLevel::kError, __VA_ARGS__)
