// addrmap/leased_context.hpp — a verified connection of your own to the owner of a key's slot, from the async cluster,
// for plain hiredis async code (redisAsyncCommand): the async counterpart of the blocking cluster's context_for_key.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/async_driver.hpp>
#include <addrmap/detail/async_lease.hpp>

#include <hiredis/async.h>

#include <memory>
#include <utility>

namespace addrmap {

/// A connection leased from basic_async_cluster::context_for_key: TLS verified (chain and name), AUTH done,
/// on_connect_commands and on_async_connect run, to the node that owned the key's slot when it was dialed (or taken
/// from the spares). It is yours alone: send with redisAsyncCommand(get(), ...); your callbacks get the replies as
/// hiredis gives them (a MOVED included: nothing is redirected, nothing sent again, no deadline, no stall check). Loop
/// thread only; the cluster must outlive it, and is never destroyed inside one of your callbacks on this context.
/// Never free or disconnect the context yourself, and leave its `data`, `dataCleanup`, `ev` and connect/disconnect
/// callbacks alone (they are the cluster's): release() (or the destructor) closes it once every reply of yours has
/// come (a BLPOP 0 of yours holds it until it returns). A lost connection gives your pending callbacks a null reply
/// (hiredis), and get() returns nullptr from then on; disconnect() and the cluster's destruction close it at once
/// (your pending callbacks get a null reply).
class leased_context {
public:
    leased_context() = default;
    /// Used by basic_async_cluster::context_for_key.
    leased_context(detail::async_driver& driver, std::shared_ptr<detail::async_lease> lease, node_address node)
        : driver_(&driver), lease_(std::move(lease)), node_(std::move(node)) {}
    leased_context(leased_context&& other) noexcept
        : driver_(std::exchange(other.driver_, nullptr)), lease_(std::move(other.lease_)), node_(std::move(other.node_)) {}
    leased_context& operator=(leased_context&& other) noexcept {
        if (this != &other) {
            release();
            driver_ = std::exchange(other.driver_, nullptr);
            lease_ = std::move(other.lease_);
            node_ = std::move(other.node_);
        }
        return *this;
    }
    leased_context(const leased_context&) = delete;
    leased_context& operator=(const leased_context&) = delete;
    ~leased_context() { release(); }

    /// The hiredis context, or nullptr when there is none (released, lost, the cluster disconnected, or never leased).
    redisAsyncContext* get() const noexcept {
        if (!lease_ || lease_->connection == nullptr) return nullptr;
        return lease_->connection->context();
    }
    explicit operator bool() const noexcept { return get() != nullptr; }
    /// The node it goes to, as the cluster reports it (the mapping applies to what was dialed).
    const node_address& node() const noexcept { return node_; }

    /// Done with it: the connection closes once every reply asked for has come (it is never lent again: what your
    /// commands left on it is unknown). Idempotent.
    void release() noexcept {
        if (!lease_ || driver_ == nullptr) return;
        const std::shared_ptr<detail::async_lease> lease = std::move(lease_);
        try {
            driver_->end_lease(*lease, false);
        } catch (...) {  // no memory for the message: the connection closes when the cluster does
        }
        driver_ = nullptr;
    }

private:
    detail::async_driver* driver_ = nullptr;
    std::shared_ptr<detail::async_lease> lease_;
    node_address node_;
};

}  // namespace addrmap
