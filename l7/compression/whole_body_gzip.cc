#include "l7/compression/whole_body_gzip.h"

#include <libdeflate.h>

#include <array>
#include <memory>

namespace lbd::compression {
namespace {

struct CompressorDeleter {
    void operator()(libdeflate_compressor* compressor) const { libdeflate_free_compressor(compressor); }
};
using CompressorPtr = std::unique_ptr<libdeflate_compressor, CompressorDeleter>;

// libdeflate's levels are 0-12, lbd's gzip levels zlib's 1-9. For each of
// zlib's, the lowest of libdeflate's whose output is no larger than zlib's
// on bench/compress.sh's 100 KiB JSON and HTML bodies (2026-12-06, libdeflate
// 1.14, zlib 1.2.13): libdeflate's own 5 and 6 are 0.5% and 3% larger than
// zlib's on the JSON (its 7: 14807 bytes against zlib 6's 15352, HTML 12188
// against 12838, still faster than zlib 6). The same level otherwise.
constexpr std::array<uint8_t, 10> kLibdeflateLevel = {0, 1, 2, 3, 4, 6, 7, 7, 8, 9};
constexpr uint32_t kMaxLevel = 12;

libdeflate_compressor* compressor_for(uint32_t zlib_level) {
    thread_local std::array<CompressorPtr, kMaxLevel + 1> compressors;
    if (zlib_level >= kLibdeflateLevel.size()) return nullptr;
    const uint32_t level = kLibdeflateLevel[zlib_level];
    CompressorPtr& compressor = compressors[level];
    if (!compressor) compressor.reset(libdeflate_alloc_compressor(static_cast<int>(level)));
    return compressor.get();
}

}  // namespace

size_t whole_body_gzip_bound(size_t input_size) {
    // Null: the bound over every compressor this build of libdeflate could make.
    return libdeflate_gzip_compress_bound(nullptr, input_size);
}

size_t whole_body_gzip(std::span<const uint8_t> input, std::span<uint8_t> out, uint32_t level) {
    libdeflate_compressor* compressor = compressor_for(level);
    if (compressor == nullptr) return 0;
    return libdeflate_gzip_compress(compressor, input.data(), input.size(), out.data(), out.size());
}

}  // namespace lbd::compression
