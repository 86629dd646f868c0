// addrmap/detail/reply_arena.hpp — hiredis replies built into shared blocks instead of two heap objects each: a
// pipeline's read of N replies costs O(1) allocations, and each reply keeps its block alive until it is let go of.
#pragma once

#include <addrmap/detail/handles.hpp>  // hiredis, included pedantic-clean

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <utility>

namespace addrmap::detail {

class reply_builder;

/// Memory that replies are built into: chunks handed out front to back, freed together when the last reply in them
/// (and the builder, while the block is its current one) lets go. The reference count is atomic: replies may be
/// let go of on any thread.
class reply_block {
public:
    /// Bytes of the first chunk (a read of 1,000 "+OK" replies takes 64 KB).
    static constexpr std::size_t chunk_bytes = 64 * 1024;

    /// A block with one reference (the caller's), or nullptr when memory is short.
    static reply_block* create() noexcept {
        void* p = std::malloc(sizeof(reply_block) + sizeof(chunk) + chunk_bytes);
        if (p == nullptr) return nullptr;
        auto* block = new (p) reply_block();
        block->current_ = new (static_cast<char*>(p) + sizeof(reply_block)) chunk{nullptr, chunk_bytes, 0};
        return block;
    }
    reply_block(const reply_block&) = delete;
    reply_block& operator=(const reply_block&) = delete;

    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        // The first chunk lives in this allocation; later ones, and large values, each in their own.
        for (chunk* c = current_; c != nullptr;) {
            chunk* older = c->older;
            if (older != nullptr) std::free(c);
            c = older;
        }
        for (chunk* c = large_; c != nullptr;) {
            chunk* older = c->older;
            std::free(c);
            c = older;
        }
        this->~reply_block();
        std::free(this);
    }

    /// `size` bytes aligned for a redisReply (not zeroed: an element array is filled by the reader, a string by
    /// its copy, and a huge one claimed by a hostile header stays untouched, as calloc's would); nullptr when memory
    /// is short. A value larger than a quarter chunk gets a chunk of its own beside the current one, so small replies
    /// after it keep filling the current chunk; a chunk that has no room is followed by a new one.
    void* allocate(std::size_t size) noexcept {
        if (size > SIZE_MAX - sizeof(chunk) - alignment) return nullptr;
        size = (size + alignment - 1) / alignment * alignment;
        if (size > chunk_bytes / 4) {
            void* p = std::malloc(sizeof(chunk) + size);
            if (p == nullptr) return nullptr;
            large_ = new (p) chunk{large_, size, size};
            used_ += size;
            return large_->data();
        }
        if (current_->capacity - current_->used < size) {
            void* p = std::malloc(sizeof(chunk) + chunk_bytes);
            if (p == nullptr) return nullptr;
            current_ = new (p) chunk{current_, chunk_bytes, 0};
        }
        char* out = current_->data() + current_->used;
        current_->used += size;
        used_ += size;
        return out;
    }
    /// Bytes handed out so far (the builder starts a new block past a threshold).
    std::size_t used() const noexcept { return used_; }
    /// The builder that made it: only read while that builder lives (by its reader's freeObject).
    reply_builder* builder() const noexcept { return builder_; }
    void set_builder(reply_builder* builder) noexcept { builder_ = builder; }
    /// Still its first chunk alone, under three quarters full, with no large value.
    bool small() const noexcept {
        return current_->older == nullptr && large_ == nullptr && used_ < chunk_bytes * 3 / 4;
    }

private:
    static constexpr std::size_t alignment = alignof(redisReply) > 8 ? alignof(redisReply) : 8;
    struct alignas(alignment) chunk {
        chunk* older;
        std::size_t capacity, used;
        char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
    };
    static_assert(sizeof(chunk) % alignment == 0, "chunk data must be aligned for a redisReply");

    reply_block() = default;
    ~reply_block() = default;

    alignas(alignment) std::atomic<std::size_t> refs_{1};
    chunk* current_ = nullptr;
    chunk* large_ = nullptr;  ///< values of more than a quarter chunk, newest first
    std::size_t used_ = 0;
    reply_builder* builder_ = nullptr;
};
static_assert(sizeof(reply_block) % alignof(redisReply) == 0, "the first chunk follows the block header");

/// A top-level reply and the block it lives in (the block is found from the reply).
struct reply_root {
    reply_block* owner;
    redisReply reply;

    static reply_root& of(redisReply* r) noexcept {
        return *reinterpret_cast<reply_root*>(reinterpret_cast<char*>(r) - offsetof(reply_root, reply));
    }
};

inline redisReply* copy_for_hiredis(const redisReply& r) noexcept;

/// True when `reader` holds no part of a reply: it never started one (ridx -1), or a read found no byte to start
/// one (hiredis leaves ridx 0 with its first task untyped after a "read until there is no reply" loop, the usual
/// way to drain a context). Anything else is a reply half parsed.
inline bool reader_between_replies(const redisReader& reader) noexcept {
    if (reader.reply != nullptr) return false;
    if (reader.ridx == -1) return true;
    return reader.ridx == 0 && reader.task != nullptr && reader.task[0] != nullptr && reader.task[0]->type < 0;
}

/// Builds hiredis's replies into reply_blocks: install() it on a reader (for a scope), and every reply that reader
/// returns is a top-level redisReply in a block, let go of by arena_reply (never freeReplyObject). Replies are laid
/// out as hiredis lays them out (same types, strings NUL-terminated, VERB's vtype split off, DOUBLE's text kept), so
/// code that reads a redisReply reads these the same way. One thread: the one that reads.
class reply_builder {
public:
    /// A new block is started for the next top-level reply once the current one has handed out this much (a block
    /// grown past its first chunk is let go of at the end of a read: finish()). A reply kept holds its whole block:
    /// the replies built before it in that block and those after it, in the same read or later ones, up to and
    /// including the one that passed this mark, whatever that one's size.
    static constexpr std::size_t rotate_after = reply_block::chunk_bytes * 3 / 4;

    reply_builder() = default;
    reply_builder(reply_builder&& other) noexcept
        : current_(std::exchange(other.current_, nullptr)), blocks_made_(other.blocks_made_) {
        if (current_ != nullptr) current_->set_builder(this);
    }
    reply_builder& operator=(reply_builder&& other) noexcept {
        if (this != &other) {
            if (current_ != nullptr) current_->release();
            current_ = std::exchange(other.current_, nullptr);
            if (current_ != nullptr) current_->set_builder(this);
            blocks_made_ = other.blocks_made_;
        }
        return *this;
    }
    ~reply_builder() {
        if (current_ != nullptr) current_->release();
    }

    /// Lets go of a top-level reply built here (what the reader's freeObject does).
    static void release(void* root) noexcept {
        if (root != nullptr) reply_root::of(static_cast<redisReply*>(root)).owner->release();
    }

    /// The blocks this builder made so far (the tests count allocations with it).
    std::uint64_t blocks_made() const noexcept { return blocks_made_; }
    /// Whether it holds a block for the replies to come (the tests check that no grown one stays behind).
    bool holds_block() const noexcept { return current_ != nullptr; }

    /// While it lives, `context`'s reader builds its replies here. A push reply goes to the context's push callback
    /// as a copy made for hiredis (the callback may free it with freeReplyObject, as hiredis's default one does); a
    /// callback it sets (redisSetPushCallback) gets the next ones, and stays set. With no callback the push is let go
    /// of (hiredis would return it as the next command's answer, and every reply after it would be one behind). A
    /// callback that throws ends the read as a lost connection would (context error; the driver drops it): the
    /// exception never unwinds through hiredis. On its end, the reader gets hiredis's functions back, after letting go
    /// of a reply it had only half read (it read no more after an error, and the driver drops the connection), and
    /// the builder lets go of its block unless it is small (finish()). A push callback must not read from its own
    /// context (it would be handed replies of the block).
    class installed {
    public:
        installed(reply_builder& builder, redisContext* context) noexcept : installed(builder, context->reader) {
            context_ = context;
            // forward_push is never in push_cb while user code runs (a push callback sees its own), so user code
            // cannot have saved it and set it back; were it there, it would have no target, as if none were set.
            redisPushFn* target = context->push_cb == &forward_push ? nullptr : context->push_cb;
            previous_ = std::exchange(forwarding(), push_forwarding{context, target});
            context->push_cb = &forward_push;
        }
        /// A bare reader (the unit tests): no push callback to mind.
        installed(reply_builder& builder, redisReader* reader) noexcept
            : builder_(builder), reader_(reader), fn_(reader->fn), privdata_(reader->privdata) {
            if (reader_between_replies(*reader_)) {
                reader_->ridx = -1;  // the same state a next read starts from either way
            } else {
                // Other code left a reply half read on this connection: what follows on the stream is not ours to
                // read. That half is freed by the functions that built it, and the reader refuses from here on (the
                // driver drops the connection).
                if (reader_->reply != nullptr && fn_ != nullptr && fn_->freeObject != nullptr)
                    fn_->freeObject(reader_->reply);
                reader_->reply = nullptr;
                poison(reader_, "the connection had a reply half read by other code");
            }
            reader_->fn = &functions;
            reader_->privdata = &builder;
        }
        ~installed() {
            if (reader_->reply != nullptr) {
                // Half a reply (the read stopped on an error): let it go, and make sure the reader never parses into
                // it again (the driver drops the connection; this keeps a mistake there from touching freed memory).
                release(reader_->reply);
                reader_->reply = nullptr;
                poison(reader_, "a reply was cut short");
            }
            reader_->fn = fn_;
            reader_->privdata = privdata_;
            if (context_ != nullptr) {
                // The user's callback as it is now: one it set from a push callback stays set.
                if (context_->push_cb == &forward_push) context_->push_cb = forwarding().target;
                forwarding() = previous_;
            }
            builder_.finish();
        }
        installed(const installed&) = delete;
        installed& operator=(const installed&) = delete;

    private:
        /// The context being read on this thread and the user's push callback for it (hiredis passes a push
        /// callback the user's privdata only).
        struct push_forwarding {
            redisContext* context = nullptr;
            redisPushFn* target = nullptr;
        };
        static push_forwarding& forwarding() noexcept {
            static thread_local push_forwarding current;
            return current;
        }
        static void forward_push(void* privdata, void* reply) {
            redisContext* context = forwarding().context;  // set with push_cb by the scope: never null here
            // After a throw (or any error) the read is over for the driver: hiredis still hands over the pushes it
            // has buffered, and they are let go of, not given to a callback that threw.
            if (context->err != 0) {
                release(reply);
                return;
            }
            redisReply* copy = copy_for_hiredis(*static_cast<redisReply*>(reply));
            release(reply);
            if (copy == nullptr) return;
            redisPushFn* target = forwarding().target;
            if (target == nullptr) {
                freeReplyObject(copy);
                return;
            }
            // While the user's callback runs, the context shows the user's own callback, as hiredis's would:
            // redisSetPushCallback returns it (never forward_push, which would mean nothing after this read).
            context->push_cb = target;
            try {
                target(privdata, copy);
            } catch (const std::exception& e) {
                set_error(context, "a push callback threw: ", e.what());
            } catch (...) {
                set_error(context, "a push callback threw", "");
            }
            // The callback may have set another (or none): it gets the next pushes, still as copies (given a reply
            // of the block, its freeReplyObject would free memory malloc never handed out).
            forwarding().target = context->push_cb;
            context->push_cb = &forward_push;
        }
        /// The context's error, unless it has one: the driver's read loop stops at it and drops the connection (what
        /// was written and not answered is lost after writing, never sent again).
        static void set_error(redisContext* context, const char* what, const char* detail) noexcept {
            if (context->err != 0) return;
            context->err = REDIS_ERR_OTHER;
            std::snprintf(context->errstr, sizeof context->errstr, "%s%s", what, detail);
        }
        static void poison(redisReader* reader, const char* why) noexcept {
            reader->ridx = -1;
            if (reader->err == 0) {
                reader->err = REDIS_ERR_PROTOCOL;
                std::snprintf(reader->errstr, sizeof reader->errstr, "%s", why);
            }
        }
        reply_builder& builder_;
        redisReader* reader_;
        redisReplyObjectFunctions* fn_;
        void* privdata_;
        redisContext* context_ = nullptr;
        push_forwarding previous_;  ///< an enclosing scope's (a push callback that reads another context)
    };

    /// From now on every reply `reader` parses is built here, for as long as the reader lives: an async context's
    /// reader, whose replies may span several reads (one half read stays in its block until the rest comes). The
    /// builder must outlive the reader, and the reader must hold no reply yet (a fresh one). hiredis lets go of what
    /// it does not hand out (a push, a reply nobody waited for, a half read when the context is freed) through the
    /// reader's freeObject: release_and_finish(). Call finish() after each reply handed out, as a read's end.
    void build_every_reply_of(redisReader* reader) noexcept {
        reader->fn = &functions_across_reads;
        reader->privdata = this;
    }
    /// True when `reader`'s replies are built by a reply_builder (let go of with release(), not freeReplyObject).
    static bool builds_for(const redisReader& reader) noexcept {
        return reader.fn == &functions || reader.fn == &functions_across_reads;
    }

    /// A read ended. The block stays for the next read while it is its first chunk alone and under rotate_after (an
    /// idle cluster holds at most that, 64 KB: a fresh block per read measured 15% slower, pipelined to 3 nodes);
    /// a block grown past it (more chunks, a large value) is let go of now, so no large reply is held by the cluster.
    void finish() noexcept {
        if (current_ == nullptr || current_->small()) return;
        current_->release();
        current_ = nullptr;
    }

private:
    static reply_builder& of(const redisReadTask* task) noexcept {
        return *static_cast<reply_builder*>(task->privdata);
    }

    /// A zeroed reply of `type`: top-level in a reply_root (the block rotated first if due), or an element put in
    /// its parent's slot as hiredis's own functions do.
    redisReply* make(const redisReadTask* task, int type) noexcept {
        if (task->parent == nullptr) {
            if (current_ == nullptr || current_->used() >= rotate_after) {
                reply_block* fresh = reply_block::create();
                if (fresh == nullptr) return nullptr;
                fresh->set_builder(this);
                ++blocks_made_;
                if (current_ != nullptr) current_->release();
                current_ = fresh;
            }
            void* p = current_->allocate(sizeof(reply_root));
            if (p == nullptr) return nullptr;
            auto* root = static_cast<reply_root*>(p);
            std::memset(&root->reply, 0, sizeof root->reply);
            root->owner = current_;
            current_->retain();
            root->reply.type = type;
            return &root->reply;
        }
        auto* r = static_cast<redisReply*>(current_->allocate(sizeof(redisReply)));
        if (r == nullptr) return nullptr;
        std::memset(r, 0, sizeof *r);
        r->type = type;
        auto* parent = static_cast<redisReply*>(task->parent->obj);
        parent->element[task->idx] = r;
        return r;
    }
    /// A part of `r` could not be made: hiredis frees what it holds (the root, with its block), but a root it never
    /// got is let go of here.
    static void* failed(const redisReadTask* task, redisReply* r) noexcept {
        if (task->parent == nullptr) release(r);
        return nullptr;
    }
    /// A NUL-terminated copy of [s, s + n) in the current block.
    char* copy(const char* s, std::size_t n) noexcept {
        if (n == SIZE_MAX) return nullptr;
        auto* out = static_cast<char*>(current_->allocate(n + 1));
        if (out == nullptr) return nullptr;
        if (n != 0) std::memcpy(out, s, n);
        out[n] = '\0';
        return out;
    }

    static void* create_string(const redisReadTask* task, char* str, std::size_t len) {
        reply_builder& me = of(task);
        // Checked before anything is made: an error leaves no element half built in its parent.
        if (task->type == REDIS_REPLY_VERB && len < 4) return nullptr;  // hiredis's reader refuses it first
        redisReply* r = me.make(task, task->type);
        if (r == nullptr) return nullptr;
        const bool verbatim = task->type == REDIS_REPLY_VERB;
        const std::size_t skip = verbatim ? 4 : 0;  // "txt:" of a verbatim string
        r->str = me.copy(str + skip, len - skip);
        if (r->str == nullptr) return failed(task, r);
        r->len = len - skip;
        if (verbatim) std::memcpy(r->vtype, str, 3);  // vtype[3] stays 0
        return r;
    }
    static void* create_array(const redisReadTask* task, std::size_t elements) {
        reply_builder& me = of(task);
        redisReply* r = me.make(task, task->type);
        if (r == nullptr) return nullptr;
        if (elements > 0) {
            if (elements > SIZE_MAX / sizeof(redisReply*)) return failed(task, r);
            r->element = static_cast<redisReply**>(me.current_->allocate(elements * sizeof(redisReply*)));
            if (r->element == nullptr) return failed(task, r);
        }
        r->elements = elements;
        return r;
    }
    static void* create_integer(const redisReadTask* task, long long value) {
        redisReply* r = of(task).make(task, REDIS_REPLY_INTEGER);
        if (r != nullptr) r->integer = value;
        return r;
    }
    static void* create_double(const redisReadTask* task, double value, char* str, std::size_t len) {
        reply_builder& me = of(task);
        redisReply* r = me.make(task, REDIS_REPLY_DOUBLE);
        if (r == nullptr) return nullptr;
        r->dval = value;
        r->str = me.copy(str, len);
        if (r->str == nullptr) return failed(task, r);
        r->len = len;
        return r;
    }
    static void* create_nil(const redisReadTask* task) { return of(task).make(task, REDIS_REPLY_NIL); }
    static void* create_bool(const redisReadTask* task, int value) {
        redisReply* r = of(task).make(task, REDIS_REPLY_BOOL);
        if (r != nullptr) r->integer = value != 0;
        return r;
    }

    // hiredis frees the reply it was building after an error, and a finished one nobody took, with freeObject:
    // always a top-level reply (read.c), which lets go of its block. An element that failed half-way needs nothing.
    static inline redisReplyObjectFunctions functions = {&create_string, &create_array, &create_integer,
                                                          &create_double, &create_nil,  &create_bool,
                                                          &release};

    /// freeObject of a reader built for across reads (build_every_reply_of): hiredis lets go of the replies it does not
    /// hand out (a push, a reply nobody waited for, one after a callback of hiredis code, a half read on an error or
    /// when the context is freed), always between replies or with the reader done; the builder then lets go of a
    /// grown block as after a reply handed out (finish()), so no large value stays behind on an idle connection.
    /// hiredis calls it only while the context lives, and the builder outlives the context.
    static void release_and_finish(void* root) noexcept {
        if (root == nullptr) return;
        reply_builder* builder = reply_root::of(static_cast<redisReply*>(root)).owner->builder();
        release(root);
        if (builder != nullptr) builder->finish();
    }
    static inline redisReplyObjectFunctions functions_across_reads = {&create_string, &create_array, &create_integer,
                                                                      &create_double, &create_nil,  &create_bool,
                                                                      &release_and_finish};

    reply_block* current_ = nullptr;
    std::uint64_t blocks_made_ = 0;
};

/// A top-level reply built by reply_builder: a view that keeps its block alive; move-only.
class arena_reply {
public:
    arena_reply() noexcept = default;
    explicit arena_reply(redisReply* root) noexcept : root_(root) {}
    arena_reply(arena_reply&& other) noexcept : root_(std::exchange(other.root_, nullptr)) {}
    arena_reply& operator=(arena_reply&& other) noexcept {
        if (this != &other) {
            reply_builder::release(root_);
            root_ = std::exchange(other.root_, nullptr);
        }
        return *this;
    }
    ~arena_reply() { reply_builder::release(root_); }

    redisReply* get() const noexcept { return root_; }
    explicit operator bool() const noexcept { return root_ != nullptr; }
    /// Gives up the reply without letting go of its block (its owner now: hiredis, through release()).
    redisReply* release() noexcept { return std::exchange(root_, nullptr); }

private:
    redisReply* root_ = nullptr;
};

/// A reply held by its receiver: hiredis's own (freed with freeReplyObject) or one built by reply_builder (its block let
/// go of). Move-only; what the async driver and an outcome hold, whichever reader built it.
class held_reply {
public:
    held_reply() noexcept = default;
    explicit held_reply(reply_ptr own) noexcept : own_(std::move(own)) {}
    explicit held_reply(arena_reply built) noexcept : built_(std::move(built)) {}
    /// A reply `reader` built: hiredis's, or a block's when a builder builds for it.
    static held_reply from(const redisReader& reader, redisReply* reply) noexcept {
        if (reply_builder::builds_for(reader)) return held_reply(arena_reply(reply));
        return held_reply(reply_ptr(reply));
    }

    redisReply* get() const noexcept { return own_ ? own_.get() : built_.get(); }
    redisReply* operator->() const noexcept { return get(); }
    redisReply& operator*() const noexcept { return *get(); }
    explicit operator bool() const noexcept { return get() != nullptr; }
    /// True when the reply lives in a block (let go of by this object, never by freeReplyObject).
    bool in_block() const noexcept { return static_cast<bool>(built_); }

    /// The reply as hiredis's own: moved out when it is, else a copy made with hiredis's allocator (the block let go
    /// of). nullptr when there is no reply, or when the copy cannot be made (memory short: the reply is kept).
    reply_ptr to_hiredis() && noexcept {
        if (own_) return std::move(own_);
        if (!built_) return nullptr;
        reply_ptr copy(copy_for_hiredis(*built_.get()));
        if (copy) built_ = arena_reply();
        return copy;
    }
    /// Gives up ownership: hiredis lets go of the reply itself (it is handing it out now, from its reader).
    void release_to_hiredis() noexcept {
        (void)own_.release();
        if (built_) (void)built_.release();
    }

private:
    reply_ptr own_;
    arena_reply built_;
};

/// A copy of `r` made with hiredis's allocator, laid out as hiredis lays out its own: freeReplyObject frees it.
/// nullptr when memory is short.
inline redisReply* copy_for_hiredis(const redisReply& r) noexcept {
    auto* out = static_cast<redisReply*>(hi_calloc(1, sizeof(redisReply)));
    if (out == nullptr) return nullptr;
    out->type = r.type;
    out->integer = r.integer;
    out->dval = r.dval;
    std::memcpy(out->vtype, r.vtype, sizeof out->vtype);
    switch (r.type) {
        case REDIS_REPLY_ARRAY:
        case REDIS_REPLY_MAP:
        case REDIS_REPLY_SET:
        case REDIS_REPLY_PUSH:
            if (r.elements > 0) {
                out->element = static_cast<redisReply**>(hi_calloc(r.elements, sizeof(redisReply*)));
                if (out->element == nullptr) {
                    freeReplyObject(out);
                    return nullptr;
                }
                out->elements = r.elements;
                for (std::size_t k = 0; k < r.elements; ++k) {
                    out->element[k] = copy_for_hiredis(*r.element[k]);
                    if (out->element[k] == nullptr) {
                        freeReplyObject(out);  // the elements not copied yet are null: freeReplyObject skips them
                        return nullptr;
                    }
                }
            }
            break;
        case REDIS_REPLY_ERROR:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_DOUBLE:
        case REDIS_REPLY_VERB:
        case REDIS_REPLY_BIGNUM:
            out->str = static_cast<char*>(hi_malloc(r.len + 1));
            if (out->str == nullptr) {
                freeReplyObject(out);
                return nullptr;
            }
            if (r.len != 0) std::memcpy(out->str, r.str, r.len);
            out->str[r.len] = '\0';
            out->len = r.len;
            break;
        default: break;
    }
    return out;
}

}  // namespace addrmap::detail
