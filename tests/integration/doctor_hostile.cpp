// tests/integration/doctor_hostile.cpp — the built addrmap-doctor, run as a subprocess, against the project's hostile
// TLS peer: a seed that answers CLUSTER SHARDS with LOADING is reported as loading and never asked CLUSTER SLOTS;
// nodes reported as '?' are listed, never dialed, and get the server-side fix.
#include "hostile_node.hpp"
#include "live_env.hpp"
#include "test_certificates.hpp"

#include <addrmap/detail/policy_errors.hpp>

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct doctor_run {
    int exit_status = -1;  ///< -1: it did not exit by itself (killed at the time limit, or a signal)
    std::string output;    ///< stdout and stderr, interleaved as written
};

/// Runs the doctor built with this tree, stdout and stderr into one pipe. posix_spawn, not fork: the hostile nodes'
/// threads are running. Its environment is ours without the doctor's password variables, so a password set in the
/// shell cannot change what it prints. A doctor still running after `limit` is killed, by its PID.
doctor_run run_doctor(const std::vector<std::string>& args, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "DOCTOR_PASSWORD=", 16) != 0 && std::strncmp(*e, "ADDRMAP_DOCTOR_PASSWORD=", 24) != 0)
            env.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string path = ADDRMAP_DOCTOR_PATH;
    std::vector<std::string> argv_text{path};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    int pipe_fds[2];
    BOOST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    pid_t pid = -1;
    const int spawned = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (spawned != 0) ::close(pipe_fds[0]);
    BOOST_REQUIRE_MESSAGE(spawned == 0, "cannot run " << path << ": " << std::strerror(spawned));

    doctor_run run;
    const auto until = std::chrono::steady_clock::now() + limit;
    bool killed = false;
    char buf[4096];
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);  // our child, by its PID
            killed = true;
            break;
        }
        pollfd p{pipe_fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // end of output: the doctor exited (or closed both streams)
        run.output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!killed && WIFEXITED(status)) run.exit_status = WEXITSTATUS(status);
    BOOST_TEST_MESSAGE("addrmap-doctor exited " << run.exit_status << ":\n" << run.output);
    BOOST_REQUIRE_MESSAGE(!killed, "addrmap-doctor still ran after " << limit.count() << " s; it printed:\n" << run.output);
    return run;
}

using live::check_has;

/// What Redis answers while it loads its data set from disk.
constexpr const char* loading_reply = "-LOADING Redis is loading the dataset in memory\r\n";

/// One node of a CLUSTER SHARDS reply: its node ID, endpoint (sent byte for byte), TLS port and role.
struct listed_node {
    std::string id;
    std::string endpoint;
    std::uint16_t port;
    const char* role;  ///< "master" or "replica"
};

/// A CLUSTER SHARDS reply (RESP2) of one shard owning every slot, listing `nodes`, all online.
std::string one_shard_reply(const std::vector<listed_node>& nodes) {
    const auto bulk = [](const std::string& text) { return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n"; };
    std::string out = "*1\r\n*4\r\n" + bulk("slots") + "*2\r\n:0\r\n:16383\r\n" + bulk("nodes") + "*" +
                      std::to_string(nodes.size()) + "\r\n";
    for (const listed_node& n : nodes)
        out += "*10\r\n" + bulk("id") + bulk(n.id) + bulk("endpoint") + bulk(n.endpoint) + bulk("tls-port") + ":" +
               std::to_string(n.port) + "\r\n" + bulk("role") + bulk(n.role) + bulk("health") + bulk("online");
    return out;
}

std::vector<std::string> doctor_args(const std::vector<std::uint16_t>& seed_ports) {
    std::vector<std::string> args;
    for (std::uint16_t port : seed_ports) {
        args.emplace_back("--seed");
        args.push_back("localhost:" + std::to_string(port));
    }
    // The hostile node presents the fixture cluster's server.crt (DNS:localhost), issued by its CA.
    const std::vector<std::string> rest{"--cacert", live::cluster_tls("ca.crt"), "--policy", "ip_to_hostname",
                                        "--hostname", "localhost"};
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(doctor_hostile)

// LOADING is transient: the node will answer once its data set is in memory, and CLUSTER SLOTS would meet the same
// LOADING. The doctor asks the drivers' question (node_topology_query): it reports the refusal with the node's text,
// does not fall back to CLUSTER SLOTS, and with no other seed its verdict is that no seed could be read.
BOOST_AUTO_TEST_CASE(a_loading_seed_is_reported_and_never_asked_cluster_slots) {
    live::hostile_node node;
    node.set_shards_reply(loading_reply);
    const std::string seed = "localhost:" + std::to_string(node.port());
    const doctor_run run = run_doctor(doctor_args({node.port()}));

    BOOST_TEST(run.exit_status == 1);
    check_has(run.output, "seed " + seed + ": dial " + seed + ", TLS name localhost: ok (");
    check_has(run.output, "\n  reading the topology failed: topology [1]\n");
    check_has(run.output, "\n  [1] addrmap: topology: seed " + seed +
                              " refused CLUSTER SHARDS: LOADING Redis is loading the dataset in memory\n");
    check_has(run.output, "\nverdict: FAIL — no seed could be used to read the topology (topology); try: see the "
                          "details\n");
    BOOST_TEST(run.output.find("CLUSTER SLOTS") == std::string::npos);
    BOOST_TEST(node.shards_requests() == 1);  // the premise: the doctor asked, and got LOADING
    BOOST_TEST(node.slots_requests() == 0);
}

// The same refusal from the first seed, a topology from the second: the doctor moves on, as basic_cluster::connect()
// does, and the loading node is still never asked CLUSTER SLOTS.
BOOST_AUTO_TEST_CASE(after_a_loading_seed_the_next_seed_is_read) {
    live::hostile_node loading;
    loading.set_shards_reply(loading_reply);
    live::hostile_node healthy;
    healthy.set_shards_reply(healthy.valid_shards_reply());
    const std::string first = "localhost:" + std::to_string(loading.port());
    const doctor_run run = run_doctor(doctor_args({loading.port(), healthy.port()}));

    BOOST_TEST(run.exit_status == 0);
    check_has(run.output, "\n  reading the topology failed: topology [1]\n");
    check_has(run.output, "\n  [1] addrmap: topology: seed " + first +
                              " refused CLUSTER SHARDS: LOADING Redis is loading the dataset in memory\n");
    check_has(run.output, "\n  topology from CLUSTER SHARDS: 1 masters, 0 replicas, 16384 of 16384 slots covered\n");
    check_has(run.output, "\nverdict: OK — all 1 nodes verified with policy ip_to_hostname\n");
    BOOST_TEST(loading.shards_requests() == 1);
    BOOST_TEST(loading.slots_requests() == 0);
    BOOST_TEST(healthy.slots_requests() == 0);
}

// A replica reported as '?' (hostname endpoints, and no cluster-announce-hostname on it): the doctor lists it, never
// dials it (not even as the reporter's host at that port, where `decoy` listens), and its advice is the server
// setting, in the library's words: another policy could not map an unknown address.
BOOST_AUTO_TEST_CASE(a_question_mark_node_is_advised_to_announce_a_hostname) {
    live::hostile_node node;
    live::hostile_node decoy(node.ip().c_str());
    const std::uint16_t port = decoy.port();
    node.set_shards_reply(one_shard_reply({{"4f5685ace399b14a264e3c4443727b1e79792032", node.ip(), node.port(), "master"},
                                           {"07c37dfeb235213a872192d90877d0cd55635b91", "?", port, "replica"}}));
    const doctor_run run = run_doctor(doctor_args({node.port()}));
    const std::string unknown = "?:" + std::to_string(port) + " (ID 07c37dfeb235213a872192d90877d0cd55635b91)";

    BOOST_TEST(run.exit_status == 1);
    check_has(run.output, "\n  topology from CLUSTER SHARDS: 1 masters, 1 replicas, 16384 of 16384 slots covered\n");
    check_has(run.output, "\nreplica  " + unknown);
    check_has(run.output, addrmap::detail::unknown_node_message(addrmap::node_address{"?", port, {}}));
    check_has(run.output, "\nverdict: FAIL — 1 of 2 nodes failed (topology); try: set cluster-announce-hostname on the "
                          "node reported as " + unknown + " (the server reports '?' when "
                          "cluster-preferred-endpoint-type is hostname and the node has no "
                          "cluster-announce-hostname)\n");
    BOOST_TEST(run.output.find("a policy that maps") == std::string::npos);
    BOOST_TEST(decoy.connections() == 0);
}

// Two replicas reported as '?' at one port (one port on each host) are two nodes with two node IDs: two rows, each
// with its ID, and both named in the advice — not one row for "?:port".
BOOST_AUTO_TEST_CASE(two_question_mark_nodes_at_one_port_are_two_rows) {
    live::hostile_node node;
    live::hostile_node decoy(node.ip().c_str());
    const std::uint16_t port = decoy.port();
    const std::string a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    node.set_shards_reply(one_shard_reply({{"4f5685ace399b14a264e3c4443727b1e79792032", node.ip(), node.port(), "master"},
                                           {b, "?", port, "replica"},
                                           {a, "?", port, "replica"}}));
    const doctor_run run = run_doctor(doctor_args({node.port()}));
    const std::string unknown_a = "?:" + std::to_string(port) + " (ID " + a + ")";
    const std::string unknown_b = "?:" + std::to_string(port) + " (ID " + b + ")";

    BOOST_TEST(run.exit_status == 1);
    check_has(run.output, "\n  topology from CLUSTER SHARDS: 1 masters, 2 replicas, 16384 of 16384 slots covered\n");
    check_has(run.output, "\nreplica  " + unknown_a + "  ");  // sorted by ID: a, then b
    check_has(run.output, "\nreplica  " + unknown_b + "  ");
    check_has(run.output, "\nverdict: FAIL — 2 of 3 nodes failed (topology); try: set cluster-announce-hostname on the "
                          "nodes reported as " + unknown_a + ", " + unknown_b + " (the server reports '?' when");
    BOOST_TEST(decoy.connections() == 0);
}

// Certificate dates: a node whose certificate (from the test's CA) ends in 5 days shows its date and a warning; the
// fixture's cluster, valid for a year, shows its date and no warning. Neither changes the verdict.
BOOST_AUTO_TEST_CASE(not_after_is_shown_per_node_and_a_close_one_is_warned_about) {
    const live::issued_certificate soon(5);
    live::hostile_node node("127.0.0.1", soon.cert(), soon.key());
    node.set_shards_reply(node.valid_shards_reply());
    const doctor_run close = run_doctor(doctor_args({node.port()}));
    BOOST_TEST(close.exit_status == 0);
    check_has(close.output, "NOT AFTER");
    check_has(close.output, "  " + live::not_after_date(soon.cert()) + "  DNS:localhost");
    check_has(close.output, "\nwarning: the certificate of node 127.0.0.1:" + std::to_string(node.port()) +
                                " (DNS:localhost, DNS:*.redis.test, CN=redis.test) expires on " +
                                live::not_after_date(soon.cert()) + ", in ");
    check_has(close.output, " days: renew it before then\n");
    check_has(close.output, "\nverdict: OK — all 1 nodes verified with policy ip_to_hostname\n");

    const doctor_run year = run_doctor(doctor_args({live::cluster_port()}));
    BOOST_TEST(year.exit_status == 0);
    check_has(year.output, "  " + live::not_after_date(live::cluster_tls("server.crt")) + "  DNS:localhost");
    BOOST_TEST(year.output.find("warning:") == std::string::npos, year.output);
}

BOOST_AUTO_TEST_SUITE_END()
