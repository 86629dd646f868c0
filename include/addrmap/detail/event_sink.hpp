// addrmap/detail/event_sink.hpp — the observer as the non-template core and async driver hold it: one function pointer
// per event type, null for the events the observer does not handle, so that an unhandled event costs one test.
#pragma once

#include <addrmap/events.hpp>
#include <addrmap/observer.hpp>

#include <tuple>

namespace addrmap::detail {

class event_sink {
public:
    /// No observer: every wants<E>() is false.
    event_sink() = default;

    /// Calls `*observer` (which must outlive the sink) for the events its type handles.
    template <class Observer>
    static event_sink bind(Observer* observer) noexcept {
        event_sink s;
        s.target_ = observer;
        std::apply([](auto&... slot) { (set<Observer>(slot), ...); }, s.slots_);
        return s;
    }

    template <class E>
    bool wants() const noexcept {
        return std::get<handler<E>>(slots_) != nullptr;
    }
    /// Hands `e` to the observer if it handles E; what the observer throws is dropped (see observer.hpp).
    template <class E>
    void emit(const E& e) const noexcept {
        if (const handler<E> f = std::get<handler<E>>(slots_)) f(target_, e);
    }

private:
    template <class E>
    using handler = void (*)(void*, const E&) noexcept;

    template <class Observer, class E>
    static void set(handler<E>& slot) noexcept {
        if constexpr (observes_v<Observer, E>)
            slot = [](void* target, const E& e) noexcept {
                try {
                    (*static_cast<Observer*>(target))(e);
                } catch (...) {  // an observer cannot change what the client does
                }
            };
    }

    void* target_ = nullptr;
    std::tuple<handler<topology_changed_event>, handler<node_added_event>, handler<node_removed_event>,
               handler<node_down_event>, handler<node_up_event>, handler<failover_event>,
               handler<connection_opened_event>, handler<connection_lost_event>, handler<redirect_event>,
               handler<call_ended_event>, handler<certificate_expiring_event>, handler<subscription_gap_event>>
        slots_{};
};

}  // namespace addrmap::detail
