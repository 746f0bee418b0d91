// The peer-sync wire format; the format and the reasons for it are in sync_codec.h.
#include "ha/sync_codec.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>

namespace lbd::ha {

namespace {

using KdfPtr = std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)>;
using MacPtr = std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;

constexpr std::string_view kLabelDialerToListener = "lbd-sync-v1 dialer->listener";
constexpr std::string_view kLabelListenerToDialer = "lbd-sync-v1 listener->dialer";

void put_be(std::string& out, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_be(const char* data, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
    return value;
}

// HKDF-SHA256 (RFC 5869), one 32-byte output.
std::optional<MacKey> hkdf(std::string_view ikm, std::string_view salt, std::string_view info) {
    KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), &EVP_KDF_free);
    if (!kdf) return std::nullopt;
    KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()), &EVP_KDF_CTX_free);
    if (!ctx) return std::nullopt;
    // OSSL_PARAM wants non-const pointers; OpenSSL only reads these.
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
        OSSL_PARAM_construct_end(),
    };
    MacKey out{};
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return std::nullopt;
    return out;
}

std::string_view as_view(const Nonce& nonce) {
    return {reinterpret_cast<const char*>(nonce.data()), nonce.size()};
}

}  // namespace

std::optional<Nonce> random_nonce() {
    Nonce nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) return std::nullopt;
    return nonce;
}

std::string encode_preamble(const Nonce& nonce) {
    std::string out(kPreambleMagic);
    out += as_view(nonce);
    return out;
}

PreambleResult decode_preamble(std::string_view bytes) {
    PreambleResult out;
    // Compare what is here already, so a wrong peer (an HTTP client, an old
    // lbd) is refused at its first byte rather than after 40.
    size_t magic_here = std::min(bytes.size(), kPreambleMagic.size());
    if (bytes.substr(0, magic_here) != kPreambleMagic.substr(0, magic_here)) {
        out.status = PreambleResult::Status::kMalformed;
        return out;
    }
    if (bytes.size() < kPreambleBytes) return out;  // kNeedMore
    std::memcpy(out.nonce.data(), bytes.data() + kPreambleMagic.size(), kNonceBytes);
    out.status = PreambleResult::Status::kDone;
    out.consumed = kPreambleBytes;
    return out;
}

std::optional<SessionKeys> derive_session_keys(std::string_view shared_key, Role role, const Nonce& own_nonce,
                                               const Nonce& peer_nonce) {
    if (shared_key.size() < kMinSharedKeyBytes) return std::nullopt;
    // Equal nonces: our own preamble came back to us (or a broken RNG).
    if (CRYPTO_memcmp(own_nonce.data(), peer_nonce.data(), kNonceBytes) == 0) return std::nullopt;
    const Nonce& dialer = role == Role::kDialer ? own_nonce : peer_nonce;
    const Nonce& listener = role == Role::kDialer ? peer_nonce : own_nonce;
    std::string salt;
    salt += as_view(dialer);
    salt += as_view(listener);
    auto to_listener = hkdf(shared_key, salt, kLabelDialerToListener);
    auto to_dialer = hkdf(shared_key, salt, kLabelListenerToDialer);
    if (!to_listener || !to_dialer) return std::nullopt;
    SessionKeys keys;
    keys.send = role == Role::kDialer ? *to_listener : *to_dialer;
    keys.receive = role == Role::kDialer ? *to_dialer : *to_listener;
    return keys;
}

FrameMac::FrameMac(const MacKey& key) {
    MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr), &EVP_MAC_free);
    if (!mac) return;
    MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()), &EVP_MAC_CTX_free);
    if (!ctx) return;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return;
    ctx_ = ctx.release();
}

FrameMac::~FrameMac() { EVP_MAC_CTX_free(ctx_); }

std::optional<MacKey> FrameMac::compute(std::string_view sequence_and_payload) const {
    if (ctx_ == nullptr) return std::nullopt;
    // A copy of the keyed context: cheaper than setting the key up again,
    // and it leaves ctx_ ready for the next frame.
    MacCtxPtr ctx(EVP_MAC_CTX_dup(ctx_), &EVP_MAC_CTX_free);
    if (!ctx) return std::nullopt;
    MacKey out{};
    size_t out_len = 0;
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(sequence_and_payload.data()),
                       sequence_and_payload.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != out.size()) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> FrameWriter::encode(const lbd::v1::SyncMessage& message) {
    size_t payload_bytes = message.ByteSizeLong();
    if (payload_bytes > kMaxPayloadBytes) return std::nullopt;
    std::string frame;
    frame.reserve(kFrameHeaderBytes + payload_bytes + kMacBytes);
    put_be(frame, payload_bytes, 4);
    put_be(frame, sequence_ + 1, 8);
    if (!message.AppendToString(&frame) || frame.size() != kFrameHeaderBytes + payload_bytes) return std::nullopt;
    auto mac = mac_.compute(std::string_view(frame).substr(4));
    if (!mac) return std::nullopt;
    frame.append(reinterpret_cast<const char*>(mac->data()), mac->size());
    ++sequence_;
    return frame;
}

const char* to_string(FrameError error) {
    switch (error) {
        case FrameError::kTooLarge: return "frame too large";
        case FrameError::kBadMac: return "bad MAC";
        case FrameError::kReplay: return "replayed frame";
        case FrameError::kGap: return "missing frames";
        case FrameError::kMalformed: return "malformed message";
    }
    return "unknown";
}

FrameReader::Result FrameReader::fail(FrameError error) {
    failed_ = error;
    buffer_.clear();
    buffer_.shrink_to_fit();
    start_ = 0;
    Result out;
    out.status = Result::Status::kError;
    out.error = error;
    return out;
}

// False (and the reader failed) once the current frame's length is known to
// be over the limit.
bool FrameReader::check_length() {
    if (buffered() < 4) return true;
    if (get_be(buffer_.data() + start_, 4) <= max_payload_) return true;
    fail(FrameError::kTooLarge);
    return false;
}

void FrameReader::feed(std::string_view bytes) {
    if (failed_) return;
    // Before appending, so a hostile length never gets its body buffered
    // beyond what this one call brought.
    if (!check_length()) return;
    buffer_.append(bytes);
    check_length();
}

FrameReader::Result FrameReader::next() {
    if (failed_) return fail(*failed_);
    if (!check_length()) return fail(FrameError::kTooLarge);
    if (buffered() < kFrameHeaderBytes) return {};
    const char* frame = buffer_.data() + start_;
    size_t payload_bytes = get_be(frame, 4);
    size_t frame_bytes = kFrameHeaderBytes + payload_bytes + kMacBytes;
    if (buffered() < frame_bytes) return {};

    // Authenticate before looking at anything else: the sequence number is
    // only meaningful once we know the peer wrote it.
    std::string_view covered(frame + 4, 8 + payload_bytes);
    auto expected = mac_.compute(covered);
    if (!expected || CRYPTO_memcmp(expected->data(), frame + kFrameHeaderBytes + payload_bytes, kMacBytes) != 0) {
        return fail(FrameError::kBadMac);
    }
    uint64_t sequence = get_be(frame + 4, 8);
    if (sequence <= last_sequence_) return fail(FrameError::kReplay);
    if (sequence != last_sequence_ + 1) return fail(FrameError::kGap);

    Result out;
    if (!out.message.ParseFromArray(frame + kFrameHeaderBytes, static_cast<int>(payload_bytes)) ||
        out.message.body_case() == lbd::v1::SyncMessage::BODY_NOT_SET) {
        return fail(FrameError::kMalformed);
    }
    last_sequence_ = sequence;
    out.status = Result::Status::kMessage;
    out.sequence = sequence;

    start_ += frame_bytes;
    // Drop consumed frames once they are most of the buffer, so a stream of
    // small frames does not shift the buffer for each one.
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    } else if (start_ > buffer_.size() / 2) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    return out;
}

}  // namespace lbd::ha
