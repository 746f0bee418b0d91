// "Can't happen" checks (CONTRIBUTING.md, "Asserts"): LBD_CHECK(cond, what)
// stops a debug build (NDEBUG unset) at the broken invariant; a release build
// logs the first failure of each check, counts every one in
// lbd_internal_errors_total, and goes on, so that the caller can take its
// safe way out (close one connection, refuse one reload) instead of taking
// the whole appliance down. It evaluates to the condition:
//
//     if (!LBD_CHECK(pool != nullptr, "listener without its pool")) return nullptr;
#pragma once

#include <atomic>
#include <cstdint>

namespace lbd {

// Every failed LBD_CHECK since start (any thread).
uint64_t internal_errors();

namespace detail {
// Reports a failed check; returns false. `logged` makes one log line per check site.
bool check_failed(const char* what, const char* file, int line, std::atomic<bool>& logged);
}  // namespace detail

}  // namespace lbd

#define LBD_CHECK(cond, what)                                                                      \
    ((cond) ? true : [](const char* file, int line) {                                              \
        static std::atomic<bool> logged{false};                                                    \
        return ::lbd::detail::check_failed(what, file, line, logged);                              \
    }(__FILE__, __LINE__))
