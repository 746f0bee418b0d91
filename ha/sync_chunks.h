// SyncState's snapshot chunker (ha/sync_state.h), shared by its source files;
// not for other users.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lbd/v1/sync.pb.h"

namespace lbd::ha {

// Cuts a snapshot into chunks as records are added: a new chunk starts before
// a record that would take the current one past chunk_size records or
// `max_bytes`. A chunk is never empty unless the whole snapshot is. Chunks
// can be taken out as they fill (take_full), so a snapshot built a slice at
// a time goes out a slice at a time; finish() hands over the rest, the last
// one flagged.
class ChunkBuilder {
public:
    // `stick_records`: what the whole snapshot is expected to hold, told to
    // the receiver in the first chunk (Snapshot.stick_records).
    ChunkBuilder(size_t chunk_size, uint64_t covers_sequence, size_t max_bytes, uint64_t stick_records = 0)
        : chunk_size_(std::max<size_t>(chunk_size, 1)), max_bytes_(max_bytes), covers_(covers_sequence),
          stick_records_(stick_records), chunks_(1) {}

    // The chunk the next record goes into.
    lbd::v1::Snapshot& room_for(size_t record_bytes) {
        if (in_chunk_ > 0 && (in_chunk_ >= chunk_size_ || bytes_ + record_bytes > max_bytes_)) {
            chunks_.emplace_back();
            in_chunk_ = bytes_ = 0;
        }
        ++in_chunk_;
        bytes_ += record_bytes;
        return chunks_.back();
    }

    uint64_t covers_sequence() const { return covers_; }

    // The chunks no record will go into any more (all but the one filling).
    std::vector<lbd::v1::Snapshot> take_full() {
        std::vector<lbd::v1::Snapshot> out;
        for (size_t i = 0; i + 1 < chunks_.size(); ++i) out.push_back(number(std::move(chunks_[i])));
        chunks_.erase(chunks_.begin(), chunks_.end() - 1);
        return out;
    }

    std::vector<lbd::v1::Snapshot> finish() {
        std::vector<lbd::v1::Snapshot> out;
        for (auto& chunk : chunks_) out.push_back(number(std::move(chunk)));
        out.back().set_last(true);
        chunks_.clear();
        return out;
    }

private:
    lbd::v1::Snapshot number(lbd::v1::Snapshot chunk) {
        if (next_index_ == 0 && stick_records_ != 0) chunk.set_stick_records(stick_records_);
        chunk.set_chunk_index(next_index_++);
        chunk.set_covers_sequence(covers_);
        return chunk;
    }

    size_t chunk_size_, max_bytes_;
    uint64_t covers_;
    uint64_t stick_records_;
    std::vector<lbd::v1::Snapshot> chunks_;
    size_t in_chunk_ = 0, bytes_ = 0;
    uint32_t next_index_ = 0;
};

}  // namespace lbd::ha
