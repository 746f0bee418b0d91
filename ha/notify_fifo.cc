#include "ha/notify_fifo.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/log.h"

namespace lbd::ha {

namespace {
// keepalived's lines are short (`INSTANCE "VI_51" MASTER 150`); a longer
// unterminated run is not from it and is dropped rather than buffered.
constexpr size_t kMaxLineBytes = 4096;
}  // namespace

NotifyFifoReader::NotifyFifoReader(event_base* base, std::string path, LineHandler on_line)
    : base_(base), path_(std::move(path)), on_line_(std::move(on_line)) {
    size_t slash = path_.rfind('/');
    directory_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
    file_name_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
}

NotifyFifoReader::~NotifyFifoReader() = default;

bool NotifyFifoReader::start(std::string* error) {
    inotify_fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_fd_ ||
        inotify_add_watch(inotify_fd_.get(), directory_.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
        *error = "notify fifo: cannot watch directory " + directory_ + ": " + strerror(errno);
        return false;
    }
    inotify_event_ =
        make_event(base_, inotify_fd_.get(), EV_READ | EV_PERSIST, &NotifyFifoReader::on_directory_event, this);
    event_add(inotify_event_.get(), nullptr);
    if (mkfifo(path_.c_str(), 0600) != 0 && errno != EEXIST) {
        *error = "notify fifo: cannot create " + path_ + ": " + strerror(errno);
        return false;
    }
    return open_fifo(error);
}

bool NotifyFifoReader::open_fifo(std::string* error) {
    // O_RDWR on a FIFO is Linux-specific (fifo(7)) and is what keeps EOF away.
    UniqueFd fd(open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    struct stat st {};
    if (!fd || fstat(fd.get(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
        *error = "notify fifo: " + path_ + (fd ? " is not a FIFO" : std::string(": ") + strerror(errno));
        return false;
    }
    fifo_event_.reset();
    fifo_fd_ = std::move(fd);
    partial_.clear();
    fifo_event_ = make_event(base_, fifo_fd_.get(), EV_READ | EV_PERSIST, &NotifyFifoReader::on_readable, this);
    event_add(fifo_event_.get(), nullptr);
    LOG_INFO("ha: reading keepalived's notify fifo %s", path_.c_str());
    return true;
}

void NotifyFifoReader::on_readable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<NotifyFifoReader*>(arg);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;  // EAGAIN: drained (EOF cannot happen: we hold a write end)
        self->partial_.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (size_t nl; (nl = self->partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
            ++self->lines_read_;
            self->on_line_(std::string_view(self->partial_).substr(start, nl - start));
        }
        self->partial_.erase(0, start);
        if (self->partial_.size() > kMaxLineBytes) {
            LOG_WARN("ha: notify fifo %s: dropping %zu bytes without a newline", self->path_.c_str(),
                     self->partial_.size());
            self->partial_.clear();
        }
    }
}

void NotifyFifoReader::on_directory_event(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<NotifyFifoReader*>(arg);
    alignas(inotify_event) char buf[4096];
    bool ours = false;
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
        for (ssize_t at = 0; at < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buf + at);
            if (event->len > 0 && self->file_name_ == event->name) ours = true;
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
    if (!ours) return;
    std::string error;
    if (!self->open_fifo(&error)) LOG_WARN("ha: %s", error.c_str());
}

}  // namespace lbd::ha
