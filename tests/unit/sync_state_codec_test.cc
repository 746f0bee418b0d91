// The sync state end to end through the real codec (ha/sync_codec.h):
// preamble, Hello, snapshot, changes, acks, a refused cluster, and a million
// stick records framed and applied.
#include <doctest/doctest.h>

#include "tests/unit/sync_state_kit.h"

namespace lbd::ha {
namespace {

// One end of a connection over the real codec: preamble, keys, frames.
struct Endpoint {
    SyncState state;
    Role role;
    Nonce nonce;
    std::string inbox;  // bytes received before the keys exist
    std::optional<FrameWriter> writer;
    std::optional<FrameReader> reader;

    Endpoint(SyncState s, Role r, unsigned char fill) : state(std::move(s)), role(r) { nonce.fill(fill); }

    // Bytes from the peer; returns the messages they completed.
    std::vector<lbd::v1::SyncMessage> receive(const std::string& bytes, const std::string& key) {
        std::vector<lbd::v1::SyncMessage> out;
        if (!reader) {
            inbox += bytes;
            auto preamble = decode_preamble(inbox);
            REQUIRE(preamble.status != PreambleResult::Status::kMalformed);
            if (preamble.status == PreambleResult::Status::kNeedMore) return out;
            auto keys = derive_session_keys(key, role, nonce, preamble.nonce);
            REQUIRE(keys);
            writer.emplace(keys->send);
            reader.emplace(keys->receive);
            reader->feed(std::string_view(inbox).substr(preamble.consumed));
        } else {
            reader->feed(bytes);
        }
        while (true) {
            auto result = reader->next();
            REQUIRE(result.status != FrameReader::Result::Status::kError);
            if (result.status == FrameReader::Result::Status::kNeedMore) return out;
            out.push_back(std::move(result.message));
        }
    }

    std::string send(const lbd::v1::SyncMessage& message) {
        auto frame = writer->encode(message);
        REQUIRE(frame);
        return *frame;
    }
};

}  // namespace

TEST_CASE("end to end over the codec: preamble, Hello, snapshot, changes, acks; a wrong cluster is refused") {
    const std::string key(32, 's');
    Endpoint a(node("lb-a", 11), Role::kDialer, 1), b(node("lb-b", 22), Role::kListener, 2);
    a.state.record_local(stick("10.0.0.1", "s1"), kNow);
    b.state.record_local(health("s2", ServerHealth::DOWN));

    // Both preambles cross; then each side's first frame is its Hello.
    REQUIRE(b.receive(encode_preamble(a.nonce), key).empty());
    REQUIRE(a.receive(encode_preamble(b.nonce), key).empty());
    auto hello_of = [](Endpoint& e, const std::string& cluster) {
        lbd::v1::SyncMessage message;
        *message.mutable_hello() = e.state.make_hello(cluster, kDigest);
        return e.send(message);
    };
    // One round: deliver `bytes` to `to`, let it handle every message, and
    // return what it sends back.
    auto handle = [&](Endpoint& to, const std::string& bytes, const std::string& cluster) {
        std::string reply;
        for (const auto& message : to.receive(bytes, key)) {
            lbd::v1::SyncMessage out;
            switch (message.body_case()) {
                case lbd::v1::SyncMessage::kHello: {
                    auto refusal = hello_check(to.state.make_hello(cluster, kDigest), message.hello());
                    if (refusal) {
                        out.mutable_refusal()->set_reason(*refusal);
                        return to.send(out);
                    }
                    to.state.on_peer_hello(message.hello());
                    if (to.state.needs_snapshot()) {
                        for (auto& chunk : to.state.take_snapshot(kNow, 1000)) {
                            *out.mutable_snapshot() = std::move(chunk);
                            reply += to.send(out);
                        }
                    }
                    break;
                }
                case lbd::v1::SyncMessage::kSnapshot:
                    REQUIRE(to.state.apply_snapshot(message.snapshot(), kNow));
                    *out.mutable_ack() = to.state.make_ack();
                    reply += to.send(out);
                    break;
                case lbd::v1::SyncMessage::kChanges:
                    for (const auto& change : message.changes().changes()) to.state.apply_remote(change, kNow);
                    *out.mutable_ack() = to.state.make_ack();
                    reply += to.send(out);
                    break;
                case lbd::v1::SyncMessage::kAck: to.state.on_ack(message.ack()); break;
                default: FAIL("unexpected message");
            }
        }
        if (auto changes = to.state.take_outgoing(kNow, 100)) {
            lbd::v1::SyncMessage out;
            *out.mutable_changes() = std::move(*changes);
            reply += to.send(out);
        }
        return reply;
    };

    SUBCASE("same cluster: both sync") {
        std::string to_b = hello_of(a, "prod"), to_a = hello_of(b, "prod");
        for (int round = 0; round < 8; ++round) {
            std::string next_to_a = handle(b, to_b, "prod");
            std::string next_to_b = handle(a, to_a, "prod");
            to_a = std::move(next_to_a);
            to_b = std::move(next_to_b);
            if (round == 2) a.state.record_local(stick("10.0.0.2", "s2"), kNow);  // a live change
        }
        CHECK(a.state.synced_with_peer());
        CHECK(b.state.synced_with_peer());
        CHECK(server_of(b.state, "10.0.0.2") == "s2");
        CHECK(a.state.find_health("web", "s2"));
        CHECK(state_of(a.state) == state_of(b.state));
        CHECK(a.state.queued() == 0);
    }
    SUBCASE("another cluster: refused, nothing applied") {
        std::string refusal = handle(b, hello_of(a, "staging"), "prod");
        auto messages = a.receive(refusal, key);
        REQUIRE(messages.size() == 1);
        CHECK(messages[0].refusal().reason() == lbd::v1::Refusal::WRONG_CLUSTER);
        CHECK(b.state.stick_count() == 0);
    }
}

TEST_CASE("one million stick records: snapshot, frame, apply; the peer holds them all") {
    constexpr size_t kRecords = 1'000'000;
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point start) {
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    };
    SyncState a = node("lb-a", 1, 65536), b = node("lb-b", 2);
    auto t0 = Clock::now();
    for (size_t i = 0; i < kRecords; ++i) {
        uint32_t ip = 0x0a000000u + static_cast<uint32_t>(i);
        std::string key(4, '\0');
        for (int byte = 0; byte < 4; ++byte) key[byte] = static_cast<char>(ip >> (8 * (3 - byte)));
        a.record_local(stick(key, i % 2 ? "s1" : "s2"), kNow);
    }
    double fill_ms = ms_since(t0);
    handshake(a, b);

    auto keys_a = derive_session_keys(std::string(32, 'k'), Role::kDialer, Nonce{1}, Nonce{2});
    REQUIRE(keys_a);
    FrameWriter writer(keys_a->send);
    auto keys_b = derive_session_keys(std::string(32, 'k'), Role::kListener, Nonce{2}, Nonce{1});
    REQUIRE(keys_b);
    FrameReader reader(keys_b->receive);

    auto t1 = Clock::now();
    auto chunks = a.take_snapshot(kNow, 10000);
    double snapshot_ms = ms_since(t1);
    auto t2 = Clock::now();
    std::vector<std::string> frames;
    size_t wire_bytes = 0;
    for (auto& chunk : chunks) {
        lbd::v1::SyncMessage message;
        *message.mutable_snapshot() = std::move(chunk);
        auto frame = writer.encode(message);
        REQUIRE(frame);
        wire_bytes += frame->size();
        frames.push_back(std::move(*frame));
    }
    double encode_ms = ms_since(t2);
    auto t3 = Clock::now();
    size_t chunks_applied = 0;
    for (const auto& frame : frames) {
        reader.feed(frame);
        auto result = reader.next();
        REQUIRE(result.status == FrameReader::Result::Status::kMessage);
        REQUIRE(b.apply_snapshot(result.message.snapshot(), kNow));
        ++chunks_applied;
    }
    double apply_ms = ms_since(t3);

    CHECK(b.stick_count() == kRecords);
    CHECK(b.synced_with_peer());
    CHECK(server_of(b, std::string("\x0a\x00\x00\x01", 4)) == "s1");
    std::printf(
        "1M stick records: fill %.0f ms; snapshot %.0f ms (%zu chunks); frame+MAC %.0f ms (%.1f MB); "
        "verify+parse+apply %.0f ms; resync total %.0f ms\n",
        fill_ms, snapshot_ms, chunks_applied, encode_ms, wire_bytes / 1e6, apply_ms,
        snapshot_ms + encode_ms + apply_ms);
}

}  // namespace lbd::ha
