#include "tests/support/lbd_process.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef LBD_BINARY
#error "LBD_BINARY must be defined as the path of the lbd executable"
#endif

namespace lbd::test {
namespace {

std::chrono::steady_clock::time_point deadline_after(int timeout_ms) {
    return std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
}

bool verbose() { return std::getenv("LBD_TEST_VERBOSE") != nullptr; }

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// Runs in the forked child, so only async-signal-safe calls: the parent may have other threads
// (backends, log readers) whose locks were copied in whatever state they were in.
[[noreturn]] void exec_child(char* const* argv, int out_fd, pid_t parent) {
    // Die with the test: a crashed test must not leave an lbd holding ports.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    // Own process group, so the whole tree (nginx's workers) can be killed by the group id.
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    // Sockets of the test (a backend's listener, a client connection) must not live on in the
    // child: a port would stay open after the test closed it. Most are CLOEXEC already; this
    // catches the rest, whoever opened them.
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv);
    const char msg[] = "exec failed: ";
    ssize_t rc = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    rc = ::write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
    rc = ::write(STDERR_FILENO, "\n", 1);
    (void)rc;
    ::_exit(127);
}

}  // namespace

// ---- LinePattern, log_field ----

LinePattern LinePattern::regex(const std::string& expression) {
    LinePattern p(expression);
    auto* compiled = new regex_t;
    if (::regcomp(compiled, expression.c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
        delete compiled;
        p.invalid_ = true;
        return p;
    }
    p.regex_ = std::shared_ptr<const regex_t>(compiled, [](const regex_t* r) {
        ::regfree(const_cast<regex_t*>(r));
        delete r;
    });
    return p;
}

bool LinePattern::matches(const std::string& line) const {
    if (invalid_) return false;
    if (regex_) return ::regexec(regex_.get(), line.c_str(), 0, nullptr, 0) == 0;
    return line.find(text_) != std::string::npos;
}

std::optional<std::string> log_field(std::string_view line, std::string_view key) {
    std::string needle = " " + std::string(key) + "=";
    size_t pos = line.find(needle);
    if (pos == std::string_view::npos) return std::nullopt;
    std::string_view rest = line.substr(pos + needle.size());
    return std::string(rest.substr(0, rest.find(' ')));
}

// ---- TempFile, TempDir ----

TempFile::TempFile(const std::string& contents, const std::string& suffix) {
    std::string tmpl = "/tmp/lbd-test-XXXXXX" + suffix;
    int fd = ::mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
    if (fd < 0) return;
    UniqueFd owner(fd);
    std::string_view left = contents;
    while (!left.empty()) {
        ssize_t n = ::write(fd, left.data(), left.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::unlink(tmpl.c_str());
            return;
        }
        left.remove_prefix(static_cast<size_t>(n));
    }
    path_ = tmpl;
}

TempFile::~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

TempDir::TempDir() {
    std::string tmpl = "/tmp/lbd-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;  // best effort: a leftover directory in /tmp must not fail a test
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write_file(const std::string& name, const std::string& contents) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
}

std::string TempDir::read_file(const std::string& name) const {
    std::ifstream in(path_ + "/" + name, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::optional<std::string> TempDir::await_content(const std::string& name, const std::string& substring,
                                                  int timeout_ms) const {
    // Watch first, then read: a write between the read and the watch would otherwise be missed.
    UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    // IN_MOVED_TO: files replaced whole by rename(2), as track files are.
    if (!inotify ||
        ::inotify_add_watch(inotify.get(), path_.c_str(), IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
        return std::nullopt;
    auto deadline = deadline_after(timeout_ms);
    for (;;) {
        std::string contents = read_file(name);
        if (contents.find(substring) != std::string::npos) return contents;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{inotify.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
            char events[4096];
            while (::read(inotify.get(), events, sizeof events) > 0) {
            }  // drain; which file changed does not matter, the contents are re-read
        }
    }
}

// ---- ChildProcess ----

ChildProcess::ChildProcess(std::vector<std::string> argv) {
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        lines_.push_back(std::string("pipe2 failed: ") + std::strerror(errno));
        output_ended_ = true;
        exit_status_ = 127;
        return;
    }
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) exec_child(cargv.data(), write_end.get(), parent);
    if (pid_ < 0) {
        lines_.push_back(std::string("fork failed: ") + std::strerror(errno));
        output_ended_ = true;
        exit_status_ = 127;
        return;
    }
    // Also set the group from here: the child may not have run setpgid yet when we kill(-pid).
    ::setpgid(pid_, pid_);
    pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    write_end.reset();  // the child holds the only write end now: its exit ends our reads
    reader_ = std::thread([this, fd = read_end.release()] { read_output(fd); });
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !exit_status_) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);  // in case the group was never set up
        wait_exit(60000);       // SIGKILL cannot be ignored; the bound only guards against a kernel stall
    }
    if (reader_.joinable()) reader_.join();
}

bool ChildProcess::send_signal(int sig) const {
    return pid_ > 0 && !exit_status_ && ::kill(pid_, sig) == 0;
}

void ChildProcess::read_output(int fd) {
    UniqueFd owner(fd);
    std::string partial;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        partial.append(buf, static_cast<size_t>(n));
        size_t start = 0, nl;
        std::lock_guard lock(mu_);
        while ((nl = partial.find('\n', start)) != std::string::npos) {
            lines_.push_back(partial.substr(start, nl - start));
            if (verbose()) std::fprintf(stderr, "[%d] %s\n", static_cast<int>(pid_), lines_.back().c_str());
            start = nl + 1;
        }
        partial.erase(0, start);
        changed_.notify_all();
    }
    std::lock_guard lock(mu_);
    if (!partial.empty()) lines_.push_back(partial);
    output_ended_ = true;
    changed_.notify_all();
}

std::optional<int> ChildProcess::wait_exit(int timeout_ms) {
    if (exit_status_) return exit_status_;
    if (pidfd_) {
        // The pidfd polls readable once the child has exited: a deadline without sleeping.
        pollfd p{pidfd_.get(), POLLIN, 0};
        auto deadline = deadline_after(timeout_ms);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                               std::chrono::steady_clock::now());
            int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
            if (rc > 0) break;
            if (rc == 0) return std::nullopt;
            if (errno != EINTR) return std::nullopt;
        }
    } else if (!await_output_end(timeout_ms)) {
        // No pidfd (old kernel): the end of the output is the next best sign of an exit.
        return std::nullopt;
    }
    // The child is a zombie now, so its pid, and the process group id equal to it, cannot be
    // reused yet: killing the group reaches only what the child left behind (nginx's workers).
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT);
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_status_ = decode_status(status);
    // The exit can be seen before the reader thread has drained the pipe: wait for the end of
    // the output (everyone holding the pipe is gone now), so lines() holds the last line.
    await_output_end(5000);
    return exit_status_;
}

int ChildProcess::stop(int timeout_ms) {
    if (exit_status_) return *exit_status_;
    send_signal(SIGTERM);
    if (auto status = wait_exit(timeout_ms)) return *status;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    return wait_exit(60000).value_or(-1);
}

std::optional<std::string> ChildProcess::await_line(const LinePattern& pattern, int timeout_ms, size_t from) const {
    auto deadline = deadline_after(timeout_ms);
    std::unique_lock lock(mu_);
    bool timed_out = false;
    for (size_t i = from;;) {
        for (; i < lines_.size(); ++i)
            if (pattern.matches(lines_[i])) return lines_[i];
        if (output_ended_ || timed_out) return std::nullopt;
        timed_out = changed_.wait_until(lock, deadline) == std::cv_status::timeout;
    }
}

size_t ChildProcess::count(const LinePattern& pattern) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const std::string& line : lines_) n += pattern.matches(line) ? 1 : 0;
    return n;
}

bool ChildProcess::await_count(const LinePattern& pattern, size_t n, int timeout_ms) const {
    auto deadline = deadline_after(timeout_ms);
    std::unique_lock lock(mu_);
    size_t seen = 0, scanned = 0;
    bool timed_out = false;
    for (;;) {
        for (; scanned < lines_.size(); ++scanned) seen += pattern.matches(lines_[scanned]) ? 1 : 0;
        if (seen >= n) return true;
        if (output_ended_ || timed_out) return false;
        timed_out = changed_.wait_until(lock, deadline) == std::cv_status::timeout;
    }
}

bool ChildProcess::await_output_end(int timeout_ms) const {
    std::unique_lock lock(mu_);
    return changed_.wait_until(lock, deadline_after(timeout_ms), [&] { return output_ended_; });
}

std::vector<std::string> ChildProcess::lines() const {
    std::lock_guard lock(mu_);
    return lines_;
}

size_t ChildProcess::line_count() const {
    std::lock_guard lock(mu_);
    return lines_.size();
}

std::string ChildProcess::output() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const std::string& line : lines_) out += line + "\n";
    return out;
}

// ---- LbdProcess ----

LbdProcess::LbdProcess(const std::string& config_text)
    : config_(config_text), process_({LBD_BINARY, "-c", config_.path()}) {}

LbdProcess::~LbdProcess() {
    // A graceful stop, so that a sanitizer build runs its leak check at exit;
    // then any sanitizer report in lbd's output fails the scenario, whether
    // or not the scenario looked at lbd's exit status.
    process_.stop(3000);
    process_.await_output_end(5000);
    std::string output = log();
    bool sanitizer_report = output.find("ERROR: AddressSanitizer") != std::string::npos ||
                            output.find("ERROR: LeakSanitizer") != std::string::npos ||
                            output.find("runtime error:") != std::string::npos;
    if (dump_log_on_exit_ || verbose() || sanitizer_report)
        std::fprintf(stderr, "---- lbd log ----\n%s----\n", output.c_str());
    if (sanitizer_report) FAIL_CHECK("lbd's output has a sanitizer report (its log is printed above)");
}

uint16_t LbdProcess::listener_port(const std::string& name, int timeout_ms) {
    // "listener NAME bound 127.0.0.1:40123 (mode tcp)"
    std::optional<std::string> line = await_line("listener " + name + " bound ", timeout_ms);
    if (!line) return 0;
    std::string_view rest(*line);
    rest.remove_prefix(rest.find(" bound ") + 7);
    std::string_view addr = rest.substr(0, rest.find(' '));
    std::string_view port = addr.substr(addr.rfind(':') + 1);
    uint16_t value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    return ec == std::errc() && end == port.data() + port.size() ? value : 0;
}

LbdProcess::CheckResult LbdProcess::run_check(const std::string& config_text, int timeout_ms) {
    TempFile config(config_text);
    ChildProcess check({LBD_BINARY, "-t", "-c", config.path()});
    CheckResult result;
    result.config_path = config.path();
    result.exit_code = check.wait_exit(timeout_ms).value_or(-1);
    if (result.exit_code == -1) check.stop(1000);
    check.await_output_end(timeout_ms);
    result.output = check.output();
    return result;
}

}  // namespace lbd::test
