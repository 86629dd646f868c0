// tools/doctor/main.cpp — addrmap-doctor: reads the cluster's topology from a seed, maps every node through a
// policy and dials it with verification on; prints one row per node and a verdict whose suggested fix is computed.
//
// usage: see usage_text (command_line.cpp). Exit status: 0 every node verified, 1 a node (or every seed) failed,
// 2 usage/config error. The steps, in order: command_line, discovery (probe for each node), report, verdict.
#include "command_line.hpp"
#include "discovery.hpp"
#include "findings.hpp"
#include "policy.hpp"
#include "probe.hpp"
#include "report.hpp"
#include "verdict.hpp"

#include <addrmap/address.hpp>
#include <addrmap/error.hpp>
#include <addrmap/tls.hpp>
#include <addrmap/tls_options.hpp>

#include <csignal>
#include <exception>
#include <iostream>
#include <vector>

namespace doctor {
namespace {

/// Everything after a valid command line: configuration (exit status 2 when wrong), discovery, the report, the
/// verdict (0 or 1).
int run(const cli_options& cli) {
    // Configuration first: every mistake here is exit status 2, before any I/O.
    const std::vector<node_address> seeds = parse_seeds(cli);
    const doctor_policy policy(cli);
    addrmap::tls_context tls(tls_options_of(cli));
    const credentials creds{cli.user.value_or(""), cli.password.value_or(""), cli.password_source};

    std::ostream& out = std::cout;
    print_header(out, cli, policy);
    const discovery found = discover(tls, policy, creds, seeds);
    std::vector<node_row> nodes;
    if (found.layout) {
        nodes = rows_of(*found.layout, found.reporter);
        for (node_row& row : nodes) row.reported = addrmap::configured_if_seed(row.reported, seeds);  // as the cluster does
        probe_nodes(tls, policy, creds, nodes);
    }
    detail_list details;
    for (const seed_attempt& s : found.seeds) print_seed(out, s, details);
    if (found.layout) {
        out << '\n';
        print_table(out, nodes, details);
    }
    details.print(out);
    out << '\n';
    print_expiry_warnings(out, nodes, addrmap::tls_options{}.expiry_warning);
    const bool ok = print_verdict(out, findings(cli, found, nodes), policy.name());
    return ok ? 0 : 1;
}

}  // namespace
}  // namespace doctor

int main(int argc, char** argv) {
    // OpenSSL writes with write(2): a node that resets the connection must not end the doctor with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    doctor::cli_options cli;
    try {
        cli = doctor::parse_cli(argc, argv);
    } catch (const doctor::usage_error& e) {
        std::cerr << "addrmap-doctor: " << e.what() << "\n\n" << doctor::usage_text;
        return 2;
    }
    if (cli.help) {
        std::cout << doctor::usage_text;
        return 0;
    }
    try {
        return doctor::run(cli);
    } catch (const addrmap::error& e) {
        // Per-node failures never get here; what does is configuration (seed, policy input, TLS files).
        std::cerr << e.what() << '\n';
        return e.kind() == addrmap::error_kind::config ? 2 : 1;
    } catch (const std::exception& e) {
        std::cerr << "addrmap-doctor: " << e.what() << '\n';
        return 1;
    }
}
