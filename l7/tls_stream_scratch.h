// Internal to l7/tls_stream*.cc: the sizes of TlsStream's I/O and the per-thread scratch
// buffers its passes go through (empty between passes: tls_stream.h).
#pragma once

#include <cerrno>
#include <cstddef>
#include <memory>

namespace lbd::l7::tls_stream_detail {

// Most plaintext in one TLS record (RFC 8446 §5.1), and a generous bound on
// what a record adds to it (header, explicit IV, tag or MAC and padding).
constexpr size_t kRecord = 16 * 1024;
constexpr size_t kRecordOverhead = 512;
// Ciphertext per recv(): as socket_io.cc (a 64 KiB evbuffer chain holds it
// decrypted).
constexpr size_t kReadSize = 64 * 1024 - 256;
// Read even at (or past) the high watermark: the commit then runs the
// watermark callback, which suspends reading (as socket_io.cc).
constexpr size_t kMinRead = 4096;

// Per worker thread, empty between passes (tls_stream.h).
struct Scratch {
    char in[kReadSize];                          // ciphertext received
    char out[4 * (kRecord + kRecordOverhead)];   // ciphertext made: 4 records per send()
    size_t out_len = 0;
    char piece[kRecord];  // plaintext gathered into one record when the output is in pieces
};

inline Scratch& scratch() {
    // Heap, not static TLS: glibc carves static TLS out of each thread's stack.
    thread_local std::unique_ptr<Scratch> s = std::make_unique<Scratch>();
    return *s;
}

inline bool is_again(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace lbd::l7::tls_stream_detail
