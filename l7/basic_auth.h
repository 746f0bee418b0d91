// HTTP Basic authentication (RFC 7617) of a route against its htpasswd
// users (lbd.v1.BasicAuth), as a request filter (filter.h) after the access
// rules and before the rate limits.
//
//   request ──> failures over the limit? ──yes──> 429 (term=auth_failed reason=auth:too_many_failures)
//                 │ no
//                 v
//               Authorization: Basic ...? ──no──> 401 + WWW-Authenticate (reason=auth:missing)
//                 │ yes
//                 v
//               cached success (same value)? ──yes──> next filter
//                 │ no
//                 v
//               pause; the password pool runs crypt_rn (bcrypt, sha-crypt,
//               yescrypt: slow on purpose) off the loop; the result is posted
//               back to the worker: success -> cached, next filter;
//               failure -> counted against the client, 401 (reason=auth:bad_password)
//
// Why off the loop: a bcrypt cost-12 check is ~250 ms of CPU; on the loop it
// would stall every connection of the worker for that long (HAProxy users
// report stalls and watchdog kills from exactly this).
//
// The success cache is per worker and per route: the key is SHA-256 of the
// Authorization value, compared in constant time; entries live `cache_ms`.
// An unknown user costs a hash too (against another user's hash), so the
// answer time does not tell which user names exist.
//
// Worker thread, except verify_password (any thread).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/loop/thread_pool.h"
#include "core/loop/worker.h"
#include "core/state/rate_limiter.h"
#include "l7/filter.h"

namespace lbd::l7 {

// Whether `password` hashes to `hash` (a crypt(3) string) with libxcrypt's
// crypt_rn; the comparison takes the same time whatever the bytes. Any
// thread (per-thread scratch space); slow on purpose: never on a loop.
bool verify_password(const std::string& password, const std::string& hash);

// "Basic dXNlcjpwYXNz" -> ("user", "pass"); nullopt when malformed (not
// Basic, bad base64, no colon, a NUL byte).
std::optional<std::pair<std::string, std::string>> parse_basic_credentials(std::string_view header);

class BasicAuthFilter final : public RequestFilter {
public:
    // `pool` runs the hashes; `zones` hold each route's failure counter
    // (shared by the workers); `worker` is this filter's worker.
    BasicAuthFilter(const HttpConfig& http, const std::string& listener, const RateLimitZones& zones,
                    ThreadPool& pool, Worker& worker);
    FilterResult on_request_head(Exchange& exchange) override;

    // What one route needs, shared with the hashing job (which may end
    // after a reload replaced this filter).
    struct Route;

private:
    const HttpConfig& http_;
    ThreadPool& pool_;
    Worker& worker_;
    std::vector<std::shared_ptr<Route>> routes_;  // by route index; null: no basic_auth
};

}  // namespace lbd::l7
