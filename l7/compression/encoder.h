// Streaming encoders (zlib's gzip, brotli, zstd) behind one interface, fed and
// drained in pieces so a response never has to be whole in memory: the
// caller gives input and an output window, the encoder moves what it can.
// One encoder per compressing response; no event loop, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/config/config_http.h"

namespace lbd::compression {

class Encoder {
public:
    // kNone: keep what does not fill a block (best ratio). kFlush: emit
    // everything taken so far, so a client sees the bytes of a slow or
    // streaming origin now (zlib Z_SYNC_FLUSH, brotli FLUSH, zstd e_flush). kFinish: the
    // end of the stream, with its trailer.
    enum class Mode : uint8_t { kNone, kFlush, kFinish };
    enum class Step : uint8_t {
        kNeedOutput,  // the output window is full: call again with more
        kDone,        // all input taken, and (kFlush/kFinish) all of it out
        kError,       // the library failed (out of memory): drop the response
    };

    virtual ~Encoder() = default;
    // Takes from [in, in + in_len) and writes to [out, out + out_len),
    // advancing both pointers and shrinking both lengths.
    virtual Step run(const uint8_t*& in, size_t& in_len, uint8_t*& out, size_t& out_len, Mode mode) = 0;
};

// An encoder at `level` (zlib 1..9, brotli 0..11, zstd 1..19). `size_hint`: the body's
// length when the server said it (0 = unknown): a small body gets a small
// window, and so a small allocation (nginx does the same for gzip).
// Null when the library cannot allocate its state.
std::unique_ptr<Encoder> make_encoder(HttpCompressionAlgorithm algorithm, uint32_t level, uint64_t size_hint);

}  // namespace lbd::compression
