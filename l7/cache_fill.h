// The cache's body stages (body_filter.h) on a response going to the
// client: the copy of a storable body as it streams (CacheFill), and the
// stored body in place of a 304's empty one (StoredBody). Worker thread
// only, as every body stage.
#pragma once

#include <memory>
#include <string>

#include "core/state/cache_store.h"
#include "l7/body_filter.h"
#include "l7/cache_state.h"

namespace lbd::l7 {

// Copies the body into the object as it streams, passing it on unchanged
// (the client never waits for the copy), and stores the object at the end:
// not if it grew past the zone's max_object_bytes (the copy is dropped at
// once and the rest only streams, so memory stays bounded by that size) or
// the body did not complete.
class CacheFill final : public ResponseBodyFilter {
public:
    CacheFill(CacheZone& zone, std::string base_key, std::string key, std::shared_ptr<CacheObject> object,
              std::shared_ptr<CacheFillTicket> fill);
    bool on_body(evbuffer* in, evbuffer* out, BodyProgress progress) override;
    void on_abort() override;

private:
    void commit();

    CacheZone& zone_;
    const std::string base_key_;
    const std::string key_;
    std::shared_ptr<CacheObject> object_;    // null once dropped or stored
    std::string body_;                       // the copy so far
    std::shared_ptr<CacheFillTicket> fill_;  // set when others wait for this body
};

// The stored body in place of a 304's empty one (a refreshed entry), added
// by reference at the end (add_shared_body, as a hit's): never copied.
class StoredBody final : public ResponseBodyFilter {
public:
    explicit StoredBody(std::shared_ptr<const std::string> body) : body_(std::move(body)) {}
    bool on_body(evbuffer* in, evbuffer* out, BodyProgress progress) override;
    void on_abort() override { body_.reset(); }

private:
    std::shared_ptr<const std::string> body_;
};

}  // namespace lbd::l7
