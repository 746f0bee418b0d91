// The cache's body stages (cache_fill.h).
#include "l7/cache_fill.h"

#include <utility>

#include "l7/client_side.h"

namespace lbd::l7 {

CacheFill::CacheFill(CacheZone& zone, std::string base_key, std::string key, std::shared_ptr<CacheObject> object,
                     std::shared_ptr<CacheFillTicket> fill)
    : zone_(zone), base_key_(std::move(base_key)), key_(std::move(key)), object_(std::move(object)),
      fill_(std::move(fill)) {}

bool CacheFill::on_body(evbuffer* in, evbuffer* out, BodyProgress progress) {
    const size_t n = evbuffer_get_length(in);
    if (object_ != nullptr && n > 0) {
        if (body_.size() + n > zone_.config().max_object_bytes) {
            zone_.counters().too_large.fetch_add(1, std::memory_order_relaxed);
            object_.reset();
            body_ = std::string();
            if (fill_) fill_->end(true);
        } else {
            const size_t old = body_.size();
            body_.resize(old + n);
            evbuffer_copyout(in, body_.data() + old, n);
        }
    }
    evbuffer_add_buffer(out, in);
    if (progress == BodyProgress::kEnd && object_ != nullptr) commit();
    return true;
}

void CacheFill::on_abort() {
    object_.reset();
    if (fill_) fill_->end(false);
}

void CacheFill::commit() {
    object_->body = std::make_shared<const std::string>(std::move(body_));
    if (!object_->vary.empty()) {
        // The marker under the base key says which request headers pick the variant.
        auto marker = std::make_shared<CacheObject>();
        marker->vary = object_->vary;
        marker->tags = object_->tags;  // a purge by tag leaves no marker without variants
        zone_.insert(base_key_, std::move(marker));
    }
    zone_.insert(key_, std::move(object_));
    object_.reset();
    if (fill_) fill_->end(false);  // stored: the waiters find it
}

bool StoredBody::on_body(evbuffer* in, evbuffer* out, BodyProgress progress) {
    evbuffer_drain(in, evbuffer_get_length(in));  // a 304 has none
    if (progress != BodyProgress::kEnd || body_ == nullptr || body_->empty()) return true;
    return add_shared_body(out, std::exchange(body_, nullptr));
}

}  // namespace lbd::l7
