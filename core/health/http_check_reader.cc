#include "core/health/http_check_reader.h"

#include <algorithm>
#include <utility>

namespace lbd {

namespace {

http1::HttpLimits check_limits() {
    http1::HttpLimits limits;
    // The read cap bounds the head, not the proxy's per-listener limits: a server's health does not
    // depend on which listener sends it traffic. A field line takes at least 4 bytes ("a:" CRLF).
    limits.max_header_bytes = HttpCheckReader::kMaxResponse;
    limits.max_header_count = HttpCheckReader::kMaxResponse / 4;
    return limits;
}

}  // namespace

HttpCheckReader::HttpCheckReader(const HttpCheckConfig& config)
    : config_(config), method_(http1::method_of(config.method)), limits_(check_limits()) {}

const HttpCheckVerdict& HttpCheckReader::feed(std::string_view bytes, bool eof) {
    if (verdict_.decided()) return verdict_;
    response_.append(bytes.substr(0, room()));
    // A full buffer is all the check will ever see.
    eof = eof || room() == 0;
    if (!head_done_ && !read_heads(eof)) return verdict_;
    read_body(eof);
    return verdict_;
}

// Reads heads until the final one, then decides on its status when the body does not matter.
// Returns true when the body is to be read.
bool HttpCheckReader::read_heads(bool eof) {
    for (;;) {
        const std::string_view rest = std::string_view(response_).substr(head_begin_);
        const http1::HeadParseResult parsed = http1::parse_response_head(rest, method_, limits_, head_, &scan_);
        if (parsed.status == http1::HeadStatus::kError) {
            fail_grammar(parsed.error);
            return false;
        }
        if (parsed.status == http1::HeadStatus::kIncomplete) {
            if (eof) decide(HttpCheckVerdict::State::kUnhealthy,
                            response_.empty() ? "closed without a response" : "bad response: closed inside the head");
            return false;
        }
        head_begin_ += parsed.consumed;
        if (!head_.interim()) break;
    }
    head_done_ = true;
    status_ = head_.status;
    std::string why = "HTTP " + std::to_string(status_);
    if (!config_.expect_status.contains(status_)) {
        decide(HttpCheckVerdict::State::kUnhealthy, std::move(why));
        return false;
    }
    if (config_.body_contains.empty()) {
        decide(HttpCheckVerdict::State::kHealthy, std::move(why));
        return false;
    }
    body_decoder_ = http1::BodyDecoder(head_, limits_);
    body_begin_ = head_begin_;
    return true;
}

void HttpCheckReader::read_body(bool eof) {
    while (body_begin_ < response_.size()) {
        const http1::BodyResult result = body_decoder_.decode(std::string_view(response_).substr(body_begin_));
        body_begin_ += result.consumed;
        // Data before a fault counts: fed byte by byte, the word would have been seen before it.
        if (body_matches(result.data))
            return decide(HttpCheckVerdict::State::kHealthy, "HTTP " + std::to_string(status_) + ", body matches");
        if (result.status == http1::BodyStatus::kError) return fail_grammar(result.error);
        if (result.status == http1::BodyStatus::kDone) break;
    }
    const bool ended = body_decoder_.done();
    if (!ended && !eof) return;
    if (!ended && room() != 0) {
        const http1::BodyResult last = body_decoder_.finish();
        if (last.status == http1::BodyStatus::kError) return fail_grammar(last.error);
    }
    decide(HttpCheckVerdict::State::kUnhealthy, "body lacks '" + config_.body_contains.substr(0, 64) + "'");
}

// Searches the new data together with the end of what came before, for a word split across reads
// or chunks.
bool HttpCheckReader::body_matches(std::string_view data) {
    if (data.empty()) return false;
    const size_t overlap = config_.body_contains.size() - 1;
    const size_t from = body_.size() > overlap ? body_.size() - overlap : 0;
    body_.append(data);
    return body_.find(config_.body_contains, from) != std::string::npos;
}

void HttpCheckReader::decide(HttpCheckVerdict::State state, std::string why) {
    verdict_.state = state;
    verdict_.why = std::move(why);
}

void HttpCheckReader::fail_grammar(http1::HttpError error) {
    decide(HttpCheckVerdict::State::kUnhealthy, std::string("bad response: ") + http1::to_string(error));
}

}  // namespace lbd
