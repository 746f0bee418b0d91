// The checked, typed configuration. The loader (config_loader.h) turns the
// protobuf text file into this once; nothing else in lbd reads raw protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/net/address.h"
#include "core/net/dns.h"
#include "core/config/config_http.h"
#include "core/base/log.h"
#include "core/config/server_types.h"
#include "core/config/status_ranges.h"
#include "core/config/tls_settings.h"

namespace lbd {

enum class ListenerMode : uint8_t { kTcp, kHttp };
enum class ProxyProtocolVersion : uint8_t { kNone, kV1, kV2 };

struct ServerConfig {
    std::string name;
    SocketAddress address;
    uint32_t weight = 1;
    uint32_t max_connections = 0;  // 0 = unlimited
    AdminState admin_state = AdminState::kReady;
    // Set when the address was given by name ("name:port"): `address` is
    // then what the name resolved to at load (config_resolve.h).
    std::string host;
    uint16_t host_port = 0;  // the port written after the name
    uint32_t resolve_interval_ms = 30000;
    bool resolve_optional = false;
    // Optional, and the name did not resolve at load: the server starts in
    // MAINT, with no address, until it does.
    bool unresolved = false;
};

// An HTTP health check's request and what a healthy answer looks like.
struct HttpCheckConfig {
    std::string method = "GET";
    std::string path = "/";
    std::string host;  // empty = the server's address
    StatusRanges expect_status;  // the loader sets 200-399 when unset
    std::string body_contains;   // empty = any body
    std::vector<HttpHeaderValue> headers;
};

struct HealthCheckConfig {
    bool enabled = false;
    // The probe strategy, by name (core/health/health_probe.h): "tcp" or "http".
    std::string probe = "tcp";
    HttpCheckConfig http;  // probe "http" only
    uint32_t interval_ms = 2000;
    uint32_t timeout_ms = 1000;
    uint32_t rise = 2;
    uint32_t fall = 3;
    bool start_down = false;
};

struct PassiveHealthConfig {
    bool enabled = false;
    uint32_t max_fails = 3;
    uint32_t fail_timeout_ms = 10000;
    // HTTP responses counted as failures; empty = connect failures only.
    StatusRanges failure_statuses;  // the loader sets the default
    uint32_t ejection_ms = 10000;   // without active checks: time ejected
};

// HTTP cookie stickiness (config.proto CookieStickiness says what each does).
enum class CookieMode : uint8_t { kNone, kInsert, kLearn };

struct CookieStickinessConfig {
    CookieMode mode = CookieMode::kNone;  // kNone: source-IP stickiness
    std::string name;
    std::string path = "/";
    uint32_t max_age_s = 0;  // 0 = session cookie
    bool secure = false;
    bool http_only = false;
    std::string same_site;  // "" = not sent
    std::string domain;     // "" = not sent
};

struct StickinessConfig {
    bool enabled = false;
    uint32_t ttl_ms = 1800000;
    uint32_t capacity = 100000;
    CookieStickinessConfig cookie;
};

struct PoolConfig {
    std::string name;
    std::string balance = "round_robin";
    std::vector<ServerConfig> servers;
    ProxyProtocolVersion send_proxy = ProxyProtocolVersion::kNone;
    HealthCheckConfig health_check;
    PassiveHealthConfig passive_health;
    StickinessConfig stickiness;
    uint32_t retries = 2;
    uint32_t connect_timeout_ms = 3000;
    uint32_t queue_size = 0;
    uint32_t queue_timeout_ms = 5000;
    uint32_t maglev_table_size = 65537;
    uint32_t slow_start_ms = 0;  // 0 = off
    PoolTlsConfig tls;  // HTTP listeners only
    // HTTP listeners only: HTTP/2 to the servers (l7/h2_upstream.h), over
    // `tls` (ALPN "h2") when it is on, else h2c.
    bool http2 = false;
};

struct AcceptProxyConfig {
    bool enabled = false;
    std::vector<Cidr> trusted_sources;  // empty = any source
    uint32_t header_timeout_ms = 5000;
};

struct ListenerConfig {
    std::string name;
    SocketAddress bind;
    ListenerMode mode = ListenerMode::kTcp;
    std::string pool;
    AcceptProxyConfig accept_proxy;
    uint32_t max_connections = 0;  // 0 = unlimited
    uint32_t idle_timeout_ms = 300000;
    uint32_t backlog = 1024;
    bool freebind = false;
    HttpConfig http;  // mode kHttp only
    ListenerTlsConfig tls;  // mode kHttp only
    // Where `bind` is written (1-based; 0 when unknown), so that a bind that
    // fails at `lbd -t` or at a reload is reported at its file:line:col.
    int bind_line = 0;
    int bind_column = 0;
};

struct AdminConfig {
    std::string socket_path;  // empty = no admin socket
    std::string socket_group;
    std::optional<SocketAddress> http_bind;  // unset = no HTTP admin listener
    std::string http_token;                  // empty = the HTTP side is read-only
};

// VRRP through keepalived (ha/keepalived_config.h renders it). Addresses are
// kept as canonical text: they only ever go into keepalived's config.
struct VrrpConfig {
    std::string interface;
    uint32_t virtual_router_id = 0;  // 1..255
    uint32_t priority = 0;           // 1..254
    std::vector<std::string> virtual_ips;  // "192.0.2.10/24", "2001:db8::10/64"
    std::string unicast_source;            // same family as the VIPs
    std::vector<std::string> unicast_peers;
    uint32_t advert_interval_ms = 40;  // 20..25500, a multiple of 10; the loader sets it (ha/config/config_ha.cc)
    std::string notify_fifo = "/run/lbd/vrrp.fifo";
    std::string track_file = "/run/lbd/vrrp.weight";
    uint32_t garp_refresh_s = 60;  // 0 = off
    // vrrp_track_process in keepalived's config (config.proto TrackProcess).
    enum class TrackProcess : uint8_t { kAuto, kOn, kOff };
    TrackProcess track_process = TrackProcess::kAuto;
};

// The authenticated TCP link to the peer that carries health and stick tables.
struct PeerSyncConfig {
    SocketAddress listen;
    SocketAddress peer;
    std::string key_file;
    uint32_t heartbeat_ms = 200;
};

struct HaConfig {
    bool enabled = false;  // false = a standalone node; nothing below is set
    std::string node_id;
    std::string cluster_id;
    VrrpConfig vrrp;
    PeerSyncConfig sync;
};

struct GlobalConfig {
    uint32_t workers = 0;  // resolved: never 0 after loading
    LogLevel log_level = LogLevel::kInfo;
    uint32_t drain_timeout_ms = 30000;
    bool log_connections = true;
    uint32_t memory_release_idle_ms = 5000;  // 0 = never
    AdminConfig admin;
    HaConfig ha;
    std::string user;   // empty = the user lbd was started as
    std::string group;  // empty = the user's primary group
    std::vector<CacheZoneConfig> cache_zones;
    DnsSettings resolvers;  // for server names (global.resolvers)
    std::vector<AclListConfig> acl_lists;  // by the http module (l7/config/config_access.cc)
};

struct Config {
    std::string source_path;
    GlobalConfig global;
    std::vector<ListenerConfig> listeners;
    std::vector<PoolConfig> pools;

    const PoolConfig* find_pool(const std::string& name) const;
};

}  // namespace lbd
