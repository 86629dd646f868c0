// tests/async/async_support.hpp — the three event loops the async tests run on, behind one interface: a binding
// for the cluster, run_until(condition) with a 1 ms tick, and the longest gap between ticks (the loop's stalls).
#pragma once

#include "cluster_test_support.hpp"

#include <addrmap/addrmap.hpp>
#include <addrmap/loops/libev.hpp>
#include <addrmap/loops/libevent.hpp>
#include <addrmap/loops/libuv.hpp>
#include <addrmap/loops/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace live {

using steady = std::chrono::steady_clock;

/// What every loop fixture shares: the tick bookkeeping. run_until() returns whether `done` became true.
struct tick_state {
    std::function<bool()> done;
    steady::time_point until{};
    steady::time_point last_tick{};
    std::chrono::microseconds max_gap{0};
    bool finished = false;
    bool timed_out = false;

    /// Called by each tick; true when the loop should stop.
    bool tick() {
        const auto now = steady::now();
        max_gap = std::max(max_gap, std::chrono::duration_cast<std::chrono::microseconds>(now - last_tick));
        last_tick = now;
        if (done && done()) finished = true;
        if (!finished && now >= until) timed_out = true;
        return finished || timed_out;
    }
    void begin(std::function<bool()> condition, std::chrono::milliseconds limit) {
        done = std::move(condition);
        until = steady::now() + limit;
        last_tick = steady::now();
        finished = timed_out = false;
    }
};

struct libevent_fixture {
    static constexpr const char* name = "libevent";
    event_base* base = event_base_new();
    tick_state ticks;
    ~libevent_fixture() { event_base_free(base); }
    std::unique_ptr<addrmap::event_loop> binding() { return addrmap::on_libevent(base); }
    bool run_until(std::function<bool()> done, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
        ticks.begin(std::move(done), limit);
        event* tick = event_new(base, -1, EV_PERSIST, [](evutil_socket_t, short, void* self) {
            auto* me = static_cast<libevent_fixture*>(self);
            if (me->ticks.tick()) event_base_loopbreak(me->base);
        }, this);
        const timeval ms{0, 1000};
        event_add(tick, &ms);
        event_base_dispatch(base);
        event_free(tick);
        return ticks.finished;
    }
    /// Lets the loop run its pending callbacks after a cluster was destroyed.
    void drain() { event_base_loop(base, EVLOOP_NONBLOCK); }
};

struct libuv_fixture {
    static constexpr const char* name = "libuv";
    uv_loop_t loop{};
    tick_state ticks;
    libuv_fixture() { uv_loop_init(&loop); }
    ~libuv_fixture() {
        drain();
        uv_loop_close(&loop);
    }
    std::unique_ptr<addrmap::event_loop> binding() { return addrmap::on_libuv(&loop); }
    bool run_until(std::function<bool()> done, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
        ticks.begin(std::move(done), limit);
        uv_timer_t tick{};
        uv_timer_init(&loop, &tick);
        tick.data = this;
        uv_timer_start(&tick, [](uv_timer_t* t) {
            auto* me = static_cast<libuv_fixture*>(t->data);
            if (me->ticks.tick()) uv_stop(&me->loop);
        }, 1, 1);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_timer_stop(&tick);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop, UV_RUN_NOWAIT);  // the close callback
        return ticks.finished;
    }
    void drain() {
        for (int i = 0; i < 4; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    }
};

struct libev_fixture {
    static constexpr const char* name = "libev";
    struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
    tick_state ticks;
    ~libev_fixture() { ev_loop_destroy(loop); }
    std::unique_ptr<addrmap::event_loop> binding() { return addrmap::on_libev(loop); }
    bool run_until(std::function<bool()> done, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
        ticks.begin(std::move(done), limit);
        ev_timer tick;
        ev_timer_init(&tick, [](struct ev_loop* l, ev_timer* t, int) {
            auto* me = static_cast<libev_fixture*>(t->data);
            if (me->ticks.tick()) ev_break(l, EVBREAK_ALL);
        }, 0.001, 0.001);
        tick.data = this;
        ev_timer_start(loop, &tick);
        ev_run(loop, 0);
        ev_timer_stop(loop, &tick);
        return ticks.finished;
    }
    void drain() { ev_run(loop, EVRUN_NOWAIT); }
};

struct asio_fixture {
    static constexpr const char* name = "asio";
    boost::asio::io_context io;
    tick_state ticks;
    std::unique_ptr<addrmap::event_loop> binding() { return addrmap::on_asio(io); }
    bool run_until(std::function<bool()> done, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
        ticks.begin(std::move(done), limit);
        boost::asio::steady_timer tick(io);
        std::function<void()> arm = [&] {
            tick.expires_after(std::chrono::milliseconds(1));
            tick.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                if (ticks.tick())
                    io.stop();
                else
                    arm();
            });
        };
        arm();
        io.restart();
        io.run();
        tick.cancel();
        io.restart();
        io.poll();  // the cancelled tick's handler, before `tick` goes
        return ticks.finished;
    }
    void drain() {
        io.restart();
        io.poll();
    }
};

/// A test's options for the async cluster (the fixture cluster's CA; short timeouts).
inline addrmap::cluster_options async_options(std::vector<std::string> seeds) {
    addrmap::cluster_options options = cluster_options(std::move(seeds));
    options.deadline = std::chrono::milliseconds(15000);
    return options;
}

/// connect(), then the loop until its callback ran: "" on success, else the error's message.
template <class Fixture, class Cluster>
std::string connect_and_wait(Fixture& loop, Cluster& cluster) {
    std::optional<std::string> connected;
    cluster.connect([&](const addrmap::error* e) { connected = e != nullptr ? std::string(e->message()) : std::string(); });
    if (!loop.run_until([&] { return connected.has_value(); })) return "connect() did not call back within 20 s";
    return *connected;
}

/// A test fixture: a libevent loop and an ip_to_hostname async cluster connected to the fixture cluster.
struct connected_libevent_cluster {
    libevent_fixture loop;
    addrmap::ip_to_hostname_async_cluster cluster;
    explicit connected_libevent_cluster(addrmap::cluster_options options = async_options({seed_by_name()}))
        : cluster(options, loop.binding(), addrmap::ip_to_hostname("localhost")) {
        const std::string connect_error = connect_and_wait(loop, cluster);
        if (!connect_error.empty()) throw std::runtime_error("connect() failed: " + connect_error);
    }
};

/// Runs `c`'s loop until the node serving `key` reports a client blocked by the server (INFO clients'
/// blocked_clients >= 1): a blocking command sent there is written and waiting. False when it did not within the limit.
inline bool run_until_a_client_is_blocked(connected_libevent_cluster& c, const std::string& key) {
    std::optional<addrmap::outcome> info;
    bool asked = false, blocked = false;
    return c.loop.run_until([&] {
        if (info) {
            const std::string all = info->ok() && (*info)->str != nullptr ? std::string((*info)->str, (*info)->len) : "";
            const auto at = all.find("blocked_clients:");
            blocked = at != std::string::npos && std::atoi(all.c_str() + at + 16) >= 1;
            info.reset();
            asked = false;
        }
        if (!blocked && !asked) {
            asked = true;
            c.cluster.command(key, [&](addrmap::outcome o) { info = std::move(o); }, "INFO clients");
        }
        return blocked;
    });
}

}  // namespace live
