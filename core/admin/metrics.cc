#include "core/admin/metrics.h"

#include "core/base/check.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>

#include "core/admin/admin_http.h"
#include "core/net/local_errors.h"

namespace lbd {

void write_pool_metrics(const PoolSet& pools, std::string& out) {
    metric_header(out, "lbd_server_state", "gauge", "1 for the server's current effective state (UP, DOWN, DRAIN, MAINT).");
    for (const auto& pool : pools.pools())
        for (const auto& s : *pool->servers())
            for (ServerState state : {ServerState::kUp, ServerState::kDown, ServerState::kDrain, ServerState::kMaint})
                metric_sample(out, "lbd_server_state", {{"pool", pool->name()}, {"server", s->name()}, {"state", to_string(state)}},
                              s->state() == state ? 1 : 0);

    struct Gauge {
        const char* name;
        const char* type;
        const char* help;
        double (*value)(const Server&);
    };
    static const Gauge gauges[] = {
        {"lbd_server_weight", "gauge", "Current weight.", [](const Server& s) { return double(s.weight()); }},
        {"lbd_server_effective_weight", "gauge", "Weight balancing uses now (below weight during slow start).",
         [](const Server& s) { return s.effective_weight(); }},
        {"lbd_server_connections_active", "gauge", "Connections open to the server.",
         [](const Server& s) { return double(s.active_connections()); }},
        {"lbd_server_connections_total", "counter", "Connections made to the server.",
         [](const Server& s) { return double(s.counters.connections_total.load()); }},
        {"lbd_server_connect_failures_total", "counter", "Failed connects to the server.",
         [](const Server& s) { return double(s.counters.connect_failures.load()); }},
        {"lbd_server_connect_retries_total", "counter",
         "Connects made again to the server after one failed, no other server being left (HTTP).",
         [](const Server& s) { return double(s.counters.connect_retries.load()); }},
        {"lbd_server_bytes_sent_total", "counter", "Bytes sent to the server (client to server).",
         [](const Server& s) { return double(s.counters.bytes_to_server.load()); }},
        {"lbd_server_bytes_received_total", "counter", "Bytes received from the server (server to client).",
         [](const Server& s) { return double(s.counters.bytes_from_server.load()); }},
    };
    for (const Gauge& g : gauges) {
        metric_header(out, g.name, g.type, g.help);
        for (const auto& pool : pools.pools())
            for (const auto& s : *pool->servers())
                metric_sample(out, g.name, {{"pool", pool->name()}, {"server", s->name()}}, g.value(*s));
    }

    metric_header(out, "lbd_server_connect_seconds", "histogram", "Time to establish a connection to the server.");
    for (const auto& pool : pools.pools())
        for (const auto& s : *pool->servers())
            s->counters.connect_time.write(out, "lbd_server_connect_seconds",
                                           "pool=\"" + pool->name() + "\",server=\"" + s->name() + "\"");

    metric_header(out, "lbd_stick_table_entries", "gauge", "Entries in the pool's stick table.");
    for (const auto& pool : pools.pools())
        if (pool->stick_table() != nullptr)
            metric_sample(out, "lbd_stick_table_entries", {{"pool", pool->name()}}, double(pool->stick_table()->size()));
    metric_header(out, "lbd_stick_table_evictions_total", "counter", "Live entries evicted because the table was full.");
    for (const auto& pool : pools.pools())
        if (pool->stick_table() != nullptr)
            metric_sample(out, "lbd_stick_table_evictions_total", {{"pool", pool->name()}},
                          double(pool->stick_table()->evictions()));
}

void write_process_metrics(std::string& out) {
    // lbd_local_errors_total{cause,where}, every combination (zeros included,
    // so a rate() sees the first one).
    metric_header(out, "lbd_local_errors_total", "counter",
                  "Failures caused by lbd's own shortage (descriptors, memory, local ports), not by a server.");
    for (size_t w = 0; w < static_cast<size_t>(LocalWhere::kCount); ++w)
        for (size_t c = 0; c < static_cast<size_t>(LocalCause::kCount); ++c)
            metric_sample(out, "lbd_local_errors_total",
                          {{"cause", to_string(static_cast<LocalCause>(c))}, {"where", to_string(static_cast<LocalWhere>(w))}},
                          double(local_errors(static_cast<LocalWhere>(w), static_cast<LocalCause>(c))));
    size_t fds = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir) != nullptr) ++fds;
        closedir(dir);
        fds -= 3;  // ".", ".." and the directory's own fd
    }
    metric_header(out, "lbd_process_open_fds", "gauge", "Open file descriptors.");
    metric_sample(out, "lbd_process_open_fds", {}, double(fds));

    long pages = 0, resident = 0;
    std::ifstream statm("/proc/self/statm");
    statm >> pages >> resident;
    metric_header(out, "lbd_process_resident_memory_bytes", "gauge", "Resident memory.");
    metric_sample(out, "lbd_process_resident_memory_bytes", {}, double(resident) * double(sysconf(_SC_PAGESIZE)));

    metric_header(out, "lbd_internal_errors_total", "counter",
                  "Failed internal checks (bugs in lbd, each logged once; see CONTRIBUTING.md).");
    metric_sample(out, "lbd_internal_errors_total", {}, double(internal_errors()));
}

}  // namespace lbd
