// H2RequestHead: an HTTP/2 request head to HTTP/1.1 (h2_request_head.h).
#include "l7/h2_request_head.h"

#include <limits>

namespace lbd::l7 {

namespace {

bool is_pseudo(std::string_view name) { return !name.empty() && name.front() == ':'; }

// RFC 9110 §8.6: 1*DIGIT, within 64 bits.
bool parse_length(std::string_view text, uint64_t& out) {
    if (text.empty()) return false;
    out = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (out > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
        out = out * 10 + digit;
    }
    return true;
}

}  // namespace

void H2RequestHead::add(std::string_view name, std::string_view value) {
    bytes_ += name.size() + value.size() + 32;
    if (bytes_ > max_list_bytes_) too_large_ = true;
    if (too_large_) return;
    if (name == ":method") method_ = value;
    else if (name == ":scheme") scheme_ = value;
    else if (name == ":authority") authority_ = value;
    else if (name == ":path") path_ = value;
    else if (name == ":protocol") protocol_ = value;  // RFC 8441 (only when enabled: nghttp2 checks)
    else if (is_pseudo(name)) return;
    else if (name == "cookie") cookie_.append(cookie_.empty() ? "" : "; ").append(value);  // RFC 9113 §8.2.3
    else if (name == "te") return;  // "trailers" (nghttp2 refuses anything else): hop-by-hop for HTTP/1
    else if (name == "host" && authority_.empty()) authority_ = value;
    else if (name != "host") fields_.emplace_back(std::string(name), std::string(value));
}

bool H2RequestHead::translate(RequestInfo& r, bool ended) {
    r.method = method_;
    r.method_kind = http1::method_of(method_);
    r.version = HttpVersion::k11;  // what the servers get
    r.keep_alive = true;
    if (method_.empty()) return false;
    const bool extended = !protocol_.empty();
    if (extended) {
        // RFC 8441 §4: only on CONNECT, with :path and :scheme (nghttp2
        // checks); HTTP/1.1's form of it is a GET with Upgrade.
        if (r.method_kind != HttpMethod::kConnect) return false;
        // It becomes the Upgrade field's protocol-name (RFC 9110 §7.8): a
        // token. nghttp2 lets any field value through (fuzzing found
        // "we=A6h n9" reaching the server's Upgrade).
        if (!http1::is_token(protocol_)) return false;
        r.method = "GET";
        r.method_kind = HttpMethod::kGet;
        r.upgrade = true;
        r.upgrade_protocols = protocol_;
    }
    if (r.method_kind == HttpMethod::kConnect) {
        r.target_form = TargetForm::kAuthority;  // answered 405 by the driver
    } else if (path_ == "*") {
        r.target_form = TargetForm::kAsterisk;
        r.path = "*";
    } else {
        if (path_.empty() || path_.front() != '/') return false;
        const size_t q = path_.find('?');
        r.path = path_.substr(0, q);
        if (q != std::string::npos) r.query = path_.substr(q);
    }
    if (authority_.empty()) return false;  // RFC 9113 §8.3.1: no Host to give HTTP/1.1
    r.host_header = authority_;
    r.host = host_without_port(authority_);
    if (!cookie_.empty()) fields_.emplace_back("cookie", std::move(cookie_));
    bool has_length = false;
    for (auto& field : fields_) {
        if (field.first == "content-length") {
            // nghttp2 has checked it is one number and will check DATA
            // against it; two, or one HTTP/1.1 would read otherwise, are refused.
            if (has_length || !parse_length(field.second, r.content_length)) return false;
            has_length = true;
            r.framing = BodyFraming::kContentLength;
            continue;
        }
        if (extended && field.first == "sec-websocket-key") continue;  // lbd's own goes (h2_websocket.h)
        if (field.first == "expect" && iequals(field.second, "100-continue")) r.expect_continue = true;
        r.headers.emplace_back(std::move(field.first), std::move(field.second));
    }
    fields_.clear();
    if (extended) {
        // The tunnel's bytes are no request body; a length would mean one.
        if (has_length) return false;
        r.framing = BodyFraming::kNone;
    } else if (ended) {
        // END_STREAM with the head: no body, whatever content-length said (but 0).
        if (has_length && r.content_length != 0) return false;
        r.framing = BodyFraming::kNone;
    } else if (!has_length) {
        // A body of unknown length: chunked to the server.
        r.framing = BodyFraming::kChunked;
        r.transfer_encoding = "chunked";
    }
    return true;
}

}  // namespace lbd::l7
