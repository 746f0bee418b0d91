// The access-control request filter (filter.h): the listener's or the
// route's allow/deny rules (lbd.v1.AccessControl) on the client's address,
// first match wins, none matching allows. Runs first, before the rate
// limits, so a refused client is never counted. A denied request is answered
// 403 and logged `term=acl_denied reason=acl:LIST` (or `acl:all`).
//
// The lists are the Runtime's AclLists (core/state/acl_lists.h), resolved
// by name once when the listener is built; their prefixes are loaded per
// request (an atomic pointer) so lbctl's changes apply to the next request.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/state/acl_lists.h"
#include "l7/filter.h"

namespace lbd::l7 {

class AccessFilter final : public RequestFilter {
public:
    AccessFilter(const AclLists& lists, const HttpConfig& http);
    FilterResult on_request_head(Exchange& exchange) override;

    struct Rule {
        bool allow = false;
        const AclList* list = nullptr;  // null: "all"
        std::string reason;             // "acl:NAME", for the access log
        // This worker's reference to the list's set, and the list version it
        // is of (AclList::version(); reloaded when that moves).
        std::shared_ptr<const PrefixSet> set;
        uint64_t set_version = UINT64_MAX;
    };
    using Rules = std::vector<Rule>;

    // The first rule matching `client`, or null. Refreshes the rules' sets
    // that lbctl changed (worker thread: the rules are this worker's).
    static const Rule* decide(Rules& rules, const SocketAddress& client);

private:
    const HttpConfig& http_;
    std::optional<Rules> listener_;
    std::vector<std::optional<Rules>> routes_;  // by route index
};

}  // namespace lbd::l7
