// tools/doctor/command_line.hpp — what the user asked for: the flags, the password and where it came from, and the
// settings made from them; every mistake is a usage_error (exit status 2) before anything is dialed.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/tls_options.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace doctor {

/// Where the AUTH password comes from: never the command line, which every user of the machine can read (ps,
/// /proc/PID/cmdline). Not ADDRMAP_*: that prefix belongs to the env policy, which refuses names it does not know,
/// so ADDRMAP_DOCTOR_PASSWORD would break --policy env here and every env_cluster program run from the same shell.
inline constexpr const char* password_variable = "DOCTOR_PASSWORD";
inline constexpr const char* password_sources = "set DOCTOR_PASSWORD in the environment, or give --pass-file FILE";

/// The --help text; also printed after a usage error.
extern const char* const usage_text;

/// A mistake on the command line: the message, then the usage, on stderr; exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct cli_options {
    bool help = false;
    std::vector<std::string> seeds;
    std::optional<std::string> cacert, policy, hostname, table, cert, key, user, pass_file;
    std::optional<std::string> password;  ///< from DOCTOR_PASSWORD or --pass-file, never from argv
    std::string password_source;          ///< "DOCTOR_PASSWORD" or "--pass-file 'FILE'", for messages
};

/// The flags, checked against each other, and the password read from its one source. Throws usage_error.
cli_options parse_cli(int argc, char** argv);

/// The TLS files as the library takes them.
addrmap::tls_options tls_options_of(const cli_options& cli);

/// Every --seed as an address; throws addrmap::error (config) naming the seed by its number.
std::vector<addrmap::node_address> parse_seeds(const cli_options& cli);

}  // namespace doctor
