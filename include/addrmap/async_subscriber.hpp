// addrmap/async_subscriber.hpp — basic_async_subscriber<Policy>: classic, pattern and sharded pub/sub on the async
// cluster's loop, with message, subscribed, gap and ended callbacks (the engine is detail/async_subscription.hpp).
#pragma once

#include <addrmap/async_cluster.hpp>
#include <addrmap/detail/async_subscription.hpp>
#include <addrmap/pubsub.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace addrmap {

/// What an async subscriber tells its user, each on the loop thread, never inside hiredis: a message; a subscription
/// confirmed (first time, or again after a gap); a gap (`start` to `end`, with its `cause`); ended (unsubscribed,
/// disconnected) or refused (the server said no for good). A handler left empty drops those events.
struct async_subscriber_handlers {
    std::function<void(const pubsub_event&)> on_message;
    std::function<void(const pubsub_event&)> on_subscribed;
    std::function<void(const pubsub_event&)> on_gap;
    std::function<void(const pubsub_event&)> on_ended;  ///< ended and refused (`what` says which)
};

/// A subscriber on `cluster`'s loop, with connections of its own (one per node it subscribes on, dialed and verified
/// as a blocking command's are); the cluster's map routes it and its refreshes move it. The rules are basic_subscriber's
/// (one subscription_fsm): shard channels to their slot's master, one SSUBSCRIBE per slot; channels and patterns to one
/// master; resubscribed on the new owner after a push, a redirect, a loss, a silent node or a changed map, every time
/// it was not active reported as a gap. RESP2 on its connections, read without hiredis's callback list.
///
/// Loop thread only. The cluster must outlive it; destroy it outside its own callbacks (disconnect() works there). Its
/// destructor closes its connections and runs no callback. The cluster's disconnect() ends its subscriptions too.
/// Its gaps are told to the cluster's observer too (subscription_gap_event), before on_gap runs.
template <class Policy = identity, class Observer = no_observer>
class basic_async_subscriber {
public:
    basic_async_subscriber(basic_async_cluster<Policy, Observer>& cluster, async_subscriber_handlers handlers)
        : driver_(&cluster.driver_),
          engine_(std::make_unique<detail::async_subscription>(driver_->subscription_host(), driver_->options(),
                                                               dispatcher(std::move(handlers), driver_))) {
        driver_->add_subscription(engine_.get());
    }
    basic_async_subscriber(const basic_async_subscriber&) = delete;
    basic_async_subscriber& operator=(const basic_async_subscriber&) = delete;
    ~basic_async_subscriber() {
        if (engine_->attached()) driver_->remove_subscription(engine_.get());  // not if the cluster went first
        engine_.reset();
    }

    /// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE (grouped by slot): sent from the loop. error{config} for an empty name.
    void subscribe(const std::vector<std::string>& channels) { engine_->subscribe(pubsub_family::classic, channels); }
    void psubscribe(const std::vector<std::string>& patterns) { engine_->subscribe(pubsub_family::pattern, patterns); }
    void ssubscribe(const std::vector<std::string>& channels) { engine_->subscribe(pubsub_family::sharded, channels); }
    /// PSUBSCRIBE on every master serving slots, following the set of masters (keyspace notifications): as
    /// basic_subscriber::psubscribe_every_master().
    void psubscribe_every_master(const std::vector<std::string>& patterns) {
        engine_->subscribe(pubsub_family::master_pattern, patterns);
    }
    /// Ends them: `on_ended` once the node confirms (messages until then are delivered), or at once if not sent yet.
    void unsubscribe(const std::vector<std::string>& channels) { engine_->unsubscribe(pubsub_family::classic, channels); }
    void punsubscribe(const std::vector<std::string>& patterns) { engine_->unsubscribe(pubsub_family::pattern, patterns); }
    void sunsubscribe(const std::vector<std::string>& channels) { engine_->unsubscribe(pubsub_family::sharded, channels); }
    void punsubscribe_every_master(const std::vector<std::string>& patterns) {
        engine_->unsubscribe(pubsub_family::master_pattern, patterns);
    }
    /// Every subscription ends (a gap still open is reported first) and the connections close; `on_ended` follows from
    /// the loop for each. It may subscribe again afterwards.
    void disconnect() { engine_->disconnect(); }

    std::size_t subscriptions() const { return engine_->size(); }
    bool active(pubsub_family family, std::string_view channel) const { return engine_->active(family, channel); }
    /// The nodes it has a connection set up to, as the cluster reports them.
    std::vector<node_address> connected_nodes() const { return engine_->connected_nodes(); }

private:
    static detail::async_subscription::event_handler dispatcher(async_subscriber_handlers h, detail::async_driver* driver) {
        return [h = std::move(h), driver](const pubsub_event& e) {
            if (e.what == pubsub_event::kind::gap) driver->core().events().emit(subscription_gap_event{e});
            switch (e.what) {
                case pubsub_event::kind::message:
                    if (h.on_message) h.on_message(e);
                    break;
                case pubsub_event::kind::subscribed:
                    if (h.on_subscribed) h.on_subscribed(e);
                    break;
                case pubsub_event::kind::gap:
                    if (h.on_gap) h.on_gap(e);
                    break;
                case pubsub_event::kind::ended:
                case pubsub_event::kind::refused:
                    if (h.on_ended) h.on_ended(e);
                    break;
            }
        };
    }

    detail::async_driver* driver_;
    std::unique_ptr<detail::async_subscription> engine_;
};

}  // namespace addrmap
