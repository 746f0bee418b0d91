// Cookie stickiness's phase 5 (cookie_sticky.h) as a response filter
// (filter.h): the Exchange's StickyRequest writes (INSERT) or learns
// (LEARN) the cookie on the server's response. First of the response
// filters, so the header actions see (and may change) the Set-Cookie it
// writes. Phase 3 (the cookie's server) stays in the server choice: it is
// the upstream pick, not a filter.
#pragma once

#include "l7/cookie_sticky.h"
#include "l7/filter.h"

namespace lbd::l7 {

class CookieStickyFilter final : public ResponseFilter {
public:
    FilterResult on_response_head(Exchange& exchange) override {
        // No server: a static file's answer (static_files.h).
        if (exchange.server != nullptr) exchange.sticky.on_response(*exchange.server, exchange.response.headers);
        return FilterResult::next();
    }
};

}  // namespace lbd::l7
