// The peer-sync link: what flows on one connection. Preambles and keys,
// Hello and its check, snapshot or resume, changes, acks, heartbeats and
// refusals (sync_link.h has the machine; sync_state.h the rules).
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>
#include <sys/uio.h>

#include "core/base/log.h"
#include "ha/sync_link_impl.h"

namespace lbd::ha {
namespace {

using Impl = SyncLink::Impl;
using lbd::v1::Refusal;
using lbd::v1::SyncMessage;

const std::string& reason_name(Refusal::Reason reason) { return Refusal::Reason_Name(reason); }

std::string hex_prefix(std::string_view bytes) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes.substr(0, 4)) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    return out.empty() ? "none" : out;
}

// One line for both logs: what this node expected and what the peer sent.
std::string refusal_detail(Refusal::Reason reason, const lbd::v1::Hello& ours, const lbd::v1::Hello& theirs) {
    switch (reason) {
        case Refusal::WRONG_CLUSTER:
            return "expected cluster \"" + printable(ours.cluster_id()) + "\", got \"" +
                   printable(theirs.cluster_id()) + "\"";
        case Refusal::BAD_VERSION:
            return "speaks sync protocol " + std::to_string(ours.protocol_version()) + ", got " +
                   std::to_string(theirs.protocol_version());
        case Refusal::DUPLICATE_NODE_ID:
            return "both nodes are named \"" + printable(theirs.node_id()) + "\" (node ids must differ)";
        case Refusal::SERVER_SET_MISMATCH:
            return "the pools name different servers (server set digest " + hex_prefix(ours.server_set_digest()) +
                   "... here, " + hex_prefix(theirs.server_set_digest()) + "... there)";
        default:
            return "refused";
    }
}

const char* body_name(const SyncMessage& message) {
    switch (message.body_case()) {
        case SyncMessage::kHello: return "Hello";
        case SyncMessage::kSnapshot: return "Snapshot";
        case SyncMessage::kChanges: return "Changes";
        case SyncMessage::kAck: return "Ack";
        case SyncMessage::kHeartbeat: return "Heartbeat";
        case SyncMessage::kRefusal: return "Refusal";
        case SyncMessage::BODY_NOT_SET: break;
    }
    return "nothing";
}

}  // namespace

// --- handshake -----------------------------------------------------------------

void Impl::on_connected(Connection* c) {
    ++stats_.connects;
    c->phase = Phase::kPreamble;
    auto nonce = random_nonce();
    if (!nonce) return close(c, "no random nonce (OpenSSL)", Backoff::kNormal);
    c->nonce = *nonce;
    send_raw(c, encode_preamble(c->nonce));
}

bool Impl::read_preamble(Connection* c, evbuffer* in) {
    size_t want = std::min(evbuffer_get_length(in), kPreambleBytes);
    const auto* head = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(want)));
    PreambleResult preamble = decode_preamble(std::string_view(head, want));
    if (preamble.status == PreambleResult::Status::kNeedMore) return false;
    if (preamble.status == PreambleResult::Status::kMalformed) {
        close(c, "not an lbd sync peer (bad preamble)", Backoff::kNormal);
        return false;
    }
    evbuffer_drain(in, preamble.consumed);
    stats_.bytes_received += preamble.consumed;
    auto keys = derive_session_keys(options_.shared_key, c->role, c->nonce, preamble.nonce);
    if (!keys) {
        close(c, "no session keys (the peer echoed our nonce, or OpenSSL failed)", Backoff::kNormal);
        return false;
    }
    c->reader.emplace(keys->receive);
    c->writer.emplace(keys->send);
    c->phase = Phase::kHello;
    c->hello = state_.make_hello(options_.cluster_id, options_.server_set_digest);
    SyncMessage message;
    *message.mutable_hello() = c->hello;
    return send(c, message);
}

void Impl::on_readable(Connection* c) {
    if (c->closed) return;
    evbuffer* in = bufferevent_get_input(c->bev);
    if (c->phase == Phase::kPreamble && !read_preamble(c, in)) return;
    if (!c->reader) return;
    // Everything buffered goes to the FrameReader, which keeps partial frames.
    size_t length = evbuffer_get_length(in);
    int count = evbuffer_peek(in, static_cast<ev_ssize_t>(length), nullptr, nullptr, 0);
    std::vector<evbuffer_iovec> chunks(static_cast<size_t>(std::max(count, 0)));
    evbuffer_peek(in, static_cast<ev_ssize_t>(length), nullptr, chunks.data(), count);
    for (const auto& chunk : chunks) c->reader->feed({static_cast<const char*>(chunk.iov_base), chunk.iov_len});
    evbuffer_drain(in, length);
    stats_.bytes_received += length;
    // Any bytes from the peer show it alive, a part of a big frame too (a
    // snapshot chunk or a batch of changes on a slow or loaded link).
    if (length > 0) c->last_heard_ms = last_heard_ms_ = monotonic_ms();
    read_frames(c);
}

void Impl::read_frames(Connection* c) {
    while (!c->closed && !c->reads_paused && !c->inbound) {
        FrameReader::Result result = c->reader->next();
        if (result.status == FrameReader::Result::Status::kNeedMore) return;
        if (result.status == FrameReader::Result::Status::kError) {
            // A failed reader after our own Refusal: just wait for the close.
            if (c->phase != Phase::kClosing) on_frame_error(c, result.error);
            return;
        }
        ++stats_.frames_received;
        c->heard_since_hello = c->phase == Phase::kUp;
        c->last_heard_ms = last_heard_ms_ = monotonic_ms();
        on_message(c, result.message);
    }
}

void Impl::on_frame_error(Connection* c, FrameError error) {
    if (error != FrameError::kBadMac) {
        LOG_WARN("peer sync: %s from %s; closing", to_string(error), c->name().c_str());
        return close(c, std::string("frame error: ") + to_string(error), Backoff::kNormal);
    }
    ++stats_.auth_failures;
    LOG_ERROR("peer sync: a frame from %s failed authentication (bad MAC): the nodes' sync keys differ, "
              "or someone is tampering with the link; closing",
              c->name().c_str());
    // The peer can verify this only if its key is right, i.e. if someone
    // else tampered with the stream; then it tells its log why we closed.
    refuse(c, Refusal::AUTH, "a frame failed authentication", Backoff::kLong);
}

void Impl::refuse(Connection* c, Refusal::Reason reason, const std::string& detail, Backoff backoff) {
    SyncMessage message;
    message.mutable_refusal()->set_reason(reason);
    message.mutable_refusal()->set_detail(detail);
    ++stats_.refusals_sent[reason_name(reason)];
    if (send(c, message)) begin_closing(c, "refused: " + reason_name(reason) + ": " + detail, backoff);
}

// --- messages ------------------------------------------------------------------

void Impl::on_message(Connection* c, SyncMessage& message) {
    if (message.has_refusal()) return on_refusal(c, message.refusal());
    switch (c->phase) {
        case Phase::kClosing: return;  // after our Refusal, only the peer's Refusal matters
        case Phase::kHello:
            if (!message.has_hello()) break;
            return on_hello(c, message.hello());
        case Phase::kUp:
            switch (message.body_case()) {
                case SyncMessage::kSnapshot: return on_snapshot(c, *message.mutable_snapshot());
                case SyncMessage::kChanges: return on_changes(c, message.changes());
                case SyncMessage::kAck: return on_ack(c, message.ack());
                case SyncMessage::kHeartbeat: return;
                default: break;
            }
            break;
        default: break;
    }
    LOG_WARN("peer sync: unexpected %s from %s; closing", body_name(message), c->name().c_str());
    close(c, std::string("protocol error: unexpected ") + body_name(message), Backoff::kNormal);
}

void Impl::on_hello(Connection* c, const lbd::v1::Hello& peer) {
    c->peer_node = printable(peer.node_id(), 64);
    if (auto reason = hello_check(c->hello, peer)) {
        std::string detail = refusal_detail(*reason, c->hello, peer);
        LOG_ERROR("peer sync: refused peer %s (node %s): %s: %s", c->remote.to_string().c_str(), c->peer_node.c_str(),
                  reason_name(*reason).c_str(), detail.c_str());
        return refuse(c, *reason, detail, Backoff::kLong);
    }
    // Its Hello frame passed the MAC check: it holds the key.
    if (c == candidate_.get()) promote_candidate();
    SyncState::Start start = state_.on_peer_hello(peer);
    c->phase = Phase::kUp;
    ++stats_.links_up;
    backoff_ms_ = kDialBackoffStartMs;
    last_failure_.clear();
    // A snapshot, if owed, is built by flush() once our Hello is on the wire.
    bool snapshot = start == SyncState::Start::kSnapshot || state_.needs_snapshot();
    LOG_INFO("peer sync: link up with %s, %s", c->name().c_str(), snapshot ? "snapshot" : "resume");
    observer_.link_changed(true, c->peer_node);
    schedule_flush();
}

void Impl::on_refusal(Connection* c, const Refusal& refusal) {
    std::string reason = Refusal::Reason_IsValid(refusal.reason()) ? reason_name(refusal.reason())
                                                                    : std::to_string(refusal.reason());
    ++stats_.refusals_received[reason];
    LOG_ERROR("peer sync: peer %s refused this node: %s: %s", c->name().c_str(), reason.c_str(),
              printable(refusal.detail(), 200).c_str());
    // After our own Refusal the close is already under way.
    if (c->phase != Phase::kClosing) close(c, "refused by the peer: " + reason, Backoff::kLong);
}

// --- sending -------------------------------------------------------------------

bool Impl::send_raw(Connection* c, const std::string& bytes) {
    if (bufferevent_write(c->bev, bytes.data(), bytes.size()) != 0) {
        close(c, "out of memory for the output buffer", Backoff::kNormal);
        return false;
    }
    stats_.bytes_sent += bytes.size();
    c->last_sent_ms = monotonic_ms();
    return true;
}

bool Impl::send(Connection* c, const SyncMessage& message) {
    auto frame = c->writer->encode(message);
    if (!frame) {
        // sync_state.h bounds what it builds, so this is a bug here.
        LOG_ERROR("peer sync: could not frame a %s message (%zu bytes) for %s", body_name(message),
                  message.ByteSizeLong(), c->name().c_str());
        close(c, "internal error: unframeable message", Backoff::kNormal);
        return false;
    }
    ++stats_.frames_sent;
    return send_raw(c, *frame);
}

void Impl::heartbeat(Connection* c) {
    SyncMessage message;
    message.mutable_heartbeat()->set_sent_unix_ms(realtime_ms());
    send(c, message);
}

// Once per loop turn while up: the ack owed, then snapshot chunks or changes
// until the output buffer is past the high-water mark (on_written() calls
// back once it drained).
void Impl::flush() {
    Connection* c = conn_.get();
    if (c == nullptr || c->closed || c->phase != Phase::kUp) return;
    uint64_t now = monotonic_ms();
    if (c->ack_pending) {
        c->ack_pending = false;
        SyncMessage message;
        *message.mutable_ack() = state_.make_ack();
        if (!send(c, message)) return;
    }
    evbuffer* out = bufferevent_get_output(c->bev);
    bool stepped = false;
    while (evbuffer_get_length(out) < kOutputHighWater) {
        SyncMessage message;
        if (c->next_chunk < c->chunks.size()) {
            // Moved out, so each chunk's memory goes as soon as it is framed.
            message.mutable_snapshot()->Swap(&c->chunks[c->next_chunk++]);
            stats_.purges_sent += static_cast<uint64_t>(message.snapshot().purges_size());
            if (c->next_chunk == c->chunks.size()) {
                c->chunks = {};
                c->next_chunk = 0;
            }
            if (message.snapshot().last()) ++stats_.snapshots_sent;
        } else if (state_.snapshot_building()) {
            // One slice per call (SyncState::snapshot_step): then the loop
            // polls the socket and runs the tick (heartbeats, the peer's
            // liveness) before the next, which a 0 ms timer brings.
            if (stepped) {
                arm_timer(flush_event_.get(), 0);
                return;
            }
            stepped = true;
            c->chunks = state_.snapshot_step(now, kSnapshotSliceBuckets);
            c->next_chunk = 0;
            continue;
        } else if (state_.needs_snapshot()) {
            // Right after the Hellos, or the queue overflowed
            // (SyncState::Options::queue_cap): the peer gets everything
            // again, then changes resume.
            state_.begin_snapshot(options_.snapshot_chunk);
            c->snapshot_unacked = state_.sequence();
            continue;
        } else if (auto changes = state_.take_outgoing(now, options_.snapshot_chunk)) {
            message.mutable_changes()->Swap(&*changes);
            for (const auto& change : message.changes().changes()) stats_.purges_sent += change.has_purge();
        } else {
            return;
        }
        if (!send(c, message)) return;
    }
}

}  // namespace lbd::ha
