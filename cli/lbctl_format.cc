#include "cli/lbctl_format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/base/json.h"

namespace lbd::lbctl {

namespace v1 = ::lbd::v1;

// ---- Table ----

Table::Table(std::vector<std::string> header, std::vector<Align> align)
    : header_(std::move(header)), align_(std::move(align)) {}

void Table::add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

std::string Table::render() const {
    std::vector<size_t> width;
    auto measure = [&width](const std::vector<std::string>& row) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    };
    measure(header_);
    for (const auto& row : rows_) measure(row);

    std::string out;
    auto print = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            bool right = i < align_.size() && align_[i] == Align::kRight;
            size_t pad = width[i] - row[i].size();
            if (i > 0) line += "  ";
            if (right) line.append(pad, ' ');
            line += row[i];
            // No trailing blanks after the last column.
            if (!right && i + 1 < row.size()) line.append(pad, ' ');
        }
        out += line + "\n";
    };
    if (!header_.empty()) print(header_);
    for (const auto& row : rows_) print(row);
    return out;
}

// ---- times ----

std::string format_duration(uint64_t ms) {
    if (ms < 1000) return std::to_string(ms) + "ms";
    uint64_t s = ms / 1000;
    char buf[64];
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                      static_cast<unsigned long long>(s % 60));
    } else if (s < 86400) {
        std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                      static_cast<unsigned long long>(s % 3600 / 60));
    } else {
        std::snprintf(buf, sizeof buf, "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                      static_cast<unsigned long long>(s % 86400 / 3600));
    }
    return buf;
}

std::string format_ago(uint64_t unix_ms, uint64_t now_unix_ms) {
    if (unix_ms == 0) return "-";
    // A clock stepped back (NTP) would make the change look in the future.
    uint64_t ago = now_unix_ms > unix_ms ? now_unix_ms - unix_ms : 0;
    return (ago < 1000 ? std::string("0s") : format_duration(ago)) + " ago";
}

// ---- replies ----

std::string format_status(const v1::StatusReply& status) {
    Table about({});
    about.add_row({"version", status.version()});
    about.add_row({"pid", std::to_string(status.pid())});
    about.add_row({"uptime", format_duration(status.uptime_ms())});
    about.add_row({"role", status.role()});
    std::string workers = std::to_string(status.workers());
    if (status.worker_connections_size() > 0) {
        // How evenly the workers share the connections (lbd hands new ones to the least loaded).
        workers += " (connections";
        for (int i = 0; i < status.worker_connections_size(); ++i)
            workers += (i == 0 ? " " : ", ") + std::to_string(status.worker_connections(i));
        workers += ")";
    }
    about.add_row({"workers", workers});
    about.add_row({"config", status.config_path()});
    about.add_row({"sha256", status.config_sha256().empty() ? "-" : status.config_sha256()});

    using A = Table::Align;
    Table listeners({"LISTENER", "BIND", "MODE", "POOL", "ACTIVE", "ACCEPTED"},
                    {A::kLeft, A::kLeft, A::kLeft, A::kLeft, A::kRight, A::kRight});
    for (const auto& l : status.listeners()) {
        listeners.add_row({l.name(), l.bind(), l.mode(), l.pool(), std::to_string(l.active_connections()),
                           std::to_string(l.accepted_connections())});
    }
    return about.render() + "\n" + listeners.render();
}

std::string format_ha_status(const v1::HaStatusReply& ha) {
    if (!ha.enabled()) return "standalone: this lbd's config has no global.ha block\n";
    Table about({});
    about.add_row({"node", ha.node_id() + " (cluster " + ha.cluster_id() + ")"});
    about.add_row({"role", ha.role() + " for " + format_duration(ha.role_age_ms()) + " (keepalived " +
                               (ha.keepalived_state().empty() ? "silent so far" : ha.keepalived_state()) + ")"});
    std::string vips;
    for (const auto& vip : ha.virtual_ips()) vips += (vips.empty() ? "" : ", ") + vip;
    about.add_row({"virtual IPs", vips + (ha.vip_present() ? " (here)" : " (not here)")});
    about.add_row({"track file", std::to_string(ha.track_value()) + " (" + ha.track_reason() + ")"});
    const v1::HaPeerInfo& peer = ha.peer();
    std::string link = peer.connected() ? "connected" : "not connected";
    if (peer.connected()) link += peer.synced() ? ", synced" : ", receiving its snapshot";
    link += peer.has_last_heard_ms_ago() ? ", heard " + format_duration(peer.last_heard_ms_ago()) + " ago"
                                         : ", never heard";
    about.add_row({"peer", (peer.node_id().empty() ? std::string("?") : peer.node_id()) + " at " + peer.address() +
                               ": " + link});
    about.add_row({"sync", "queued " + std::to_string(peer.queued_changes()) + ", lag p50 " +
                               std::to_string(peer.lag_p50_ms()) + "ms p99 " + std::to_string(peer.lag_p99_ms()) +
                               "ms, records " + std::to_string(ha.health_records()) + " health " +
                               std::to_string(ha.stick_records()) + " stick"});
    uint64_t refused_sent = 0, refused_received = 0;
    for (const auto& [reason, count] : peer.refusals_sent()) refused_sent += count;
    for (const auto& [reason, count] : peer.refusals_received()) refused_received += count;
    about.add_row({"link", "connects " + std::to_string(peer.connects()) + ", disconnects " +
                               std::to_string(peer.disconnects()) + ", auth failures " +
                               std::to_string(peer.auth_failures()) + ", refusals sent " +
                               std::to_string(refused_sent) + " received " + std::to_string(refused_received)});
    if (ha.has_handover()) {
        const v1::HaHandoverInfo& h = ha.handover();
        std::string text = h.phase() + ": " + std::to_string(h.open_at_start()) + " connections on the VIP at the start";
        if (h.phase() == "DRAINING") text += ", " + std::to_string(h.open_now()) + " open now";
        if (h.phase() != "DRAINING")
            text += ", drained in " + std::to_string(h.drain_ms()) + " ms (" + std::to_string(h.left_open()) +
                    " left open" + (h.deadline_passed() ? " at the deadline" : "") + ")";
        if (h.phase() == "DONE") text += ", VIP left after " + std::to_string(h.vip_left_ms()) + " ms";
        about.add_row({"handover", text});
    }
    return about.render();
}

namespace {

Table servers_table() {
    using A = Table::Align;
    return Table({"POOL/NAME", "ADDRESS", "STATE", "HEALTH", "ADMIN", "WEIGHT", "ACTIVE", "TOTAL", "FAILS",
                  "LAST CHANGE"},
                 {A::kLeft, A::kLeft, A::kLeft, A::kLeft, A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight,
                  A::kLeft});
}

// "2", or "2 (slow start 35%)" while the server ramps up.
std::string format_weight(const v1::ServerInfo& s) {
    std::string out = std::to_string(s.weight());
    if (s.weight() == 0 || s.effective_weight() >= s.weight()) return out;
    const int percent = static_cast<int>(100.0 * s.effective_weight() / s.weight());
    return out + " (slow start " + std::to_string(percent) + "%)";
}

void add_server_row(Table& table, const v1::ServerInfo& s, uint64_t now_unix_ms) {
    table.add_row({s.pool() + "/" + s.name(), s.address(), s.state(), s.health(), s.admin_state(),
                   format_weight(s), std::to_string(s.active_connections()),
                   std::to_string(s.total_connections()), std::to_string(s.connect_failures()),
                   format_ago(s.last_change_unix_ms(), now_unix_ms)});
}

}  // namespace

std::string format_servers(const v1::ServersReply& servers, uint64_t now_unix_ms) {
    Table table = servers_table();
    for (const auto& s : servers.servers()) add_server_row(table, s, now_unix_ms);
    return table.render();
}

std::string format_server(const v1::ServerInfo& server, uint64_t now_unix_ms) {
    Table table = servers_table();
    add_server_row(table, server, now_unix_ms);
    return table.render();
}

std::string format_idle_closed(const v1::ServerInfo& server) {
    const uint32_t n = server.idle_connections_closed();
    return "closed " + std::to_string(n) + " idle keep-alive connection" + (n == 1 ? "" : "s") + " to " +
           server.pool() + "/" + server.name() + "\n";
}

std::string format_stick_show(const v1::StickShowReply& reply) {
    std::string out;
    // stick set answers with the one entry it made, without the table's size.
    if (reply.capacity() != 0) {
        out = "pool " + reply.pool() + ": " + std::to_string(reply.entries_size()) + " of " +
              std::to_string(reply.capacity()) + " entries, ttl " + format_duration(reply.ttl_ms()) + "\n";
    }
    using A = Table::Align;
    Table table({"KEY", "SERVER", "EXPIRES IN"}, {A::kLeft, A::kLeft, A::kRight});
    for (const auto& e : reply.entries()) table.add_row({e.key(), e.server(), format_duration(e.ttl_remaining_ms())});
    return out + table.render();
}

std::string format_stick_flush(const std::string& pool, const v1::StickFlushReply& reply) {
    return "pool " + pool + ": removed " + std::to_string(reply.removed()) + " stick entr" +
           (reply.removed() == 1 ? "y" : "ies") + "\n";
}

std::string format_cache_purge(const std::string& zone, const v1::CachePurgeReply& reply) {
    return "cache zone " + zone + ": purged " + std::to_string(reply.purged()) + " object" +
           (reply.purged() == 1 ? "" : "s") + "\n";
}

std::string format_cache_stats(const v1::CacheStatsReply& reply) {
    using A = Table::Align;
    Table table({"ZONE", "BYTES", "MAX BYTES", "OBJECTS", "HITS", "MISSES", "HIT RATIO", "STORES", "EVICTIONS",
                 "STALE"},
                {A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight,
                 A::kRight});
    for (const auto& z : reply.zones()) {
        const uint64_t looked = z.hits() + z.misses();
        char ratio[16] = "-";
        if (looked != 0) std::snprintf(ratio, sizeof ratio, "%.1f%%", 100.0 * static_cast<double>(z.hits()) / static_cast<double>(looked));
        table.add_row({z.name(), std::to_string(z.bytes()), std::to_string(z.max_bytes()), std::to_string(z.objects()),
                       std::to_string(z.hits()), std::to_string(z.misses()), ratio, std::to_string(z.stores()),
                       std::to_string(z.evictions()),
                       std::to_string(z.stale_error() + z.stale_timeout() + z.stale_status() + z.stale_updating())});
    }
    return table.render();
}

std::string format_acl(const v1::AclReply& reply) {
    using A = Table::Align;
    if (reply.lists_size() == 1) {
        const auto& list = reply.lists(0);
        std::string out = "acl " + list.name() + ": " + std::to_string(list.size()) + " prefixes" +
                          (list.file().empty() ? "" : " (file " + list.file() + ")") + "\n";
        for (const auto& prefix : list.prefixes()) out += "  " + prefix + "\n";
        if (list.truncated() && list.prefixes_size() > 0) out += "  ... (" + std::to_string(list.size() - list.prefixes_size()) + " more; --limit)\n";
        return out;
    }
    Table table({"LIST", "PREFIXES", "FILE"}, {A::kLeft, A::kRight, A::kLeft});
    for (const auto& list : reply.lists())
        table.add_row({list.name(), std::to_string(list.size()), list.file().empty() ? "-" : list.file()});
    return table.render();
}

std::string format_stats(const v1::StatsReply& stats) {
    using A = Table::Align;
    Table table({"LISTENER", "ACCEPTED", "ACTIVE", "ENDED"}, {A::kLeft, A::kRight, A::kRight, A::kLeft});
    for (const auto& l : stats.listeners()) {
        // The map has every reason, mostly at zero; sorted for a stable line.
        std::map<std::string, uint64_t> ended(l.ended().begin(), l.ended().end());
        std::string reasons;
        for (const auto& [reason, count] : ended) {
            if (count == 0) continue;
            if (!reasons.empty()) reasons += " ";
            reasons += reason + "=" + std::to_string(count);
        }
        table.add_row({l.name(), std::to_string(l.accepted()), std::to_string(l.active()),
                       reasons.empty() ? "-" : reasons});
    }
    return table.render();
}

// ---- JSON ----

std::string to_json(const google::protobuf::Message& message) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    std::string out;
    auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
    if (!status.ok()) {
        // Only a message with an unknown Any type fails; none of ours has one.
        return error_json("INTERNAL", "cannot print " + message.GetTypeName() + " as JSON");
    }
    if (out.empty() || out.back() != '\n') out += "\n";
    return out;
}

// The two small documents below are written by hand rather than through
// google.protobuf.Struct, whose map would print the keys in an arbitrary order.

std::string error_json(const std::string& code, const std::string& message) {
    return "{\n \"error\": {\n  \"code\": " + json_quote(code) + ",\n  \"message\": " + json_quote(message) + "\n }\n}\n";
}

std::string config_check_json(const std::string& file, const std::vector<std::string>& errors) {
    std::string list;
    for (const std::string& e : errors) list += std::string(list.empty() ? "\n" : ",\n") + "  " + json_quote(e);
    if (!list.empty()) list += "\n ";
    return "{\n \"file\": " + json_quote(file) + ",\n \"ok\": " + (errors.empty() ? "true" : "false") +
           ",\n \"errors\": [" + list + "]\n}\n";
}

}  // namespace lbd::lbctl
