// addrmap/detail/async_dialer.hpp — how the async cluster starts a node's connection: mapped through the core, its
// dial host resolved on a helper thread (the loop never blocks), each address tried in turn, all within connect_timeout.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/async_future.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/cluster_options.hpp>
#include <addrmap/detail/async_connection.hpp>
#include <addrmap/detail/async_connection_table.hpp>
#include <addrmap/detail/async_loop_timer.hpp>
#include <addrmap/detail/handshake_errors.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/resolve.hpp>
#include <addrmap/detail/seed_number.hpp>
#include <addrmap/error.hpp>
#include <addrmap/event_loop.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace addrmap::detail {

/// Starts connections; the connections report their own set-up (async_connection_owner). A dial that fails after
/// dial() returned goes to the failure handler: the DNS answer, every address refused, connect_timeout passed.
class async_dialer {
public:
    using clock = std::chrono::steady_clock;
    using failure_handler = std::function<void(node_id, const error&)>;

    async_dialer(cluster_core& core, const cluster_options& options, std::shared_ptr<tls_shared> tls, event_loop& loop,
                 async_loop_timer& timer, async_connection_owner& owner, async_connection_table& table,
                 std::weak_ptr<async_mailbox> mailbox, failure_handler failed)
        : core_(core), options_(options), tls_(std::move(tls)), loop_(loop), timer_(timer), owner_(owner), table_(table),
          mailbox_(std::move(mailbox)), failed_(std::move(failed)) {}
    async_dialer(const async_dialer&) = delete;
    async_dialer& operator=(const async_dialer&) = delete;

    /// No connection is started from now on (disconnect, destruction); a late DNS answer is dropped.
    void stop() noexcept { stopped_ = true; }

    /// Maps node `n` through the policy and starts its connection, due by now + connect_timeout (the loop timer
    /// is armed for it, whoever dials). Throws what the mapping throws, and a failure found before any I/O.
    void dial(node_id n, clock::time_point now) {
        if (stopped_) throw error(error_kind::closed, "the cluster is disconnected: no new connection is made");
        const core_node& node = core_.ensure_mapped(n);
        const endpoint mapped(node.dial_host, node.port, node.tls_name);
        check_mapping(describe_route(node.reported, mapped, configured_seed_number(core_, n)), mapped);
        async_connection_table::node_entry& entry = table_.node(n);
        entry.setup_deadline = now + options_.tls.connect_timeout;
        timer_.arm_by(entry.setup_deadline);
        entry.addresses.clear();
        entry.next_address = 0;
        const host_kind kind = classify_host(node.dial_host);
        if (kind == host_kind::ipv4 || kind == host_kind::ipv6) {
            entry.addresses.push_back(node.dial_host);
            if (std::optional<error> failed = open_next(n)) throw *failed;
            return;
        }
        entry.resolving = true;
        const std::uint64_t ticket = ++next_dns_ticket_;
        entry.dns_ticket = ticket;
        std::weak_ptr<async_mailbox> mailbox = mailbox_;
        std::string host = node.dial_host;
        try {
            std::thread([mailbox, host, n, ticket, this] {
                dns_answer answer = lookup_blocking(host);
                if (auto box = mailbox.lock())
                    box->post([this, n, ticket, host, answer = std::move(answer)](bool run) mutable {
                        if (run) resolved(n, ticket, host, std::move(answer));
                    });
            }).detach();
        } catch (const std::system_error&) {
            entry.resolving = false;
            throw error(error_kind::connect, "cannot start a DNS lookup of " + quoted(host) + " (no thread available)");
        }
    }

    /// Node `n`'s connection to send on: its current one (nullptr while a lookup is on its way, or while it is set up:
    /// check ready()), else a new one dialed now. Throws what dial() throws.
    async_connection* connection_for(node_id n, clock::time_point now) {
        async_connection* c = table_.live(n);
        if (c != nullptr || table_.resolving(n)) return c;
        dial(n, now);
        return table_.current(n);
    }

    /// A dedicated connection to node `n` (a blocking call's own), opened to the address its current connection uses,
    /// due by now + connect_timeout; nullptr while the node has no current connection set up (dial that first: its
    /// DNS answer and address are reused). Throws what open() throws.
    async_connection* dial_dedicated(node_id n, clock::time_point now, bool for_subscriber = false) {
        if (stopped_) throw error(error_kind::closed, "the cluster is disconnected: no new connection is made");
        const async_connection* current = table_.current(n);
        if (current == nullptr || !current->ready() || !core_.exists(n)) return nullptr;
        const core_node& node = core_.node(n);
        async_connection::target t = target_for(n, node, current->tcp_address());
        t.dedicated = true;
        t.subscriber = for_subscriber;
        const clock::time_point deadline = now + options_.tls.connect_timeout;
        auto c = std::make_unique<async_connection>(owner_, tls_, std::move(t), deadline);
        c->open(loop_);
        timer_.arm_by(deadline);
        return &table_.adopt_dedicated(std::move(c));
    }

    /// A connection of node `n` failed its set-up with `why` (it is no longer current): a node away is tried at its
    /// next address while connect_timeout allows; otherwise, or when none opens, the failure handler is told.
    void setup_failed(node_id n, const error& why) {
        if (stopped_) return;
        const async_connection_table::node_entry& entry = table_.node(n);
        if (cluster_core::is_reachability_error(why) && entry.next_address < entry.addresses.size() &&
            clock::now() < entry.setup_deadline) {
            if (std::optional<error> failed = open_next(n, why)) failed_(n, *failed);
            return;
        }
        failed_(n, why);
    }

    /// connect_timeout passed while `c` was being set up: it fails (and reports through its owner).
    void setup_timed_out(async_connection& c) {
        c.abort_setup(error(error_kind::timeout,
                            c.route() + ": the TCP connect, TLS handshake and first round trip did not complete within "
                                        "connect_timeout (" + std::to_string(options_.tls.connect_timeout.count()) +
                                " ms); check that the node is up, that the port is its tls-port, and that it is not "
                                "overloaded."));
    }

    /// connect_timeout passed while node `n`'s dial host was being resolved.
    void lookup_timed_out(node_id n) {
        async_connection_table::node_entry& entry = table_.node(n);
        if (!entry.resolving) return;
        entry.resolving = false;
        failed_(n, error(error_kind::timeout, "the DNS lookup of " +
                                                  quoted(core_.exists(n) ? core_.node(n).dial_host : std::string()) +
                                                  " did not finish within connect_timeout"));
    }

private:
    void resolved(node_id n, std::uint64_t ticket, const std::string& host, dns_answer answer) {
        if (!table_.resolving(n) || table_.node(n).dns_ticket != ticket) return;  // timed out meanwhile
        async_connection_table::node_entry& entry = table_.node(n);
        entry.resolving = false;
        if (stopped_) return;
        if (answer.status != 0 || answer.addresses.empty()) {
            failed_(n, dns_failure(host, answer));
            return;
        }
        entry.addresses = std::move(answer.addresses);
        entry.next_address = 0;
        if (std::optional<error> failed = open_next(n)) failed_(n, *failed);
    }

    /// What a connection to node `n` at `tcp_address` needs: its mapping, credentials, READONLY for a replica serving
    /// reads, and the setup hooks when the options have any.
    async_connection::target target_for(node_id n, const core_node& node, std::string tcp_address) const {
        async_connection::target t{n, node.reported, endpoint::owning(node.dial_host, node.port, node.tls_name),
                                   std::move(tcp_address), options_.user, options_.password,
                                   node.role == node_role::replica, configured_seed_number(core_, n),
                                   core_.node(core_.seed(0)).reported.host, core_.node(core_.seed(0)).reported.port,
                                   nullptr, node_info{}};
        if (options_.on_connect_commands || options_.on_async_connect) {
            t.setup_options = &options_;
            t.node_row = connected_node_info(node, std::nullopt);
        }
        return t;
    }

    /// Opens a connection to the next address of node `n` that can be dialed; the error when none can.
    std::optional<error> open_next(node_id n, std::optional<error> last = std::nullopt) {
        async_connection_table::node_entry& entry = table_.node(n);
        while (entry.next_address < entry.addresses.size() && core_.exists(n)) {
            const core_node& node = core_.node(n);
            async_connection::target t = target_for(n, node, entry.addresses[entry.next_address++]);
            auto c = std::make_unique<async_connection>(owner_, tls_, std::move(t), entry.setup_deadline);
            try {
                c->open(loop_);
            } catch (const error& e) {
                last = e;
                if (cluster_core::is_reachability_error(e)) continue;
                break;
            }
            table_.adopt(std::move(c));
            return std::nullopt;
        }
        if (last) return last;
        return error(error_kind::connect, "no address left to dial for " +
                                              (core_.exists(n) ? to_string(core_.node(n).reported) : std::string("a node")));
    }

    cluster_core& core_;
    const cluster_options& options_;
    std::shared_ptr<tls_shared> tls_;
    event_loop& loop_;
    async_loop_timer& timer_;
    async_connection_owner& owner_;
    async_connection_table& table_;
    std::weak_ptr<async_mailbox> mailbox_;
    failure_handler failed_;
    std::uint64_t next_dns_ticket_ = 0;
    bool stopped_ = false;
};

}  // namespace addrmap::detail
