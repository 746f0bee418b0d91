// Config file -> typed Config, in two steps:
//
//   1. protobuf's TextFormat parser turns the text into an lbd.v1.Config and
//      records where each field was written (a ParseInfoTree); a syntax error
//      stops here, reported at the parser's line:col.
//   2. one check_* function per message validates it, applies the defaults
//      the schema documents (taken from the typed structs in config.h, so
//      they are written once), and reports every problem at the line:col of
//      the offending field (or of its message, when the field is missing).
//
// All errors are collected, not just the first, and listed in text order.
#include "core/config/config_loader.h"
#include "core/config/config_resolve.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <thread>
#include <tuple>

#include "core/config/config_check.h"
#include "core/config/config_modules.h"
#include "core/net/tcp_socket.h"
#include "lbd/v1/config.pb.h"

namespace lbd {
namespace {

using namespace config_check;

namespace pb = ::lbd::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using ParseInfoTree = google::protobuf::TextFormat::ParseInfoTree;

constexpr uint32_t kMaxWorkers = 256;
constexpr uint32_t kMaxWeight = 256;
// Below ~100 slots Maglev's spread is poor; above 2^24 one table per pool per
// worker costs real memory.
constexpr uint32_t kMinMaglevTableSize = 101;
constexpr uint32_t kMaxMaglevTableSize = 1u << 24;

// Turns the parser's 0-based positions into ConfigErrors.
class SyntaxErrors final : public google::protobuf::io::ErrorCollector {
public:
    explicit SyntaxErrors(Errors& errors) : errors_(errors) {}
    void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
        // Line -1 is the parser speaking about the input as a whole; an empty
        // "got: " is the end of the text (e.g. a missing closing brace).
        const bool at_end = message.size() >= 5 && message.compare(message.size() - 5, 5, "got: ") == 0;
        errors_.add(line < 0 ? Loc{} : Loc{line + 1, column + 1}, at_end ? message + "end of file" : message);
    }
    // Only emitted for deprecated fields; lbd.v1 has none.
    void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

private:
    Errors& errors_;
};

GlobalConfig check_global(const pb::Global& msg, const Node& node, Errors& errors) {
    using F = pb::Global;
    GlobalConfig out;
    if (msg.workers() > kMaxWorkers)
        errors.add(node.at(F::kWorkersFieldNumber), "workers " + std::to_string(msg.workers()) + " out of range 0.." +
                                                       std::to_string(kMaxWorkers) + " (0 = one per CPU)");
    // hardware_concurrency() may say 0 when it cannot tell.
    out.workers = msg.workers() != 0 ? std::min(msg.workers(), kMaxWorkers)
                                     : std::clamp(std::thread::hardware_concurrency(), 1u, kMaxWorkers);
    switch (msg.log_level()) {
        case pb::LOG_LEVEL_UNSPECIFIED: out.log_level = LogLevel::kInfo; break;
        case pb::LOG_LEVEL_DEBUG: out.log_level = LogLevel::kDebug; break;
        case pb::LOG_LEVEL_INFO: out.log_level = LogLevel::kInfo; break;
        case pb::LOG_LEVEL_WARNING: out.log_level = LogLevel::kWarning; break;
        case pb::LOG_LEVEL_ERROR: out.log_level = LogLevel::kError; break;
        default:  // proto3 enums are open: `log_level: 9` parses
            errors.add(node.at(F::kLogLevelFieldNumber), "unknown log_level " + std::to_string(msg.log_level()));
    }
    out.drain_timeout_ms = or_default(msg.drain_timeout_ms(), out.drain_timeout_ms);
    out.log_connections = msg.has_log_connections() ? msg.log_connections() : out.log_connections;
    if (msg.has_memory_release_idle_ms()) {
        out.memory_release_idle_ms = msg.memory_release_idle_ms();
        // A shorter period would only wake the workers for nothing.
        if (out.memory_release_idle_ms != 0 && out.memory_release_idle_ms < 100)
            errors.add(node.at(F::kMemoryReleaseIdleMsFieldNumber),
                       "memory_release_idle_ms " + std::to_string(out.memory_release_idle_ms) +
                           " is below 100 (0 = never)");
    }
    out.user = msg.user();
    out.group = msg.group();
    // Looked up now as well as at start: `lbd -t` (run before each start by
    // the unit) should refuse what the start would.
    if (!out.user.empty() && getpwnam(out.user.c_str()) == nullptr)
        errors.add(node.at(F::kUserFieldNumber), "user " + quote(out.user) + ": no such user");
    if (!out.group.empty() && getgrnam(out.group.c_str()) == nullptr)
        errors.add(node.at(F::kGroupFieldNumber), "group " + quote(out.group) + ": no such group");
    if (msg.has_resolvers())
        out.resolvers = check_resolvers(msg.resolvers(), node.child(F::kResolversFieldNumber), errors);
    if (msg.has_admin()) {
        const pb::Admin& admin = msg.admin();
        Node admin_node = node.child(F::kAdminFieldNumber);
        out.admin.socket_path = admin.socket_path();
        out.admin.socket_group = admin.socket_group();
        if (!out.admin.socket_group.empty() && getgrnam(out.admin.socket_group.c_str()) == nullptr)
            errors.add(admin_node.at(pb::Admin::kSocketGroupFieldNumber),
                       "admin socket_group " + quote(out.admin.socket_group) + ": no such group");
        if (!admin.http_bind().empty())
            out.admin.http_bind = parse_address(admin.http_bind(), admin_node.at(pb::Admin::kHttpBindFieldNumber), errors);
        out.admin.http_token = admin.http_token();
        if (!out.admin.http_token.empty() && out.admin.http_token.size() < 16)
            errors.add(admin_node.at(pb::Admin::kHttpTokenFieldNumber), "admin http_token must be at least 16 characters");
        if (!out.admin.socket_path.empty() && out.admin.socket_path.front() != '/')
            errors.add(admin_node.at(pb::Admin::kSocketPathFieldNumber),
                       "admin socket_path " + quote(out.admin.socket_path) + " must be an absolute path");
        if (out.admin.socket_path.size() >= sizeof(sockaddr_un::sun_path))
            errors.add(admin_node.at(pb::Admin::kSocketPathFieldNumber),
                       "admin socket_path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                           " bytes");
    }
    for (const ConfigModule& module : config_modules())
        if (module.global) module.global(msg, node, out, errors);
    return out;
}

// ":443" -> "0.0.0.0:443"; anything else as written.
std::string any_ipv4(const std::string& bind) {
    const bool port_only = bind.size() > 1 && bind.front() == ':' &&
                           std::all_of(bind.begin() + 1, bind.end(), [](char c) { return c >= '0' && c <= '9'; });
    return port_only ? "0.0.0.0" + bind : bind;
}

AcceptProxyConfig check_accept_proxy(const pb::AcceptProxy& msg, const Node& node, Errors& errors) {
    using F = pb::AcceptProxy;
    AcceptProxyConfig out;
    out.enabled = true;
    for (int i = 0; i < msg.trusted_sources_size(); ++i) {
        const std::string& text = msg.trusted_sources(i);
        if (auto cidr = Cidr::parse(text))
            out.trusted_sources.push_back(*cidr);
        else
            errors.add(node.at(F::kTrustedSourcesFieldNumber, i),
                       "bad CIDR " + quote(text) + ": expected address/prefix, e.g. 10.0.0.0/8 or ::1/128");
    }
    out.header_timeout_ms = or_default(msg.header_timeout_ms(), out.header_timeout_ms);
    return out;
}

ListenerConfig check_listener(const pb::Listener& msg, const Node& node, int index, NameSet& names,
                              const NameSet& pools, Errors& errors) {
    using F = pb::Listener;
    ListenerConfig out;
    out.name = msg.name();
    const std::string what = label("listener", msg.name(), index);
    check_name("listener", msg.name(), node.at(F::kNameFieldNumber), names, "", errors);

    if (msg.bind().empty())
        errors.add(node.self(), what + " has no bind address");
    // ":443" (HAProxy's `bind :443`, nginx's `listen 443`): every IPv4
    // address. IPv6 sockets are IPv6-only (tcp_socket.cc: no v4-mapped
    // peers to unmap everywhere), so "[::]:443" is a listener of its own.
    else if (auto bind = parse_address(any_ipv4(msg.bind()), node.at(F::kBindFieldNumber), errors))
        out.bind = *bind;
    out.bind_line = node.at(F::kBindFieldNumber).line;
    out.bind_column = node.at(F::kBindFieldNumber).column;

    switch (msg.mode()) {
        case pb::MODE_UNSPECIFIED:
        case pb::MODE_TCP: out.mode = ListenerMode::kTcp; break;
        case pb::MODE_HTTP: out.mode = ListenerMode::kHttp; break;
        default: errors.add(node.at(F::kModeFieldNumber), "unknown mode " + std::to_string(msg.mode()));
    }
    const bool http = out.mode == ListenerMode::kHttp;

    // An HTTP listener's pool is the default for requests no route takes;
    // with routes it may be left out (unmatched requests then get 404).
    out.pool = msg.pool();
    if (msg.pool().empty()) {
        if (!http || msg.http().routes_size() == 0) errors.add(node.self(), what + " has no pool" + (http ? " and no routes" : ""));
    } else if (!pools.contains(msg.pool())) {
        errors.add(node.at(F::kPoolFieldNumber), what + " refers to unknown pool " + quote(msg.pool()));
    }
    if (msg.has_http() && !http)
        errors.add(node.at(F::kHttpFieldNumber), what + ": an http block needs mode: MODE_HTTP");
    if (msg.has_tls() && !http)
        errors.add(node.at(F::kTlsFieldNumber), what + ": tls needs mode: MODE_HTTP (a TCP listener passes bytes "
                                                       "through unchanged; terminate TLS on an HTTP listener)");

    if (msg.has_accept_proxy())
        out.accept_proxy = check_accept_proxy(msg.accept_proxy(), node.child(F::kAcceptProxyFieldNumber), errors);
    out.max_connections = msg.max_connections();
    out.idle_timeout_ms = or_default(msg.idle_timeout_ms(), out.idle_timeout_ms);
    out.backlog = or_default(msg.backlog(), out.backlog);
    out.freebind = msg.freebind();
    // The http and tls blocks: the L7 tier's module (l7/config/).
    for (const ConfigModule& module : config_modules())
        if (module.listener) module.listener(msg, node, what, pools, out, errors);
    return out;
}

ServerConfig check_server(const pb::Server& msg, const Node& node, int index, const std::string& pool,
                          NameSet& names, Errors& errors) {
    using F = pb::Server;
    ServerConfig out;
    out.name = msg.name();
    const std::string what = label("server", msg.name(), index);
    check_name("server", msg.name(), node.at(F::kNameFieldNumber), names, " in pool " + quote(pool), errors);

    const Loc address_at = node.at(F::kAddressFieldNumber);
    if (msg.address().empty()) {
        errors.add(node.self(), what + " has no address");
    } else if (check_server_name(msg, node, out, errors)) {
        // "name:port": resolved once the whole file is checked (config_resolve.h).
    } else if (auto address = parse_address(msg.address(), address_at, errors)) {
        if (address->port() == 0) errors.add(address_at, what + ": port 0 is not allowed in a server address");
        out.address = *address;
    }

    // Weight 0 is refused even when written out: the way to stop sending
    // new connections to a server is admin_state DRAIN.
    if (msg.weight() > kMaxWeight || (msg.weight() == 0 && node.written(F::kWeightFieldNumber)))
        errors.add(node.at(F::kWeightFieldNumber), "weight " + std::to_string(msg.weight()) + " out of range 1.." +
                                                       std::to_string(kMaxWeight));
    out.weight = or_default(msg.weight(), out.weight);
    out.max_connections = msg.max_connections();
    switch (msg.admin_state()) {
        case pb::ADMIN_STATE_READY: out.admin_state = AdminState::kReady; break;
        case pb::ADMIN_STATE_DRAIN: out.admin_state = AdminState::kDrain; break;
        case pb::ADMIN_STATE_MAINT: out.admin_state = AdminState::kMaint; break;
        default:
            errors.add(node.at(F::kAdminStateFieldNumber), "unknown admin_state " + std::to_string(msg.admin_state()));
    }
    return out;
}

// Retries, timeouts, queue and Maglev table: the pool's scalar settings.
void check_pool_tuning(const pb::Pool& msg, const Node& node, PoolConfig& out, Errors& errors) {
    using F = pb::Pool;
    if (msg.retries_disabled() && msg.retries() != 0)
        errors.add(node.at(F::kRetriesFieldNumber), "retries and retries_disabled are both set");
    out.retries = msg.retries_disabled() ? 0 : or_default(msg.retries(), out.retries);
    out.connect_timeout_ms = or_default(msg.connect_timeout_ms(), out.connect_timeout_ms);
    out.queue_size = msg.queue_size();
    out.queue_timeout_ms = or_default(msg.queue_timeout_ms(), out.queue_timeout_ms);
    // Checked whatever the balance, so switching a pool to maglev later
    // cannot turn a loaded config into a broken one.
    out.maglev_table_size = or_default(msg.maglev_table_size(), out.maglev_table_size);
    out.slow_start_ms = msg.slow_start_ms();
    const uint32_t size = out.maglev_table_size;
    if (size < kMinMaglevTableSize || size > kMaxMaglevTableSize || !is_prime(size))
        errors.add(node.at(F::kMaglevTableSizeFieldNumber),
                   "maglev_table_size " + std::to_string(size) + " must be a prime in " +
                       std::to_string(kMinMaglevTableSize) + ".." + std::to_string(kMaxMaglevTableSize));
}

PoolConfig check_pool(const pb::Pool& msg, const Node& node, int index, NameSet& names, Errors& errors) {
    using F = pb::Pool;
    PoolConfig out;
    out.name = msg.name();
    check_name("pool", msg.name(), node.at(F::kNameFieldNumber), names, "", errors);

    if (msg.servers_size() == 0) errors.add(node.self(), label("pool", msg.name(), index) + " has no servers");
    NameSet server_names;
    for (int i = 0; i < msg.servers_size(); ++i)
        out.servers.push_back(check_server(msg.servers(i), node.child(F::kServersFieldNumber, i), i, msg.name(),
                                           server_names, errors));

    switch (msg.send_proxy()) {
        case pb::PROXY_PROTOCOL_NONE: out.send_proxy = ProxyProtocolVersion::kNone; break;
        case pb::PROXY_PROTOCOL_V1: out.send_proxy = ProxyProtocolVersion::kV1; break;
        case pb::PROXY_PROTOCOL_V2: out.send_proxy = ProxyProtocolVersion::kV2; break;
        default:
            errors.add(node.at(F::kSendProxyFieldNumber), "unknown send_proxy " + std::to_string(msg.send_proxy()));
    }
    if (msg.has_health_check())
        out.health_check = check_health_check(msg.health_check(), node.child(F::kHealthCheckFieldNumber), errors);
    if (msg.has_passive_health())
        out.passive_health =
            check_passive_health(msg.passive_health(), node.child(F::kPassiveHealthFieldNumber), errors);
    if (msg.has_stickiness()) {
        out.stickiness.enabled = true;
        out.stickiness.ttl_ms = or_default(msg.stickiness().ttl_ms(), out.stickiness.ttl_ms);
        out.stickiness.capacity = or_default(msg.stickiness().capacity(), out.stickiness.capacity);
    }
    check_pool_tuning(msg, node, out, errors);
    // balance (core/balance/), tls and stickiness.cookie (l7/config/).
    for (const ConfigModule& module : config_modules())
        if (module.pool) module.pool(msg, node, label("pool", msg.name(), index), out, errors);
    return out;
}

// Two listeners on one address:port would share it through SO_REUSEPORT and
// split its connections between them: refuse. Port 0 gets a fresh port each.
void check_binds_distinct(const std::vector<ListenerConfig>& listeners, const Node& root, Errors& errors) {
    using F = pb::Config;
    std::map<std::string, int> first;  // address -> listener index
    for (int i = 0; i < static_cast<int>(listeners.size()); ++i) {
        const ListenerConfig& listener = listeners[static_cast<size_t>(i)];
        if (listener.bind.port() == 0) continue;
        auto [it, inserted] = first.emplace(listener.bind.to_string(), i);
        if (inserted) continue;
        const int j = it->second;
        const int first_line = root.child(F::kListenersFieldNumber, j).at(pb::Listener::kBindFieldNumber).line;
        errors.add(root.child(F::kListenersFieldNumber, i).at(pb::Listener::kBindFieldNumber),
                   label("listener", listener.name, i) + ": address " + it->first + " is already used by " +
                       label("listener", listeners[static_cast<size_t>(j)].name, j) + " (line " +
                       std::to_string(first_line) + ")");
    }
}

Config check_config(const pb::Config& msg, const Node& root, Errors& errors) {
    using F = pb::Config;
    Config out;
    out.global = check_global(msg.global(), root.child(F::kGlobalFieldNumber), errors);

    // Pools first: listeners refer to them by name.
    NameSet pool_names;
    for (int i = 0; i < msg.pools_size(); ++i)
        out.pools.push_back(check_pool(msg.pools(i), root.child(F::kPoolsFieldNumber, i), i, pool_names, errors));

    if (msg.listeners_size() == 0) errors.add({}, "no listeners defined");
    NameSet listener_names;
    for (int i = 0; i < msg.listeners_size(); ++i)
        out.listeners.push_back(check_listener(msg.listeners(i), root.child(F::kListenersFieldNumber, i), i,
                                               listener_names, pool_names, errors));
    check_binds_distinct(out.listeners, root, errors);
    for (const ConfigModule& module : config_modules())
        if (module.whole) module.whole(msg, root, out, errors);
    check_owned_fields_have_modules(msg, root, errors);
    // Last, and only for a file otherwise sound: it waits for nameservers.
    if (errors.empty()) resolve_server_names(out, root, errors);
    return out;
}

ConfigLoadResult parse_and_check(std::string_view text, const std::string& display_name) {
    Errors errors(display_name);
    ConfigLoadResult result;
    if (text.size() > static_cast<size_t>(INT_MAX)) {
        errors.add({}, "file too large");
        result.errors = errors.take();
        return result;
    }
    pb::Config msg;
    ParseInfoTree tree;
    SyntaxErrors syntax(errors);
    google::protobuf::TextFormat::Parser parser;
    parser.RecordErrorsTo(&syntax);
    parser.WriteLocationsTo(&tree);
    google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
    if (!parser.Parse(&input, &msg)) {
        if (errors.empty()) errors.add({}, "syntax error");  // the parser failed without a reason
        result.errors = errors.take();
        return result;
    }

    Config config = check_config(msg, Node(pb::Config::descriptor(), &tree, Loc{}), errors);
    if (errors.empty()) {
        config.source_path = display_name;
        result.config = std::move(config);
    }
    result.errors = errors.take();
    return result;
}

ConfigLoadResult single_error(const std::string& file, std::string message) {
    ConfigLoadResult result;
    result.errors.push_back({file, 0, 0, std::move(message)});
    return result;
}

// Reads a whole file; returns 0 or an errno value.
int read_file(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = 0;
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0) err = errno;  // e.g. EISDIR
            break;
        }
    }
    ::close(fd);
    return err;
}

}  // namespace

int probe_exclusive_bind(const SocketAddress& address, bool freebind) {
    int err = 0;
    bind_tcp_socket(address, /*reuseport=*/false, freebind, &err);
    return err;
}

std::string ConfigError::to_string() const {
    if (line <= 0) return file + ": " + message;
    std::string where = file + ":" + std::to_string(line);
    if (column > 0) where += ":" + std::to_string(column);
    return where + ": " + message;
}

ConfigLoadResult load_config_text(std::string_view text, const std::string& display_name) {
    try {
        return parse_and_check(text, display_name);
    } catch (const std::exception& e) {  // bad_alloc, in practice
        return single_error(display_name, std::string("internal error: ") + e.what());
    }
}

ConfigLoadResult load_config_file(const std::string& path) {
    try {
        std::string text;
        if (int err = read_file(path, text); err != 0) return single_error(path, std::strerror(err));
        return parse_and_check(text, path);
    } catch (const std::exception& e) {
        return single_error(path, std::string("internal error: ") + e.what());
    }
}

std::vector<ConfigError> check_listeners_bindable(const Config& config, const RunningListenerFn& running) {
    std::vector<ConfigError> errors;
    try {
        for (const ListenerConfig& listener : config.listeners) {
            if (listener.bind.port() == 0) continue;  // the kernel picks a free port
            int err = probe_exclusive_bind(listener.bind, listener.freebind);
            if (err == 0) continue;
            // The running lbd's own socket for this very listener: a reload keeps it.
            if (err == EADDRINUSE && running && running(listener)) continue;
            std::string message = "listener " + quote(listener.name) + ": ";
            if (err == EADDRINUSE)
                message += "address " + listener.bind.to_string() + " is already in use";
            else
                message += "cannot bind " + listener.bind.to_string() + ": " + std::strerror(err);
            errors.push_back({config.source_path, listener.bind_line, listener.bind_column, std::move(message)});
        }
    } catch (const std::exception& e) {
        errors.push_back({config.source_path, 0, 0, std::string("internal error: ") + e.what()});
    }
    return errors;
}

}  // namespace lbd
