#include "cli/running_lbd.h"

#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "cli/lbctl_client.h"

namespace lbd {
namespace {

// The status reply names a listener's mode "tcp", "http" or "https".
ListenerMode mode_of(const std::string& text) { return text == "tcp" ? ListenerMode::kTcp : ListenerMode::kHttp; }

}  // namespace

RunningListenerFn running_listeners(const Config& config) {
    const std::string& socket_path = config.global.admin.socket_path;
    if (socket_path.empty()) return {};
    lbctl::AdminClient client(socket_path, 2000);
    AdminRequest request;
    request.mutable_status();
    AdminResponse response;
    lbctl::ClientError error;
    if (!client.call(request, &response, &error) || !response.has_status()) return {};
    using Key = std::tuple<std::string, std::string, ListenerMode>;
    auto running = std::make_shared<std::set<Key>>();
    for (const auto& listener : response.status().listeners())
        running->insert({listener.name(), listener.bind(), mode_of(listener.mode())});
    return [running](const ListenerConfig& listener) {
        return running->count({listener.name, listener.bind.to_string(), listener.mode}) != 0;
    };
}

}  // namespace lbd
