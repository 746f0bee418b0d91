// Cookie stickiness of a pool (config.proto CookieStickiness), in the
// request's phases:
//
//   2 route_request   (split routes) cookie_server(): does the cookie name a
//                     usable server of this pool? (weighted_split.h)
//   3 choose_server   StickyRequest::begin() reads the cookie (INSERT: and
//                     strips it from the request, "indirect"); pick() takes
//                     the server it names if usable, else the balancer's
//   5 response head   StickyRequest::on_response(): INSERT writes the
//                     cookie when the client had none or named another
//                     server; LEARN learns the application's Set-Cookie
//
// INSERT: the cookie's value is Server::id(), the same on both HA nodes and
// across restarts, so no table is needed and a failover keeps every client
// on its server. It reveals neither address nor position in the pool.
//
// LEARN: value -> server name in the pool's stick table (TTL and LRU from
// Stickiness), replicated to the HA peer as COOKIE records (ha/ha_node.cc).
// A request whose cookie is unknown, or names a server that is not usable,
// is placed by the balancer and the cookie is stored for the chosen server
// (HAProxy's `stick on req.cook()`): an application that shares sessions
// between servers keeps the client where it now is even if it does not
// issue a new cookie.
//
// Down, drained (no new work) or unknown servers are never chosen by a
// cookie: the request is placed anew, and in INSERT mode the cookie is
// rewritten. A server at its max_connections is re-placed too (lbd has no
// per-server queue at L7).
//
// Worker thread only (the stick table is thread-safe by itself).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/balance/pool.h"
#include "core/balance/server.h"
#include "l7/http_message.h"

namespace lbd::l7 {

// Learned cookie values longer than this are not stored: the table (and the
// HA sync, which frames keys of at most 4 KiB) is no place for huge values.
inline constexpr size_t kMaxLearnedCookieBytes = 512;

// The usable server that `request`'s stickiness cookie for `pool` names, or
// nullptr (no cookie stickiness, no cookie, unknown value, server not
// usable). Refreshes a LEARN entry's TTL.
std::shared_ptr<Server> cookie_server(Pool& pool, ServerPicker& picker, const RequestInfo& request,
                                      std::span<const Server* const> excluded);

// The stickiness of one request to one pool.
class StickyRequest {
public:
    // Reads the pool's cookie from `request`; in INSERT mode removes it, so
    // the server never sees it. Call once per request, after the pool is
    // known and before pick().
    void begin(Pool& pool, RequestInfo& request);
    // The server the cookie names if usable, else the picker's choice
    // (stored for the cookie in LEARN mode). nullptr when none is usable.
    std::shared_ptr<Server> pick(ServerPicker& picker, const SocketAddress& client,
                                 std::span<const Server* const> excluded);
    // The final response head from `server`, before it goes to the client.
    void on_response(const Server& server, HeaderList& response_headers);

private:
    Pool* pool_ = nullptr;
    CookieMode mode_ = CookieMode::kNone;
    std::optional<std::string> value_;  // the request's cookie
};

}  // namespace lbd::l7
