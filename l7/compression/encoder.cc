#include "l7/compression/encoder.h"

#include <brotli/encode.h>
#include <zlib.h>
// ZSTD_getCParams and ZSTD_adjustCParams (exported by the shared library,
// stable since 1.3) to size the hash tables along with the window.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <bit>

namespace lbd::compression {
namespace {

// The smallest window (log2 bytes) that holds `size`, within [low, high]:
// a window longer than the body finds no more matches, it only costs memory.
int window_bits(uint64_t size, int low, int high) {
    if (size == 0) return high;
    const int bits = static_cast<int>(std::bit_width(size - 1));
    return std::clamp(bits, low, high);
}

class GzipEncoder final : public Encoder {
public:
    ~GzipEncoder() override {
        if (ready_) deflateEnd(&z_);
    }
    bool init(uint32_t level, uint64_t size_hint) {
        // windowBits 9..15 (+16: a gzip wrapper, RFC 1952); memLevel follows
        // the window as nginx's gzip does: deflate's state is about
        // 2^(wbits+2) + 2^(memlevel+9) bytes, 256 KiB at 15/8.
        const int wbits = window_bits(size_hint, 9, 15);
        const int mem_level = std::clamp(wbits - 7, 1, 8);
        ready_ = deflateInit2(&z_, static_cast<int>(level), Z_DEFLATED, wbits + 16, mem_level, Z_DEFAULT_STRATEGY) ==
                 Z_OK;
        return ready_;
    }
    Step run(const uint8_t*& in, size_t& in_len, uint8_t*& out, size_t& out_len, Mode mode) override {
        // zlib counts in uInt: feed at most 1 GiB per call.
        const uInt give = static_cast<uInt>(std::min<size_t>(in_len, size_t{1} << 30));
        z_.next_in = const_cast<Bytef*>(in);
        z_.avail_in = give;
        z_.next_out = out;
        z_.avail_out = static_cast<uInt>(std::min<size_t>(out_len, size_t{1} << 30));
        const uInt out_before = z_.avail_out;
        const int flush = mode == Mode::kFinish ? Z_FINISH : mode == Mode::kFlush ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        const int rc = deflate(&z_, flush);
        const size_t taken = give - z_.avail_in;
        const size_t written = out_before - z_.avail_out;
        in += taken;
        in_len -= taken;
        out += written;
        out_len -= written;
        if (rc == Z_STREAM_END) return Step::kDone;
        // Z_BUF_ERROR: no progress possible, which a full window explains.
        if (rc != Z_OK && rc != Z_BUF_ERROR) return Step::kError;
        // zlib: with the window not filled, everything asked for is done.
        if (z_.avail_out == 0 || in_len > 0) return Step::kNeedOutput;
        return mode == Mode::kFinish ? Step::kNeedOutput : Step::kDone;
    }

private:
    z_stream z_{};
    bool ready_ = false;
};

class BrotliEncoder final : public Encoder {
public:
    ~BrotliEncoder() override {
        if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
    }
    bool init(uint32_t level, uint64_t size_hint) {
        state_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
        if (state_ == nullptr) return false;
        BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, level);
        // A 256 KiB window at most (brotli's default is 4 MiB): the ring
        // buffer is the encoder's largest allocation, and a response stream
        // gains little from matches further back.
        BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, static_cast<uint32_t>(window_bits(size_hint, 10, 18)));
        // The size hint is capped under 1 MiB: at a hint of 1 MiB or more,
        // quality 4 switches to a hasher of 2^20 buckets (4 MiB; 3.1 MiB a
        // stream measured with 4 MiB bodies against 1 MiB without a hint),
        // for a few percent of ratio (bench/README.md).
        if (size_hint != 0)
            BrotliEncoderSetParameter(state_, BROTLI_PARAM_SIZE_HINT,
                                      static_cast<uint32_t>(std::min<uint64_t>(size_hint, kMaxSizeHint)));
        return true;
    }
    Step run(const uint8_t*& in, size_t& in_len, uint8_t*& out, size_t& out_len, Mode mode) override {
        const BrotliEncoderOperation op = mode == Mode::kFinish  ? BROTLI_OPERATION_FINISH
                                          : mode == Mode::kFlush ? BROTLI_OPERATION_FLUSH
                                                                 : BROTLI_OPERATION_PROCESS;
        if (!BrotliEncoderCompressStream(state_, op, &in_len, &in, &out_len, &out, nullptr)) return Step::kError;
        if (BrotliEncoderHasMoreOutput(state_) || in_len > 0) return Step::kNeedOutput;
        if (mode == Mode::kFinish && !BrotliEncoderIsFinished(state_)) return Step::kNeedOutput;
        return Step::kDone;
    }

private:
    static constexpr uint64_t kMaxSizeHint = (1u << 20) - 1;
    BrotliEncoderState* state_ = nullptr;
};

class ZstdEncoder final : public Encoder {
public:
    ~ZstdEncoder() override { ZSTD_freeCCtx(cctx_); }
    bool init(uint32_t level, uint64_t size_hint) {
        cctx_ = ZSTD_createCCtx();
        if (cctx_ == nullptr) return false;
        // RFC 9659 3: a decoder of `Content-Encoding: zstd` may refuse a
        // window over 8 MiB (Chrome does), so 2^23 is the ceiling
        // whatever the level. lbd stays well under it, at 512 KiB, for
        // memory: the window and the hash tables sized to it are most of a
        // stream's state (3.5 MiB at level 3's own 2 MiB window, 2 MiB at
        // 512 KiB), and a response gains little from matches further back.
        // A body of known length gets a window and tables that fit it.
        static_assert(kMaxWindowLog <= 23, "RFC 9659: browsers decode windows up to 8 MiB");
        ZSTD_compressionParameters params = ZSTD_getCParams(static_cast<int>(level), size_hint, 0);
        params.windowLog = static_cast<unsigned>(window_bits(size_hint, ZSTD_WINDOWLOG_MIN, kMaxWindowLog));
        params = ZSTD_adjustCParams(params, size_hint == 0 ? ZSTD_CONTENTSIZE_UNKNOWN : size_hint, 0);
        return set(ZSTD_c_compressionLevel, static_cast<int>(level)) && set(ZSTD_c_windowLog, params.windowLog) &&
               set(ZSTD_c_hashLog, params.hashLog) && set(ZSTD_c_chainLog, params.chainLog);
    }
    Step run(const uint8_t*& in, size_t& in_len, uint8_t*& out, size_t& out_len, Mode mode) override {
        const ZSTD_EndDirective op = mode == Mode::kFinish  ? ZSTD_e_end
                                     : mode == Mode::kFlush ? ZSTD_e_flush
                                                            : ZSTD_e_continue;
        ZSTD_inBuffer input{in, in_len, 0};
        ZSTD_outBuffer output{out, out_len, 0};
        const size_t left = ZSTD_compressStream2(cctx_, &output, &input, op);
        in += input.pos;
        in_len -= input.pos;
        out += output.pos;
        out_len -= output.pos;
        if (ZSTD_isError(left)) return Step::kError;
        if (in_len > 0) return Step::kNeedOutput;
        // e_flush / e_end: `left` is what is still to come out (0: all of it).
        if (mode != Mode::kNone && left != 0) return Step::kNeedOutput;
        return Step::kDone;
    }

private:
    static constexpr int kMaxWindowLog = 19;
    bool set(ZSTD_cParameter param, int value) { return !ZSTD_isError(ZSTD_CCtx_setParameter(cctx_, param, value)); }
    bool set(ZSTD_cParameter param, unsigned value) { return set(param, static_cast<int>(value)); }
    ZSTD_CCtx* cctx_ = nullptr;
};

template <typename T>
std::unique_ptr<Encoder> make(uint32_t level, uint64_t size_hint) {
    auto encoder = std::make_unique<T>();
    return encoder->init(level, size_hint) ? std::move(encoder) : nullptr;
}

}  // namespace

std::unique_ptr<Encoder> make_encoder(HttpCompressionAlgorithm algorithm, uint32_t level, uint64_t size_hint) {
    switch (algorithm) {
        case HttpCompressionAlgorithm::kGzip: return make<GzipEncoder>(level, size_hint);
        case HttpCompressionAlgorithm::kBrotli: return make<BrotliEncoder>(level, size_hint);
        case HttpCompressionAlgorithm::kZstd: return make<ZstdEncoder>(level, size_hint);
    }
    return nullptr;
}

}  // namespace lbd::compression
