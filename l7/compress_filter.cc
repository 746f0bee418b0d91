#include "l7/compress_filter.h"

#include <event2/buffer.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <span>

#include "l7/body_filter.h"
#include "l7/compression/encoder.h"
#include "l7/compression/negotiation.h"
#include "l7/compression/whole_body_gzip.h"

namespace lbd::l7 {
namespace {

using compression::Encoder;
using compression::SkipCause;

// Output is written into the client's buffer in windows of this size.
constexpr size_t kOutputWindow = 16 * 1024;
// The level a governor near its limit asks for.
constexpr uint32_t kLowLevel = 1;

// Whether any `name` field holds `token` in its list.
bool any_has(const HeaderList& headers, std::string_view name, std::string_view token) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name) && compression::list_has(v, token)) return true;
    return false;
}

// How a response's body is compressed, decided on its head.
struct BodyPlan {
    HttpCompressionAlgorithm algorithm;
    uint32_t level;
    uint64_t size_hint;  // the Content-Length, 0 if unknown
    bool hold_whole;     // gzip that may fit kWholeBodyCap: held for the one-shot path first
};

// The body as it streams, through one encoder; or, a gzip body that may fit
// kWholeBodyCap, first held whole in the stage's input and compressed in one
// call when it ends (whole_body_gzip.h). Holding ends, for the zlib stream,
// as soon as the body passes the cap or the server pauses mid-body
// (BodyProgress::kWaiting), so a slow or streaming origin's first bytes
// still reach the client at once.
class CompressBody final : public ResponseBodyFilter {
public:
    // `encoder`: null when the plan holds the body (made if it must stream).
    CompressBody(std::unique_ptr<Encoder> encoder, const BodyPlan& plan, compression::CompressionStats& stats,
                 compression::CpuGovernor& governor)
        : encoder_(std::move(encoder)), plan_(plan), holding_(plan.hold_whole), stats_(stats), governor_(governor) {}

    bool holds_body() const override { return holding_; }
    bool on_body(evbuffer* in, evbuffer* out, BodyProgress progress) override {
        const uint64_t start_ns = compression::CpuGovernor::now_ns();
        const size_t in_before = evbuffer_get_length(in);
        const size_t out_before = evbuffer_get_length(out);
        bool ok = true;
        const bool fits = in_before <= compression::kWholeBodyCap;
        if (holding_ && fits && progress == BodyProgress::kEnd && compress_whole(in, out)) {
            // Done in one call.
        } else if (holding_ && fits && progress == BodyProgress::kMoreReadable) {
            // More is on its way at once: keep holding.
        } else {
            ok = (encoder_ != nullptr || start_stream()) && stream(in, out, progress);
        }
        const size_t index = static_cast<size_t>(plan_.algorithm);
        stats_.bytes_in[index].fetch_add(in_before - evbuffer_get_length(in), std::memory_order_relaxed);
        stats_.bytes_out[index].fetch_add(evbuffer_get_length(out) - out_before, std::memory_order_relaxed);
        const uint64_t end_ns = compression::CpuGovernor::now_ns();
        governor_.spent(end_ns - start_ns, end_ns);
        return ok;
    }

private:
    // The held body, whole, into one gzip member in `out`'s free space.
    // False (this thread's compressor could not be made): it streams instead.
    bool compress_whole(evbuffer* in, evbuffer* out) {
        const size_t n = evbuffer_get_length(in);
        static constexpr uint8_t kEmpty = 0;
        // libdeflate takes one buffer: a copy only when the body came in several pieces.
        const uint8_t* body = n == 0 ? &kEmpty : evbuffer_pullup(in, -1);
        const size_t bound = compression::whole_body_gzip_bound(n);
        evbuffer_iovec space{};
        if (body == nullptr || evbuffer_reserve_space(out, static_cast<ev_ssize_t>(bound), &space, 1) < 1) return false;
        const size_t written = compression::whole_body_gzip(
            {body, n}, {static_cast<uint8_t*>(space.iov_base), std::min(space.iov_len, bound)}, plan_.level);
        if (written == 0) return false;  // the reservation is dropped uncommitted
        space.iov_len = written;
        if (evbuffer_commit_space(out, &space, 1) != 0) return false;
        evbuffer_drain(in, n);
        stats_.gzip_paths[static_cast<size_t>(compression::GzipPath::kWhole)].fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    // Holding is over: the zlib stream from here, fed what was held.
    bool start_stream() {
        holding_ = false;
        encoder_ = compression::make_encoder(plan_.algorithm, plan_.level, plan_.size_hint);
        stats_.gzip_paths[static_cast<size_t>(compression::GzipPath::kStreamed)].fetch_add(1,
                                                                                           std::memory_order_relaxed);
        return encoder_ != nullptr;
    }

    // All of `in` through the encoder, flushed at every batch (or finished).
    // A flush only when the server waits would save bytes and time, but an
    // encoder that emits nothing unflushed (brotli buffers its input) would
    // then let the session read on past its client's high water: the
    // back-pressure needs output.
    bool stream(evbuffer* in, evbuffer* out, BodyProgress progress) {
        return feed(in, out) &&
               run({}, out, progress == BodyProgress::kEnd ? Encoder::Mode::kFinish : Encoder::Mode::kFlush);
    }

    // Every extent of `in` through the encoder, then drained from `in`.
    bool feed(evbuffer* in, evbuffer* out) {
        while (evbuffer_get_length(in) > 0) {
            evbuffer_iovec extent{};
            if (evbuffer_peek(in, -1, nullptr, &extent, 1) < 1) return false;
            if (!run({static_cast<const uint8_t*>(extent.iov_base), extent.iov_len}, out, Encoder::Mode::kNone))
                return false;
            evbuffer_drain(in, extent.iov_len);
        }
        return true;
    }

    // Runs the encoder over `input` until it is all taken and `mode` done,
    // writing straight into `out`'s free space (no copy of our own).
    bool run(std::span<const uint8_t> input, evbuffer* out, Encoder::Mode mode) {
        const uint8_t* next = input.data();
        size_t left = input.size();
        for (;;) {
            evbuffer_iovec space{};
            if (evbuffer_reserve_space(out, kOutputWindow, &space, 1) < 1) return false;
            auto* window = static_cast<uint8_t*>(space.iov_base);
            uint8_t* cursor = window;
            size_t room = space.iov_len;
            const Encoder::Step step = encoder_->run(next, left, cursor, room, mode);
            space.iov_len = static_cast<size_t>(cursor - window);
            if (evbuffer_commit_space(out, &space, 1) != 0) return false;
            if (step == Encoder::Step::kError) return false;
            if (step == Encoder::Step::kDone) return true;
        }
    }

    std::unique_ptr<Encoder> encoder_;
    BodyPlan plan_;
    bool holding_;
    compression::CompressionStats& stats_;
    compression::CpuGovernor& governor_;
};

uint32_t level_of(const HttpCompressionConfig& config, HttpCompressionAlgorithm algorithm) {
    switch (algorithm) {
        case HttpCompressionAlgorithm::kGzip: return config.gzip_level;
        case HttpCompressionAlgorithm::kBrotli: return config.brotli_level;
        case HttpCompressionAlgorithm::kZstd: return config.zstd_level;
    }
    return config.gzip_level;
}

// Adds Accept-Encoding to Vary, unless it is there (or Vary is "*").
void merge_vary(HeaderList& headers) {
    std::string* first = nullptr;
    for (auto& [name, value] : headers) {
        if (!iequals(name, "vary")) continue;
        if (compression::list_has(value, "accept-encoding") || compression::list_has(value, "*")) return;
        if (first == nullptr) first = &value;
    }
    if (first == nullptr)
        headers.emplace_back("Vary", "Accept-Encoding");
    else
        first->append(first->empty() ? "Accept-Encoding" : ", Accept-Encoding");
}

}  // namespace

CompressFilter::CompressFilter(const HttpConfig& http, compression::CompressionStats& stats,
                               compression::CpuGovernor& governor)
    : http_(http), stats_(stats), governor_(governor) {}

const HttpCompressionConfig* CompressFilter::config_for(const HttpRouteConfig* route) const {
    if (route != nullptr && route->compression) return &*route->compression;
    return http_.compression ? &*http_.compression : nullptr;
}

void CompressFilter::skip(SkipCause cause) {
    stats_.skipped[static_cast<size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
}

std::optional<SkipCause> CompressFilter::response_rule(const Exchange& exchange,
                                                       const HttpCompressionConfig& config) const {
    const ResponseInfo& response = exchange.response;
    const int status = response.status;
    if (exchange.request.method_kind == HttpMethod::kHead || status == 204 || status == 304 ||
        response.framing == BodyFraming::kNone)
        return SkipCause::kNoBody;
    if (status == 206) return SkipCause::kRange;
    if (!config.statuses.contains(status)) return SkipCause::kStatus;
    const std::string* encoding = find_header(response.headers, "content-encoding");
    // A transfer coding besides chunked: the body is encoded on the wire already.
    const bool other_te = !response.transfer_encoding.empty() && !iequals(response.transfer_encoding, "chunked");
    if ((encoding != nullptr && !iequals(*encoding, "identity")) || other_te) return SkipCause::kAlreadyEncoded;
    if (any_has(response.headers, "cache-control", "no-transform")) return SkipCause::kNoTransform;
    const std::string* type = find_header(response.headers, "content-type");
    if (type == nullptr || !compression::type_listed(*type, config.types)) return SkipCause::kType;
    if (response.framing == BodyFraming::kContentLength) {
        const std::string* length = find_header(response.headers, "content-length");
        uint64_t n = 0;
        if (length != nullptr) std::from_chars(length->data(), length->data() + length->size(), n);
        if (n < config.min_length) return SkipCause::kTooSmall;
    }
    return std::nullopt;
}

std::optional<SkipCause> CompressFilter::request_rule(const Exchange& exchange, const HttpCompressionConfig& config,
                                                      HttpCompressionAlgorithm& algorithm) const {
    const HeaderList& headers = exchange.request.headers;
    // A server that ignored Range sent the whole body; a client that asked
    // for a range of the identity bytes must not get a range of others.
    if (find_header(headers, "range") != nullptr) return SkipCause::kRange;
    // RFC 9111 5.2.1.6: the client asks intermediaries to leave the content alone.
    if (any_has(headers, "cache-control", "no-transform")) return SkipCause::kNoTransform;
    compression::AcceptEncoding accept;
    for (const auto& [name, value] : headers)
        if (iequals(name, "accept-encoding")) accept.add(value);
    const auto chosen = accept.choose(config.algorithms);
    if (!chosen) return SkipCause::kNotAccepted;
    algorithm = *chosen;
    return std::nullopt;
}

FilterResult CompressFilter::on_response_head(Exchange& exchange) {
    if (exchange.route != nullptr && exchange.route->compression_off) {
        if (http_.compression) skip(SkipCause::kRouteOff);
        return FilterResult::next();
    }
    const HttpCompressionConfig* config = config_for(exchange.route);
    if (config == nullptr) return FilterResult::next();
    if (auto cause = response_rule(exchange, *config)) {
        skip(*cause);
        return FilterResult::next();
    }
    ResponseInfo& response = exchange.response;
    // Compressible: what this client gets depends on its Accept-Encoding,
    // compressed or not, and a cache must know that (RFC 9110 12.5.5).
    merge_vary(response.headers);
    HttpCompressionAlgorithm algorithm{};
    if (auto cause = request_rule(exchange, *config, algorithm)) {
        // A client that accepts no coding gets the identity variant, which
        // the cache may keep; a Range or no-transform request gets the
        // identity body under this Accept-Encoding for itself only.
        if (*cause != SkipCause::kNotAccepted) exchange.cache.may_store = false;
        skip(*cause);
        return FilterResult::next();
    }
    uint32_t level = level_of(*config, algorithm);
    const uint32_t max_percent = config->max_cpu_percent;
    switch (governor_.verdict(max_percent, config->cpu_window_ms, compression::CpuGovernor::now_ns())) {
        case compression::CpuGovernor::Verdict::kOff:
            // Left uncompressed by a moment's CPU: not stored as the compressed variant.
            exchange.cache.may_store = false;
            skip(SkipCause::kCpu);
            return FilterResult::next();
        case compression::CpuGovernor::Verdict::kLowered:
            level = std::min(level, kLowLevel);
            stats_.lowered.fetch_add(1, std::memory_order_relaxed);
            break;
        case compression::CpuGovernor::Verdict::kFull: break;
    }
    BodyPlan plan{algorithm, level, 0, false};
    if (const std::string* length = find_header(response.headers, "content-length"))
        std::from_chars(length->data(), length->data() + length->size(), plan.size_hint);
    // gzip's one-shot path unless the Content-Length already says the body passes the cap.
    plan.hold_whole = algorithm == HttpCompressionAlgorithm::kGzip &&
                      (response.framing != BodyFraming::kContentLength || plan.size_hint <= compression::kWholeBodyCap);
    std::unique_ptr<Encoder> encoder;
    if (!plan.hold_whole) {
        encoder = compression::make_encoder(algorithm, level, plan.size_hint);
        if (!encoder) {
            exchange.cache.may_store = false;
            skip(SkipCause::kError);
            return FilterResult::next();
        }
        if (algorithm == HttpCompressionAlgorithm::kGzip)
            stats_.gzip_paths[static_cast<size_t>(compression::GzipPath::kStreamed)].fetch_add(
                1, std::memory_order_relaxed);
    }
    remove_header(response.headers, "content-length");
    remove_header(response.headers, "accept-ranges");
    set_header(response.headers, "Content-Encoding", compression::to_token(algorithm));
    for (auto& [name, value] : response.headers)
        if (iequals(name, "etag")) value = compression::weak_etag(value);
    exchange.body_filters.push_back(std::make_unique<CompressBody>(std::move(encoder), plan, stats_, governor_));
    stats_.responses[static_cast<size_t>(algorithm)].fetch_add(1, std::memory_order_relaxed);
    return FilterResult::next();
}

}  // namespace lbd::l7
