// lbd as a Unix process (core/process/): started as root it gives up root once its sockets are
// bound, keeping only CAP_NET_BIND_SERVICE, and it tells a service manager where it is in its
// life through NOTIFY_SOCKET. The test plays systemd's part: it owns the datagram socket lbd
// notifies, and reads lbd's credentials from /proc as systemd-analyze or an operator would.
// Needs root (skipped with a message otherwise); runs lbd as nobody:nogroup, which every Debian
// system has, so the machine's users are left alone.
#include <doctest/doctest.h>

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/support/lbd_process.h"
#include "tests/support/net.h"

namespace lbd::test {
namespace {

// systemd's notify socket: a Unix datagram socket that lbd sends "READY=1" and the like to.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = UniqueFd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path.copy(address.sun_path, sizeof address.sun_path - 1);
        bound_ = bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                 chmod(path.c_str(), 0666) == 0;  // lbd sends STOPPING=1 as nobody, after the drop
    }
    bool bound() const { return bound_; }

    // The next message holding `line` (e.g. "READY=1"), skipping others; "" at the deadline.
    std::string await(const std::string& line, int timeout_ms) {
        Deadline deadline(timeout_ms);
        while (!deadline.expired()) {
            pollfd p{fd_.get(), POLLIN, 0};
            if (poll(&p, 1, deadline.remaining_ms()) != 1) break;
            char buffer[4096];
            ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
            if (n <= 0) break;
            std::string message(buffer, static_cast<size_t>(n));
            received_ += message + "\n--\n";
            if (("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos) return message;
        }
        return "";
    }
    // Every message received so far, for failure messages.
    const std::string& received() const { return received_; }

private:
    std::string path_;
    UniqueFd fd_;
    bool bound_ = false;
    std::string received_;
};

// "Key:\tvalue" lines of /proc/PID/task/TID/status.
std::map<std::string, std::string> task_status(const std::filesystem::path& task) {
    std::map<std::string, std::string> fields;
    std::ifstream in(task / "status");
    for (std::string line; std::getline(in, line);) {
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        const size_t value = line.find_first_not_of(" \t", colon + 1);
        const size_t end = line.find_last_not_of(" \t");  // "Groups:\t65534 " ends in a space
        fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value, end + 1 - value);
    }
    return fields;
}

std::string config_for(const std::string& dir, const std::string& user, const std::string& group) {
    return "global { workers: 2 user: \"" + user + "\" group: \"" + group + "\"\n"
           "  admin { socket_path: \"" + dir + "/admin.sock\" socket_group: \"" + group + "\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" pool: \"p\" }\n"
           "pools { name: \"p\" servers { name: \"s\" address: \"127.0.0.1:9\" } }\n";
}

// NOTIFY_SOCKET for the lbd started in this scope only (lbd_process.cc's child inherits it).
struct NotifyEnvironment {
    explicit NotifyEnvironment(const std::string& path) { setenv("NOTIFY_SOCKET", path.c_str(), 1); }
    ~NotifyEnvironment() { unsetenv("NOTIFY_SOCKET"); }
};

}  // namespace

TEST_CASE("process: lbd started as root runs as global.user with CAP_NET_BIND_SERVICE only, and notifies") {
    if (geteuid() != 0) {
        MESSAGE("skipped: needs root (lbd must start as root to show that it drops it)");
        return;
    }
    const passwd* nobody = getpwnam("nobody");
    const group* nogroup = getgrnam("nogroup");
    REQUIRE((nobody != nullptr && nogroup != nullptr));
    const std::string uid = std::to_string(nobody->pw_uid), gid = std::to_string(nogroup->gr_gid);

    TempDir dir;
    chmod(dir.path().c_str(), 0711);  // nobody reaches the notify socket inside
    NotifySocket notify(dir.path() + "/notify");
    REQUIRE(notify.bound());
    std::optional<LbdProcess> lbd;
    {
        NotifyEnvironment env(dir.path() + "/notify");
        lbd.emplace(config_for(dir.path(), "nobody", "nogroup"));
    }
    INFO(lbd->log());
    REQUIRE_MESSAGE(!notify.await("READY=1", 10000).empty(), notify.received());
    // READY=1 means every listener is bound: a client connects at once.
    const uint16_t port = lbd->listener_port("front");
    CHECK(connect_tcp(port, 2000));

    // Every thread (the control loop and both workers) has the same reduced credentials:
    // capabilities are per thread, so one started before the drop would show root's here.
    const std::filesystem::path tasks = "/proc/" + std::to_string(lbd->pid()) + "/task";
    int threads = 0;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        auto status = task_status(task.path());
        INFO("task " << task.path().filename().string());
        CHECK(status["Uid"] == uid + "\t" + uid + "\t" + uid + "\t" + uid);
        CHECK(status["Gid"] == gid + "\t" + gid + "\t" + gid + "\t" + gid);
        CHECK(status["Groups"] == gid);
        CHECK(status["CapEff"] == "0000000000000400");  // bit 10: CAP_NET_BIND_SERVICE
        CHECK(status["CapPrm"] == "0000000000000400");
        CHECK(status["CapInh"] == "0000000000000000");
        CHECK(status["CapBnd"] == "0000000000000400");
        CHECK(status["CapAmb"] == "0000000000000000");
        ++threads;
    }
    CHECK(threads == 3);

    // lbctl's socket: bound as root, handed to the group.
    struct stat admin {};
    REQUIRE(stat((dir.path() + "/admin.sock").c_str(), &admin) == 0);
    CHECK(admin.st_gid == nogroup->gr_gid);
    CHECK((admin.st_mode & 0777) == 0660);

    // A reload as the unprivileged user: RELOADING=1, then READY=1 once it is applied. The
    // config file must be readable by that user (the test's temp file is 0600, root's).
    REQUIRE(chmod(lbd->config_path().c_str(), 0644) == 0);
    REQUIRE(lbd->send_signal(SIGHUP));
    CHECK_MESSAGE(!notify.await("RELOADING=1", 5000).empty(), notify.received());
    CHECK_MESSAGE(!notify.await("READY=1", 5000).empty(), notify.received());
    CHECK(lbd->wait_for_line("reload applied", 5000));

    REQUIRE(lbd->send_signal(SIGTERM));
    CHECK_MESSAGE(!notify.await("STOPPING=1", 5000).empty(), notify.received());
    CHECK(lbd->wait_exit(10000) == 0);
}

TEST_CASE("process: an unknown global.user stops lbd before it serves, naming the user and its line") {
    if (geteuid() != 0) {
        MESSAGE("skipped: needs root");
        return;
    }
    TempDir dir;
    LbdProcess lbd(config_for(dir.path(), "lbd-test-no-such-user", "nogroup"));
    INFO(lbd.log());
    CHECK(lbd.wait_exit(10000) == 1);
    // Refused by the config check (lbd -t says the same), at the field's line:col.
    CHECK(lbd.count(":1:21: user 'lbd-test-no-such-user': no such user") == 1);
    CHECK(lbd.count("lbd ready") == 0);
}

}  // namespace lbd::test
