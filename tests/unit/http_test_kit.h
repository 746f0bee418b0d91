// What the HTTP parser tests share (http_parser_test.cc, http_body_test.cc): the corpus
// (http_corpus.h), names from core/http1/, and drivers that feed a message whole, byte by byte, in random
// splits, or as a growing buffer.
#pragma once


#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "http_corpus.h"
#include "core/http1/body.h"
#include "core/http1/parser.h"

namespace {


using lbd::http1::BodyDecoder;
using lbd::http1::BodyFraming;
using lbd::http1::BodyResult;
using lbd::http1::BodyStatus;
using lbd::http1::connection_lists;
using lbd::http1::HeadParseResult;
using lbd::http1::HeadScanState;
using lbd::http1::HeadStatus;
using lbd::http1::http_status;
using lbd::http1::HttpError;
using lbd::http1::HttpHead;
using lbd::http1::HttpHeader;
using lbd::http1::HttpLimits;
using lbd::http1::HttpMethod;
using lbd::http1::HttpRequestHead;
using lbd::http1::HttpResponseHead;
using lbd::http1::HttpVersion;
using lbd::http1::iequals;
using lbd::http1::is_hop_by_hop;
using lbd::http1::next_list_element;
using lbd::http1::parse_request_head;
using lbd::http1::parse_response_head;
using lbd::http1::TargetForm;

// A heap copy of exactly the given bytes, so ASan catches any read past the end.
class Bytes {
public:
    explicit Bytes(std::string_view s) : buf_(s.begin(), s.end()) {}
    std::string_view view() const { return std::string_view(buf_.data(), buf_.size()); }

private:
    std::vector<char> buf_;
};

// Whether `view` points into `whole` (an empty view anywhere).
inline bool inside(std::string_view view, std::string_view whole) {
    return view.empty() || (view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size());
}

// What a decoder made of some input, however it was fed.
struct Drained {
    BodyStatus status = BodyStatus::kMore;
    HttpError error = HttpError::kNone;
    std::string data;
    size_t consumed = 0;
    bool contract_kept = true;  // every view inside its input, progress on every kMore

    bool operator==(const Drained& o) const {
        return status == o.status && error == o.error && data == o.data && consumed == o.consumed;
    }
};

// Feeds one piece, calling again while the decoder asks to; `piece` is copied to the heap.
inline void feed(BodyDecoder& decoder, std::string_view piece, Drained& out) {
    Bytes copy(piece);
    std::string_view in = copy.view();
    size_t used = 0;
    for (;;) {
        BodyResult r = decoder.decode(in.substr(used));
        std::string_view rest = in.substr(used);
        if (r.consumed > rest.size()) out.contract_kept = false;
        // The data view lies inside the bytes the call says it consumed.
        if (!r.data.empty() && !inside(r.data, rest.substr(0, r.consumed))) out.contract_kept = false;
        if (r.status == BodyStatus::kMore && !rest.empty() && r.consumed == 0) out.contract_kept = false;
        out.data.append(r.data);
        used += std::min(r.consumed, rest.size());
        out.consumed += r.consumed;
        out.status = r.status;
        out.error = r.error;
        if (r.status != BodyStatus::kMore || used == in.size()) return;
    }
}

// Feeds `input` cut at `cuts` (sorted offsets), stopping at the first non-kMore result.
inline Drained decode_in_pieces(BodyDecoder decoder, std::string_view input, const std::vector<size_t>& cuts) {
    Drained out;
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        size_t to = i < cuts.size() ? cuts[i] : input.size();
        feed(decoder, input.substr(from, to - from), out);
        from = to;
        if (out.status != BodyStatus::kMore) break;
    }
    return out;
}

inline Drained decode_whole(BodyDecoder decoder, std::string_view input) { return decode_in_pieces(decoder, input, {}); }

inline Drained decode_bytewise(BodyDecoder decoder, std::string_view input) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
    return decode_in_pieces(decoder, input, cuts);
}

inline std::vector<size_t> random_cuts(std::mt19937& rng, size_t size) {
    std::vector<size_t> cuts;
    size_t at = 0;
    while (size > 0) {
        at += 1 + rng() % 16;
        if (at >= size) break;
        cuts.push_back(at);
    }
    return cuts;
}

// The first error of a whole request: its head, then its body.
inline HttpError request_error(std::string_view raw, const HttpLimits& limits = {}) {
    Bytes in(raw);
    HttpRequestHead head;
    HeadParseResult r = parse_request_head(in.view(), limits, head);
    if (r.status != HeadStatus::kComplete) return r.error;
    return decode_whole(BodyDecoder(head, limits), in.view().substr(r.consumed)).error;
}

// Feeds a head by growing prefixes with a scan state; the first answer that is not kIncomplete.
template <typename Parse>
inline HeadParseResult parse_growing(std::string_view raw, const std::vector<size_t>& cuts, Parse parse) {
    HeadScanState scan;
    HeadParseResult r;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        Bytes prefix(raw.substr(0, i < cuts.size() ? cuts[i] : raw.size()));
        r = parse(prefix.view(), &scan);
        if (r.status != HeadStatus::kIncomplete) break;
    }
    return r;
}

inline bool same(const HeadParseResult& a, const HeadParseResult& b) {
    return a.status == b.status && a.error == b.error && a.consumed == b.consumed;
}

}  // namespace
