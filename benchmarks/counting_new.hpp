// benchmarks/counting_new.hpp — replaces every form of global operator new/delete with malloc/free plus a
// relaxed atomic counter, so a benchmark can report heap allocations per operation. Include in ONE .cpp per program.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace addrmap_bench {

inline std::atomic<std::uint64_t> allocation_count{0};

/// Allocations through any global operator new since the program started.
inline std::uint64_t allocations() noexcept { return allocation_count.load(std::memory_order_relaxed); }

inline void* counted_malloc(std::size_t size) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    while (true) {
        if (void* p = std::malloc(size)) return p;
        const std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}

inline void* counted_aligned(std::size_t size, std::align_val_t align) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    std::size_t alignment = static_cast<std::size_t>(align);
    if (alignment < sizeof(void*)) alignment = sizeof(void*);
    if (size == 0) size = 1;
    while (true) {
        void* p = nullptr;
        if (::posix_memalign(&p, alignment, size) == 0) return p;
        const std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}

}  // namespace addrmap_bench

// Replacement functions may not be inline: hence "one .cpp per program".
void* operator new(std::size_t size) { return addrmap_bench::counted_malloc(size); }
void* operator new[](std::size_t size) { return addrmap_bench::counted_malloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return addrmap_bench::counted_malloc(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return addrmap_bench::counted_malloc(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t size, std::align_val_t align) { return addrmap_bench::counted_aligned(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return addrmap_bench::counted_aligned(size, align); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
    try {
        return addrmap_bench::counted_aligned(size, align);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
    try {
        return addrmap_bench::counted_aligned(size, align);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
