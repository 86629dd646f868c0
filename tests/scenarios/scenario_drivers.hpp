// tests/scenarios/scenario_drivers.hpp — the two drivers behind one blocking-style face, so one scenario source runs
// on both and parity is shown by the same assertions: `blocking` (basic_cluster) and `async_libevent` (the async cluster).
//
// The async face starts the call and runs its libevent loop until the callback ran, so a scenario reads the same for
// both; the async cluster's own concurrency is tested in tests/async.
#pragma once

#include "async_support.hpp"
#include "cluster_test_support.hpp"

#include <addrmap/addrmap.hpp>

#include <boost/mpl/list.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scenario {

using args = std::vector<std::string_view>;

/// The blocking cluster; errors come back as an outcome rather than thrown, as the async face gives them.
class blocking {
public:
    static constexpr const char* name = "blocking";

    explicit blocking(const addrmap::cluster_options& options) : cluster_(options, addrmap::ip_to_hostname("localhost")) {}

    void connect() { cluster_.connect(); }
    addrmap::outcome command(std::string_view key, const args& a, const addrmap::call_options& call = {}) {
        return attempt([&] { return cluster_.command_argv(key, a, call); });
    }
    addrmap::outcome call(const args& a, const addrmap::call_options& call = {}) {
        return attempt([&] { return cluster_.call_argv(a, call); });
    }
    addrmap::outcome command_on(const addrmap::node_address& node, const args& a, const addrmap::call_options& call = {}) {
        return attempt([&] { return cluster_.command_on(node, a, call); });
    }
    /// Throws what fan_out() throws (no topology could be read).
    std::vector<addrmap::node_outcome> fan_out(const args& a, addrmap::fan_out_to who = addrmap::fan_out_to::masters,
                                               const addrmap::call_options& call = {}) {
        return addrmap::fan_out(cluster_, a, who, call);
    }
    std::vector<addrmap::node_info> nodes() const { return cluster_.nodes(); }
    const addrmap::cluster_stats& stats() const { return cluster_.stats(); }
    addrmap::ip_to_hostname_cluster& cluster() { return cluster_; }

private:
    template <class Call>
    static addrmap::outcome attempt(Call&& call) {
        try {
            return addrmap::outcome(call());
        } catch (const addrmap::error& e) {
            return addrmap::outcome(e);
        }
    }

    addrmap::ip_to_hostname_cluster cluster_;
};

/// The async cluster on a libevent loop of its own, each call waited for by running the loop.
class async_libevent {
public:
    static constexpr const char* name = "async (libevent)";

    explicit async_libevent(const addrmap::cluster_options& options)
        : cluster_(options, loop_.binding(), addrmap::ip_to_hostname("localhost")) {}

    void connect() {
        const std::string failure = live::connect_and_wait(loop_, cluster_);
        if (!failure.empty()) throw addrmap::error(addrmap::error_kind::topology, failure);
    }
    addrmap::outcome command(std::string_view key, const args& a, const addrmap::call_options& call = {}) {
        return wait([&](addrmap::async_callback done) { cluster_.command_argv(key, a, std::move(done), call); });
    }
    addrmap::outcome call(const args& a, const addrmap::call_options& call = {}) {
        return wait([&](addrmap::async_callback done) { cluster_.call_argv(a, std::move(done), call); });
    }
    addrmap::outcome command_on(const addrmap::node_address& node, const args& a, const addrmap::call_options& call = {}) {
        return wait([&](addrmap::async_callback done) { cluster_.command_on(node, a, std::move(done), call); });
    }
    std::vector<addrmap::node_outcome> fan_out(const args& a, addrmap::fan_out_to who = addrmap::fan_out_to::masters,
                                               const addrmap::call_options& call = {}) {
        std::optional<std::vector<addrmap::node_outcome>> got;
        std::optional<addrmap::error> failure;
        cluster_.fan_out(a, [&](const addrmap::error* e, std::vector<addrmap::node_outcome> nodes) {
            if (e != nullptr) failure = *e;
            got = std::move(nodes);
        }, who, call);
        if (!loop_.run_until([&] { return got.has_value(); }, loop_limit))
            throw addrmap::error(addrmap::error_kind::timeout, "the fan-out's callback did not run within the test's limit");
        if (failure) throw *failure;
        return std::move(*got);
    }
    std::vector<addrmap::node_info> nodes() const { return cluster_.nodes(); }
    const addrmap::cluster_stats& stats() const { return cluster_.stats(); }
    addrmap::ip_to_hostname_async_cluster& cluster() { return cluster_; }
    live::libevent_fixture& loop() { return loop_; }

private:
    static constexpr std::chrono::milliseconds loop_limit{60000};

    template <class Start>
    addrmap::outcome wait(Start&& start) {
        std::optional<addrmap::outcome> got;
        start([&](addrmap::outcome o) { got = std::move(o); });
        if (!loop_.run_until([&] { return got.has_value(); }, loop_limit))
            return addrmap::outcome(addrmap::error(addrmap::error_kind::timeout, "the callback did not run within the test's limit"));
        return std::move(*got);
    }

    live::libevent_fixture loop_;  // before the cluster: it outlives it
    addrmap::ip_to_hostname_async_cluster cluster_;
};

/// An outcome for a failure message: the error's text, or the reply's.
inline std::string why(const addrmap::outcome& o) {
    if (!o.ok()) return o.failure()->what();
    const redisReply& r = *o.reply();
    return r.str != nullptr ? std::string(r.str, r.len) : "a reply of type " + std::to_string(r.type);
}

/// Every scenario runs on both.
using drivers = boost::mpl::list<blocking, async_libevent>;

/// The fixture cluster's options, as both drivers take them.
inline addrmap::cluster_options options(int seed = 0) { return live::async_options({live::seed_by_name(seed)}); }

}  // namespace scenario
