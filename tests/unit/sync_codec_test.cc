// Unit tests of the peer-sync wire format (ha/sync_codec.h): handshake keys,
// frame layout, and the reader's answers to split, damaged, replayed,
// foreign, oversize and random input.
#include "ha/sync_codec.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

namespace lbd::ha {
namespace {

using lbd::v1::SyncMessage;
using Status = FrameReader::Result::Status;

const std::string kSharedKey = "0123456789abcdef0123456789abcdef-shared";

Nonce nonce_of(unsigned char fill) {
    Nonce nonce{};
    nonce.fill(fill);
    nonce[0] = 0x42;
    return nonce;
}

// The keys of both ends of one connection.
struct Connection {
    SessionKeys dialer;
    SessionKeys listener;
};

Connection connect(const Nonce& dialer_nonce, const Nonce& listener_nonce, const std::string& key = kSharedKey) {
    auto dialer = derive_session_keys(key, Role::kDialer, dialer_nonce, listener_nonce);
    auto listener = derive_session_keys(key, Role::kListener, listener_nonce, dialer_nonce);
    REQUIRE(dialer);
    REQUIRE(listener);
    return {*dialer, *listener};
}

SyncMessage heartbeat(uint64_t at) {
    SyncMessage message;
    message.mutable_heartbeat()->set_sent_unix_ms(at);
    return message;
}

SyncMessage hello() {
    SyncMessage message;
    auto* h = message.mutable_hello();
    h->set_cluster_id("prod");
    h->set_node_id("lb-a");
    h->set_boot_epoch(0x0102030405060708ULL);
    h->set_protocol_version(1);
    h->set_server_set_digest(std::string(32, '\x7f'));
    return message;
}

std::string encode(FrameWriter& writer, const SyncMessage& message) {
    auto frame = writer.encode(message);
    REQUIRE(frame);
    return *frame;
}

// A frame with any payload and sequence, MAC'd correctly under `key`.
std::string raw_frame(const MacKey& key, uint64_t sequence, const std::string& payload) {
    std::string frame;
    for (int i = 3; i >= 0; --i) frame.push_back(static_cast<char>(payload.size() >> (8 * i)));
    for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>(sequence >> (8 * i)));
    frame += payload;
    auto mac = FrameMac(key).compute(std::string_view(frame).substr(4));
    REQUIRE(mac);
    frame.append(reinterpret_cast<const char*>(mac->data()), mac->size());
    return frame;
}

// Everything the reader gives until it needs more or fails.
std::vector<FrameReader::Result> drain(FrameReader& reader) {
    std::vector<FrameReader::Result> out;
    while (true) {
        auto result = reader.next();
        if (result.status == Status::kNeedMore) return out;
        out.push_back(std::move(result));
        if (out.back().status == Status::kError) return out;
    }
}

FrameError error_of(FrameReader& reader, const std::string& bytes) {
    reader.feed(bytes);
    auto results = drain(reader);
    REQUIRE(!results.empty());
    REQUIRE(results.back().status == Status::kError);
    return results.back().error;
}

std::string hmac_sha256(const MacKey& key, std::string_view data) {
    unsigned char out[32];
    size_t out_len = 0;
    REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out,
                      &out_len) != nullptr);
    return std::string(reinterpret_cast<char*>(out), out_len);
}

MacKey to_key(const std::string& bytes) {
    MacKey key{};
    REQUIRE(bytes.size() == key.size());
    std::copy(bytes.begin(), bytes.end(), key.begin());
    return key;
}

}  // namespace

TEST_CASE("preamble: 40 bytes, read back; a wrong magic is refused at its first byte") {
    Nonce nonce = nonce_of(7);
    std::string preamble = encode_preamble(nonce);
    CHECK(preamble.size() == kPreambleBytes);
    CHECK(preamble.substr(0, 8) == "LBDSYNC1");

    CHECK(decode_preamble(preamble.substr(0, 39)).status == PreambleResult::Status::kNeedMore);
    auto done = decode_preamble(preamble + "first frame bytes");
    REQUIRE(done.status == PreambleResult::Status::kDone);
    CHECK(done.nonce == nonce);
    CHECK(done.consumed == kPreambleBytes);

    CHECK(decode_preamble("G").status == PreambleResult::Status::kMalformed);  // "GET / HTTP/1.1"
    CHECK(decode_preamble("LBDSYNC2").status == PreambleResult::Status::kMalformed);

    auto a = random_nonce(), b = random_nonce();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
}

TEST_CASE("session keys: each direction's send key is the other end's receive key, and they differ") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    CHECK(c.dialer.send == c.listener.receive);
    CHECK(c.listener.send == c.dialer.receive);
    CHECK(c.dialer.send != c.dialer.receive);

    // Fresh nonces on either side give other keys.
    Connection other = connect(nonce_of(1), nonce_of(3));
    CHECK(other.dialer.send != c.dialer.send);
    CHECK(other.dialer.receive != c.dialer.receive);

    // Too short a key, or our own nonce reflected back: no keys.
    CHECK(!derive_session_keys(std::string(31, 'k'), Role::kDialer, nonce_of(1), nonce_of(2)));
    CHECK(!derive_session_keys(kSharedKey, Role::kDialer, nonce_of(1), nonce_of(1)));
}

TEST_CASE("session keys are HKDF-SHA256(shared key, nonce_d || nonce_l, direction label), byte for byte") {
    Nonce d = nonce_of(0xd1), l = nonce_of(0x11);
    Connection c = connect(d, l);
    // RFC 5869 by hand: PRK = HMAC(key = salt, IKM); OKM = HMAC(PRK, info || 0x01).
    std::string salt(reinterpret_cast<const char*>(d.data()), d.size());
    salt.append(reinterpret_cast<const char*>(l.data()), l.size());
    unsigned char prk_bytes[32];
    size_t prk_len = 0;
    REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, salt.data(), salt.size(),
                      reinterpret_cast<const unsigned char*>(kSharedKey.data()), kSharedKey.size(), prk_bytes,
                      sizeof prk_bytes, &prk_len) != nullptr);
    MacKey prk{};
    std::copy(prk_bytes, prk_bytes + prk.size(), prk.begin());
    CHECK(to_key(hmac_sha256(prk, std::string("lbd-sync-v1 dialer->listener") + '\x01')) == c.dialer.send);
    CHECK(to_key(hmac_sha256(prk, std::string("lbd-sync-v1 listener->dialer") + '\x01')) == c.listener.send);
}

TEST_CASE("frame layout: length, sequence, payload, HMAC of sequence||payload, byte for byte") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    SyncMessage message = hello();
    std::string payload = message.SerializeAsString();

    std::string first = encode(writer, message);
    REQUIRE(first.size() == 4 + 8 + payload.size() + 32);
    std::string length = first.substr(0, 4);
    CHECK(static_cast<unsigned char>(length[0]) == ((payload.size() >> 24) & 0xff));
    CHECK(static_cast<unsigned char>(length[1]) == ((payload.size() >> 16) & 0xff));
    CHECK(static_cast<unsigned char>(length[2]) == ((payload.size() >> 8) & 0xff));
    CHECK(static_cast<unsigned char>(length[3]) == (payload.size() & 0xff));
    CHECK(first.substr(4, 8) == std::string("\0\0\0\0\0\0\0\x01", 8));
    CHECK(first.substr(12, payload.size()) == payload);
    CHECK(first.substr(12 + payload.size()) == hmac_sha256(c.dialer.send, first.substr(4, 8 + payload.size())));

    std::string second = encode(writer, message);
    CHECK(second.substr(4, 8) == std::string("\0\0\0\0\0\0\0\x02", 8));
    CHECK(writer.last_sequence() == 2);
    CHECK(second.substr(12, payload.size()) == payload);
    CHECK(second.substr(12 + payload.size()) != first.substr(12 + payload.size()));
}

TEST_CASE("round trip: the listener reads what the dialer wrote, in order, with sequences 1, 2, 3") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    FrameReader reader(c.listener.receive);
    // One statement each: the operands of + have no set order of evaluation.
    std::string stream = encode(writer, hello());
    stream += encode(writer, heartbeat(5));
    stream += encode(writer, heartbeat(6));
    reader.feed(stream);
    auto results = drain(reader);
    REQUIRE(results.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(results[i].status == Status::kMessage);
        CHECK(results[i].sequence == i + 1);
    }
    CHECK(results[0].message.SerializeAsString() == hello().SerializeAsString());
    CHECK(results[2].message.heartbeat().sent_unix_ms() == 6);
    CHECK(reader.buffered() == 0);
}

TEST_CASE("split delivery: one byte at a time gives the same messages") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.listener.send);
    FrameReader reader(c.dialer.receive);
    std::string stream;
    for (int i = 0; i < 5; ++i) stream += encode(writer, i % 2 ? heartbeat(i) : hello());
    std::vector<FrameReader::Result> results;
    for (char byte : stream) {
        reader.feed(std::string_view(&byte, 1));
        for (auto& result : drain(reader)) results.push_back(std::move(result));
    }
    REQUIRE(results.size() == 5);
    for (size_t i = 0; i < results.size(); ++i) {
        CHECK(results[i].status == Status::kMessage);
        CHECK(results[i].sequence == i + 1);
    }
    CHECK(results[3].message.heartbeat().sent_unix_ms() == 3);
}

TEST_CASE("a wrong shared key is kBadMac on the first frame") {
    Connection good = connect(nonce_of(1), nonce_of(2));
    Connection bad = connect(nonce_of(1), nonce_of(2), "another key that is 32 bytes long!");
    FrameWriter writer(bad.dialer.send);
    FrameReader reader(good.listener.receive);
    CHECK(error_of(reader, encode(writer, hello())) == FrameError::kBadMac);
}

TEST_CASE("a flipped bit anywhere in a frame is never accepted") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    const std::string frame = encode(writer, hello());
    for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
        CAPTURE(bit);
        std::string damaged = frame;
        damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
        FrameReader reader(c.listener.receive);
        reader.feed(damaged);
        auto result = reader.next();
        if (result.status == Status::kNeedMore) {
            // A bigger length (still under the limit): the frame is not over
            // yet. Whatever comes next, its MAC cannot match.
            REQUIRE(bit < 32);
            reader.feed(std::string(kMaxPayloadBytes + 64, '\0'));
            result = reader.next();
        }
        REQUIRE(result.status == Status::kError);
        bool expected = result.error == FrameError::kBadMac || result.error == FrameError::kTooLarge;
        CHECK(expected);
    }
}

TEST_CASE("authentic but unusable payloads are kMalformed") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    {
        FrameReader reader(c.listener.receive);
        CHECK(error_of(reader, raw_frame(c.dialer.send, 1, "\xff\xff\xff")) == FrameError::kMalformed);
    }
    {
        FrameReader reader(c.listener.receive);  // parses, but no body is set
        CHECK(error_of(reader, raw_frame(c.dialer.send, 1, "")) == FrameError::kMalformed);
    }
}

TEST_CASE("a replayed frame is kReplay, a skipped one kGap") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    std::string f1 = encode(writer, heartbeat(1));
    std::string f2 = encode(writer, heartbeat(2));
    std::string f3 = encode(writer, heartbeat(3));
    {
        FrameReader reader(c.listener.receive);
        reader.feed(f1 + f2);
        CHECK(drain(reader).size() == 2);
        CHECK(error_of(reader, f1) == FrameError::kReplay);
    }
    {
        FrameReader reader(c.listener.receive);
        reader.feed(f1);
        CHECK(drain(reader).size() == 1);
        CHECK(error_of(reader, f1) == FrameError::kReplay);  // the same frame twice
    }
    {
        FrameReader reader(c.listener.receive);
        CHECK(error_of(reader, f1 + f3) == FrameError::kGap);
    }
    {
        // A frame that claims sequence 0 (never written) is a replay too.
        FrameReader reader(c.listener.receive);
        CHECK(error_of(reader, raw_frame(c.dialer.send, 0, heartbeat(0).SerializeAsString())) ==
              FrameError::kReplay);
    }
}

TEST_CASE("frames of another connection or the other direction are rejected") {
    Connection old_link = connect(nonce_of(1), nonce_of(2));
    FrameWriter old_writer(old_link.dialer.send);
    std::string recorded = encode(old_writer, hello());
    recorded += encode(old_writer, heartbeat(1));

    SUBCASE("replayed into a new connection (the listener drew a new nonce)") {
        Connection new_link = connect(nonce_of(1), nonce_of(9));
        FrameReader reader(new_link.listener.receive);
        CHECK(error_of(reader, recorded) == FrameError::kBadMac);
    }
    SUBCASE("replayed by an attacker who dials with the old dialer's nonce") {
        // The attacker can choose the dialer nonce, not the listener's.
        Connection attack = connect(nonce_of(1), nonce_of(5));
        FrameReader reader(attack.listener.receive);
        CHECK(error_of(reader, recorded) == FrameError::kBadMac);
    }
    SUBCASE("reflected: the dialer's own frames sent back to it") {
        FrameReader reader(old_link.dialer.receive);
        CHECK(error_of(reader, recorded) == FrameError::kBadMac);
    }
}

TEST_CASE("an oversize length is kTooLarge as soon as the 4 length bytes arrive") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    SUBCASE("0xffffffff") {
        FrameReader reader(c.listener.receive);
        reader.feed("\xff\xff");
        CHECK(reader.next().status == Status::kNeedMore);
        reader.feed("\xff\xff");
        auto result = reader.next();
        REQUIRE(result.status == Status::kError);
        CHECK(result.error == FrameError::kTooLarge);
        CHECK(reader.buffered() == 0);
        // It stays failed and keeps nothing.
        reader.feed(std::string(1 << 20, 'x'));
        CHECK(reader.buffered() == 0);
        CHECK(reader.next().error == FrameError::kTooLarge);
    }
    SUBCASE("limit + 1 is refused in feed(), before the body is kept") {
        FrameReader reader(c.listener.receive, 1000);
        reader.feed(std::string("\0\0\x03\xe9", 4) + std::string(500, 'x'));
        CHECK(reader.buffered() == 0);
        CHECK(reader.next().error == FrameError::kTooLarge);
    }
    SUBCASE("exactly the limit waits for the body") {
        FrameReader reader(c.listener.receive, 1000);
        reader.feed(std::string("\0\0\x03\xe8", 4));
        CHECK(reader.next().status == Status::kNeedMore);
    }
}

TEST_CASE("the writer refuses a message over the limit and keeps its sequence") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    SyncMessage big;
    auto* stick = big.mutable_snapshot()->add_sticks();
    stick->set_key(std::string(kMaxPayloadBytes, 'k'));
    CHECK(!writer.encode(big));
    CHECK(writer.last_sequence() == 0);
    CHECK(writer.encode(heartbeat(1)));
    CHECK(writer.last_sequence() == 1);
}

TEST_CASE("fuzz: random and mutated input never crashes and never yields a forged message") {
    Connection c = connect(nonce_of(1), nonce_of(2));
    FrameWriter writer(c.dialer.send);
    std::vector<std::string> frames, payloads;
    std::string stream;
    for (int i = 0; i < 8; ++i) {
        SyncMessage message = i % 3 ? heartbeat(i) : hello();
        payloads.push_back(message.SerializeAsString());
        frames.push_back(encode(writer, message));
        stream += frames.back();
    }
    std::mt19937_64 rng(20240601);
    for (int round = 0; round < 3000; ++round) {
        std::string input;
        if (round % 2 == 0) {
            input.resize(rng() % 400);
            for (char& byte : input) byte = static_cast<char>(rng());
            if (round % 4 == 0 && input.size() >= 4) input[0] = input[1] = 0;  // plausible lengths
        } else {
            input = stream;
            int mutations = 1 + static_cast<int>(rng() % 4);
            for (int m = 0; m < mutations; ++m) {
                size_t at = rng() % input.size();
                switch (rng() % 4) {
                    case 0: input[at] = static_cast<char>(input[at] ^ (1 << (rng() % 8))); break;
                    case 1: input.erase(at, 1 + rng() % 16); break;
                    case 2: input.insert(at, std::string(1 + rng() % 16, static_cast<char>(rng()))); break;
                    case 3: input.insert(at, frames[rng() % frames.size()]); break;
                }
                if (input.empty()) input = "x";
            }
        }
        FrameReader reader(c.listener.receive);
        size_t accepted = 0;
        for (size_t pos = 0; pos < input.size();) {
            size_t n = 1 + rng() % 64;
            reader.feed(std::string_view(input).substr(pos, n));
            pos += n;
            for (auto& result : drain(reader)) {
                if (result.status != Status::kMessage) continue;
                // Anything accepted is the genuine message with that sequence.
                REQUIRE(result.sequence == accepted + 1);
                REQUIRE(result.sequence <= frames.size());
                REQUIRE(result.message.SerializeAsString() == payloads[accepted]);
                ++accepted;
            }
        }
    }
}

}  // namespace lbd::ha
