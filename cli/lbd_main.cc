// lbd: the appliance daemon's entry point. The one file that includes every
// tier: it reads the command line, loads the config, and hands the tiers and
// the HA pair member to the daemon (core/daemon/daemon.h), which runs them.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/allocator.h"
#include "cli/running_lbd.h"
#include "core/config/config_loader.h"
#include "core/daemon/daemon.h"
#include "core/base/log.h"
#include "core/loop/buffer_memory.h"
#include "ha/ha_node.h"
#include "ha/keepalived_config.h"
#include "ha/track_watchdog.h"
#include "l4/l4_tier.h"
#include "l7/l7_tier.h"

#ifndef LBD_VERSION
#define LBD_VERSION "0.1.0"
#endif

namespace {

using namespace lbd;

void print_errors(const std::vector<ConfigError>& errors) {
    for (const ConfigError& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

int render_keepalived(const Config& config, const std::string& path, const std::string& process_name) {
    if (!config.global.ha.enabled) {
        std::fprintf(stderr, "%s has no global.ha block: this node is not part of a pair\n", path.c_str());
        return 1;
    }
    ha::RenderOptions options;
    options.source_path = path;
    options.process_name = process_name;
    options.track_process = ha::track_process_wanted(config.global.ha.vrrp);
    std::fputs(ha::render_keepalived_config(config.global.ha, options).c_str(), stdout);
    return 0;
}

DaemonParts parts(const std::string& process_name) {
    DaemonParts out;
    out.version = LBD_VERSION;
    out.allocator = allocator_name();
    out.release_free_memory = &release_free_memory;
    out.make_tiers = [](const std::vector<Worker*>& workers, const GlobalConfig& global) {
        std::vector<std::unique_ptr<Tier>> tiers;
        tiers.push_back(std::make_unique<l4::L4Tier>(workers, global));
        tiers.push_back(std::make_unique<l7::L7Tier>(workers, global));
        return tiers;
    };
    out.make_pair = [process_name](event_base* control, const HaConfig& config, std::function<PoolSet&()> pools) {
        return std::make_unique<ha::HaNode>(control, config, process_name, std::move(pools));
    };
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    // Before any libevent object exists (core/loop/buffer_memory.h).
    use_buffer_memory();
    CLI::App app{"lbd: Layer 4/7 load-balancer appliance"};
    std::string config_path = "/etc/lbd/lbd.conf";
    bool check_only = false;
    bool keepalived = false;
    app.add_option("-c,--config", config_path, "Configuration file (protobuf text format, schema lbd.v1.Config)")
        ->capture_default_str();
    app.add_flag("-t,--test", check_only, "Check the configuration (syntax, references, bindable addresses) and exit");
    app.add_flag("--render-keepalived", keepalived, "Print the keepalived.conf for this node (from global.ha) and exit");
    app.set_version_flag("-v,--version", "lbd " LBD_VERSION " (" + allocator_name() + ")");
    CLI11_PARSE(app, argc, argv);

    // keepalived's track_process matches /proc/PID/comm: the name lbd was
    // started as (a symlink such as lbd-a gives each node of a netns test
    // its own), cut to the kernel's 15 characters.
    std::string process_name = std::filesystem::path(argv[0]).filename().string().substr(0, 15);

    ConfigLoadResult loaded = load_config_file(config_path);
    if (!loaded.errors.empty()) {
        print_errors(loaded.errors);
        std::fprintf(stderr, "configuration file %s has %zu error(s)\n", config_path.c_str(), loaded.errors.size());
        return 1;
    }
    if (keepalived) return render_keepalived(*loaded.config, config_path, process_name);
    if (check_only) {
        auto bind_errors = check_listeners_bindable(*loaded.config, running_listeners(*loaded.config));
        if (!bind_errors.empty()) {
            print_errors(bind_errors);
            return 1;
        }
        std::printf("configuration file %s is valid\n", config_path.c_str());
        return 0;
    }

    set_log_level(loaded.config->global.log_level);
    // A peer that closes while lbd writes must give EPIPE, not kill lbd.
    std::signal(SIGPIPE, SIG_IGN);
    tune_allocator();
    Daemon daemon(std::move(*loaded.config), parts(process_name));
    return daemon.run();
}
