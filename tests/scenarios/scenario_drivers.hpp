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
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scenario {

using args = std::vector<std::string_view>;

/// The blocking cluster; errors come back as an outcome rather than thrown, as the async face gives them. Observer:
/// the cluster's (observer.hpp), given by the scenarios that check events.
template <class Observer = addrmap::no_observer>
class blocking_with {
public:
    static constexpr const char* name = "blocking";
    using cluster_type = addrmap::basic_cluster<addrmap::ip_to_hostname, Observer>;

    explicit blocking_with(const addrmap::cluster_options& options, Observer observer = Observer{})
        : cluster_(options, addrmap::ip_to_hostname("localhost"), std::move(observer)) {}

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
    /// Every command (keys from the command), pipelined under `call` (its deadline bounds the whole pipeline); one
    /// outcome each, in order. `repeats[i]`, when given, is command i's repeat policy (else by the table).
    std::vector<addrmap::outcome> all(const std::vector<std::vector<std::string>>& commands,
                                      const addrmap::call_options& call = {},
                                      const std::vector<addrmap::repeat>& repeats = {}) {
        addrmap::pipeline batch;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            const std::vector<std::string_view> argv(commands[i].begin(), commands[i].end());
            const std::vector<std::string_view> keys = addrmap::command_keys(argv);  // the scenarios' commands have keys
            batch.add_argv(keys.empty() ? std::string_view() : keys.front(), argv,
                           i < repeats.size() ? repeats[i] : addrmap::repeat::by_table);
        }
        return cluster_.execute(batch, call);
    }
    std::vector<addrmap::node_info> nodes() const { return cluster_.nodes(); }
    const addrmap::cluster_stats& stats() const { return cluster_.stats(); }
    cluster_type& cluster() { return cluster_; }

    /// cluster_scan as it is: next() throws the step's error.
    class scan {
    public:
        scan(blocking_with& driver, const addrmap::cluster_scan_options& options) : scan_(driver.cluster_, options) {}
        bool next(std::vector<std::string>& keys) { return scan_.next(keys); }
        std::uint32_t cursor() const { return scan_.cursor(); }
        std::uint64_t requests() const { return scan_.requests(); }
        std::uint64_t slots_followed() const { return scan_.slots_followed(); }

    private:
        addrmap::cluster_scan<cluster_type> scan_;
    };

    /// A transaction (transaction.hpp) with the async face's shape: each step's outcome; queue() throws.
    class transaction {
    public:
        transaction(blocking_with& driver, std::string_view key, const addrmap::call_options& step = {}) {
            try {
                tx_.emplace(driver.cluster_.begin_transaction(key, step));
            } catch (const addrmap::error& e) {
                begin_failure_ = e;
            }
        }
        std::optional<addrmap::error> watch(const args& keys) {
            if (begin_failure_) return begin_failure_;
            try {
                tx_->watch(keys);
                return std::nullopt;
            } catch (const addrmap::error& e) {
                return e;
            }
        }
        addrmap::outcome command(const args& a) {
            if (begin_failure_) return addrmap::outcome(*begin_failure_);
            return attempt([&] { return tx_->command_argv(a); });
        }
        void queue(const args& a) { tx_->queue_argv(a); }
        addrmap::outcome exec() {
            if (begin_failure_) return addrmap::outcome(*begin_failure_);
            return attempt([&] { return tx_->exec(); });
        }
        void discard() { tx_->discard(); }
        bool active() const { return tx_ && tx_->active(); }

    private:
        std::optional<addrmap::transaction> tx_;
        std::optional<addrmap::error> begin_failure_;
    };
    /// Connections a transaction may have opened (the blocking cluster lends a node's own).
    std::uint64_t transaction_connections_made() const { return cluster_.stats().connections_made; }

private:
    template <class Call>
    static addrmap::outcome attempt(Call&& call) {
        try {
            return addrmap::outcome(call());
        } catch (const addrmap::error& e) {
            return addrmap::outcome(e);
        }
    }

    cluster_type cluster_;
};
using blocking = blocking_with<>;

/// The async cluster on a libevent loop of its own, each call waited for by running the loop.
template <class Observer = addrmap::no_observer>
class async_libevent_with {
public:
    static constexpr const char* name = "async (libevent)";
    using cluster_type = addrmap::basic_async_cluster<addrmap::ip_to_hostname, Observer>;

    explicit async_libevent_with(const addrmap::cluster_options& options, Observer observer = Observer{})
        : cluster_(options, loop_.binding(), addrmap::ip_to_hostname("localhost"), std::move(observer)) {}

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
        struct collected {
            std::optional<std::vector<addrmap::node_outcome>> nodes;
            std::optional<addrmap::error> failure;
        };
        auto got = std::make_shared<collected>();
        cluster_.fan_out(a, [got](const addrmap::error* e, std::vector<addrmap::node_outcome> nodes) {
            if (e != nullptr) got->failure = *e;
            got->nodes = std::move(nodes);
        }, who, call);
        if (!loop_.run_until([&] { return got->nodes.has_value(); }, loop_limit))
            throw addrmap::error(addrmap::error_kind::timeout, "the fan-out's callback did not run within the test's limit");
        if (got->failure) throw *got->failure;
        return std::move(*got->nodes);
    }
    /// Every command (keys from the command) at once, each under `call` (its deadline bounds each, all started
    /// together); one outcome each, in order. `repeats[i]`, when given, is command i's repeat policy.
    std::vector<addrmap::outcome> all(const std::vector<std::vector<std::string>>& commands,
                                      const addrmap::call_options& call = {},
                                      const std::vector<addrmap::repeat>& repeats = {}) {
        auto got = std::make_shared<std::vector<std::optional<addrmap::outcome>>>(commands.size());
        auto left = std::make_shared<std::size_t>(commands.size());
        for (std::size_t i = 0; i < commands.size(); ++i) {
            addrmap::call_options this_call = call;
            if (i < repeats.size()) this_call.repeat_policy = repeats[i];
            cluster_.call_argv(std::vector<std::string_view>(commands[i].begin(), commands[i].end()),
                               [got, left, i](addrmap::outcome o) {
                                   (*got)[i] = std::move(o);
                                   --*left;
                               },
                               this_call);
        }
        const bool finished = loop_.run_until([&] { return *left == 0; }, loop_limit);
        std::vector<addrmap::outcome> out;
        for (auto& o : *got)
            out.push_back(o ? std::move(*o)
                            : addrmap::outcome(addrmap::error(addrmap::error_kind::timeout, finished ? "no outcome"
                                                                                                  : "not answered within the test's limit")));
        return out;
    }
    std::vector<addrmap::node_info> nodes() const { return cluster_.nodes(); }
    const addrmap::cluster_stats& stats() const { return cluster_.stats(); }
    cluster_type& cluster() { return cluster_; }
    live::libevent_fixture& loop() { return loop_; }

    /// async_cluster_scan, each next() waited for by running the loop; it throws the step's error.
    class scan {
    public:
        scan(async_libevent_with& driver, const addrmap::cluster_scan_options& options)
            : driver_(driver), scan_(driver.cluster_, options) {}
        bool next(std::vector<std::string>& keys) {
            struct step {
                std::optional<bool> more;
                std::optional<addrmap::error> failure;
                std::vector<std::string> keys;
            };
            auto got = std::make_shared<step>();
            scan_.next([got](const addrmap::error* e, std::vector<std::string> k, bool more) {
                if (e != nullptr) got->failure = *e;
                got->keys = std::move(k);
                got->more = more;
            });
            if (!driver_.loop_.run_until([&] { return got->more.has_value(); }, loop_limit))
                throw addrmap::error(addrmap::error_kind::timeout, "a scan step did not call back within the test's limit");
            if (got->failure) throw *got->failure;
            for (auto& key : got->keys) keys.push_back(std::move(key));
            return *got->more;
        }
        std::uint32_t cursor() const { return scan_.cursor(); }
        std::uint64_t requests() const { return scan_.requests(); }
        std::uint64_t slots_followed() const { return scan_.slots_followed(); }

    private:
        async_libevent_with& driver_;
        addrmap::async_cluster_scan<cluster_type> scan_;
    };

    /// async_transaction, each step waited for by running the loop.
    class transaction {
    public:
        transaction(async_libevent_with& driver, std::string_view key, const addrmap::call_options& step = {})
            : driver_(driver), tx_(driver.cluster_.begin_transaction(key, step)) {}
        std::optional<addrmap::error> watch(const args& keys) {
            addrmap::outcome o = driver_.wait([&](addrmap::async_callback done) { tx_.watch(keys, std::move(done)); });
            if (!o.ok()) return *o.failure();
            if (o->type == REDIS_REPLY_ERROR) return addrmap::error(addrmap::error_kind::server, std::string(o->str, o->len));
            return std::nullopt;
        }
        addrmap::outcome command(const args& a) {
            return driver_.wait([&](addrmap::async_callback done) { tx_.command_argv(a, std::move(done)); });
        }
        void queue(const args& a) { tx_.queue_argv(a); }
        addrmap::outcome exec() {
            return driver_.wait([&](addrmap::async_callback done) { tx_.exec(std::move(done)); });
        }
        void discard() {
            tx_.discard();
            // UNWATCH goes on the transaction's connection: let it come back before the scenario goes on.
            if (!driver_.loop_.run_until([&] { return driver_.cluster_.pending() == 0; }, loop_limit))
                throw addrmap::error(addrmap::error_kind::timeout, "discard()'s UNWATCH did not come back within the test's limit");
        }
        bool active() const { return tx_.active(); }

    private:
        async_libevent_with& driver_;
        addrmap::async_transaction tx_;
    };
    /// Connections a transaction may have opened (the async cluster gives it one of its own, kept as a spare).
    std::uint64_t transaction_connections_made() const { return cluster_.stats().blocking_connections_made; }

private:
    static constexpr std::chrono::milliseconds loop_limit{60000};

    /// Starts a call and runs the loop until its callback ran (the outcome lives in shared state, so a callback after
    /// the test's limit writes nowhere it should not).
    template <class Start>
    addrmap::outcome wait(Start&& start) {
        auto got = std::make_shared<std::optional<addrmap::outcome>>();
        start([got](addrmap::outcome o) { *got = std::move(o); });
        if (!loop_.run_until([&] { return got->has_value(); }, loop_limit))
            return addrmap::outcome(addrmap::error(addrmap::error_kind::timeout, "the callback did not run within the test's limit"));
        return std::move(**got);
    }

    live::libevent_fixture loop_;  // before the cluster: it outlives it
    cluster_type cluster_;
};
using async_libevent = async_libevent_with<>;

/// An outcome for a failure message: the error's text, or the reply's.
inline std::string why(const addrmap::outcome& o) {
    if (!o.ok()) return o.failure()->what();
    const redisReply& r = *o.reply();
    return r.str != nullptr ? std::string(r.str, r.len) : "a reply of type " + std::to_string(r.type);
}

/// Whether `text` contains `part` (a message's words, asserted).
inline bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }
/// A successful reply's string ("" for anything else).
inline std::string text_of(const addrmap::outcome& o) {
    return o.ok() && o->str != nullptr ? std::string(o->str, o->len) : std::string();
}
using live::ms_since;

/// Connects `driver` to the fixture and writes `value` to `key`, so that its connection to the key's owner is up. A
/// driver whose every call has a short deadline or timeout may miss it on a busy machine while it dials: tried a
/// bounded number of times, then the test fails.
template <class Driver>
void connect_and_set(Driver& driver, const std::string& key, const std::string& value) {
    std::string last;
    for (int attempt = 0; attempt < 10; ++attempt) {
        try {
            driver.connect();
        } catch (const addrmap::error& e) {
            last = e.what();
            continue;
        }
        const addrmap::outcome set = driver.command(key, {"SET", key, value});
        if (set.ok() && set->type == REDIS_REPLY_STATUS) return;
        last = why(set);
    }
    BOOST_FAIL("could not write " << key << " before the test: " << last);
}

/// Every scenario runs on both.
using drivers = boost::mpl::list<blocking, async_libevent>;

/// The fixture cluster's options, as both drivers take them.
inline addrmap::cluster_options options(int seed = 0) { return live::async_options({live::seed_by_name(seed)}); }

}  // namespace scenario
