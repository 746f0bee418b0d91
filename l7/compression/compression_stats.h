// Counters of a listener's compression (lbd_http_compression_* metrics),
// shared by its filters on every worker. Plain types, cheap to include.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace lbd::compression {

// Why a response went out uncompressed: a label of
// lbd_http_compression_skipped_total.
enum class SkipCause : uint8_t {
    kNotAccepted,     // the client's Accept-Encoding takes none of the algorithms
    kAlreadyEncoded,  // Content-Encoding (or a transfer coding besides chunked) present
    kNoTransform,     // Cache-Control: no-transform (request or response)
    kRange,           // a Range request, or a 206
    kNoBody,          // HEAD, 204, 304, or no body
    kStatus,          // status not in `statuses`
    kTooSmall,        // Content-Length under min_length
    kType,            // Content-Type missing or not in `types`
    kRouteOff,        // the route says compression_off
    kCpu,             // the CPU governor is over max_cpu_percent
    kError,           // the encoder could not be made (out of memory)
    kCount
};

const char* to_string(SkipCause cause);

// How a gzip response was compressed: a label of
// lbd_http_compression_gzip_path_total.
enum class GzipPath : uint8_t {
    kWhole,     // held whole, one libdeflate call (whole_body_gzip.h)
    kStreamed,  // zlib's stream: past kWholeBodyCap, or the server paused mid-body
    kCount
};

const char* to_string(GzipPath path);

constexpr size_t kAlgorithms = 3;  // index: HttpCompressionAlgorithm

struct CompressionStats {
    std::array<std::atomic<uint64_t>, kAlgorithms> responses{};
    std::array<std::atomic<uint64_t>, kAlgorithms> bytes_in{};
    std::array<std::atomic<uint64_t>, kAlgorithms> bytes_out{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(SkipCause::kCount)> skipped{};
    // Compressed at level 1 because the governor was near its limit.
    std::atomic<uint64_t> lowered{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(GzipPath::kCount)> gzip_paths{};
};

}  // namespace lbd::compression
