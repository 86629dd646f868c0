// addrmap/detail/frame_slab.hpp — memory a blocking subscriber connection builds its frames into, one frame at a time
// and reused for the next: a message costs no heap allocation (hiredis's own reply functions make eight).
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <vector>

namespace addrmap::detail {

/// A bump allocator that a frame's reply objects come from. reset() (a new frame begins) takes it all back: the
/// frame before must be done with, as it is in the blocking subscriber, which parses one frame at a time and copies
/// what it keeps. A frame larger than the chunk takes the rest from the heap, freed at the next reset.
class frame_slab {
public:
    static constexpr std::size_t chunk_bytes = 16 * 1024;

    frame_slab() = default;
    frame_slab(frame_slab&&) noexcept = default;
    frame_slab& operator=(frame_slab&&) = delete;
    frame_slab(const frame_slab&) = delete;
    frame_slab& operator=(const frame_slab&) = delete;
    ~frame_slab() { free_large(); }

    void reset() noexcept {
        used_ = 0;
        free_large();
    }
    /// `size` bytes aligned for a redisReply (not zeroed); nullptr when memory is short.
    void* allocate(std::size_t size) noexcept {
        const std::size_t n = (size + alignment - 1) / alignment * alignment;
        if (n < size) return nullptr;  // overflow
        if (chunk_ == nullptr) {
            chunk_.reset(static_cast<char*>(std::malloc(chunk_bytes)));
            if (chunk_ == nullptr) return nullptr;
        }
        if (n <= chunk_bytes - used_) {
            void* p = chunk_.get() + used_;
            used_ += n;
            return p;
        }
        void* p = std::malloc(n);
        if (p == nullptr) return nullptr;
        try {
            large_.push_back(p);
        } catch (...) {
            std::free(p);
            return nullptr;
        }
        return p;
    }

private:
    static constexpr std::size_t alignment = alignof(std::max_align_t);
    struct free_deleter {
        void operator()(char* p) const noexcept { std::free(p); }
    };
    void free_large() noexcept {
        for (void* p : large_) std::free(p);
        large_.clear();
    }

    std::unique_ptr<char, free_deleter> chunk_;
    std::size_t used_ = 0;
    std::vector<void*> large_;
};

}  // namespace addrmap::detail
