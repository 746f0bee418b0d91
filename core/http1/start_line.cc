// Request line and status line. Section numbers are RFC 9112's unless another RFC is named.
//
//   request-line = method SP request-target SP HTTP-version         (§3)
//   status-line  = HTTP-version SP status-code SP [ reason-phrase ]  (§4)
//   HTTP-version = "HTTP/" DIGIT "." DIGIT                           (§2.3, case-sensitive)
//
// Exactly one SP between parts: §3 lets a recipient split on any whitespace, which is how two
// parsers come to disagree on the target, so we do not.
#include "core/http1/start_line.h"

#include <algorithm>

#include "core/http1/chars.h"

namespace lbd::http1 {
namespace {

// "HTTP/" DIGIT "." DIGIT; '#' stands for a digit.
constexpr std::string_view kVersionPattern = "HTTP/#.#";
// Version, SP, 3-digit status code, SP.
constexpr std::string_view kStatusPattern = "HTTP/#.# ### ";
constexpr size_t kStatusCodeEnd = 12;  // "HTTP/1.1 200"

struct KnownMethod {
    std::string_view token;
    HttpMethod method;
};

constexpr KnownMethod kKnownMethods[] = {
    {"GET", HttpMethod::kGet},         {"HEAD", HttpMethod::kHead},       {"POST", HttpMethod::kPost},
    {"PUT", HttpMethod::kPut},         {"DELETE", HttpMethod::kDelete},   {"CONNECT", HttpMethod::kConnect},
    {"OPTIONS", HttpMethod::kOptions}, {"TRACE", HttpMethod::kTrace},     {"PATCH", HttpMethod::kPatch},
};

// A byte that broke the grammar: a CR there can only be a bare CR (a line never holds its own
// CRLF), anything else is the caller's error.
HttpError stray(char c, HttpError otherwise) { return c == '\r' ? HttpError::kBareCr : otherwise; }

bool matches_pattern_char(char want, char c) { return want == '#' ? is_digit(c) : c == want; }

// Checks `v` against kVersionPattern as far as it goes.
HttpError check_version_syntax(std::string_view v, bool complete) {
    size_t n = std::min(v.size(), kVersionPattern.size());
    for (size_t k = 0; k < n; ++k) {
        if (!matches_pattern_char(kVersionPattern[k], v[k])) return stray(v[k], HttpError::kBadVersion);
    }
    if (v.size() > kVersionPattern.size()) return stray(v[kVersionPattern.size()], HttpError::kBadVersion);
    if (complete && v.size() < kVersionPattern.size()) return HttpError::kBadVersion;
    return HttpError::kNone;
}

// `v` matched kVersionPattern.
bool version_of(std::string_view v, HttpVersion* out) {
    if (v[5] != '1' || v[7] > '1') return false;
    *out = v[7] == '0' ? HttpVersion::k10 : HttpVersion::k11;
    return true;
}

bool is_valid_port(std::string_view port) {
    if (port.empty() || port.size() > 5) return false;
    unsigned value = 0;
    for (char c : port) {
        if (!is_digit(c)) return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= 65535;
}

// absolute-form restricted to what a reverse proxy serves (§3.2.2 with RFC 9110 §4.2):
// scheme "://" authority [ path-abempty ] [ "?" query ]. The host must not be empty (RFC 9110
// §4.2.1: "MUST reject it as invalid"); userinfo is refused (RFC 9110 §4.2.4 says to treat it as
// an error). Other URI shapes ("urn:x") have no meaning here.
bool split_absolute_form(std::string_view target, std::string_view* authority, std::string_view* path) {
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (target.empty() || !is_alpha(target[0])) return false;
    size_t i = 1;
    while (i < target.size() && (is_alpha(target[i]) || is_digit(target[i]) || target[i] == '+' ||
                                 target[i] == '-' || target[i] == '.')) {
        ++i;
    }
    std::string_view rest = target.substr(i);
    if (!rest.starts_with("://")) return false;
    rest.remove_prefix(3);
    size_t end = std::min(rest.find('/'), rest.find('?'));
    std::string_view auth = rest.substr(0, end);
    if (!is_valid_host_port(auth, /*host_required=*/true, /*port_required=*/false)) return false;
    *authority = auth;
    *path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    return true;
}

}  // namespace

// Method names are case-sensitive (RFC 9110 §9.1).
HttpMethod method_of(std::string_view token) {
    for (const KnownMethod& m : kKnownMethods) {
        if (m.token == token) return m.method;
    }
    return HttpMethod::kOther;
}

bool is_valid_host_port(std::string_view text, bool host_required, bool port_required) {
    size_t i = 0;
    const size_t n = text.size();
    if (n > 0 && text[0] == '[') {
        // IP-literal: an IPv6 address; IPvFuture is refused, nothing sends it.
        size_t close = text.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (size_t k = 1; k < close; ++k) {
            if (!is_hex_digit(text[k]) && text[k] != ':' && text[k] != '.') return false;
        }
        i = close + 1;
    } else {
        while (i < n && text[i] != ':') {
            if (text[i] == '%') {
                // pct-encoded = "%" HEXDIG HEXDIG
                if (n - i < 3 || !is_hex_digit(text[i + 1]) || !is_hex_digit(text[i + 2])) return false;
                i += 3;
                continue;
            }
            if (!is_reg_name_char(text[i])) return false;
            ++i;
        }
        if (i == 0 && (host_required || i < n)) return false;
    }
    if (i == n) return !port_required;
    if (text[i] != ':') return false;
    return is_valid_port(text.substr(i + 1));
}

HttpError check_request_line(std::string_view line, bool complete, const HttpLimits& limits, HttpRequestHead* out) {
    // A partial line may end with the CR of its CRLF; only the next byte tells.
    if (!complete && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t n = line.size();

    // method = token (RFC 9110 §9.1)
    size_t i = 0;
    while (i < n && is_tchar(line[i])) ++i;
    if (i > kMaxMethodLength) return HttpError::kBadMethod;
    if (i == n) return complete ? HttpError::kBadRequestLine : HttpError::kNone;
    if (line[i] != ' ') return stray(line[i], HttpError::kBadMethod);
    if (i == 0) return HttpError::kBadRequestLine;

    // request-target: its characters and length first, its form once the line is complete.
    const size_t t = i + 1;
    size_t j = t;
    while (j < n && is_target_char(line[j])) ++j;
    if (j - t > limits.max_uri_bytes) return HttpError::kUriTooLong;
    if (j == n) return complete ? HttpError::kBadRequestLine : HttpError::kNone;
    if (line[j] != ' ') return stray(line[j], j == t ? HttpError::kBadRequestLine : HttpError::kBadTarget);
    if (j == t) return HttpError::kBadRequestLine;

    std::string_view version_text = line.substr(j + 1);
    if (HttpError e = check_version_syntax(version_text, complete); e != HttpError::kNone) return e;
    if (!complete) return HttpError::kNone;
    HttpVersion version;
    if (!version_of(version_text, &version)) return HttpError::kVersionNotSupported;

    // §3.2: which form the target takes, and whether the method allows it.
    std::string_view method_token = line.substr(0, i);
    std::string_view target = line.substr(t, j - t);
    HttpMethod method = method_of(method_token);
    TargetForm form;
    std::string_view authority;
    std::string_view path;
    if (method == HttpMethod::kConnect) {
        // §3.2.3: CONNECT takes authority-form only, and it names a port.
        if (!is_valid_host_port(target, /*host_required=*/true, /*port_required=*/true)) return HttpError::kBadTarget;
        form = TargetForm::kAuthority;
        authority = target;
    } else if (target[0] == '/') {
        form = TargetForm::kOrigin;  // §3.2.1
        path = target;
    } else if (target == "*") {
        if (method != HttpMethod::kOptions) return HttpError::kBadTarget;  // §3.2.4
        form = TargetForm::kAsterisk;
    } else {
        if (!split_absolute_form(target, &authority, &path)) return HttpError::kBadTarget;
        form = TargetForm::kAbsolute;
    }

    if (out != nullptr) {
        out->method = method;
        out->method_token = method_token;
        out->target = target;
        out->target_form = form;
        out->authority = authority;
        out->path = path;
        out->version = version;
    }
    return HttpError::kNone;
}

HttpError check_status_line(std::string_view line, bool complete, HttpResponseHead* out) {
    if (!complete && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t n = line.size();

    size_t fixed = std::min(n, kStatusPattern.size());
    for (size_t k = 0; k < fixed; ++k) {
        if (!matches_pattern_char(kStatusPattern[k], line[k])) return stray(line[k], HttpError::kBadStatusLine);
    }
    // The reason phrase is only read once the line is complete: it has no influence on anything,
    // and reading it on every partial call would cost a rescan per read.
    if (!complete) return HttpError::kNone;
    if (n < kStatusCodeEnd) return HttpError::kBadStatusLine;
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); "HTTP/1.1 200" without SP is accepted.
    std::string_view reason = n > kStatusPattern.size() ? line.substr(kStatusPattern.size()) : std::string_view();
    if (const size_t good = field_content_prefix(reason); good != reason.size())
        return stray(reason[good], HttpError::kBadStatusLine);

    HttpVersion version;
    if (!version_of(line.substr(0, kVersionPattern.size()), &version)) return HttpError::kVersionNotSupported;
    // RFC 9110 §15: "All valid status codes are within the range of 100 to 599, inclusive."
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status < 100 || status > 599) return HttpError::kBadStatusCode;

    if (out != nullptr) {
        out->version = version;
        out->status = status;
        out->reason = reason;
    }
    return HttpError::kNone;
}

}  // namespace lbd::http1
