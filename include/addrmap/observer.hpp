// addrmap/observer.hpp — the observer a cluster client tells what it does (events.hpp): a compile-time policy, like
// the address policies. The default, no_observer, handles nothing, and every event it does not handle costs nothing.
//
// An observer is any type with one or more `void operator()(const E&)` for the event types E of events.hpp (a
// generic `template <class E> void operator()(const E&)` takes them all). It is stored by value in the cluster,
// called on the thread that drives the cluster (the loop's, for the async cluster), and must not call the cluster
// back. What it throws is caught and dropped: an observer cannot change what the client does.
#pragma once

#include <addrmap/events.hpp>

#include <type_traits>

namespace addrmap {

/// The default observer: handles no event. A cluster built with it has no observer code at all.
struct no_observer {};

/// Whether Observer handles events of type E.
template <class Observer, class E>
inline constexpr bool observes_v = std::is_invocable_v<Observer&, const E&>;

/// Whether Observer handles any event (no_observer: none).
template <class Observer>
inline constexpr bool observes_any_v =
    observes_v<Observer, topology_changed_event> || observes_v<Observer, node_added_event> ||
    observes_v<Observer, node_removed_event> || observes_v<Observer, node_down_event> ||
    observes_v<Observer, node_up_event> || observes_v<Observer, failover_event> ||
    observes_v<Observer, connection_opened_event> || observes_v<Observer, connection_lost_event> ||
    observes_v<Observer, redirect_event> || observes_v<Observer, call_ended_event> ||
    observes_v<Observer, certificate_expiring_event> || observes_v<Observer, subscription_gap_event>;

/// An observer: a class type, no_observer, or one that handles at least one event (a type that handles none is
/// almost always an operator() with the wrong argument: `const addrmap::call_ended_event&`, ...).
#define ADDRMAP_CHECK_OBSERVER(Observer)                                                                       \
    static_assert(std::is_same_v<Observer, ::addrmap::no_observer> || ::addrmap::observes_any_v<Observer>,     \
                  "an addrmap observer needs at least one `void operator()(const addrmap::E&)` for an event "  \
                  "type E of addrmap/events.hpp (call_ended_event, topology_changed_event, ...); use "         \
                  "addrmap::no_observer for none")

}  // namespace addrmap
