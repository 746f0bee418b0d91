// The parts of a route (lbd.v1.Route) beyond match and action: regexes,
// templates (rewrite_path, redirect location, header values), per-route
// timeouts and access log, response rewrites, and how a split places
// clients. Reported at the line of the field, as config_http.cc does.
#include <algorithm>
#include <string>

#include "l7/config/http_template.h"
#include "l7/config/l7_config_checks.h"
#include "l7/config/route_regex.h"

namespace lbd::config_check {
namespace {

std::shared_ptr<const RouteRegex> compile(const std::string& pattern, bool ignore_case, const char* what, Loc at,
                                          Errors& errors) {
    std::string why;
    auto regex = l7::compile_route_regex(pattern, ignore_case, &why);
    if (!regex) errors.add(at, std::string(what) + " " + quote(pattern) + ": " + why);
    return regex;
}

// The groups $1..$9 may name: the path regex's, else the host regex's.
uint32_t route_groups(const HttpRouteMatch& match) {
    const RouteRegex* regex = match.path_regex ? match.path_regex.get() : match.host_regex.get();
    return regex == nullptr ? 0 : std::min<uint32_t>(regex->groups, 9);
}

std::vector<HttpRewrite> check_rewrites(const google::protobuf::RepeatedPtrField<pb::Rewrite>& list, const Node& node,
                                        int field, const char* what, bool domain, Errors& errors) {
    std::vector<HttpRewrite> out;
    for (int i = 0; i < list.size(); ++i) {
        HttpRewrite rewrite{list[i].from(), list[i].to()};
        const Loc at = node.at(field, i);
        if (rewrite.from.empty()) errors.add(at, std::string(what) + ": `from` is empty");
        if (!is_field_value(rewrite.to) || rewrite.to.find_first_of(" ;,") != std::string::npos)
            errors.add(at, std::string(what) + ": bad `to` " + quote(rewrite.to));
        if (domain) {
            std::transform(rewrite.from.begin(), rewrite.from.end(), rewrite.from.begin(), http1::to_lower_ascii);
            if (!rewrite.from.empty() && rewrite.from.front() == '.') rewrite.from.erase(0, 1);
        }
        out.push_back(std::move(rewrite));
    }
    return out;
}

void check_split_by(const pb::WeightedPools& msg, const Node& node, HttpRouteConfig& out, Errors& errors) {
    using F = pb::WeightedPools;
    switch (msg.by()) {
        case pb::SPLIT_BY_REQUEST: out.split_by = HttpSplitBy::kRequest; break;
        case pb::SPLIT_BY_CLIENT_ADDRESS: out.split_by = HttpSplitBy::kClientAddress; break;
        case pb::SPLIT_BY_HEADER: out.split_by = HttpSplitBy::kHeader; break;
        case pb::SPLIT_BY_COOKIE: out.split_by = HttpSplitBy::kCookie; break;
        default: errors.add(node.at(F::kByFieldNumber), "unknown split `by` " + std::to_string(msg.by()));
    }
    const bool keyed = out.split_by == HttpSplitBy::kHeader || out.split_by == HttpSplitBy::kCookie;
    if (keyed && !is_token(msg.key()))
        errors.add(node.at(msg.key().empty() ? F::kByFieldNumber : F::kKeyFieldNumber),
                   "split by header or cookie needs `key`, a header or cookie name (got " + quote(msg.key()) + ")");
    if (!keyed && !msg.key().empty())
        errors.add(node.at(F::kKeyFieldNumber), "split `key` is only for SPLIT_BY_HEADER and SPLIT_BY_COOKIE");
    out.split_key = msg.key();
    if (out.split_by == HttpSplitBy::kHeader)
        std::transform(out.split_key.begin(), out.split_key.end(), out.split_key.begin(), http1::to_lower_ascii);
}

void check_route_timeouts(const pb::RouteTimeouts& msg, const HttpTimeoutsConfig& listener, HttpRouteConfig& out) {
    out.timeouts = listener;
    out.timeouts.server_connect_ms = or_default(msg.server_connect_ms(), listener.server_connect_ms);
    out.timeouts.server_response_ms = or_default(msg.server_response_ms(), listener.server_response_ms);
    out.timeouts.body_idle_ms = or_default(msg.body_idle_ms(), listener.body_idle_ms);
}

}  // namespace

void check_match_regex(const pb::RouteMatch& msg, const Node& node, HttpRouteMatch& out, Errors& errors) {
    using F = pb::RouteMatch;
    if (!msg.path_regex().empty())
        out.path_regex =
            compile(msg.path_regex(), msg.path_regex_ignore_case(), "path_regex", node.at(F::kPathRegexFieldNumber), errors);
    else if (msg.path_regex_ignore_case())
        errors.add(node.at(F::kPathRegexIgnoreCaseFieldNumber), "path_regex_ignore_case without path_regex");
    // Hosts are matched lower case (RFC 9110 §4.2.3: case-insensitive), so the host regex is too.
    if (!msg.host_regex().empty())
        out.host_regex = compile(msg.host_regex(), true, "host_regex", node.at(F::kHostRegexFieldNumber), errors);
}

void check_header_templates(HttpHeaderActions& actions, const Node& node, Errors& errors) {
    using F = pb::HeaderActions;
    auto parse = [&](std::vector<HttpHeaderValue>& values, int field) {
        for (size_t i = 0; i < values.size(); ++i) {
            std::string why;
            if (!parse_template(values[i].value, TemplateRules{}, values[i].value_template, &why))
                errors.add(node.at(field, static_cast<int>(i)), "header " + quote(values[i].name) + ": " + why);
        }
    };
    parse(actions.set, F::kSetFieldNumber);
    parse(actions.add, F::kAddFieldNumber);
}

void check_route_extras(const pb::Route& msg, const Node& node, const std::string& what,
                        const HttpTimeoutsConfig& listener_timeouts, HttpRouteConfig& out, Errors& errors) {
    using F = pb::Route;
    const TemplateRules groups{true, route_groups(out.match)};
    if (!msg.rewrite_path().empty()) {
        const Loc at = node.at(F::kRewritePathFieldNumber);
        std::string why;
        if (msg.rewrite_path().front() != '/' || !is_field_value(msg.rewrite_path()) ||
            msg.rewrite_path().find_first_of(" ?#") != std::string::npos)
            errors.add(at, what + ": bad rewrite_path " + quote(msg.rewrite_path()) +
                               ": must start with '/', without spaces, '?' or '#'");
        else if (!out.match.path_regex)
            errors.add(at, what + ": rewrite_path needs match.path_regex");
        else if (out.strip_path_prefix || !out.replace_path_prefix.empty())
            errors.add(at, what + ": rewrite_path cannot be set beside strip_path_prefix or replace_path_prefix");
        else if (!parse_template(msg.rewrite_path(), groups, out.rewrite_path, &why))
            errors.add(at, what + ": rewrite_path: " + why);
        else if (!out.rewrite_path.dynamic())
            out.rewrite_path.parts.push_back({HttpTemplatePart::Kind::kText, 0, HttpVariable::kHost, msg.rewrite_path()});
    }
    if (out.action == HttpRouteAction::kRedirect && !out.redirect.location.empty()) {
        std::string why;
        const Loc at = node.child(F::kRedirectFieldNumber).at(pb::Redirect::kLocationFieldNumber);
        if (!parse_template(out.redirect.location, groups, out.redirect.location_template, &why))
            errors.add(at, what + ": redirect location: " + why);
    }
    if (out.action == HttpRouteAction::kSplit)
        check_split_by(msg.split(), node.child(F::kSplitFieldNumber), out, errors);
    check_header_templates(out.request_headers, node.child(F::kRequestHeadersFieldNumber),
                           errors);
    check_header_templates(out.response_headers, node.child(F::kResponseHeadersFieldNumber),
                           errors);
    check_route_timeouts(msg.timeouts(), listener_timeouts, out);
    out.access_log = !msg.has_access_log() || msg.access_log();
    out.cookie_domain = check_rewrites(msg.cookie_domain(), node, F::kCookieDomainFieldNumber, "cookie_domain", true, errors);
    out.cookie_path = check_rewrites(msg.cookie_path(), node, F::kCookiePathFieldNumber, "cookie_path", false, errors);
    out.redirect_rewrite =
        check_rewrites(msg.redirect_rewrite(), node, F::kRedirectRewriteFieldNumber, "redirect_rewrite", false, errors);
    out.redirect_rewrite_default = msg.redirect_rewrite_default();
}

void check_request_id(const pb::Http& msg, const Node& node, HttpConfig& out, Errors& errors) {
    if (!msg.has_request_id()) return;
    const pb::RequestId& id = msg.request_id();
    out.request_id_header = id.header().empty() ? "X-Request-Id" : id.header();
    if (!is_token(out.request_id_header))
        errors.add(node.child(pb::Http::kRequestIdFieldNumber).at(pb::RequestId::kHeaderFieldNumber),
                   "request_id: bad header name " + quote(id.header()));
    out.request_id_keep_trusted = id.keep_trusted();
}

}  // namespace lbd::config_check
