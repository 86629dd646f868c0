// benchmarks/counting_new.hpp — counts heap allocations, C++ and hiredis's (every global operator new, and hiredis's
// allocator), and meters a measured loop: wall time, CPU time, allocations. Include in ONE .cpp per program.
#pragma once

#include <hiredis/alloc.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace addrmap_bench {

inline std::atomic<std::uint64_t> allocation_count{0};
/// The same, counted by the thread that allocates (pubsub_bench: the subscriber's, without its publisher thread's).
inline thread_local std::uint64_t thread_allocation_count = 0;

/// Allocations through any global operator new, or through hiredis's allocator (malloc, calloc, realloc, strdup),
/// since the program started. OpenSSL's own are not counted: they are per connection and per TLS record, not per
/// command.
inline std::uint64_t allocations() noexcept { return allocation_count.load(std::memory_order_relaxed); }
/// Allocations by the calling thread since it started (counted alike).
inline std::uint64_t thread_allocations() noexcept { return thread_allocation_count; }

/// CPU seconds this process has used (user and system), for CPU per million commands.
inline double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// What a measured loop cost the process: wall seconds, CPU seconds and heap allocations.
struct cost {
    double seconds = 0, cpu = 0;
    std::uint64_t allocations = 0;
};

/// Starts when made; spent() is the cost since.
class meter {
public:
    cost spent() const {
        return {std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(),
                cpu_seconds() - cpu_, allocations() - allocations_};
    }

private:
    std::uint64_t allocations_ = allocations();
    double cpu_ = cpu_seconds();
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();  // last: the others are read first
};

namespace hiredis_counting {
inline void count() noexcept {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    ++thread_allocation_count;
}
inline void* malloc_fn(std::size_t size) {
    count();
    return std::malloc(size);
}
inline void* calloc_fn(std::size_t n, std::size_t size) {
    count();
    return std::calloc(n, size);
}
inline void* realloc_fn(void* p, std::size_t size) {
    count();
    return std::realloc(p, size);
}
inline char* strdup_fn(const char* s) {
    count();
    return ::strdup(s);
}
inline void free_fn(void* p) { std::free(p); }
/// Installed before main(): every hiredis allocation of the program is counted from the start.
inline const bool installed = [] {
    hiredisAllocFuncs counting{&malloc_fn, &calloc_fn, &realloc_fn, &strdup_fn, &free_fn};
    hiredisSetAllocators(&counting);
    return true;
}();
}  // namespace hiredis_counting

inline void* counted_malloc(std::size_t size) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    ++thread_allocation_count;
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
    ++thread_allocation_count;
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
