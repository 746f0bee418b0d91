// Checks a pool's health_check (with its optional http check) and
// passive_health blocks. Part of the config loader: every problem is
// reported at the line of the field it is about.

#include <string>

#include "core/config/config_check.h"

namespace lbd::config_check {
namespace {

// The HTTP check reads at most 64 KiB of a response (HttpCheckReader::kMaxResponse).
constexpr size_t kMaxBodyContains = 16 * 1024;

constexpr const char* kDefaultExpectStatus = "200-399";
// Every 5xx but 501 and 505, which blame the request (HAProxy's observe layer7).
constexpr const char* kDefaultFailureStatuses = "500,502-504,506-599";

StatusRanges check_statuses(const std::string& text, const char* fallback, const char* what, Loc at,
                            Errors& errors) {
    std::string error;
    auto ranges = StatusRanges::parse(text.empty() ? fallback : text, &error);
    if (!ranges) {
        errors.add(at, std::string(what) + ": " + error);
        return {};
    }
    return *ranges;
}

// A request target sent as is: origin-form, what the proxy's parser accepts in a target (visible
// ASCII but '#'; a query is fine).
bool is_check_path(const std::string& s) {
    if (s.empty() || s.front() != '/') return false;
    for (char c : s)
        if (!http1::is_target_char(c)) return false;
    return true;
}

HttpCheckConfig check_http_check(const pb::HttpCheck& msg, const Node& node, Errors& errors) {
    using F = pb::HttpCheck;
    HttpCheckConfig out;
    if (!msg.method().empty()) out.method = msg.method();
    if (!is_token(out.method))
        errors.add(node.at(F::kMethodFieldNumber), "http check: bad method " + quote(out.method));
    if (!msg.path().empty()) out.path = msg.path();
    if (!is_check_path(out.path))
        errors.add(node.at(F::kPathFieldNumber),
                   "http check: bad path " + quote(out.path) + " (must start with '/', no spaces or controls)");
    out.host = msg.host();
    if (!is_field_value(out.host) || out.host.find_first_of(" \t") != std::string::npos)
        errors.add(node.at(F::kHostFieldNumber), "http check: bad host " + quote(out.host));
    out.expect_status = check_statuses(msg.expect_status(), kDefaultExpectStatus, "http check: expect_status",
                                       node.at(F::kExpectStatusFieldNumber), errors);
    out.body_contains = msg.body_contains();
    if (out.body_contains.size() > kMaxBodyContains)
        errors.add(node.at(F::kBodyContainsFieldNumber),
                   "http check: body_contains longer than " + std::to_string(kMaxBodyContains) + " bytes");
    for (int i = 0; i < msg.headers_size(); ++i) {
        const Loc at = node.at(F::kHeadersFieldNumber, i);
        HttpHeaderValue header = check_header_value(msg.headers(i), at, "http check", errors);
        if (http1::iequals(header.name, "host")) errors.add(at, "http check: set the Host header with `host`");
        out.headers.push_back(std::move(header));
    }
    return out;
}

}  // namespace

HealthCheckConfig check_health_check(const pb::HealthCheck& msg, const Node& node, Errors& errors) {
    using F = pb::HealthCheck;
    HealthCheckConfig out;
    out.enabled = true;
    out.interval_ms = or_default(msg.interval_ms(), out.interval_ms);
    out.timeout_ms = or_default(msg.timeout_ms(), out.timeout_ms);
    // rise and fall are >= 1 by construction: 0 means the default.
    out.rise = or_default(msg.rise(), out.rise);
    out.fall = or_default(msg.fall(), out.fall);
    out.start_down = msg.start_down();
    // A check still running when the next is due would overlap it.
    if (out.timeout_ms > out.interval_ms)
        errors.add(node.at(msg.timeout_ms() != 0 ? F::kTimeoutMsFieldNumber : F::kIntervalMsFieldNumber),
                   "health_check timeout_ms " + std::to_string(out.timeout_ms) + " exceeds interval_ms " +
                       std::to_string(out.interval_ms));
    if (msg.has_http()) {
        out.probe = "http";
        out.http = check_http_check(msg.http(), node.child(F::kHttpFieldNumber), errors);
    }
    return out;
}

PassiveHealthConfig check_passive_health(const pb::PassiveHealth& msg, const Node& node, Errors& errors) {
    using F = pb::PassiveHealth;
    PassiveHealthConfig out;
    out.enabled = true;
    out.max_fails = or_default(msg.max_fails(), out.max_fails);
    out.fail_timeout_ms = or_default(msg.fail_timeout_ms(), out.fail_timeout_ms);
    out.ejection_ms = or_default(msg.ejection_ms(), out.fail_timeout_ms);
    if (msg.failure_statuses_disabled() && !msg.failure_statuses().empty())
        errors.add(node.at(F::kFailureStatusesFieldNumber),
                   "passive_health: failure_statuses and failure_statuses_disabled are both set");
    if (!msg.failure_statuses_disabled())
        out.failure_statuses = check_statuses(msg.failure_statuses(), kDefaultFailureStatuses,
                                              "passive_health: failure_statuses",
                                              node.at(F::kFailureStatusesFieldNumber), errors);
    return out;
}

}  // namespace lbd::config_check
