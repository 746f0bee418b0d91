// The RFC 6455 handshake lbd makes for an RFC 8441 stream (h2_websocket.h).
#include "l7/h2_websocket.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace lbd::l7::websocket {

namespace {

std::string base64(const unsigned char* data, size_t size) {
    unsigned char out[64];  // callers give at most 20 bytes (28 characters)
    const int n = EVP_EncodeBlock(out, data, static_cast<int>(size));
    return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

}  // namespace

std::string new_key() {
    unsigned char nonce[16];
    // The key only proves the server speaks WebSocket (not a secret): a
    // failing DRBG still yields a usable, if predictable, key.
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        for (size_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<unsigned char>(i * 37 + 11);
    return base64(nonce, sizeof nonce);
}

std::string accept_for(std::string_view key) {
    std::string input(key);
    input.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
    return base64(digest, len);
}

void add_handshake(RequestInfo& request, const std::string& key) {
    request.headers.emplace_back("sec-websocket-key", key);
    if (find_header(request.headers, "sec-websocket-version") == nullptr)
        request.headers.emplace_back("sec-websocket-version", "13");
}

bool accepted(const ResponseInfo& response, std::string_view key) {
    if (response.status != 101 || !iequals(response.upgrade_protocol, "websocket")) return false;
    const std::string* accept = find_header(response.headers, "sec-websocket-accept");
    const std::string expected = accept_for(key);
    return accept != nullptr && !expected.empty() && *accept == expected;
}

}  // namespace lbd::l7::websocket
