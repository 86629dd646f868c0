// addrmap/detail/handles.hpp — owning smart pointers for the hiredis C handles addrmap touches.
// Every redisReply / redisContext / redisReader lives in one of these, so no path leaks or double-frees.
#pragma once

// hiredis's sds.h uses C flexible array members, which -Wpedantic rejects in C++ when hiredis
// is found through -I rather than -isystem (CMake's imported target makes it -isystem).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#include <hiredis/hiredis.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <addrmap/detail/free_with.hpp>

#include <memory>

namespace addrmap::detail {

/// Frees a whole reply tree; only ever given the root (hiredis owns the children).
using reply_ptr = std::unique_ptr<redisReply, free_with<freeReplyObject>>;
using context_ptr = std::unique_ptr<redisContext, free_with<redisFree>>;
using reader_ptr = std::unique_ptr<redisReader, free_with<redisReaderFree>>;

/// Adopts a reply returned as void* by redisCommand / redisGetReply / redisReaderGetReply.
inline reply_ptr adopt_reply(void* reply) noexcept { return reply_ptr(static_cast<redisReply*>(reply)); }

}  // namespace addrmap::detail
