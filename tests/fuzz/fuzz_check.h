// What every fuzz target shares: the oracle check that stops the run. A failed oracle must be a
// finding for libFuzzer (it saves the input as crash-*), so it aborts rather than throws, and it
// says which property broke before it does.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace lbd::fuzz {

[[noreturn]] inline void oracle_failed(const char* file, int line, const char* condition) {
    std::fprintf(stderr, "%s:%d: oracle failed: %s\n", file, line, condition);
    std::abort();
}

}  // namespace lbd::fuzz

// Like assert, but also in release builds: the replay tests are built RelWithDebInfo.
#define FUZZ_CHECK(condition)                                                      \
    do {                                                                           \
        if (!(condition)) ::lbd::fuzz::oracle_failed(__FILE__, __LINE__, #condition); \
    } while (0)
