// How keepalived learns that lbd is gone, in any network namespace.
//
// keepalived's vrrp_track_process hears process exits through the kernel's
// process-events connector, which exists only in the initial network
// namespace: in a container with its own (LXC, most container platforms)
// keepalived logs "Failed to set/clear process event listen - errno 111" and
// the instance stays FAULT forever. The track file works everywhere, but a
// killed lbd cannot write FAULT into it. So lbd forks a small watchdog at
// start:
//
//   lbd ----(write end of a pipe, held by lbd alone)----> watchdog (read end)
//        lbd exits for any reason (SIGKILL, crash, OOM, normal stop): the
//        kernel closes the write end, read() returns 0, the watchdog writes
//        kTrackFault to the track file (by rename) and exits; keepalived reads
//        it on inotify and leaves MASTER (a priority-0 advert: the peer takes
//        over at once).
//
// It costs no polling and reacts within a millisecond. What it does not
// cover: the watchdog killed together with lbd (SIGKILL to the whole cgroup,
// e.g. systemd's final kill after a stop timed out); where the connector
// answers, the rendered config also keeps vrrp_track_process for that.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/config/config.h"

namespace lbd::ha {

class TrackWatchdog {
public:
    TrackWatchdog() = default;
    // Closes the pipe (the watchdog writes FAULT and exits) and reaps it.
    ~TrackWatchdog();
    TrackWatchdog(const TrackWatchdog&) = delete;
    TrackWatchdog& operator=(const TrackWatchdog&) = delete;

    // Forks the watchdog for `track_file`. Call it before threads start if
    // possible; the child only makes async-signal-safe calls in any case.
    // It keeps no descriptor of lbd's but the pipe's read end and stderr (a
    // listening socket kept alive by it would stay bound after a reload).
    bool start(const std::string& track_file, std::string* error);
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int write_end_ = -1;
};

// Whether keepalived's vrrp_track_process can work in this network namespace:
// a message to the kernel's connector is refused (ECONNREFUSED) outside the
// initial one. kUnknown when the probe itself failed (no netlink here).
enum class ProcEvents { kAvailable, kRefused, kUnknown };
ProcEvents probe_proc_events();

// RenderOptions::track_process for `vrrp`: kOn and kOff as they say; kAuto
// asks probe_proc_events() here, and renders it unless refused (a failed
// probe keeps the tracker: it was rendered before the watchdog existed).
bool track_process_wanted(const VrrpConfig& vrrp);

}  // namespace lbd::ha
