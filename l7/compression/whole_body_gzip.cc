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

// libdeflate's levels are 0-12; lbd's gzip levels zlib's 1-9.
constexpr uint32_t kMaxLevel = 12;

libdeflate_compressor* compressor_for(uint32_t level) {
    thread_local std::array<CompressorPtr, kMaxLevel + 1> compressors;
    if (level > kMaxLevel) return nullptr;
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
