#include "l7/access_control.h"

#include <tuple>

#include "l7/http_message.h"

namespace lbd::l7 {
namespace {

std::optional<AccessFilter::Rules> resolve(const AclLists& lists, const std::optional<HttpAccessConfig>& access) {
    if (!access) return std::nullopt;
    AccessFilter::Rules rules;
    // The loader checked every name: a list of the configuration, or "all".
    for (const HttpAccessRule& rule : access->rules)
        rules.push_back({rule.allow, rule.list == "all" ? nullptr : lists.find(rule.list), "acl:" + rule.list, nullptr,
                         UINT64_MAX});
    return rules;
}

}  // namespace

AccessFilter::AccessFilter(const AclLists& lists, const HttpConfig& http)
    : http_(http), listener_(resolve(lists, http.access)) {
    for (const HttpRouteConfig& route : http.routes) routes_.push_back(resolve(lists, route.access));
}

const AccessFilter::Rule* AccessFilter::decide(Rules& rules, const SocketAddress& client) {
    for (Rule& rule : rules) {
        if (rule.list == nullptr) return &rule;
        if (const uint64_t version = rule.list->version(); version != rule.set_version) {
            rule.set = rule.list->prefixes();
            rule.set_version = version;
        }
        if (rule.set->contains(client)) return &rule;
    }
    return nullptr;
}

FilterResult AccessFilter::on_request_head(Exchange& exchange) {
    std::optional<Rules>* rules = &listener_;
    if (exchange.route != nullptr) {
        auto& own = routes_.at(static_cast<size_t>(exchange.route - http_.routes.data()));
        if (own) rules = &own;  // a route's rules replace the listener's, as an nginx location's
    }
    if (!*rules) return FilterResult::next();
    const Rule* rule = decide(**rules, client_address(http_.forwarded, exchange.request, exchange.client.peer));
    if (rule == nullptr || rule->allow) return FilterResult::next();
    LocalAnswer answer;
    answer.status = 403;
    std::tie(answer.content_type, answer.body) = error_body(http_, 403);
    answer.term = Termination::kAccessDenied;
    answer.reason = rule->reason;
    return FilterResult::respond(std::move(answer));
}

}  // namespace lbd::l7
