// tests/async/async_dial.cpp — the async cluster's dials, on libevent, libuv and libev: a connection opened for a new
// command gives up after connect_timeout (not at the call's deadline) and the call goes elsewhere; a dead port is
// reported as the refused TCP connect it is, as the blocking cluster reports it.
#include "async_support.hpp"
#include "hostile_node.hpp"

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

using namespace addrmap;
using loops = boost::mpl::list<live::libevent_fixture, live::libuv_fixture, live::libev_fixture, live::asio_fixture>;

namespace {

using ms = std::chrono::milliseconds;

/// A loopback port nothing listens on: bound by the kernel's choice, then closed (never listened on).
std::uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    BOOST_REQUIRE(bound);
    return ntohs(addr.sin_port);
}

/// A CLUSTER SLOTS reply: `master` serves every slot, `replica` replicates it (both by IP, as a cluster reports).
std::string slots_with_replica(const live::hostile_node& master, const live::hostile_node& replica) {
    const auto node = [](const live::hostile_node& n) {
        return "*2\r\n$" + std::to_string(n.ip().size()) + "\r\n" + n.ip() + "\r\n:" + std::to_string(n.port()) + "\r\n";
    };
    return "*1\r\n*4\r\n:0\r\n:16383\r\n" + node(master) + node(replica);
}

bool any_has(const std::vector<std::string>& texts, const std::string& a, const std::string& b) {
    for (const std::string& t : texts)
        if (t.find(a) != std::string::npos && t.find(b) != std::string::npos) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_dial)

// The replica a read goes to accepts TCP and never answers the handshake. The dial is opened by the command itself
// (connect() dials masters only), so only the dial's own connect_timeout can end it before the call's deadline: the
// dial fails like a refused one (on_error names the node and connect_timeout, the node is set aside) and the read
// goes to the master. Before the fix the dial lasted until the call's 20 s deadline.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_stalled_handshake_for_a_new_command_ends_after_connect_timeout, Fixture, loops) {
    live::hostile_node master, replica;
    replica.set_handshake_stall(ms(60000));
    master.set_slots_reply(slots_with_replica(master, replica));
    Fixture loop;
    cluster_options options = live::async_options({master.address()});
    options.tls.connect_timeout = ms(300);
    options.deadline = ms(20000);
    // No other timer of the driver (a refresh attempt's, a stalled connection's) falls due before the bound below.
    options.tls.command_timeout = ms(20000);
    options.read_from = read_preference::replica_preferred;
    ip_to_hostname_async_cluster cluster(options, loop.binding(),
                                         ip_to_hostname("localhost", ip_to_hostname::mode::dial_ip_verify_hostname));
    std::vector<std::string> reported;
    cluster.on_error([&](const error& e) { reported.emplace_back(e.message()); });
    const std::string connect_error = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(connect_error.empty(), connect_error);
    // The loop runs until the driver has nothing left to do (connect()'s last events are handled), so nothing but
    // the command itself can arm the driver's timer from here on.
    loop.run_until([] { return false; }, ms(300));
    BOOST_TEST_REQUIRE(replica.connections() == 0);  // connect() dialed the master only

    std::optional<outcome> result;
    const auto started = live::steady::now();
    cluster.command("k", [&](outcome o) { result.emplace(std::move(o)); }, "GET k");
    BOOST_TEST_REQUIRE(loop.run_until([&] { return result.has_value(); }, ms(30000)));
    const auto took = std::chrono::duration_cast<ms>(live::steady::now() - started);
    std::cout << Fixture::name << ": a read's replica stalls the handshake, connect_timeout 300 ms, deadline 20 s: "
              << "answered by the master after " << took.count() << " ms\n";
    BOOST_TEST(replica.connections() >= 1);  // the read did go to the replica first
    BOOST_TEST(result->ok(), (result->ok() ? std::string() : std::string(result->failure()->message())));
    BOOST_TEST(took.count() >= 250, "answered after " << took.count() << " ms, before connect_timeout (300 ms)");
    BOOST_TEST(took.count() < 10000, "answered after " << took.count() << " ms; connect_timeout 300 ms, deadline 20 s");
    BOOST_TEST(any_has(reported, replica.address(), "connect_timeout (300 ms)"),
               "on_error saw no dial failure naming " << replica.address() << " and connect_timeout");
    BOOST_TEST(cluster.stats().dial_failures >= 1u);
}

// Nothing listens on the seed's port: the connect is refused, and the message says so (it said the server closed the
// connection during the TLS handshake, and suggested client certificates).
BOOST_AUTO_TEST_CASE_TEMPLATE(a_dead_seed_is_a_refused_tcp_connect, Fixture, loops) {
    const std::uint16_t port = free_loopback_port();
    Fixture loop;
    cluster_options options = live::async_options({"127.0.0.1:" + std::to_string(port)});
    ip_to_hostname_async_cluster cluster(options, loop.binding(),
                                         ip_to_hostname("localhost", ip_to_hostname::mode::dial_ip_verify_hostname));
    const std::string message = live::connect_and_wait(loop, cluster);
    BOOST_TEST_REQUIRE(!message.empty());
    std::cout << Fixture::name << ": a dead seed: " << message << "\n";
    BOOST_TEST(message.find("TCP connect failed: Connection refused") != std::string::npos, message);
    BOOST_TEST(message.find("node 127.0.0.1:" + std::to_string(port) + " (seed #1 as configured)") != std::string::npos, message);
    BOOST_TEST(message.find("TLS handshake") == std::string::npos, message);
    BOOST_TEST(message.find("client certificate") == std::string::npos, message);
}

BOOST_AUTO_TEST_SUITE_END()
