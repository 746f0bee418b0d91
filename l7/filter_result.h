// What a filter decides (filter.h), and the handle with which a filter that
// paused an exchange later goes on with it. Apart from filter.h so that the
// Exchange, which holds the pause's state, can name them too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "l7/http_message.h"
#include "l7/proxy_types.h"

namespace lbd::l7 {

// A response lbd writes itself instead of asking a server.
struct LocalAnswer {
    int status = 0;
    std::string content_type;
    std::string body;
    HeaderList headers;  // extra fields, e.g. Location, Retry-After, Allow
    Termination term = Termination::kLocal;
    bool close = false;  // close the connection after it, whatever the request asked
    // A stored response (a cache hit): `headers` are sent as they are, with
    // no Content-Type of lbd's and no header actions (they were applied
    // before it was stored); the body is `shared_body`, sent by reference.
    bool as_stored = false;
    std::shared_ptr<const std::string> shared_body;
    // A cache hit's own stored fields, kept in the stored object (aliasing
    // pointers, no copy per hit): as HTTP/1 lines (CacheObject::head_lines)
    // and as a list. When set, `headers` holds only the fields added for
    // this answer (Age, X-Cache), sent after them: HTTP/1 writes the lines
    // as one block, HTTP/2 takes the list.
    std::shared_ptr<const std::string> stored_lines;
    std::shared_ptr<const HeaderList> stored_headers;
    std::string reason;  // why, for the access log's reason= ("acl:office"); empty = none
};

struct FilterResult {
    enum class Action : uint8_t { kContinue, kRespond, kPause };
    Action action = Action::kContinue;
    LocalAnswer answer;  // when kRespond

    static FilterResult next() { return {}; }
    static FilterResult respond(LocalAnswer answer) { return {Action::kRespond, std::move(answer)}; }
    // The filter started work whose outcome decides the request (a password
    // hash on a thread pool, another request's cache fill) and will call the
    // exchange's resumer with it exactly once.
    static FilterResult pause() { return {Action::kPause, {}}; }
    bool responds() const { return action == Action::kRespond; }
    bool pauses() const { return action == Action::kPause; }
};

// What drives a paused exchange on (its ExchangeDriver, exchange_driver.h).
class ResumeTarget {
public:
    virtual void resume_request(FilterResult result) = 0;

protected:
    ~ResumeTarget() = default;
};

// The state of one pause, owned by its Exchange: gone with it, so a
// resumer that outlives the exchange (the client closed meanwhile) finds
// nothing to resume.
struct ResumeSlot {
    ResumeTarget* target = nullptr;
};

// Copyable, and safe to carry to another thread and back (it holds only a
// weak reference); call it on the exchange's worker thread, once:
// next() goes on with the filters after the one that paused, respond()
// sends that answer. Does nothing if the exchange has ended.
class ExchangeResumer {
public:
    ExchangeResumer() = default;
    explicit ExchangeResumer(std::weak_ptr<ResumeSlot> slot) : slot_(std::move(slot)) {}
    void operator()(FilterResult result) const {
        if (std::shared_ptr<ResumeSlot> slot = slot_.lock(); slot && slot->target != nullptr)
            slot->target->resume_request(std::move(result));
    }

private:
    std::weak_ptr<ResumeSlot> slot_;
};

}  // namespace lbd::l7
