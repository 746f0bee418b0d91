#include "l7/compression/encoder.h"

#include <brotli/encode.h>
#include <zlib.h>

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
        if (size_hint != 0)
            BrotliEncoderSetParameter(state_, BROTLI_PARAM_SIZE_HINT,
                                      static_cast<uint32_t>(std::min<uint64_t>(size_hint, 1u << 30)));
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
    BrotliEncoderState* state_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> make_encoder(HttpCompressionAlgorithm algorithm, uint32_t level, uint64_t size_hint) {
    if (algorithm == HttpCompressionAlgorithm::kGzip) {
        auto encoder = std::make_unique<GzipEncoder>();
        return encoder->init(level, size_hint) ? std::move(encoder) : nullptr;
    }
    auto encoder = std::make_unique<BrotliEncoder>();
    return encoder->init(level, size_hint) ? std::move(encoder) : nullptr;
}

}  // namespace lbd::compression
