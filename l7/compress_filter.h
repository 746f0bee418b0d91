// Response compression as a response filter (filter.h): on the server's
// head it decides whether this response is compressed and with what
// (l7/compression/negotiation.h), rewrites the head (Content-Encoding,
// Vary, a weak ETag, no Content-Length, no Accept-Ranges), and installs a
// body stage (body_filter.h) that streams the body through a gzip or
// brotli encoder (l7/compression/encoder.h).
//
// After the header actions, so an operator's `remove: "Vary"` cannot undo
// the Vary that makes caches keep the encodings apart; before the cache's
// store (issue 13), which keeps what this client got, keyed by encoding.
//
// Streaming: each piece of body the session hands over is compressed and
// flushed at once (zlib's sync flush, brotli's flush), as nginx does with
// proxy_buffering off, so a slow or streaming origin's bytes reach the
// client without waiting for the end. A stage holds one encoder and no body
// copy; the session's back-pressure bounds what waits around it.
//
// One filter per listener per worker (worker thread only). The CPU
// governor is the worker's, shared with its other listeners
// (compression/cpu_governor.h); this listener's and its routes' limits are
// read against it.
#pragma once

#include <optional>

#include "core/config/config_http.h"
#include "l7/compression/compression_stats.h"
#include "l7/compression/cpu_governor.h"
#include "l7/filter.h"

namespace lbd::l7 {

class CompressFilter final : public ResponseFilter {
public:
    // `governor`: the worker's (L7Worker::compression_governor()).
    CompressFilter(const HttpConfig& http, compression::CompressionStats& stats, compression::CpuGovernor& governor);
    FilterResult on_response_head(Exchange& exchange) override;

private:
    // The compression of `route` (its own, or the listener's), or null.
    const HttpCompressionConfig* config_for(const HttpRouteConfig* route) const;
    // A reason the response must stay as it is, from the head alone.
    std::optional<compression::SkipCause> response_rule(const Exchange& exchange,
                                                        const HttpCompressionConfig& config) const;
    // From the request: Range, no-transform, Accept-Encoding. Sets `algorithm`.
    std::optional<compression::SkipCause> request_rule(const Exchange& exchange, const HttpCompressionConfig& config,
                                                       HttpCompressionAlgorithm& algorithm) const;
    void skip(compression::SkipCause cause);

    const HttpConfig& http_;
    compression::CompressionStats& stats_;
    compression::CpuGovernor& governor_;
};

}  // namespace lbd::l7
