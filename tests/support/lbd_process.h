// Running the real lbd (and other real programs: nginx, haproxy, curl) from a scenario test.
//
// ChildProcess forks and execs a program with stdout and stderr captured through one pipe; a
// reader thread splits the output into lines and wakes waiters. LbdProcess adds what is specific
// to lbd: the config written to a temp file, the ready and bound lines of lbd's log contract, and
// `lbd -t`. Every wait takes a deadline and returns early when the program's output ends (it
// exited), so a crash shows up at once as a failed wait, not as a timeout.
//
// Threads: the public methods may be called from any thread; the captured lines are under a
// mutex. A process must be waited for (wait_exit/stop/destructor) from one thread at a time.
#pragma once

#include <regex.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/loop/event.h"

namespace lbd::test {

// What a log line is matched against: a plain substring (the implicit conversions, so
// wait_for_line("lbd ready", ...) reads naturally), or a POSIX extended regex searched anywhere
// in the line (LinePattern::regex(...)). POSIX <regex.h> rather than std::regex: GCC 12's
// std::regex trips -Wmaybe-uninitialized in sanitizer builds, and these patterns are simple.
class LinePattern {
public:
    LinePattern(const char* substring) : text_(substring) {}  // NOLINT: implicit on purpose
    LinePattern(std::string substring) : text_(std::move(substring)) {}  // NOLINT
    // An invalid expression matches nothing (the wait fails and prints the pattern).
    static LinePattern regex(const std::string& expression);

    bool matches(const std::string& line) const;
    const std::string& text() const { return text_; }

private:
    std::string text_;
    std::shared_ptr<const regex_t> regex_;  // shared: a compiled regex_t cannot be copied
    bool invalid_ = false;
};

// The value of `key=value` in a log line ("end", "up", "client", ...), nullopt if absent.
std::optional<std::string> log_field(std::string_view line, std::string_view key);

// A file under /tmp holding `contents`, removed on destruction.
class TempFile {
public:
    // `suffix` (e.g. ".conf") ends the name; the rest is random (mkstemps).
    explicit TempFile(const std::string& contents, const std::string& suffix = ".conf");
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }  // empty if it could not be created

private:
    std::string path_;
};

// A directory under /tmp, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes `contents` to path()/name and returns the full path.
    std::string write_file(const std::string& name, const std::string& contents) const;
    // The contents of path()/name ("" if missing).
    std::string read_file(const std::string& name) const;
    // Waits until path()/name contains `substring` (woken by inotify, so no polling loop); returns
    // the contents then, nullopt at the deadline. For logs other programs write (nginx's access log).
    std::optional<std::string> await_content(const std::string& name, const std::string& substring,
                                             int timeout_ms) const;

private:
    std::string path_;
};

// A running program whose stdout and stderr (merged) are captured line by line.
class ChildProcess {
public:
    // argv[0] is the program's path. The child gets no other descriptors of ours (all fds above
    // 2 are closed before exec) and is killed if the test process dies (PR_SET_PDEATHSIG).
    explicit ChildProcess(std::vector<std::string> argv);
    // Kills (SIGKILL) and reaps the child if it is still running.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // False if fork/exec failed (the output then says why).
    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    bool send_signal(int sig) const;

    // Waits for the child to exit. Returns its exit code (128 + signal number if a signal killed
    // it), or nullopt if it is still running at the deadline.
    std::optional<int> wait_exit(int timeout_ms);
    // SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the status as wait_exit does.
    int stop(int timeout_ms);
    bool exited() const { return exit_status_.has_value(); }

    // The first line (from index `from` on) matching `pattern`; nullopt at the deadline or when
    // the output ended without one.
    std::optional<std::string> await_line(const LinePattern& pattern, int timeout_ms, size_t from = 0) const;
    // Waits until at least `n` lines match (a count of l4 log lines, say). False at the deadline.
    bool await_count(const LinePattern& pattern, size_t n, int timeout_ms) const;
    size_t count(const LinePattern& pattern) const;
    // Waits until the output is closed (the child exited). False at the deadline.
    bool await_output_end(int timeout_ms) const;

    std::vector<std::string> lines() const;
    size_t line_count() const;
    // All lines joined with '\n', for failure messages.
    std::string output() const;

private:
    void read_output(int fd);

    pid_t pid_ = -1;
    UniqueFd pidfd_;  // becomes readable when the child exits: a wait with a deadline and no sleep
    std::optional<int> exit_status_;

    mutable std::mutex mu_;
    mutable std::condition_variable changed_;
    std::vector<std::string> lines_;  // under mu_
    bool output_ended_ = false;       // under mu_
    std::thread reader_;
};

// lbd run in the foreground with a config given as protobuf text.
//
//   LbdProcess lbd(config);
//   REQUIRE(lbd.wait_ready());
//   INFO(lbd.log());  // lazily evaluated by doctest: the whole log is printed if a check fails
//   uint16_t port = lbd.listener_port("front");
class LbdProcess {
public:
    explicit LbdProcess(const std::string& config_text);
    // Kills and reaps lbd, removes the config file; prints the log if asked to (see below).
    ~LbdProcess();

    // Waits for `lbd ready: ...`. False at the deadline or if lbd exited first.
    bool wait_ready(int timeout_ms = 5000) { return wait_for_line("lbd ready:", timeout_ms); }
    bool wait_for_line(const LinePattern& pattern, int timeout_ms, size_t from = 0) {
        return await_line(pattern, timeout_ms, from).has_value();
    }
    std::optional<std::string> await_line(const LinePattern& pattern, int timeout_ms, size_t from = 0) {
        return process_.await_line(pattern, timeout_ms, from);
    }
    bool await_count(const LinePattern& pattern, size_t n, int timeout_ms) {
        return process_.await_count(pattern, n, timeout_ms);
    }
    size_t count(const LinePattern& pattern) const { return process_.count(pattern); }

    // The port of `listener NAME bound 127.0.0.1:PORT (mode ...)`; 0 if no such line came.
    uint16_t listener_port(const std::string& name, int timeout_ms = 5000);

    std::vector<std::string> lines() const { return process_.lines(); }
    size_t line_count() const { return process_.line_count(); }
    std::string log() const { return process_.output(); }

    bool send_signal(int sig) { return process_.send_signal(sig); }
    std::optional<int> wait_exit(int timeout_ms) { return process_.wait_exit(timeout_ms); }
    // SIGTERM; SIGKILL after timeout_ms. Returns the exit status (128 + signal if killed).
    int stop(int timeout_ms) { return process_.stop(timeout_ms); }

    const std::string& config_path() const { return config_.path(); }
    pid_t pid() const { return process_.pid(); }
    // Print the whole log to stderr when this object is destroyed (also when the environment
    // variable LBD_TEST_VERBOSE is set), for debugging a scenario outside doctest's INFO.
    void set_dump_log_on_exit(bool dump) { dump_log_on_exit_ = dump; }

    struct CheckResult {
        int exit_code = -1;
        std::string output;       // stdout and stderr, merged
        std::string config_path;  // the file that was checked (already removed)
    };
    // Runs `lbd -t -c FILE` on `config_text` and waits for it.
    static CheckResult run_check(const std::string& config_text, int timeout_ms = 10000);

private:
    TempFile config_;       // declared first: written before lbd starts, removed after it died
    ChildProcess process_;
    bool dump_log_on_exit_ = false;
};

}  // namespace lbd::test
