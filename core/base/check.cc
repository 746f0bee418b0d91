#include "core/base/check.h"

#include <cstdlib>

#include "core/base/log.h"

namespace lbd {
namespace {
std::atomic<uint64_t> g_internal_errors{0};
}  // namespace

uint64_t internal_errors() { return g_internal_errors.load(std::memory_order_relaxed); }

namespace detail {

bool check_failed(const char* what, const char* file, int line, std::atomic<bool>& logged) {
    g_internal_errors.fetch_add(1, std::memory_order_relaxed);
    if (!logged.exchange(true))
        LOG_ERROR("internal error (a bug in lbd, please report it): %s at %s:%d", what, file, line);
#ifndef NDEBUG
    std::abort();
#endif
    return false;
}

}  // namespace detail
}  // namespace lbd
