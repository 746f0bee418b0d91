// Two real lbd nodes of an HA pair on loopback, without keepalived, for the
// ha_sync tests (ha_sync_test.cc, ha_sync_purge_test.cc): node A syncs on
// 127.0.0.1, node B on 127.0.0.2 (all of 127/8 is local).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/lbctl_run.h"
#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

namespace v1 = ::lbd::v1;

// A sync change crosses loopback in milliseconds; this is for sanitizer builds on a busy machine.
constexpr int kSyncTimeoutMs = 10000;

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

struct NodeSpec {
    std::string node_id;
    std::string sync_ip;
    std::string peer_ip;
    std::string key_file;
    std::string health_check;
    std::string listener_extra;  // e.g. "  mode: MODE_HTTP\n"
    std::string global_extra;    // more of the global block, e.g. cache zones
};

// One node: its own dir (admin socket, notify FIFO, track file) and lbd.
class Node {
public:
    Node(const NodeSpec& spec, uint16_t sync_port, uint16_t peer_port, const std::string& pool_body)
        : socket_(dir_.path() + "/admin.sock"), fifo_(dir_.path() + "/vrrp.fifo"), track_(dir_.path() + "/vrrp.weight") {
        std::string ha = "ha {\n"
                         "  node_id: \"" + spec.node_id + "\"\n"
                         "  cluster_id: \"test\"\n"
                         "  vrrp {\n"
                         "    interface: \"lo\"\n"
                         "    virtual_router_id: 51\n"
                         "    priority: 100\n"
                         "    virtual_ips: \"127.0.0.10/8\"\n"
                         "    unicast_source: \"" + spec.sync_ip + "\"\n"
                         "    unicast_peers: \"" + spec.peer_ip + "\"\n"
                         "    notify_fifo: \"" + fifo_ + "\"\n"
                         "    track_file: \"" + track_ + "\"\n"
                         "  }\n"
                         "  sync {\n"
                         "    listen: \"" + spec.sync_ip + ":" + std::to_string(sync_port) + "\"\n"
                         "    peer: \"" + spec.peer_ip + ":" + std::to_string(peer_port) + "\"\n"
                         "    key_file: \"" + spec.key_file + "\"\n"
                         "    heartbeat_ms: 100\n"
                         "  }\n"
                         "}\n";
        std::string global = "workers: 2 drain_timeout_ms: 2000 admin { socket_path: \"" + socket_ + "\" }\n" +
                             spec.global_extra + ha;
        lbd_ = std::make_unique<RunningLbd>(single_pool_config(pool_body + spec.health_check, spec.listener_extra, global));
    }

    bool ok() { return lbd_->ok(); }
    uint16_t port() { return lbd_->port(); }
    std::string log() { return (*lbd_)->log(); }
    LbdProcess& process() { return *lbd_->operator->(); }
    const std::string& fifo() const { return fifo_; }
    const std::string& track_file() const { return track_; }

    Run ctl(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--socket", socket_});
        return lbctl(args);
    }
    Run ctl_until(std::vector<std::string> args, const std::function<bool(const Run&)>& done) const {
        args.insert(args.begin(), {"--socket", socket_});
        return lbctl_until(args, done, kSyncTimeoutMs);
    }
    std::optional<v1::HaStatusReply> ha_status() const {
        return parse_json<v1::HaStatusReply>(ctl({"--json", "ha", "status"}).output);
    }
    // `servers --json` state of p/NAME once it equals `state` (or the last seen).
    std::string await_state(const std::string& name, const std::string& state) const {
        std::string seen = "<none>";
        ctl_until({"--json", "servers"}, [&](const Run& run) {
            auto reply = parse_json<v1::ServersReply>(run.output);
            if (!reply) return false;
            for (const auto& s : reply->servers())
                if (s.name() == name) seen = s.state();
            return seen == state;
        });
        return seen;
    }
    // The stick table of pool p as {key: server}, once it has `n` entries (or the last seen).
    // Keys are IPs, or cookie values for a cookie (LEARN) table.
    std::map<std::string, std::string> await_sticks(size_t n) const {
        std::map<std::string, std::string> entries;
        ctl_until({"--json", "stick", "show", "p"}, [&](const Run& run) {
            auto reply = parse_json<v1::StickShowReply>(run.output);
            if (!reply) return false;
            entries.clear();
            for (const auto& e : reply->entries()) entries[e.key()] = e.server();
            return entries.size() >= n;
        });
        return entries;
    }

    // Writes a line to keepalived's FIFO as keepalived would.
    bool notify(const std::string& line) {
        UniqueFd fd(::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        std::string text = line + "\n";
        return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
    }

private:
    TempDir dir_;
    std::string socket_, fifo_, track_;
    std::unique_ptr<RunningLbd> lbd_;
};

// A pair A (127.0.0.1) and B (127.0.0.2) in front of the same three backends.
class Pair {
public:
    explicit Pair(const std::string& pool_body, const std::string& health_a = "", const std::string& health_b = "",
                  const std::string& key_b = "", const std::string& listener_extra = "",
                  const std::string& global_extra = "")
        : key_(std::string(48, 'k')),
          port_a_(pick_free_port()),
          port_b_(pick_free_port()) {
        std::string key_b_path = key_.path();
        if (!key_b.empty()) {
            other_key_ = std::make_unique<TempFile>(key_b, ".key");
            key_b_path = other_key_->path();
        }
        a = std::make_unique<Node>(NodeSpec{"lb-a", "127.0.0.1", "127.0.0.2", key_.path(), health_a, listener_extra, global_extra}, port_a_, port_b_,
                                   pool_body);
        b = std::make_unique<Node>(NodeSpec{"lb-b", "127.0.0.2", "127.0.0.1", key_b_path, health_b, listener_extra, global_extra}, port_b_, port_a_,
                                   pool_body);
    }
    bool ok() { return a->ok() && b->ok(); }
    // Both sides hold each other's state.
    bool synced() {
        for (Node* node : {a.get(), b.get()}) {
            Run run = node->ctl_until({"--json", "ha", "status"}, [](const Run& r) {
                auto status = parse_json<v1::HaStatusReply>(r.output);
                return status && status->peer().connected() && status->peer().synced();
            });
            auto status = parse_json<v1::HaStatusReply>(run.output);
            if (!status || !status->peer().synced()) return false;
        }
        return true;
    }

    std::unique_ptr<Node> a, b;

private:
    TempFile key_;
    std::unique_ptr<TempFile> other_key_;
    uint16_t port_a_, port_b_;
};

}  // namespace
}  // namespace lbd::test
