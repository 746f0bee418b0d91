// The peer-sync wire format: a per-connection handshake, then authenticated
// frames that each carry one SyncMessage (core/proto/lbd/v1/sync.proto).
// Pure code: bytes in, bytes or values out; no sockets, no event loop. One
// object per connection and direction, used by one thread.
//
// Threat model
// ------------
// The sync link runs over the LAN between the nodes' own addresses. An
// attacker there can read every byte, inject, drop, reorder and modify
// segments, open connections to the sync port and replay anything it
// recorded earlier. Both nodes hold the same shared key (PeerSync.key_file,
// at least 32 random bytes); the attacker does not.
//   - Needed: integrity and authenticity (only a key holder can write state),
//     replay protection within a connection and across connections (an old
//     "server UP" must never be accepted again), no reflection of a node's
//     own frames back to it.
//   - Not needed: confidentiality. Health states and stick entries (client
//     IPs, stickiness cookie values that lbd itself generates) travel in the
//     clear. Availability: the attacker can always reset the TCP link; the
//     sync then reconnects and resumes.
//
// Handshake and keys
// ------------------
//     dialer                                      listener
//       | --- preamble: "LBDSYNC1" + nonce_d ------> |   plain, 40 bytes each,
//       | <-- preamble: "LBDSYNC1" + nonce_l ------- |   sent at once by both
//       |                                            |
//       |   both derive one key per direction:       |
//       |   K = HKDF-SHA256(ikm  = shared key,       |
//       |                   salt = nonce_d || nonce_l,
//       |                   info = "lbd-sync-v1 dialer->listener"
//       |                       or "lbd-sync-v1 listener->dialer")
//       |                                            |
//       | === frame 1: Hello (MAC under K) ========> |
//       | <====== frame 1: Hello (MAC under K) ===== |
//       | <=== frames 2, 3, ... both ways =========> |
//
// Why this is enough, and why the MAC does not name nodes or boot epochs:
//   - Freshness: each receiver draws its own random nonce for every
//     connection and it is part of the key of every frame it accepts, so a
//     frame recorded on any other connection (even one to the same process,
//     which has the same boot epoch) fails the MAC. Boot epochs are per
//     process and would not stop that; the nonces do, and need no Hello
//     first (the chicken-and-egg of learning the peer's epoch from a Hello
//     that itself must be authenticated).
//   - Within a connection, sequence numbers start at 1 per direction and
//     must grow by exactly 1: a replayed frame is kReplay, a dropped one kGap.
//   - Reflection: the two directions have different keys (the info label),
//     and a peer nonce equal to our own is refused outright.
//   - The preamble is not authenticated, but changing either nonce changes
//     both keys, so the first frame (the Hello) already fails the MAC.
//   - Node ids: anyone with the key could claim any node id, so putting ids in
//     the MAC adds nothing; the Hello (authenticated) carries them and
//     hello_check() compares them.
//
// Frame layout (all integers big-endian):
//     offset 0   4 bytes   payload length N (at most kMaxPayloadBytes)
//     offset 4   8 bytes   sequence number, 1 for the first frame
//     offset 12  N bytes   payload: a serialized SyncMessage
//     offset 12+N 32 bytes HMAC-SHA256 under K of bytes [4, 12+N), i.e.
//                          sequence || payload (fixed-size sequence, so
//                          the input is unambiguous)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "lbd/v1/sync.pb.h"

namespace lbd::ha {

inline constexpr std::string_view kPreambleMagic = "LBDSYNC1";
inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kPreambleBytes = kPreambleMagic.size() + kNonceBytes;
inline constexpr size_t kFrameHeaderBytes = 4 + 8;
inline constexpr size_t kMacBytes = 32;
// Large enough for a snapshot chunk (sync_state.h keeps them near 1 MiB),
// small enough that a hostile length cannot make us buffer much.
inline constexpr uint32_t kMaxPayloadBytes = 4 * 1024 * 1024;
// PeerSync.key_file must hold at least this many bytes.
inline constexpr size_t kMinSharedKeyBytes = 32;

using Nonce = std::array<unsigned char, kNonceBytes>;
using MacKey = std::array<unsigned char, 32>;

// Which end of the TCP connection this node is: it names the two directions.
enum class Role : uint8_t { kDialer, kListener };

// A fresh random nonce (OpenSSL's CSPRNG); nullopt if it failed.
std::optional<Nonce> random_nonce();

// The 40 bytes each side writes first.
std::string encode_preamble(const Nonce& nonce);

struct PreambleResult {
    enum class Status : uint8_t { kNeedMore, kDone, kMalformed };
    Status status = Status::kNeedMore;
    Nonce nonce{};
    // Bytes of the input that belonged to the preamble (kDone only); the
    // rest is the start of the first frame.
    size_t consumed = 0;
};

// Reads the peer's preamble from the start of `bytes`.
PreambleResult decode_preamble(std::string_view bytes);

struct SessionKeys {
    MacKey send{};
    MacKey receive{};
};

// This connection's keys (see the top of the file). nullopt if the shared
// key is shorter than kMinSharedKeyBytes, the nonces are equal (a reflected
// preamble), or OpenSSL failed.
std::optional<SessionKeys> derive_session_keys(std::string_view shared_key, Role role, const Nonce& own_nonce,
                                               const Nonce& peer_nonce);

// HMAC-SHA256 under one key, context set up once and reused per frame.
class FrameMac {
public:
    explicit FrameMac(const MacKey& key);
    ~FrameMac();
    FrameMac(const FrameMac&) = delete;
    FrameMac& operator=(const FrameMac&) = delete;

    // False if OpenSSL could not set the key up (then compute() fails too).
    bool ok() const { return ctx_ != nullptr; }
    // MAC of sequence || payload, as laid out in a frame at bytes [4, 12+N).
    std::optional<MacKey> compute(std::string_view sequence_and_payload) const;

private:
    EVP_MAC_CTX* ctx_ = nullptr;
};

// Frames messages for one direction of one connection.
class FrameWriter {
public:
    explicit FrameWriter(const MacKey& send_key) : mac_(send_key) {}

    // The frame carrying `message` with the next sequence number, ready to
    // write. nullopt (and no sequence used) if it would exceed
    // kMaxPayloadBytes or OpenSSL failed: a local bug, since sync_state.h
    // bounds what it builds.
    std::optional<std::string> encode(const lbd::v1::SyncMessage& message);
    // The sequence number of the last frame encoded (0 before the first).
    uint64_t last_sequence() const { return sequence_; }

private:
    FrameMac mac_;
    uint64_t sequence_ = 0;
};

enum class FrameError : uint8_t {
    kTooLarge,   // the length field exceeds the limit (seen before buffering the body)
    kBadMac,     // wrong key, another connection's frame, or modified bytes
    kReplay,     // authentic, but its sequence is not above the last one
    kGap,        // authentic, but frames before it are missing
    kMalformed,  // authentic, but not a SyncMessage with a body
};
const char* to_string(FrameError error);

// Reassembles and checks the frames of one direction of one connection.
// After an error the reader stays failed (next() repeats the error, feed()
// drops its input): the connection must be closed.
class FrameReader {
public:
    struct Result {
        enum class Status : uint8_t { kNeedMore, kMessage, kError };
        Status status = Status::kNeedMore;
        FrameError error = FrameError::kMalformed;  // kError only
        uint64_t sequence = 0;                      // kMessage only
        lbd::v1::SyncMessage message;               // kMessage only
    };

    explicit FrameReader(const MacKey& receive_key, uint32_t max_payload = kMaxPayloadBytes)
        : mac_(receive_key), max_payload_(max_payload) {}

    // Appends bytes from the socket. A length field over the limit fails
    // the reader as soon as its 4 bytes are here, so the body is never kept.
    // Call next() until kNeedMore after each feed.
    void feed(std::string_view bytes);
    // The next complete frame, checked.
    Result next();
    // Bytes held, waiting for the rest of a frame.
    size_t buffered() const { return buffer_.size() - start_; }

private:
    Result fail(FrameError error);
    bool check_length();

    FrameMac mac_;
    uint32_t max_payload_;
    std::string buffer_;
    size_t start_ = 0;  // where the current frame starts in buffer_
    uint64_t last_sequence_ = 0;
    std::optional<FrameError> failed_;
};

}  // namespace lbd::ha
