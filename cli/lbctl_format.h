// What lbctl prints: aligned tables for a human, JSON for a program.
//
// The JSON of a reply is the reply message itself (StatusReply,
// ServersReply, ...) in protobuf's JSON mapping, with every field present
// (zeros included) and the .proto field names (snake_case), so a script can
// rely on keys. 64-bit counters are strings there, as the mapping says.
//
// Pure functions of their arguments (the current time is passed in), so
// they can be tested without a clock or an lbd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "lbd/v1/admin.pb.h"

namespace lbd::lbctl {

// Columns padded to their widest cell, two spaces apart, one row a line.
class Table {
public:
    enum class Align { kLeft, kRight };

    // `header` may be empty (a key/value block). `align` defaults to left
    // for every column; numbers read better right-aligned.
    explicit Table(std::vector<std::string> header, std::vector<Align> align = {});
    void add_row(std::vector<std::string> row);
    std::string render() const;

private:
    std::vector<std::string> header_;
    std::vector<Align> align_;
    std::vector<std::vector<std::string>> rows_;
};

// "850ms", "12s", "3m12s", "2h03m", "4d02h": two units at most.
std::string format_duration(uint64_t ms);
// "3m12s ago" for a Unix time in ms; "-" for 0 (never).
std::string format_ago(uint64_t unix_ms, uint64_t now_unix_ms);

std::string format_status(const ::lbd::v1::StatusReply& status);
std::string format_ha_status(const ::lbd::v1::HaStatusReply& ha);
std::string format_servers(const ::lbd::v1::ServersReply& servers, uint64_t now_unix_ms);
// One server as a one-row servers table (the reply of drain, weight, ...).
std::string format_server(const ::lbd::v1::ServerInfo& server, uint64_t now_unix_ms);
// "closed N idle keep-alive connections to POOL/NAME": after a drain or disable.
std::string format_idle_closed(const ::lbd::v1::ServerInfo& server);
std::string format_stick_show(const ::lbd::v1::StickShowReply& reply);
// `acl show LIST`, add, del, load: the list and its prefixes; `acl show`: one row a list.
std::string format_acl(const v1::AclReply& reply);
std::string format_stick_flush(const std::string& pool, const ::lbd::v1::StickFlushReply& reply);
// Per listener: accepted, active, and the end reasons that are not zero.
std::string format_cache_purge(const std::string& zone, const ::lbd::v1::CachePurgeReply& reply);
std::string format_cache_stats(const ::lbd::v1::CacheStatsReply& reply);
std::string format_stats(const ::lbd::v1::StatsReply& stats);

// One JSON document (indented, ending in a newline).
std::string to_json(const google::protobuf::Message& message);
// {"error": {"code": CODE, "message": MESSAGE}}: the shape of an AdminError
// in an AdminResponse, also used for lbctl's own failures (UNREACHABLE,
// TIMEOUT) so a script reads every failure the same way.
std::string error_json(const std::string& code, const std::string& message);
// {"file": FILE, "ok": BOOL, "errors": ["file:line:col: message", ...]}
std::string config_check_json(const std::string& file, const std::vector<std::string>& errors);

}  // namespace lbd::lbctl
