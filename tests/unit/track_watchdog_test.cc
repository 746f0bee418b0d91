// lbd's track-file watchdog (ha/track_watchdog.h), with real processes: a
// stand-in for lbd starts it and is killed; and the probe that tells whether
// keepalived's track_process can work in a network namespace.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "ha/keepalived_config.h"
#include "ha/track_watchdog.h"
#include "tests/support/lbd_process.h"
#include "tests/support/net.h"

namespace lbd::ha {
namespace {

using test::TempDir;

int listen_on_loopback(uint16_t* port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return -1;
    *port = ntohs(address.sin_port);
    return fd;
}

bool can_bind(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    return ok;
}

// A stand-in for lbd: listens (as lbd's listeners do), starts the watchdog,
// closes its listener (as a reload removing it would), reports the port,
// then waits to be killed.
pid_t fake_lbd(const std::string& track_file, uint16_t* port) {
    int report[2];
    REQUIRE(pipe(report) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(report[0]);
        uint16_t listening = 0;
        int fd = listen_on_loopback(&listening);
        TrackWatchdog watchdog;
        std::string error;
        if (fd < 0 || !watchdog.start(track_file, &error)) _exit(1);
        close(fd);
        if (write(report[1], &listening, sizeof listening) != sizeof listening) _exit(1);
        for (;;) pause();
    }
    close(report[1]);
    CHECK(read(report[0], port, sizeof *port) == sizeof *port);
    close(report[0]);
    return pid;
}

TEST_CASE("track watchdog: lbd killed -> the track file says FAULT at once; it holds none of lbd's sockets") {
    TempDir dir;
    const std::string track = dir.write_file("vrrp.weight", "0\n");
    uint16_t port = 0;
    pid_t lbd = fake_lbd(track, &port);
    REQUIRE(port != 0);
    // The listener lbd closed is free: the watchdog did not keep a copy.
    CHECK(can_bind(port));
    CHECK(dir.read_file("vrrp.weight") == "0\n");

    const auto killed = std::chrono::steady_clock::now();
    REQUIRE(kill(lbd, SIGKILL) == 0);
    REQUIRE(waitpid(lbd, nullptr, 0) == lbd);
    auto content = dir.await_content("vrrp.weight", "-254", 5000);
    REQUIRE(content.has_value());
    CHECK(*content == std::to_string(kTrackFault) + "\n");
    // Milliseconds here; the bound leaves room for a loaded machine.
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
    CHECK(took.count() < 1000);
}

TEST_CASE("track watchdog: a normal stop writes FAULT too, and the watchdog is reaped") {
    TempDir dir;
    const std::string track = dir.write_file("vrrp.weight", "0\n");
    pid_t watchdog_pid = -1;
    {
        TrackWatchdog watchdog;
        std::string error;
        REQUIRE(watchdog.start(track, &error));
        watchdog_pid = watchdog.pid();
        CHECK(watchdog_pid > 0);
        // It only reads its pipe meanwhile; SIGHUP (a reload sent to every
        // process named lbd) does not end it.
        CHECK(kill(watchdog_pid, SIGHUP) == 0);
        CHECK(dir.read_file("vrrp.weight") == "0\n");
    }
    CHECK(dir.read_file("vrrp.weight") == "-254\n");
    CHECK(kill(watchdog_pid, 0) != 0);  // reaped: no such process
}

// Runs probe_proc_events() and track_process_wanted() in a child in a new
// network namespace; exit status: 10 + the probe's result, then + 100 when
// AUTO would render track_process. 77 when no namespace can be made (no root).
int probe_in_new_netns() {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) != 0) _exit(77);
        VrrpConfig vrrp;
        _exit(10 + int(probe_proc_events()) + (track_process_wanted(vrrp) ? 100 : 0));
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

TEST_CASE("proc events probe: answered in the initial network namespace, refused in another") {
    VrrpConfig vrrp;
    // ctest runs in the initial namespace (a container's own would fail this, rightly).
    CHECK(probe_proc_events() == ProcEvents::kAvailable);
    CHECK(track_process_wanted(vrrp));
    vrrp.track_process = VrrpConfig::TrackProcess::kOff;
    CHECK_FALSE(track_process_wanted(vrrp));

    int status = probe_in_new_netns();
    if (status == 77) {
        MESSAGE("skipped the other namespace: cannot unshare(CLONE_NEWNET) (not root)");
        return;
    }
    CHECK(status == 10 + int(ProcEvents::kRefused));  // and AUTO leaves track_process out
}

}  // namespace
}  // namespace lbd::ha
