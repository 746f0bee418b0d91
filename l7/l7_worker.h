// What the L7 tier keeps per worker: its HTTP listeners, its sessions, one
// ServerPicker per pool, and the pool of idle server connections. Touched
// only on the worker's thread.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/health/passive_health.h"
#include "core/balance/pool.h"
#include "core/tier/runtime.h"
#include "core/loop/thread_pool.h"
#include "core/loop/worker.h"
#include "l7/compression/cpu_governor.h"
#include "l7/http1.h"
#include "l7/parked_client.h"
#include "l7/proxy_header_wait.h"
#include "l7/upstream.h"

namespace lbd::l7 {

class HttpListener;
class HttpSession;

class L7Worker {
public:
    L7Worker(Worker& worker, const GlobalConfig& global);
    ~L7Worker();

    Worker& worker() { return worker_; }
    event_base* base() { return worker_.base(); }
    const GlobalConfig& global() const { return global_; }
    UpstreamPool& upstreams() { return upstreams_; }
    // The worker's balancer for `pool`; `runtime` keeps the pool alive.
    ServerPicker& picker_for(Pool& pool, const RuntimePtr& runtime);
    bool draining() const { return draining_; }
    // Where a session parses a head. The parse runs whole on every call (the
    // session keeps only its HeadScanState) and the session copies what it
    // needs at once, so one per worker serves every session: an idle
    // connection holds no header vectors (32 slots each).
    HttpRequestHead& request_head() { return request_head_; }
    HttpResponseHead& response_head() { return response_head_; }
    // The time this worker spends compressing, for every listener's
    // compression limits (compression/cpu_governor.h): one budget per worker.
    compression::CpuGovernor& compression_governor() { return compression_governor_; }

    void add_listener(std::shared_ptr<HttpListener> listener);
    std::shared_ptr<HttpListener> find_listener(const std::string& name) const;
    // Reload: `next` becomes the listener set (already started); the others
    // stop accepting, their sessions go on. Old pickers and idle server
    // connections are dropped.
    void replace_listeners(std::vector<std::shared_ptr<HttpListener>> next, const GlobalConfig& global);

    void start_session(std::unique_ptr<HttpSession> session);
    // An idle connection with nothing buffered gives up its session
    // (parked_client.h); its next request resumes one, which the caller
    // then lets read (HttpSession::read_waiting).
    ParkedClients& parked() { return parked_; }
    HttpSession* resume_session(ParkedClient client);
    // Connections of accept_proxy listeners waiting for their PROXY header
    // (proxy_header_wait.h); each starts a session once it has it.
    ProxyHeaderWaits& proxy_waits() { return proxy_waits_; }
    // The session has ended; it is freed from the loop, after the callback
    // that ended it has returned.
    void session_ended(HttpSession* session);

    // Passive ejection without active checks: the server comes back UP
    // after `ms` (core/health/passive_health.h).
    void schedule_revive(std::shared_ptr<Server> server, uint32_t ms) { revivals_.schedule(std::move(server), ms); }

    // The tier's threads for password hashing (l7/basic_auth.h), shared by
    // every worker; set once by the tier before the loops run.
    ThreadPool& password_pool() { return *password_pool_; }
    void set_password_pool(ThreadPool* pool) { password_pool_ = pool; }

    // Shutdown: close the listening sockets and idle client connections;
    // busy ones close after their response.
    void stop_accepting();
    // Shutdown deadline: end every session.
    void abort_all();
    // Planned HA handover (Tier::hand_over): new connections to `addresses`
    // are dropped, the listeners still accept what the kernel took; every
    // session ends after its response in progress (Connection: close;
    // HTTP/2: GOAWAY). An idle keep-alive connection was promised keep-alive
    // by its last answer, so closing it at once would race the next request
    // the client may be sending: it closes only once it has been idle for
    // handover_idle_grace_ms() (counted from the handover's start for one
    // answered later), and a request that comes before is answered with
    // Connection: close. Empty: sessions started from now on keep their
    // connection again.
    void hand_over(const std::vector<std::string>& addresses, uint32_t drain_timeout_ms);
    bool handing_over() const { return handing_over_; }
    // The idle grace: the drain deadline less a quarter of it, kept for
    // answering a request that comes at the end of the grace before the VIP
    // leaves (1.5 s of the default 2 s). A client in a request loop, however
    // late it runs, gets its next request answered while the deadline
    // allows; one idle longer than that at the start closes at once.
    static uint32_t handover_idle_grace_ms(uint32_t drain_timeout_ms) { return drain_timeout_ms - drain_timeout_ms / 4; }
    // During a handover: how long from now an idle connection whose last
    // answer went out at `idle_since_ms` (monotonic_ms) stays open; never
    // past its own keep-alive timeout. 0: close it now.
    uint32_t handover_idle_left_ms(uint64_t idle_since_ms, uint32_t keep_alive_ms) const;

private:
    static void on_reap(evutil_socket_t, short, void* arg);

    Worker& worker_;
    ThreadPool* password_pool_ = nullptr;
    GlobalConfig global_;
    bool draining_ = false;
    bool handing_over_ = false;
    uint64_t handover_start_ms_ = 0;
    uint32_t handover_idle_grace_ms_ = 0;
    struct PickerEntry {
        RuntimePtr runtime;
        std::unique_ptr<ServerPicker> picker;
    };
    std::map<const Pool*, PickerEntry> pickers_;
    std::vector<std::shared_ptr<HttpListener>> listeners_;
    // A session's list node moves (splice, no allocation) from sessions_ to
    // ended_ when it ends, and once the session is freed to spare_nodes_,
    // which the next session's takes: none allocated per connection.
    using SessionList = std::list<std::unique_ptr<HttpSession>>;
    SessionList sessions_;
    SessionList ended_;
    SessionList spare_nodes_;
    ParkedClients parked_;
    ProxyHeaderWaits proxy_waits_;
    EventPtr reaper_;
    HttpRequestHead request_head_;
    HttpResponseHead response_head_;
    compression::CpuGovernor compression_governor_;
    PassiveRevivals revivals_;
    // Last: destroyed first, while the sessions' servers still exist.
    UpstreamPool upstreams_;
};

}  // namespace lbd::l7
