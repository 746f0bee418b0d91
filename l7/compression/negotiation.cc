#include "l7/compression/negotiation.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/http1/chars.h"

namespace lbd::compression {
namespace {

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
// Thousandths, or -1 when malformed (the element is then ignored).
int parse_q(std::string_view v) {
    if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
    int q = (v[0] - '0') * 1000;
    if (v.size() == 1) return q;
    if (v[1] != '.' || v.size() > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < v.size(); ++i, scale /= 10) {
        if (!http1::is_digit(v[i])) return -1;
        q += (v[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

// The q of one element "coding;q=0.5;other=x": 1000 when absent.
int element_q(std::string_view params) {
    int q = 1000;
    while (!params.empty()) {
        size_t semi = params.find(';');
        std::string_view param = http1::trim_ows(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
        if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && http1::trim_ows(param.substr(1)).starts_with('='))
            q = parse_q(http1::trim_ows(http1::trim_ows(param.substr(1)).substr(1)));
    }
    return q;
}

}  // namespace

const char* to_token(Algorithm algorithm) {
    switch (algorithm) {
        case Algorithm::kBrotli: return "br";
        case Algorithm::kGzip: return "gzip";
        case Algorithm::kZstd: return "zstd";
    }
    return "identity";
}

void AcceptEncoding::add(std::string_view value) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view element = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        size_t semi = element.find(';');
        std::string_view coding = http1::trim_ows(element.substr(0, semi));
        if (coding.empty()) continue;
        const int q = element_q(semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1));
        if (q < 0) continue;
        // A coding listed twice keeps its highest q: the client accepts it at least that much.
        int* slot = nullptr;
        for (int c = 0; c < kCodings; ++c)
            if (http1::iequals(coding, kTokens[c])) slot = &q_[c];
        // RFC 9110 8.4.1.3: x-gzip is gzip.
        if (http1::iequals(coding, "x-gzip")) slot = &q_[kGzip];
        else if (http1::iequals(coding, "identity")) slot = &identity_;
        else if (coding == "*") slot = &star_;
        if (slot != nullptr && q > *slot) *slot = q;
    }
}

int AcceptEncoding::q_of(Coding coding) const {
    if (q_[coding] >= 0) return q_[coding];
    return star_ >= 0 ? star_ : 0;  // not listed, no "*": not acceptable
}

// Identity's own weight when the client gave one (listed, or through "*");
// unlisted, it is merely acceptable, and any coding the client names wins.
int AcceptEncoding::identity_q() const { return identity_ >= 0 ? identity_ : (star_ >= 0 ? star_ : 0); }

std::string AcceptEncoding::normalized() const {
    std::vector<std::pair<int, std::string_view>> ranked;  // (q, token)
    int lowest = 1001;
    for (int c = 0; c < kCodings; ++c)
        if (const int q = q_of(static_cast<Coding>(c)); q > 0) {
            ranked.emplace_back(q, kTokens[c]);
            lowest = std::min(lowest, q);
        }
    if (const int identity = identity_q(); !ranked.empty() && identity > lowest) ranked.emplace_back(identity, "identity");
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::string out;
    for (size_t i = 0; i < ranked.size(); ++i) {
        if (i > 0) out.append(ranked[i].first == ranked[i - 1].first ? "," : ">");
        out.append(ranked[i].second);
    }
    return out;
}

std::optional<Algorithm> AcceptEncoding::choose(std::span<const Algorithm> offered) const {
    std::optional<Algorithm> best;
    int best_q = 0;
    for (Algorithm a : offered)
        if (const int q = q_of(a == Algorithm::kBrotli ? kBr : a == Algorithm::kGzip ? kGzip : kZstd); q > best_q) {
            best = a;
            best_q = q;
        }
    if (!best) return std::nullopt;
    // A tie with identity goes to compression, the point of offering it.
    return best_q >= identity_q() ? best : std::nullopt;
}

bool type_listed(std::string_view content_type, const std::vector<std::string>& types) {
    std::string_view media = http1::trim_ows(content_type.substr(0, content_type.find(';')));
    const size_t slash = media.find('/');
    if (slash == std::string_view::npos) return false;
    for (const std::string& type : types) {
        if (type.ends_with("/*")) {
            if (http1::iequals(media.substr(0, slash + 1), std::string_view(type).substr(0, type.size() - 1)))
                return true;
        } else if (http1::iequals(media, type)) {
            return true;
        }
    }
    return false;
}

bool list_has(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view element = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (http1::iequals(http1::trim_ows(element.substr(0, element.find('='))), token)) return true;
    }
    return false;
}

std::string weak_etag(std::string_view etag) {
    etag = http1::trim_ows(etag);
    if (etag.starts_with("W/")) return std::string(etag);
    return "W/" + std::string(etag);
}

}  // namespace lbd::compression
