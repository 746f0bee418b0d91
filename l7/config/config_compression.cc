// Checks a listener's or a route's `compression` block (lbd.v1.Compression)
// and builds the typed HttpCompressionConfig with its defaults. Part of the
// config loader (config_http.cc calls it).
#include <algorithm>
#include <string>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

constexpr const char* kDefaultStatuses = "200-299,400-599";
constexpr uint32_t kMinWindowMs = 100;
constexpr uint32_t kMaxWindowMs = 60000;

const char* const kDefaultTypes[] = {"text/*",          "application/json",      "application/javascript",
                                     "application/xml", "application/xhtml+xml", "image/svg+xml"};

// "type/subtype" or "type/*", tokens only (RFC 9110 8.3.1), no parameters.
bool is_media_range(const std::string& s) {
    const size_t slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return false;
    const std::string type = s.substr(0, slash), sub = s.substr(slash + 1);
    return is_token(type) && type != "*" && (sub == "*" || is_token(sub));
}

void check_algorithms(const pb::Compression& msg, const Node& node, HttpCompressionConfig& out, Errors& errors) {
    using F = pb::Compression;
    if (msg.algorithms_size() == 0) {
        out.algorithms = {HttpCompressionAlgorithm::kBrotli, HttpCompressionAlgorithm::kGzip};
        return;
    }
    for (int i = 0; i < msg.algorithms_size(); ++i) {
        const std::string& name = msg.algorithms(i);
        HttpCompressionAlgorithm algorithm;
        if (name == "br") {
            algorithm = HttpCompressionAlgorithm::kBrotli;
        } else if (name == "gzip") {
            algorithm = HttpCompressionAlgorithm::kGzip;
        } else if (name == "zstd") {
            algorithm = HttpCompressionAlgorithm::kZstd;
        } else {
            errors.add(node.at(F::kAlgorithmsFieldNumber, i), "unknown compression algorithm " + quote(name) +
                                                                  " (expected \"br\", \"gzip\" or \"zstd\")");
            continue;
        }
        if (std::find(out.algorithms.begin(), out.algorithms.end(), algorithm) != out.algorithms.end())
            errors.add(node.at(F::kAlgorithmsFieldNumber, i), "compression algorithm " + quote(name) + " listed twice");
        else
            out.algorithms.push_back(algorithm);
    }
}

void check_types(const pb::Compression& msg, const Node& node, HttpCompressionConfig& out, Errors& errors) {
    if (msg.types_size() == 0) {
        out.types.assign(std::begin(kDefaultTypes), std::end(kDefaultTypes));
        return;
    }
    for (int i = 0; i < msg.types_size(); ++i) {
        std::string type = msg.types(i);
        std::transform(type.begin(), type.end(), type.begin(), http1::to_lower_ascii);
        if (!is_media_range(type))
            errors.add(node.at(pb::Compression::kTypesFieldNumber, i),
                       "compression: bad type " + quote(msg.types(i)) + " (expected type/subtype or type/*)");
        out.types.push_back(std::move(type));
    }
}

}  // namespace

HttpCompressionConfig check_compression(const pb::Compression& msg, const Node& node, Errors& errors) {
    using F = pb::Compression;
    HttpCompressionConfig out;
    check_algorithms(msg, node, out, errors);
    check_types(msg, node, out, errors);
    if (node.written(F::kGzipLevelFieldNumber)) out.gzip_level = msg.gzip_level();
    if (out.gzip_level < 1 || out.gzip_level > 9)
        errors.add(node.at(F::kGzipLevelFieldNumber),
                   "gzip_level " + std::to_string(out.gzip_level) + " out of range 1..9");
    if (node.written(F::kBrotliLevelFieldNumber)) out.brotli_level = msg.brotli_level();
    if (out.brotli_level > 11)
        errors.add(node.at(F::kBrotliLevelFieldNumber),
                   "brotli_level " + std::to_string(out.brotli_level) + " out of range 0..11");
    if (node.written(F::kZstdLevelFieldNumber)) out.zstd_level = msg.zstd_level();
    // 20..22 are zstd's "ultra" levels, made for windows over the 8 MiB a
    // browser decodes (RFC 9659); 19 already costs ~80 MiB a stream.
    if (out.zstd_level < 1 || out.zstd_level > 19)
        errors.add(node.at(F::kZstdLevelFieldNumber),
                   "zstd_level " + std::to_string(out.zstd_level) + " out of range 1..19");
    if (node.written(F::kMinLengthFieldNumber)) out.min_length = msg.min_length();
    std::string why;
    const std::string statuses = msg.statuses().empty() ? kDefaultStatuses : msg.statuses();
    if (auto parsed = StatusRanges::parse(statuses, &why))
        out.statuses = std::move(*parsed);
    else
        errors.add(node.at(F::kStatusesFieldNumber), "compression statuses: " + why);
    out.max_cpu_percent = msg.max_cpu_percent();
    if (out.max_cpu_percent > 100)
        errors.add(node.at(F::kMaxCpuPercentFieldNumber),
                   "max_cpu_percent " + std::to_string(out.max_cpu_percent) + " out of range 0..100");
    out.cpu_window_ms = or_default(msg.cpu_window_ms(), out.cpu_window_ms);
    if (out.cpu_window_ms < kMinWindowMs || out.cpu_window_ms > kMaxWindowMs)
        errors.add(node.at(F::kCpuWindowMsFieldNumber), "cpu_window_ms " + std::to_string(out.cpu_window_ms) +
                                                            " out of range " + std::to_string(kMinWindowMs) + ".." +
                                                            std::to_string(kMaxWindowMs));
    return out;
}

}  // namespace lbd::config_check
