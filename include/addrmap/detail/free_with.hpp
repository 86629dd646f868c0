// addrmap/detail/free_with.hpp — the deleter of the C handles addrmap owns: a unique_ptr freed by its library's own
// function, named in its type (std::unique_ptr<SSL, free_with<SSL_free>>), so no path leaks or frees twice.
#pragma once

namespace addrmap::detail {

/// Hands the pointer to `Free` (SSL_free, redisFree, ...), the function its library frees that kind of object with.
template <auto Free>
struct free_with {
    template <class T>
    void operator()(T* handle) const noexcept {
        Free(handle);
    }
};

}  // namespace addrmap::detail
