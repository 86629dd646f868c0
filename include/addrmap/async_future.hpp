// addrmap/async_future.hpp — what the async cluster shares with other threads: the mailbox their commands and
// DNS answers go through to the loop thread, reply_future, which refuses to wait on the loop's own thread, and
// posted_call, which makes a call from another thread and gives its future.
#pragma once

#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/pipeline.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace addrmap {

namespace detail {

/// Jobs for the loop thread, posted from any thread. A job is called with true on the loop thread, or
/// with false when the cluster is gone (it then only completes what it owes, e.g. a promise).
class async_mailbox {
public:
    using job = std::function<void(bool run)>;

    explicit async_mailbox(event_loop* loop) : loop_(loop) {}

    /// Thread-safe. Runs `j(false)` at once when the mailbox is closed.
    void post(job j) {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            if (loop_ != nullptr) {
                jobs_.push_back(std::move(j));
                loop_->wake_up();  // under the lock: close() cannot destroy the loop binding meanwhile
                return;
            }
        }
        j(false);
    }
    /// Thread-safe: wakes the loop without a job (nothing is queued, so nothing grows); no-op once closed.
    void wake() {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (loop_ != nullptr) loop_->wake_up();
    }
    std::vector<job> take() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return std::exchange(jobs_, {});
    }
    /// No more jobs are queued; returns those not run yet.
    std::vector<job> close() {
        const std::lock_guard<std::mutex> lock(mutex_);
        loop_ = nullptr;
        return std::exchange(jobs_, {});
    }

    /// The thread the loop runs on, once it has called the cluster (for reply_future's check).
    void seen_on_loop_thread() noexcept { loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
    bool on_loop_thread() const noexcept {
        return loop_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
    }

private:
    std::mutex mutex_;
    event_loop* loop_;
    std::vector<job> jobs_;
    std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace detail

/// The reply of a command submitted from another thread (basic_async_cluster::submit). Waiting on the
/// loop's own thread would wait forever (the loop cannot run meanwhile): get() and wait() there throw
/// error{config} instead. "The loop's thread" is the thread the loop has called the cluster on.
class reply_future {
public:
    reply_future() = default;
    reply_future(std::future<outcome> future, std::shared_ptr<detail::async_mailbox> mailbox)
        : future_(std::move(future)), mailbox_(std::move(mailbox)) {}

    bool valid() const noexcept { return future_.valid(); }
    /// The reply; throws the command's addrmap::error (see outcome).
    reply_ptr get() {
        refuse_on_loop_thread("get");
        return future_.get().value();
    }
    /// The whole outcome (reply or error), without throwing the command's error.
    outcome get_outcome() {
        refuse_on_loop_thread("get_outcome");
        return future_.get();
    }
    void wait() const {
        refuse_on_loop_thread("wait");
        future_.wait();
    }
    template <class Rep, class Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
        if (timeout.count() > 0) refuse_on_loop_thread("wait_for");
        return future_.wait_for(timeout);
    }

private:
    void refuse_on_loop_thread(const char* what) const {
        if (mailbox_ && mailbox_->on_loop_thread() && future_.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
            throw error(error_kind::config,
                        std::string("reply_future::") + what +
                            "() on the event loop's own thread would wait forever: the loop cannot run (and "
                            "answer) while its thread waits. On the loop thread, use the callback API.");
    }

    std::future<outcome> future_;
    std::shared_ptr<detail::async_mailbox> mailbox_;
};

namespace detail {

/// A future that holds `o` already (a call refused before it was posted).
inline reply_future ready_future(outcome o) {
    std::promise<outcome> promise;
    promise.set_value(std::move(o));
    return reply_future(promise.get_future(), nullptr);
}

/// A call made from any thread: `start(done)` runs on the loop thread (through `mailbox`) and starts the call, whose
/// callback `done` fulfils the returned future; when the cluster is gone first, the future says the command did not run.
template <class Start>
reply_future posted_call(const std::shared_ptr<async_mailbox>& mailbox, Start start) {
    auto promise = std::make_shared<std::promise<outcome>>();
    reply_future future(promise->get_future(), mailbox);
    mailbox->post([start = std::move(start), promise](bool run) mutable {
        if (!run) {
            promise->set_value(outcome(error(error_kind::closed, "the cluster was destroyed before the command was sent: it did not run")));
            return;
        }
        start([promise](outcome o) { promise->set_value(std::move(o)); });
    });
    return future;
}

}  // namespace detail

}  // namespace addrmap
