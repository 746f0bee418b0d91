#include "l7/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/base/clock.h"
#include "l7/http1.h"
#include "l7/rate_limit.h"

namespace lbd::l7 {
namespace {

// Past this many entries a route's cache drops its expired ones, and if
// still full, everything: a bound on memory for a client cycling passwords
// (which the failure limit stops anyway).
constexpr size_t kMaxCached = 4096;
// Different credentials one client (the failure limit's key) may have
// checked at once on one worker; another guess is answered 429 at once.
constexpr size_t kMaxGuessesPerClient = 4;

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// RFC 4648 section 4, padding required (RFC 7617 uses it as is).
std::optional<std::string> base64_decode(std::string_view in) {
    if (in.empty() || in.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        uint32_t bits = 0;
        for (size_t j = 0; j < 4; ++j) {
            const int v = j >= 4 - static_cast<size_t>(pad) ? 0 : base64_value(in[i + j]);
            if (v < 0) return std::nullopt;
            bits = bits << 6 | static_cast<uint32_t>(v);
        }
        out += static_cast<char>(bits >> 16);
        if (pad < 2) out += static_cast<char>(bits >> 8 & 0xff);
        if (pad < 1) out += static_cast<char>(bits & 0xff);
    }
    return out;
}

Digest digest_of(std::string_view value) {
    Digest out;
    SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), out.data());
    return out;
}

uint64_t key_of(const Digest& digest) {
    uint64_t key;
    std::memcpy(&key, digest.data(), sizeof key);
    return key;
}

}  // namespace

bool verify_password(const std::string& password, const std::string& hash) {
    // crypt_data is ~32 KB: one per hashing thread, zeroed once as crypt_rn asks.
    thread_local std::unique_ptr<crypt_data> scratch = std::make_unique<crypt_data>();
    const char* out = crypt_rn(password.c_str(), hash.c_str(), scratch.get(), sizeof *scratch);
    if (out == nullptr || out[0] == '*') return false;  // "*0"/"*1": libxcrypt's failure tokens
    const size_t n = std::strlen(out);
    return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

std::optional<std::pair<std::string, std::string>> parse_basic_credentials(std::string_view header) {
    // RFC 7617 section 2: the scheme is case-insensitive; one or more spaces.
    if (header.size() < 6 || !iequals(header.substr(0, 5), "basic") || header[5] != ' ') return std::nullopt;
    header.remove_prefix(6);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
    auto decoded = base64_decode(header);
    if (!decoded || decoded->find('\0') != std::string::npos) return std::nullopt;
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

struct BasicAuthFilter::Route {
    std::unordered_map<std::string, std::string> users;  // name -> hash
    std::string dummy_hash;  // an unknown user is checked against it: same cost
    std::shared_ptr<RateLimitZone> failures;  // kept by in-flight jobs across a reload
    uint32_t cache_ms = 0;
    bool forward = false;
    LocalAnswer unauthorized;  // 401 with WWW-Authenticate
    LocalAnswer too_many;      // 429
    struct Cached {
        Digest digest;
        uint64_t expires_ms = 0;
    };
    std::unordered_map<uint64_t, Cached> cache;  // worker thread only
    // The credentials (digest keys) of the password checks queued or
    // running, per client key (worker thread only). The failure limit
    // counts a wrong password when its hash ends, so without a cap one
    // client could queue hundreds of different guesses at once, past its
    // limit and ahead of every other login; a browser's parallel requests
    // with one credential are one guess.
    std::unordered_map<std::string, std::vector<uint64_t>> in_flight;
    bool may_check(const std::string& client_key, uint64_t credential) const {
        auto it = in_flight.find(client_key);
        if (it == in_flight.end()) return true;
        const std::vector<uint64_t>& running = it->second;
        if (std::find(running.begin(), running.end(), credential) != running.end()) return true;
        std::vector<uint64_t> distinct = running;
        std::sort(distinct.begin(), distinct.end());
        return static_cast<size_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin()) <
               kMaxGuessesPerClient;
    }
    void check_ended(const std::string& client_key, uint64_t credential) {
        auto it = in_flight.find(client_key);
        if (it == in_flight.end()) return;
        if (auto at = std::find(it->second.begin(), it->second.end(), credential); at != it->second.end())
            it->second.erase(at);
        if (it->second.empty()) in_flight.erase(it);
    }

    bool cached(const Digest& digest, uint64_t now) const {
        auto it = cache.find(key_of(digest));
        return it != cache.end() && it->second.expires_ms > now &&
               CRYPTO_memcmp(it->second.digest.data(), digest.data(), digest.size()) == 0;
    }
    void remember(const Digest& digest, uint64_t now) {
        if (cache.size() >= kMaxCached) std::erase_if(cache, [&](const auto& e) { return e.second.expires_ms <= now; });
        if (cache.size() >= kMaxCached) cache.clear();
        cache[key_of(digest)] = {digest, now + cache_ms};
    }
    FilterResult refuse(const LocalAnswer& answer, const char* reason) const {
        LocalAnswer out = answer;
        out.reason = reason;
        return FilterResult::respond(std::move(out));
    }
};

BasicAuthFilter::BasicAuthFilter(const HttpConfig& http, const std::string& listener, const RateLimitZones& zones,
                                 ThreadPool& pool, Worker& worker)
    : http_(http), pool_(pool), worker_(worker) {
    for (size_t i = 0; i < http.routes.size(); ++i) {
        const HttpRouteConfig& config = http.routes[i];
        if (!config.basic_auth) {
            routes_.push_back(nullptr);
            continue;
        }
        auto route = std::make_shared<Route>();
        const HttpBasicAuthConfig& auth = *config.basic_auth;
        route->users.insert(auth.users.begin(), auth.users.end());
        route->dummy_hash = auth.users.empty() ? "*" : auth.users.front().second;
        const std::string zone = basic_auth_zone_name(config, i);
        for (const auto& [owner, z] : zones.all())
            if (owner == listener && z->config().name == zone) route->failures = z;
        route->cache_ms = auth.cache_ms;
        route->forward = auth.forward_authorization;
        route->unauthorized.status = 401;
        std::tie(route->unauthorized.content_type, route->unauthorized.body) = error_body(http, 401);
        route->unauthorized.headers.emplace_back("WWW-Authenticate", "Basic realm=\"" + auth.realm + "\", charset=\"UTF-8\"");
        route->unauthorized.term = Termination::kAuthFailed;
        route->too_many.status = 429;
        std::tie(route->too_many.content_type, route->too_many.body) = error_body(http, 429);
        route->too_many.headers.emplace_back("Retry-After", "60");
        route->too_many.term = Termination::kAuthFailed;
        routes_.push_back(std::move(route));
    }
}

FilterResult BasicAuthFilter::on_request_head(Exchange& exchange) {
    if (exchange.route == nullptr) return FilterResult::next();
    const std::shared_ptr<Route>& route = routes_.at(static_cast<size_t>(exchange.route - http_.routes.data()));
    if (!route) return FilterResult::next();
    const std::string* header = find_header(exchange.request.headers, "authorization");
    if (header == nullptr) return route->refuse(route->unauthorized, "auth:missing");
    // The failure zone's own key: the client behind trusted proxies, an
    // IPv6 one by its /64 (the zone's ipv6_prefix_length), as every rate limit.
    std::string client_key =
        route->failures != nullptr
            ? rate_limit_key(route->failures->config(), http_.forwarded, exchange.request, exchange.client.peer)
            : std::string(client_address(http_.forwarded, exchange.request, exchange.client.peer).unmapped().ip_bytes());
    // A client past its failures is refused before the cache is looked at:
    // a 200 for a credential another client had cached would tell a
    // guesser it had found the password.
    if (route->failures != nullptr && !route->failures->peek(client_key, monotonic_us()).allowed)
        return route->refuse(route->too_many, "auth:too_many_failures");
    // A credential checked a moment ago passes without a hash.
    const Digest digest = digest_of(*header);
    if (route->cached(digest, monotonic_ms())) {
        if (!route->forward) remove_header(exchange.request.headers, "authorization");
        return FilterResult::next();
    }
    const uint64_t credential = key_of(digest);
    if (!route->may_check(client_key, credential)) return route->refuse(route->too_many, "auth:too_many_in_flight");
    const std::string authorization = *header;
    // The password stays here unless the route forwards it.
    if (!route->forward) remove_header(exchange.request.headers, "authorization");
    auto credentials = parse_basic_credentials(authorization);
    if (!credentials) return route->refuse(route->unauthorized, "auth:malformed");
    auto user = route->users.find(credentials->first);
    const bool known = user != route->users.end();
    std::string hash = known ? user->second : route->dummy_hash;
    Worker* worker = &worker_;
    auto job = [route, worker, resumer = exchange.resumer(), password = std::move(credentials->second),
                hash = std::move(hash), known, digest, client_key]() mutable {
        const bool ok = verify_password(password, hash) && known;
        OPENSSL_cleanse(password.data(), password.size());
        worker->post([route, resumer, ok, digest, client_key]() mutable {
            route->check_ended(client_key, key_of(digest));
            if (ok) {
                route->remember(digest, monotonic_ms());
                return resumer(FilterResult::next());
            }
            if (route->failures != nullptr) route->failures->check(client_key, monotonic_us());
            resumer(route->refuse(route->unauthorized, "auth:bad_password"));
        });
    };
    route->in_flight[client_key].push_back(credential);
    if (!pool_.submit(std::move(job))) {
        route->check_ended(client_key, credential);
        // lbd's own shortage (README "Errors"): never the client's fault.
        LocalAnswer busy;
        busy.status = 503;
        std::tie(busy.content_type, busy.body) = error_body(http_, 503);
        busy.term = Termination::kLocalError;
        busy.reason = "auth:pool_full";
        return FilterResult::respond(std::move(busy));
    }
    return FilterResult::pause();
}

}  // namespace lbd::l7
