// gzip of a body held whole, in one call (libdeflate): the fast path of a
// gzip response whose body fits kWholeBodyCap and comes without a pause
// (l7/compress_filter.cc decides; a longer or slower body streams through
// zlib, encoder.h).
//
// Why libdeflate, and one-shot: with the whole input at hand a DEFLATE
// encoder keeps no window between calls and makes no sync flush, and
// libdeflate's match finders and block splitting (each block's Huffman
// codes chosen from the whole block) make output as small as zlib's in
// less time (for zlib's level 6, libdeflate's 7: 4% smaller on the bench's
// JSON, 5% on its HTML; bench/README.md has the figures). It is Debian's
// (libdeflate0, used by libtiff and htslib); a DEFLATE encoder is not
// something to write by hand. It has no streaming interface, hence the cap
// and the fall back to zlib.
//
// Worker thread: each thread has its own compressor per level, made on first
// use and kept until the thread ends (a compressor is a few hundred KiB of
// tables; libdeflate's compressors must not be shared between threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace lbd::compression {

// The most a body is held for the one-shot path: a longer one (or one whose
// Content-Length says so) streams through zlib. 256 KiB: far above most
// JSON, HTML, CSS and JS responses, and what a slow client of an
// unknown-length body can cost at most besides the zlib encoder it then gets.
inline constexpr size_t kWholeBodyCap = 256 * 1024;

// The most whole_body_gzip() writes for `input_size` bytes, any level.
size_t whole_body_gzip_bound(size_t input_size);

// `input` as one gzip member (RFC 1952) at `level` (1-9, zlib's meaning:
// mapped to the libdeflate level whose output is no larger than zlib's)
// into `out`: the bytes written, or 0 when this thread's compressor could
// not be made (out of memory) or `out` is shorter than the bound.
size_t whole_body_gzip(std::span<const uint8_t> input, std::span<uint8_t> out, uint32_t level);

}  // namespace lbd::compression
