// tests/packaging/loop_consumer.cpp — built by the packaging consumers with only addrmap::libevent and addrmap::asio
// (or pkg-config's addrmap-libevent and addrmap-asio), never naming libevent, Boost or threads itself: it runs each
// binding's timer and wake-up on a real loop, so it links only if those targets bring the loop libraries.
#include <addrmap/addrmap.hpp>
#include <addrmap/loops/asio.hpp>
#include <addrmap/loops/libevent.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <utility>

namespace {

// The binding's two events; once both came, `done` ends the loop's run.
class both_events final : public addrmap::loop_events {
public:
    explicit both_events(std::function<void()> done) : done_(std::move(done)) {}
    void on_timer() override {
        timer_ = true;
        if (seen_both()) done_();
    }
    void on_wakeup() override {
        wakeup_ = true;
        if (seen_both()) done_();
    }
    bool seen_both() const { return timer_ && wakeup_; }

private:
    std::function<void()> done_;
    bool timer_ = false;
    bool wakeup_ = false;
};

// start, arm the timer, wake up, run the loop until both events came; then stop the binding.
template <class Run>
bool exercise(const char* name, addrmap::event_loop& binding, both_events& events, Run run) {
    binding.start(events);
    binding.arm_timer(std::chrono::milliseconds(1));
    binding.wake_up();
    run();
    binding.stop();
    std::cout << name << ": " << (events.seen_both() ? "timer and wake-up delivered" : "MISSING an event") << '\n';
    return events.seen_both();
}

}  // namespace

int main() {
    event_base* base = event_base_new();
    if (base == nullptr) return 1;
    bool ok = false;
    {
        const std::unique_ptr<addrmap::event_loop> binding = addrmap::on_libevent(base);
        both_events events([base] { event_base_loopbreak(base); });
        ok = exercise("libevent", *binding, events, [base] { event_base_dispatch(base); });
    }
    event_base_free(base);

    boost::asio::io_context io;
    {
        const std::unique_ptr<addrmap::event_loop> binding = addrmap::on_asio(io);
        both_events events([&io] { io.stop(); });
        ok = exercise("asio", *binding, events, [&io] { io.run(); }) && ok;
    }

    if (ok) std::cout << "loop targets OK: the libevent and asio bindings ran on their loops\n";
    return ok ? 0 : 1;
}
