// addrmap/addrmap.hpp — the umbrella header: exactly the public API, nothing from detail/.
// Start here: policies map reported node addresses, tls verifies chain + name, cluster routes commands.
#pragma once

#include <addrmap/version.hpp>
#include <addrmap/error.hpp>
#include <addrmap/address.hpp>
#include <addrmap/allowed_names.hpp>
#include <addrmap/policy.hpp>
#include <addrmap/policies/identity.hpp>
#include <addrmap/policies/ip_to_hostname.hpp>
#include <addrmap/policies/static_table.hpp>
#include <addrmap/policies/env.hpp>
#include <addrmap/policies/first_match.hpp>
#include <addrmap/slot.hpp>
#include <addrmap/topology.hpp>
#include <addrmap/tls_options.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/command_keys.hpp>
#include <addrmap/transaction.hpp>
#include <addrmap/events.hpp>
#include <addrmap/observer.hpp>
#include <addrmap/snapshot.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster.hpp>
#include <addrmap/fan_out.hpp>
#include <addrmap/cluster_scan.hpp>
#include <addrmap/pubsub.hpp>
#include <addrmap/subscriber.hpp>
#include <addrmap/event_loop.hpp>
#include <addrmap/async_future.hpp>
#include <addrmap/async_cluster.hpp>
#include <addrmap/async_transaction.hpp>
#include <addrmap/async_subscriber.hpp>
#include <addrmap/leased_context.hpp>
// Event loop bindings need their library's headers, so they are included one by one:
// <addrmap/loops/libevent.hpp>, <addrmap/loops/libuv.hpp>, <addrmap/loops/libev.hpp>.
