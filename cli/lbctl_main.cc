// lbctl: the operator's command line for a running lbd. This file only wires
// CLI11 subcommands to admin requests; the socket is lbctl_client.h's, the
// printing lbctl_format.h's.
//
// Exit codes, the contract with scripts:
//   0  done
//   1  refused: lbd answered with an AdminError (and `config check` found
//      errors, `--wait` timed out)
//   2  usage: the command line does not parse
//   3  unreachable: no lbd answers on the socket
#include <poll.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/lbctl_client.h"
#include "cli/lbctl_format.h"
#include "core/config/config_loader.h"
#include "core/loop/event.h"

#ifndef LBD_VERSION
#define LBD_VERSION "0.1.0"
#endif

namespace {

using namespace lbd;
using namespace lbd::lbctl;
namespace v1 = ::lbd::v1;

enum Exit : int { kDone = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

constexpr int kWaitPollMs = 100;

struct GlobalOptions {
    std::string socket = "/run/lbd/admin.sock";
    bool json = false;
    int timeout_ms = 5000;
};

uint64_t now_unix_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

void out(const std::string& text) { std::fputs(text.c_str(), stdout); }

// "web/web1" -> {"web", "web1"}; the option's validator made sure of the '/'.
std::pair<std::string, std::string> split_server(const std::string& pool_name) {
    size_t slash = pool_name.find('/');
    return {pool_name.substr(0, slash), pool_name.substr(slash + 1)};
}

const CLI::Validator kServerName(
    [](std::string& value) -> std::string {
        size_t slash = value.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == value.size())
            return "'" + value + "' is not POOL/NAME (e.g. web/web1)";
        return "";
    },
    "POOL/NAME");

// Runs the commands of one lbctl invocation over one connection.
class Commands {
public:
    // `options` is read when a command runs, i.e. after parsing filled it.
    explicit Commands(const GlobalOptions& options) : options_(options) {}

    int status() {
        AdminRequest request;
        request.mutable_status();
        auto response = call(request, AdminResponse::kStatus);
        if (!response) return exit_;
        return print(response->status(), format_status(response->status()));
    }

    int servers(const std::string& pool) {
        AdminRequest request;
        request.mutable_servers()->set_pool(pool);
        auto response = call(request, AdminResponse::kServers);
        if (!response) return exit_;
        return print(response->servers(), format_servers(response->servers(), now_unix_ms()));
    }

    int set_state(const std::string& pool_name, v1::AdminState state, bool wait, double wait_timeout_s) {
        auto [pool, name] = split_server(pool_name);
        AdminRequest request;
        auto* args = request.mutable_set_server_state();
        args->set_pool(pool);
        args->set_server(name);
        args->set_admin_state(state);
        auto response = call(request, AdminResponse::kServer);
        if (!response) return exit_;
        // Drain and disable close the server's idle keep-alive connections
        // at once (HTTP pools); the line says how many.
        const std::string closed = state == v1::ADMIN_STATE_READY ? "" : format_idle_closed(response->server());
        // With --wait, --json prints one document: the server once drained.
        if (!wait) return print(response->server(), format_server(response->server(), now_unix_ms()) + closed);
        if (!options_.json) {
            out(format_server(response->server(), now_unix_ms()) + closed);
            std::fflush(stdout);  // the row first, even into a pipe, then the wait
        }
        return wait_idle(pool, name, wait_timeout_s);
    }

    int set_weight(const std::string& pool_name, uint32_t weight) {
        auto [pool, name] = split_server(pool_name);
        AdminRequest request;
        auto* args = request.mutable_set_server_weight();
        args->set_pool(pool);
        args->set_server(name);
        args->set_weight(weight);
        auto response = call(request, AdminResponse::kServer);
        if (!response) return exit_;
        return print(response->server(), format_server(response->server(), now_unix_ms()));
    }

    int add_server(const std::string& pool, const std::string& name, const std::string& address, uint32_t weight,
                   uint32_t max_connections) {
        AdminRequest request;
        auto* args = request.mutable_add_server();
        args->set_pool(pool);
        args->set_name(name);
        args->set_address(address);
        args->set_weight(weight);
        args->set_max_connections(max_connections);
        auto response = call(request, AdminResponse::kServer);
        if (!response) return exit_;
        return print(response->server(), format_server(response->server(), now_unix_ms()));
    }

    int remove_server(const std::string& pool_name) {
        auto [pool, name] = split_server(pool_name);
        AdminRequest request;
        auto* args = request.mutable_remove_server();
        args->set_pool(pool);
        args->set_name(name);
        auto response = call(request, AdminResponse::kServer);
        if (!response) return exit_;
        return print(response->server(), format_server(response->server(), now_unix_ms()));
    }

    // A rejected reload is an answer, not an AdminError: lbd says what is
    // wrong with the file and goes on with the old config (exit 1).
    int reload() {
        AdminRequest request;
        request.mutable_reload();
        auto response = call(request, AdminResponse::kReload);
        if (!response) return exit_;
        const auto& reply = response->reload();
        if (options_.json) {
            print(reply, "");
        } else if (reply.applied()) {
            out("reload applied: config sha256 " + reply.config_sha256() + "\n");
            for (const auto& what : reply.needs_restart())
                std::fprintf(stderr, "lbctl: note: the change of '%s' takes effect only after a restart\n", what.c_str());
        } else {
            for (const auto& e : reply.errors()) std::fprintf(stderr, "%s\n", e.c_str());
            std::fprintf(stderr, "lbctl: reload rejected; lbd goes on with the config it had (sha256 %s)\n",
                         reply.config_sha256().empty() ? "-" : reply.config_sha256().c_str());
        }
        return reply.applied() ? kDone : kRefused;
    }

    int stick_show(const std::string& pool) {
        AdminRequest request;
        request.mutable_stick_show()->set_pool(pool);
        auto response = call(request, AdminResponse::kStickShow);
        if (!response) return exit_;
        return print(response->stick_show(), format_stick_show(response->stick_show()));
    }

    int stick_flush(const std::string& pool) {
        AdminRequest request;
        request.mutable_stick_flush()->set_pool(pool);
        auto response = call(request, AdminResponse::kStickFlush);
        if (!response) return exit_;
        return print(response->stick_flush(), format_stick_flush(pool, response->stick_flush()));
    }

    int stick_set(const std::string& pool, const std::string& key, std::string server) {
        // "web/web1" is accepted too, as the other commands name servers so.
        if (server.rfind(pool + "/", 0) == 0) server.erase(0, pool.size() + 1);
        AdminRequest request;
        auto* args = request.mutable_stick_set();
        args->set_pool(pool);
        args->set_key(key);
        args->set_server(server);
        auto response = call(request, AdminResponse::kStickShow);
        if (!response) return exit_;
        return print(response->stick_show(), format_stick_show(response->stick_show()));
    }

    int acl_show(const std::string& list, uint32_t limit) {
        AdminRequest request;
        request.mutable_acl_show()->set_list(list);
        request.mutable_acl_show()->set_limit(limit);
        auto response = call(request, AdminResponse::kAcl);
        if (!response) return exit_;
        return print(response->acl(), format_acl(response->acl()));
    }

    // `file` (LOAD) is made absolute: lbd reads it, from its own directory.
    int acl_change(v1::AclChangeRequest::Op op, const std::string& list, const std::vector<std::string>& prefixes,
                   const std::string& file) {
        AdminRequest request;
        auto* args = request.mutable_acl_change();
        args->set_list(list);
        args->set_op(op);
        for (const std::string& prefix : prefixes) args->add_prefixes(prefix);
        if (!file.empty()) args->set_file(std::filesystem::absolute(file).string());
        auto response = call(request, AdminResponse::kAcl);
        if (!response) return exit_;
        return print(response->acl(), format_acl(response->acl()));
    }

    int stats() {
        AdminRequest request;
        request.mutable_stats();
        auto response = call(request, AdminResponse::kStats);
        if (!response) return exit_;
        return print(response->stats(), format_stats(response->stats()));
    }

    int cache_purge(const std::string& zone, const std::string& target, bool prefix, const std::string& tag) {
        AdminRequest request;
        auto* args = request.mutable_cache_purge();
        args->set_zone(zone);
        args->set_target(target);
        args->set_prefix(prefix);
        args->set_tag(tag);
        auto response = call(request, AdminResponse::kCachePurge);
        if (!response) return exit_;
        return print(response->cache_purge(), format_cache_purge(zone, response->cache_purge()));
    }

    int cache_stats() {
        AdminRequest request;
        request.mutable_cache_stats();
        auto response = call(request, AdminResponse::kCacheStats);
        if (!response) return exit_;
        return print(response->cache_stats(), format_cache_stats(response->cache_stats()));
    }

    int ha_status() {
        AdminRequest request;
        request.mutable_ha_status();
        auto response = call(request, AdminResponse::kHaStatus);
        if (!response) return exit_;
        return print(response->ha_status(), format_ha_status(response->ha_status()));
    }

    int ha_keepalived_config() {
        AdminRequest request;
        request.mutable_ha_keepalived_config();
        auto response = call(request, AdminResponse::kHaKeepalivedConfig);
        if (!response) return exit_;
        return print(response->ha_keepalived_config(), response->ha_keepalived_config().config());
    }

    // Starts the handover, then (unless --no-wait) polls `ha status` until
    // the VIP has left this node; --json prints the final status.
    int ha_failover(bool force, bool wait, double timeout_s, uint32_t drain_timeout_ms) {
        AdminRequest request;
        request.mutable_ha_failover()->set_force(force);
        request.mutable_ha_failover()->set_drain_timeout_ms(drain_timeout_ms);
        auto response = call(request, AdminResponse::kHaFailover);
        if (!response) return exit_;
        if (!wait) return print(response->ha_failover(), "failover started: " + response->ha_failover().detail() + "\n");
        uint64_t start = monotonic_ms();
        uint64_t deadline = start + static_cast<uint64_t>(timeout_s * 1000);
        for (;;) {
            AdminRequest status_request;
            status_request.mutable_ha_status();
            auto status = call(status_request, AdminResponse::kHaStatus);
            if (!status) return exit_;
            const v1::HaStatusReply& ha = status->ha_status();
            uint64_t now = monotonic_ms();
            if (!ha.vip_present() && ha.role() != "MASTER" && ha.handover().phase() == "DONE") {
                const v1::HaHandoverInfo& h = ha.handover();
                std::string left = h.left_open() == 0 ? ""
                                                      : ", " + std::to_string(h.left_open()) +
                                                            " still open at the drain deadline ended with the address";
                return print(ha, "failover: drained " + std::to_string(h.open_at_start()) + " connections in " +
                                     std::to_string(h.drain_ms()) + " ms" + left + "; the virtual IPs left after " +
                                     std::to_string(h.vip_left_ms()) + " ms; role " + ha.role() + "\n");
            }
            // The wait starts when the drain may end: lbd keeps the VIP for up to
            // the handover's drain timeout (its own default when --drain-timeout
            // is left out), as asked.
            const uint64_t give_up = deadline + ha.handover().drain_timeout_ms();
            if (now >= give_up) {
                fail(kRefused, "TIMEOUT", "the virtual IPs are still on this node after " + std::to_string(now - start) +
                                              " ms (see lbctl ha status and keepalived's log)");
                return exit_;
            }
            ::poll(nullptr, 0, static_cast<int>(std::min<uint64_t>(kWaitPollMs / 5, give_up - now)));
        }
    }

    // Local: reads the file with lbd's own loader; no lbd needed. Whether the
    // addresses can be bound is left out: the running lbd holds them.
    int config_check(const std::string& file) {
        ConfigLoadResult loaded = load_config_file(file);
        std::vector<std::string> errors;
        for (const ConfigError& e : loaded.errors) errors.push_back(e.to_string());
        if (options_.json) {
            out(config_check_json(file, errors));
        } else if (errors.empty()) {
            out(file + ": ok\n");
        } else {
            for (const std::string& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
            std::fprintf(stderr, "%s: %zu error(s)\n", file.c_str(), errors.size());
        }
        return errors.empty() ? kDone : kRefused;
    }

private:
    // The response if it carries `expected`; otherwise prints why not, sets
    // exit_ and returns nullopt.
    std::optional<AdminResponse> call(const AdminRequest& request, AdminResponse::ResultCase expected) {
        if (!client_) client_.emplace(options_.socket, options_.timeout_ms);
        AdminResponse response;
        ClientError error;
        if (!client_->call(request, &response, &error)) {
            const char* what = error.kind == ClientError::Kind::kUnreachable ? "cannot reach" : "bad reply from";
            fail(kUnreachable, "UNREACHABLE", std::string(what) + " lbd at " + client_->socket_path() + ": " +
                                                  error.message);
            return std::nullopt;
        }
        if (response.result_case() == AdminResponse::kError) {
            fail(kRefused, v1::AdminError::Code_Name(response.error().code()), response.error().message());
            return std::nullopt;
        }
        if (response.result_case() != expected) {
            fail(kUnreachable, "UNREACHABLE",
                 "bad reply from lbd at " + client_->socket_path() + ": not the reply of this command");
            return std::nullopt;
        }
        return response;
    }

    void fail(Exit code, const std::string& name, const std::string& message) {
        exit_ = code;
        if (options_.json) {
            out(error_json(name, message));
        } else if (code == kUnreachable) {
            std::fprintf(stderr, "lbctl: %s\n", message.c_str());
        } else {
            std::fprintf(stderr, "lbctl: %s: %s\n", name.c_str(), message.c_str());
        }
    }

    int print(const google::protobuf::Message& reply, const std::string& human) {
        out(options_.json ? to_json(reply) : human);
        return kDone;
    }

    // Polls `servers` every 100 ms until the server has no open connection.
    int wait_idle(const std::string& pool, const std::string& name, double timeout_s) {
        uint64_t deadline = monotonic_ms() + static_cast<uint64_t>(timeout_s * 1000);
        uint32_t last_reported = 0;
        bool reported = false;
        for (;;) {
            AdminRequest request;
            request.mutable_servers()->set_pool(pool);
            auto response = call(request, AdminResponse::kServers);
            if (!response) return exit_;
            const v1::ServerInfo* info = nullptr;
            for (const auto& s : response->servers().servers()) {
                if (s.name() == name) info = &s;
            }
            if (info == nullptr) {
                fail(kRefused, "NOT_FOUND", "server " + pool + "/" + name + " is gone");
                return exit_;
            }
            uint32_t active = info->active_connections();
            if (active == 0) {
                std::fprintf(stderr, "lbctl: %s/%s has no open connection\n", pool.c_str(), name.c_str());
                if (options_.json) out(to_json(*info));
                return kDone;
            }
            uint64_t now = monotonic_ms();
            if (now >= deadline) {
                char seconds[32];
                std::snprintf(seconds, sizeof seconds, "%g", timeout_s);
                fail(kRefused, "TIMEOUT",
                     pool + "/" + name + " still has " + std::to_string(active) + " open connection(s) after " +
                         seconds + " s");
                return exit_;
            }
            if (!reported || active != last_reported) {
                std::fprintf(stderr, "lbctl: waiting for %s/%s: %u open connection(s)\n", pool.c_str(),
                             name.c_str(), active);
                reported = true;
                last_reported = active;
            }
            ::poll(nullptr, 0, static_cast<int>(std::min<uint64_t>(kWaitPollMs, deadline - now)));
        }
    }

    const GlobalOptions& options_;
    std::optional<AdminClient> client_;  // one connection for all requests of this run
    int exit_ = kDone;
};

std::string example(const std::string& lines) { return "\nExample:\n" + lines; }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lbctl: control a running lbd through its admin socket (see lbd's config: global.admin)", "lbctl"};
    app.set_version_flag("-v,--version", "lbctl " LBD_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // global options also after the command: `lbctl servers --json`

    GlobalOptions options;
    app.add_option("-s,--socket", options.socket, "lbd's admin socket")
        ->envname("LBD_ADMIN_SOCKET")
        ->capture_default_str();
    app.add_flag("--json", options.json, "Print the reply as one JSON document (errors too, on stdout)");
    app.add_option("--timeout", options.timeout_ms, "Give up on a request after this many milliseconds")
        ->check(CLI::Range(1, 3600 * 1000))
        ->capture_default_str();

    Commands commands(options);
    // The leaf subcommand that was parsed runs its action after parsing.
    std::vector<std::pair<CLI::App*, std::function<int()>>> actions;

    auto* status = app.add_subcommand("status", "Show lbd's version, uptime, config, role and listeners");
    status->footer(example("  lbctl status\n  lbctl --json status"));
    actions.emplace_back(status, [&] { return commands.status(); });

    std::string pool;
    auto* servers = app.add_subcommand("servers", "List the servers of every pool (or of POOL) with their state");
    servers->add_option("POOL", pool, "Only this pool");
    servers->footer(example("  lbctl servers\n  lbctl servers web"));
    actions.emplace_back(servers, [&] { return commands.servers(pool); });

    auto* server = app.add_subcommand("server", "Change one server: drain, enable, disable, maint, weight, add, remove");
    server->require_subcommand(1);
    server->footer(example("  lbctl server drain web/web1 --wait --wait-timeout 60\n  lbctl server enable web/web1"));
    std::string server_name;
    bool wait = false;
    double wait_timeout_s = 60;
    struct StateCommand {
        const char* name;
        v1::AdminState state;
        const char* help;
        bool can_wait;
    };
    const StateCommand state_commands[] = {
        {"drain", v1::ADMIN_STATE_DRAIN, "Take no new connections; open ones finish (state DRAIN)", true},
        {"enable", v1::ADMIN_STATE_READY, "Put back in service (admin READY; health decides UP or DOWN)", false},
        {"disable", v1::ADMIN_STATE_MAINT, "Out of service for maintenance (state MAINT), same as maint", true},
        {"maint", v1::ADMIN_STATE_MAINT, "Out of service for maintenance (state MAINT): no checks", true},
    };
    for (const StateCommand& sc : state_commands) {
        auto* sub = server->add_subcommand(sc.name, sc.help);
        sub->add_option("POOL/NAME", server_name, "The server, e.g. web/web1")->required()->check(kServerName);
        std::string ex = std::string("  lbctl server ") + sc.name + " web/web1";
        if (sc.can_wait) {
            auto* w = sub->add_flag("--wait", wait, "Then wait until the server has no open connection (exit 1 "
                                                    "if some remain at the timeout)");
            sub->add_option("--wait-timeout", wait_timeout_s, "Seconds to wait with --wait")
                ->needs(w)
                ->check(CLI::Range(0.0, 7.0 * 86400))
                ->capture_default_str();
            ex += " --wait --wait-timeout 300";
        }
        sub->footer(example(ex + "\n"));
        actions.emplace_back(sub, [&, state = sc.state] {
            return commands.set_state(server_name, state, wait, wait_timeout_s);
        });
    }
    uint32_t weight = 0;
    auto* weight_cmd = server->add_subcommand("weight", "Set a server's weight (1..256), its share of new connections");
    weight_cmd->add_option("POOL/NAME", server_name, "The server, e.g. web/web1")->required()->check(kServerName);
    weight_cmd->add_option("W", weight, "The new weight, 1..256")->required();
    weight_cmd->footer(example("  lbctl server weight web/web1 10\n"));
    actions.emplace_back(weight_cmd, [&] { return commands.set_weight(server_name, weight); });

    std::string add_pool, add_name, add_address;
    uint32_t add_weight = 1, add_max_connections = 0;
    auto* add = server->add_subcommand("add", "Add a server to a pool now (until the next reload: the config file "
                                              "stays the source of truth)");
    add->add_option("POOL", add_pool, "The pool")->required();
    add->add_option("NAME", add_name, "The new server's name, unique in the pool")->required();
    add->add_option("ADDRESS", add_address, "host:port, or [v6]:port")->required();
    add->add_option("--weight", add_weight, "Weight, 1..256")->capture_default_str();
    add->add_option("--max-connections", add_max_connections, "Connections at once, 0 = unlimited")
        ->capture_default_str();
    add->footer(example("  lbctl server add web web4 10.1.0.14:443 --weight 2\n"));
    actions.emplace_back(add, [&] {
        return commands.add_server(add_pool, add_name, add_address, add_weight, add_max_connections);
    });
    auto* remove = server->add_subcommand("remove", "Remove a server now: no new connections; open ones finish");
    remove->add_option("POOL/NAME", server_name, "The server, e.g. web/web4")->required()->check(kServerName);
    remove->footer(example("  lbctl server drain web/web4 --wait && lbctl server remove web/web4\n"));
    actions.emplace_back(remove, [&] { return commands.remove_server(server_name); });

    auto* ha = app.add_subcommand("ha", "The HA pair: role, peer link and sync, planned failover");
    ha->require_subcommand(1);
    auto* ha_status = ha->add_subcommand("status", "Show the role, the VIP, the peer link, sync lag and table sizes");
    ha_status->footer(example("  lbctl ha status\n  lbctl --json ha status"));
    actions.emplace_back(ha_status, [&] { return commands.ha_status(); });
    bool failover_force = false;
    bool failover_no_wait = false;
    double failover_timeout_s = 10;
    uint32_t failover_drain_ms = 0;
    auto* ha_failover = ha->add_subcommand(
        "failover", "Hand the VIP to the peer (this node must be MASTER, the peer connected and in sync)");
    ha_failover->add_flag("--force", failover_force, "Go even if the peer is not connected or not in sync");
    ha_failover->add_flag("--no-wait", failover_no_wait, "Return once started, without waiting for the VIP to leave");
    ha_failover->add_option("--drain-timeout", failover_drain_ms,
                            "Milliseconds open connections on the VIP may take to end before it leaves anyway "
                            "(default 2000; idle HTTP keep-alive connections get 3/4 of it for a next request)");
    ha_failover->add_option("--wait-timeout", failover_timeout_s,
                            "Seconds to wait for the VIP to leave once the drain may have ended")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    ha_failover->footer(example("  lbctl ha failover        # on the MASTER, before maintenance\n"));
    actions.emplace_back(ha_failover,
                         [&] { return commands.ha_failover(failover_force, !failover_no_wait, failover_timeout_s, failover_drain_ms); });
    auto* ha_keepalived = ha->add_subcommand("keepalived-config", "Print the keepalived.conf this node runs with");
    actions.emplace_back(ha_keepalived, [&] { return commands.ha_keepalived_config(); });

    auto* reload = app.add_subcommand("reload", "Reload lbd's config file: checked first, applied without dropping "
                                                "connections (exit 1 and the errors if it is invalid)");
    reload->footer(example("  lbctl config check /etc/lbd/lbd.conf && lbctl reload\n"));
    actions.emplace_back(reload, [&] { return commands.reload(); });

    auto* stick = app.add_subcommand("stick", "Show, flush or set entries of a pool's stick table (source IP, or LEARN cookie)");
    stick->require_subcommand(1);
    stick->footer(example("  lbctl stick show web\n  lbctl stick set web 192.0.2.10 web1\n  lbctl stick flush web"));
    std::string stick_key, stick_server;
    auto* show = stick->add_subcommand("show", "List the entries: client IP or cookie value, server, time left");
    show->add_option("POOL", pool, "The pool (with stickiness configured)")->required();
    show->footer(example("  lbctl stick show web\n"));
    actions.emplace_back(show, [&] { return commands.stick_show(pool); });
    auto* flush = stick->add_subcommand("flush", "Remove every entry: clients are balanced afresh");
    flush->add_option("POOL", pool, "The pool (with stickiness configured)")->required();
    flush->footer(example("  lbctl stick flush web\n"));
    actions.emplace_back(flush, [&] { return commands.stick_flush(pool); });
    auto* set = stick->add_subcommand("set", "Pin a client IP address (or a LEARN cookie value) to a server");
    set->add_option("POOL", pool, "The pool (with stickiness configured)")->required();
    set->add_option("KEY", stick_key, "The client's IP address (IPv4 or IPv6), or the cookie's value for a LEARN cookie table")->required();
    set->add_option("SERVER", stick_server, "A server of the pool, by name")->required();
    set->footer(example("  lbctl stick set web 192.0.2.10 web1\n"));
    actions.emplace_back(set, [&] { return commands.stick_set(pool, stick_key, stick_server); });

    auto* cache = app.add_subcommand("cache", "Purge stored responses of a cache zone, or show the zones' counters");
    cache->require_subcommand(1);
    cache->footer(example("  lbctl cache purge static /index.html\n  lbctl cache purge static --prefix /img/\n"
                          "  lbctl cache purge static --tag product-42\n  lbctl cache stats"));
    std::string cache_zone, cache_target, cache_tag;
    bool cache_prefix = false;
    auto* purge = cache->add_subcommand(
        "purge", "Remove a key (with its Vary variants), a path on any host, a prefix, or every object with a tag");
    purge->add_option("ZONE", cache_zone, "The cache zone (global.cache_zones)")->required();
    // Exactly one of TARGET and --tag: a usage error (2) otherwise.
    auto* what = purge->add_option_group("TARGET or --tag");
    auto* target = what->add_option(
        "TARGET", cache_target, "A key as lbd makes it (http://host/path?query; host lower-cased, no port), or a path and query starting with '/' (any host)");
    auto* tag = what->add_option("--tag", cache_tag,
                                 "Remove every object whose tag header (the zone's tag_header) lists TAG");
    what->require_option(1);
    purge->add_flag("--prefix", cache_prefix, "Remove every key (or path) that starts with TARGET")
        ->needs(target)
        ->excludes(tag);
    purge->footer(example("  lbctl cache purge static http://www.example.com/app.js\n"
                          "  lbctl cache purge static --prefix /img/\n"
                          "  lbctl cache purge static --tag product-42\n"));
    actions.emplace_back(purge,
                         [&] { return commands.cache_purge(cache_zone, cache_target, cache_prefix, cache_tag); });
    auto* cache_stats = cache->add_subcommand("stats", "Per zone: bytes and objects held, hits, misses, stores, evictions");
    cache_stats->footer(example("  lbctl cache stats\n  lbctl --json cache stats\n"));
    actions.emplace_back(cache_stats, [&] { return commands.cache_stats(); });
    auto* acl = app.add_subcommand("acl", "Show or change the access lists (global.acl_lists) without a reload; "
                                          "a reload rebuilds them from the config");
    acl->require_subcommand(1);
    acl->footer(example("  lbctl acl show office\n  lbctl acl add blocked 203.0.113.0/24 2001:db8:bad::/48\n"
                        "  lbctl acl del blocked 203.0.113.0/24\n  lbctl acl load blocked /etc/lbd/blocked.txt"));
    std::string acl_name, acl_file;
    std::vector<std::string> acl_prefixes;
    uint32_t acl_limit = 0;
    auto* acl_show = acl->add_subcommand("show", "Every list with its size, or one list's prefixes");
    acl_show->add_option("LIST", acl_name, "A list name (omit for every list)");
    acl_show->add_option("--limit", acl_limit, "Prefixes shown at most (0 = 1000)");
    actions.emplace_back(acl_show, [&] { return commands.acl_show(acl_name, acl_limit); });
    auto* acl_add = acl->add_subcommand("add", "Add prefixes to a list (CIDRs or addresses)");
    acl_add->add_option("LIST", acl_name, "The list")->required();
    acl_add->add_option("PREFIX", acl_prefixes, "e.g. 192.0.2.0/24, 2001:db8::/32")->required();
    actions.emplace_back(acl_add, [&] { return commands.acl_change(v1::AclChangeRequest::ADD, acl_name, acl_prefixes, ""); });
    auto* acl_del = acl->add_subcommand("del", "Remove prefixes from a list (each must be in it)");
    acl_del->add_option("LIST", acl_name, "The list")->required();
    acl_del->add_option("PREFIX", acl_prefixes, "As shown by acl show")->required();
    actions.emplace_back(acl_del, [&] { return commands.acl_change(v1::AclChangeRequest::DEL, acl_name, acl_prefixes, ""); });
    auto* acl_load = acl->add_subcommand("load", "Replace a list with the prefixes of a file (one a line, # comments)");
    acl_load->add_option("LIST", acl_name, "The list")->required();
    acl_load->add_option("FILE", acl_file, "Read by lbd")->required();
    actions.emplace_back(acl_load, [&] { return commands.acl_change(v1::AclChangeRequest::LOAD, acl_name, {}, acl_file); });

    auto* stats = app.add_subcommand("stats", "Per listener: connections accepted, open, and how they ended");
    stats->footer(example("  lbctl stats\n  lbctl --json stats"));
    actions.emplace_back(stats, [&] { return commands.stats(); });

    auto* config = app.add_subcommand("config", "Work on config files (locally; no lbd needed)");
    config->require_subcommand(1);
    config->footer(example("  lbctl config check /etc/lbd/lbd.conf"));
    std::string config_file;
    auto* check = config->add_subcommand("check", "Check a config file: syntax, references, ranges (exit 1 on errors, "
                                                  "each as file:line:col)");
    check->add_option("FILE", config_file, "The config file (protobuf text format, schema lbd.v1.Config)")
        ->required();
    check->footer(example("  lbctl config check /etc/lbd/lbd.conf.new && cp /etc/lbd/lbd.conf.new /etc/lbd/lbd.conf\n"));
    actions.emplace_back(check, [&] { return commands.config_check(config_file); });

    app.footer(
        "\nExit status: 0 done, 1 refused by lbd (or config errors, --wait timeout), 2 usage, 3 lbd unreachable.\n"
        "Environment: LBD_ADMIN_SOCKET sets the socket (--socket wins).\n"
        "Run `lbctl COMMAND --help` for a command's options and an example.");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 answers an unknown command with "A subcommand is required"
        // and keeps the word among the arguments it did not take: name it.
        const std::vector<std::string> left = app.remaining();
        if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && !left.empty()) {
            const std::string message = "unknown command '" + left.front() + "'; run lbctl --help";
            if (options.json) std::fputs(error_json("USAGE", message).c_str(), stdout);
            else std::fprintf(stderr, "lbctl: %s\n", message.c_str());
            return kUsage;
        }
        // CLI11's own codes (105, 106, ...) would be taken for lbd's answers;
        // every usage problem is 2, and --help / --version are success.
        const int status = app.exit(e) == 0 ? kDone : kUsage;
        // --json promises one JSON document on stdout, usage errors included
        // (CLI11 parses flags as it goes: --json is set if it came before the mistake).
        bool json = options.json;
        for (int i = 1; i < argc && !json; ++i) json = std::string_view(argv[i]) == "--json";
        if (status == kUsage && json) std::fputs(error_json("USAGE", e.what()).c_str(), stdout);
        return status;
    }
    for (auto& [command, action] : actions) {
        if (command->parsed()) return action();
    }
    if (options.json)
        std::fputs(error_json("USAGE", "no command given; run lbctl --help").c_str(), stdout);
    else
        std::fprintf(stderr, "lbctl: no command given; run lbctl --help\n");
    return kUsage;
}
