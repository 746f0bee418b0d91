// Reads keepalived's notify FIFO (vrrp_notify_fifo) on an event loop and
// hands each complete line to a callback.
//
// Who owns the FIFO: keepalived mkfifo()s the path unless it exists, and
// unlinks it at exit only if it created it. lbd creates it first (at start,
// so keepalived finds it and never removes it) and opens it O_RDWR, as
// keepalived does: with a write end of its own open, the FIFO never reads as
// end-of-file when keepalived restarts, and the loop never spins on EOF. If
// the path is replaced anyway (keepalived started before lbd and restarted
// since), an inotify watch on the directory sees the new FIFO and the reader
// reopens it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/loop/event.h"

namespace lbd::ha {

class NotifyFifoReader {
public:
    using LineHandler = std::function<void(std::string_view line)>;

    NotifyFifoReader(event_base* base, std::string path, LineHandler on_line);
    ~NotifyFifoReader();
    NotifyFifoReader(const NotifyFifoReader&) = delete;
    NotifyFifoReader& operator=(const NotifyFifoReader&) = delete;

    // Creates the FIFO if missing and starts reading. False (with why) if the
    // directory is missing or the path is not a FIFO.
    bool start(std::string* error);
    uint64_t lines_read() const { return lines_read_; }

private:
    bool open_fifo(std::string* error);
    static void on_readable(evutil_socket_t fd, short what, void* arg);
    static void on_directory_event(evutil_socket_t fd, short what, void* arg);

    event_base* base_;
    std::string path_;
    std::string directory_;
    std::string file_name_;
    LineHandler on_line_;
    UniqueFd fifo_fd_;
    EventPtr fifo_event_;
    UniqueFd inotify_fd_;
    EventPtr inotify_event_;
    std::string partial_;  // a line not finished yet
    uint64_t lines_read_ = 0;
};

}  // namespace lbd::ha
