#include "ha/track_watchdog.h"

#include <fcntl.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/loop/event.h"
#include "ha/keepalived_config.h"

namespace lbd::ha {
namespace {

// The watchdog's name in ps and /proc/PID/comm: not lbd's, so that
// keepalived's track_process (which matches the name) never takes it for lbd.
constexpr char kWatchdogName[] = "lbd-watchdog";

void write_all(int fd, const char* text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        length -= size_t(n);
    }
}

// The child. Only async-signal-safe calls: lbd may have other threads, and
// their locks (malloc's, the logger's) were copied in whatever state.
// Closes every descriptor from 3 up except `keep_a` and `keep_b`.
void close_all_but(int keep_a, int keep_b) {
    const unsigned low = unsigned(std::min(keep_a, keep_b)), high = unsigned(std::max(keep_a, keep_b));
    if (low > 3) close_range(3, low - 1, 0);
    if (high > low + 1) close_range(low + 1, high - 1, 0);
    close_range(high + 1, ~0U, 0);
}

[[noreturn]] void watch(int read_end, int ready_end, const char* track_file, const char* temporary,
                        const char* fault_text) {
    prctl(PR_SET_NAME, kWatchdogName, 0, 0, 0);
    // `kill $(pidof lbd)` and a reload's SIGHUP may reach us too (we share
    // lbd's command line): we leave when lbd does, not before. They were
    // blocked across fork, so none sent meanwhile can end us before this.
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Keep stdin..stderr and the pipe; nothing else of lbd's. Then say so:
    // start() returns only once the watchdog holds none of lbd's sockets (a
    // listener lbd closes later is really closed, its port free again).
    close_all_but(read_end, ready_end);
    write_all(ready_end, "r");
    close(ready_end);

    char buffer[64];
    for (;;) {
        ssize_t n = read(read_end, buffer, sizeof buffer);
        if (n == 0) break;  // every write end closed: lbd is gone
        if (n < 0 && errno != EINTR) break;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        write_all(fd, fault_text);
        close(fd);
        if (rename(temporary, track_file) == 0) {
            write_all(2, "lbd-watchdog: lbd is gone; track file ");
            write_all(2, track_file);
            write_all(2, " = ");
            write_all(2, fault_text);
            _exit(0);
        }
    }
    write_all(2, "lbd-watchdog: lbd is gone, and the track file could not be written\n");
    _exit(1);
}

}  // namespace

bool TrackWatchdog::start(const std::string& track_file, std::string* error) {
    int ends[2], ready[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        *error = std::string("ha: cannot create the watchdog's pipe: ") + strerror(errno);
        return false;
    }
    if (pipe2(ready, O_CLOEXEC) != 0) {
        *error = std::string("ha: cannot create the watchdog's pipe: ") + strerror(errno);
        close(ends[0]);
        close(ends[1]);
        return false;
    }
    // Everything the child needs, made before fork (it must not allocate).
    // Another name than lbd's own temporary file: lbd may still be writing
    // its FAULT at shutdown when the watchdog writes its own.
    const std::string temporary = track_file + ".watchdog.tmp";
    const std::string fault_text = std::to_string(kTrackFault) + "\n";
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    for (int signal_number : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&stop_signals, signal_number);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    pid_t pid = fork();
    if (pid != 0) pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
        *error = std::string("ha: cannot fork the track-file watchdog: ") + strerror(errno);
        close(ends[0]);
        close(ends[1]);
        close(ready[0]);
        close(ready[1]);
        return false;
    }
    if (pid == 0) {
        close(ready[0]);
        watch(ends[0], ready[1], track_file.c_str(), temporary.c_str(), fault_text.c_str());
    }
    close(ends[0]);
    close(ready[1]);
    // Wait until the child has shed lbd's descriptors (EOF if it died first).
    char byte;
    while (read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(ready[0]);
    pid_ = pid;
    write_end_ = ends[1];
    return true;
}

TrackWatchdog::~TrackWatchdog() {
    if (write_end_ >= 0) close(write_end_);
    if (pid_ > 0) {
        // It writes one small file and exits: this wait is short.
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

ProcEvents probe_proc_events() {
    UniqueFd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
    if (!fd) return ProcEvents::kUnknown;
    // A message for a connector index nobody registered: the kernel drops it
    // without effect where the connector exists, and refuses it where not.
    struct {
        nlmsghdr header;
        cn_msg message;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = NLMSG_DONE;
    request.header.nlmsg_pid = 0;
    request.message.id.idx = CN_NETLINK_USERS + 0x4c42;
    request.message.id.val = 1;
    request.message.len = 0;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = sendto(fd.get(), &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (sent == ssize_t(sizeof request)) return ProcEvents::kAvailable;
    return errno == ECONNREFUSED ? ProcEvents::kRefused : ProcEvents::kUnknown;
}

bool track_process_wanted(const VrrpConfig& vrrp) {
    switch (vrrp.track_process) {
        case VrrpConfig::TrackProcess::kOn: return true;
        case VrrpConfig::TrackProcess::kOff: return false;
        case VrrpConfig::TrackProcess::kAuto: break;
    }
    return probe_proc_events() != ProcEvents::kRefused;
}

}  // namespace lbd::ha
