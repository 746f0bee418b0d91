// lbd's own resource shortages, kept apart from server failures (issue 16).
//
// Out of descriptors (EMFILE, ENFILE), memory or socket buffers (ENOMEM,
// ENOBUFS), or local ports (EADDRNOTAVAIL), a health check, a connect or an
// accept fails before any packet reaches a server. Blaming the server for it
// marked every server DOWN under a descriptor flood, made clients fail long
// after it, and would have carried the DOWN states to the HA peer. So such a
// failure is counted here (lbd_local_errors_total{cause,where}) and logged
// at most once a second per place, and the caller leaves the server's
// health, counters and passive-health state alone: a health check keeps the
// server's state, a connect answers the client 503 (L7) or closes it (L4).
//
// Thread-safe: workers and the control thread all count here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lbd {

enum class LocalWhere : uint8_t { kAccept, kHealthCheck, kL4Connect, kL7Connect, kCount };
enum class LocalCause : uint8_t { kEmfile, kEnfile, kEnomem, kEnobufs, kEaddrnotavail, kFdReserve, kCount };

const char* to_string(LocalWhere where);
const char* to_string(LocalCause cause);

// The cause if `err` (an errno) is a local shortage, else nullopt.
std::optional<LocalCause> local_cause(int err);

// Counts one; true if the caller should log it now (one line per second per
// `where`; the line should say how many went unlogged: `*unlogged`).
bool count_local_error(LocalWhere where, LocalCause cause, uint64_t* unlogged);

uint64_t local_errors(LocalWhere where, LocalCause cause);

// Descriptors kept free for what must keep working when clients have taken
// the rest: health checks, the admin socket and HTTP listener (capped at 17
// and 33), the HA sync link, a reload's new sockets. Client accepts stop
// (and wait in the kernel's queue) while fewer than this are free.
// min(kFdReserveMax, RLIMIT_NOFILE / 4), for small test limits.
constexpr uint64_t kFdReserveMax = 128;
// True if the descriptor just accepted, `fd`, leaves fewer than the reserve
// free. Linux hands out the lowest free number, so every number below `fd`
// is in use: at most limit - fd - 1 are left. Reads RLIMIT_NOFILE (prlimit
// may change it while lbd runs) at most once a second per thread, and
// always before answering true.
bool fd_in_reserve(int fd);

}  // namespace lbd
