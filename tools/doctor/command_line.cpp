// tools/doctor/command_line.cpp — parses and checks the flags, reads the AUTH password from DOCTOR_PASSWORD or
// --pass-file (never argv), and holds the usage text; no I/O beyond the password file.
#include "command_line.hpp"

#include <addrmap/detail/quote.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ios>

namespace doctor {

const char* const usage_text =
    "usage: addrmap-doctor --seed HOST:PORT [--seed HOST:PORT ...] --cacert FILE\n"
    "                      --policy identity|ip_to_hostname|ip_to_hostname_keep_ip|static_table|env\n"
    "                      [--hostname NAME] [--table TEXT] [--cert FILE --key FILE] [--user U] [--pass-file FILE]\n"
    "\n"
    "Reads the topology from the first seed that answers, maps every node (masters and replicas) through\n"
    "the policy, dials each with certificate verification (chain and name) on, prints one row per node and\n"
    "a verdict with a suggested fix.\n"
    "\n"
    "  --seed      a node to read the topology from; mapped through the policy, as basic_cluster does\n"
    "  --cacert    PEM file of the CA(s) that issued the nodes' certificates\n"
    "  --policy    identity                dial and verify each address as reported\n"
    "              ip_to_hostname          dial and verify --hostname, at each node's port\n"
    "              ip_to_hostname_keep_ip  dial each reported IP, verify --hostname\n"
    "              static_table            --table 'IP[:PORT]=HOST[:PORT][/tls=NAME],...'\n"
    "              env                     ADDRMAP_TABLE, ADDRMAP_HOSTNAME, ... from the environment\n"
    "  --cert, --key  client certificate and key, for mutual TLS\n"
    "  --user      AUTH as this ACL user (needs a password)\n"
    "  --pass-file FILE  AUTH password: the first line of FILE (a trailing newline is not part of it)\n"
    "\n"
    "environment:\n"
    "  DOCTOR_PASSWORD   AUTH password (instead of --pass-file). There is no --pass: a password in the\n"
    "                    command line is visible to every user of the machine (ps, /proc/PID/cmdline).\n"
    "  ADDRMAP_*         the env policy's settings (--policy env)\n"
    "\n"
    "exit status: 0 every node verified, 1 a node or every seed failed, 2 usage or configuration error\n";

namespace {

constexpr std::array<const char*, 5> policy_names = {"identity", "ip_to_hostname", "ip_to_hostname_keep_ip",
                                                     "static_table", "env"};

bool uses_hostname(const std::string& policy) {
    return policy == "ip_to_hostname" || policy == "ip_to_hostname_keep_ip";
}

void set_once(const std::string& flag, std::optional<std::string>& slot, const char* value) {
    // A repeated flag is a copy-paste accident whose second value would silently win.
    if (slot) throw usage_error(flag + " is given twice");
    slot = value;
}

std::optional<std::string>* single_valued_flag(cli_options& o, const std::string& flag) {
    if (flag == "--cacert") return &o.cacert;
    if (flag == "--policy") return &o.policy;
    if (flag == "--hostname") return &o.hostname;
    if (flag == "--table") return &o.table;
    if (flag == "--cert") return &o.cert;
    if (flag == "--key") return &o.key;
    if (flag == "--user") return &o.user;
    if (flag == "--pass-file") return &o.pass_file;
    return nullptr;
}

/// Flags that do not apply to the chosen policy are refused: a doctor that silently ignored one
/// would report on a different configuration than the one the user thinks they tested.
void check_cli(const cli_options& o) {
    if (o.seeds.empty()) throw usage_error("--seed HOST:PORT is required");
    if (!o.cacert) throw usage_error("--cacert FILE is required");
    if (!o.policy) throw usage_error("--policy is required");
    const std::string& policy = *o.policy;
    if (std::none_of(policy_names.begin(), policy_names.end(), [&](const char* p) { return policy == p; }))
        throw usage_error("--policy " + addrmap::detail::quoted(policy, 80) + " is not one of the choices below");
    if (uses_hostname(policy) && !o.hostname) throw usage_error("--policy " + policy + " needs --hostname NAME");
    if (!uses_hostname(policy) && o.hostname)
        throw usage_error("--hostname applies to ip_to_hostname and ip_to_hostname_keep_ip only" +
                          std::string(policy == "env" ? " (with env, set ADDRMAP_HOSTNAME)" : ""));
    if (policy == "static_table" && !o.table) throw usage_error("--policy static_table needs --table TEXT");
    if (policy != "static_table" && o.table)
        throw usage_error("--table applies to static_table only" +
                          std::string(policy == "env" ? " (with env, set ADDRMAP_TABLE)" : ""));
    if (o.table && o.table->find_first_not_of(" \t\r\n") == std::string::npos)
        throw usage_error("--table is empty (an unset shell variable?)");
    if (o.cert.has_value() != o.key.has_value()) throw usage_error("--cert and --key go together");
    if (o.user && !o.password) throw usage_error(std::string("--user needs a password: ") + password_sources);
}

/// The first line of `path`, without its line ending; a usage error when unreadable or empty.
std::string read_password_file(const std::string& path) {
    const std::string shown = "--pass-file " + addrmap::detail::quoted(path, 255);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error(shown + ": cannot read it (" + std::strerror(errno) + ")");
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw usage_error(shown + ": its first line is empty; put the password there");
    return line;
}

/// The AUTH password from DOCTOR_PASSWORD or --pass-file (not both), recorded with where it came from.
void read_password(cli_options& o) {
    if (std::getenv("ADDRMAP_DOCTOR_PASSWORD") != nullptr)
        throw usage_error("ADDRMAP_DOCTOR_PASSWORD is not read: ADDRMAP_* variables are the env policy's settings "
                          "(it refuses names it does not know); set DOCTOR_PASSWORD instead, or give --pass-file FILE");
    const char* from_env = std::getenv(password_variable);
    if (from_env != nullptr && o.pass_file)
        throw usage_error("the password is given twice, in DOCTOR_PASSWORD and by --pass-file: give one");
    if (from_env != nullptr) {
        if (*from_env == '\0') throw usage_error("DOCTOR_PASSWORD is set but empty (an unset shell variable?)");
        o.password = from_env;
        o.password_source = password_variable;
    } else if (o.pass_file) {
        o.password = read_password_file(*o.pass_file);
        o.password_source = "--pass-file " + addrmap::detail::quoted(*o.pass_file, 255);
    }
}

}  // namespace

cli_options parse_cli(int argc, char** argv) {
    cli_options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            o.help = true;
            return o;
        }
        // Refused before anything else, and without echoing its value.
        if (flag == "--pass" || flag.rfind("--pass=", 0) == 0 || flag == "--password" ||
            flag.rfind("--password=", 0) == 0)
            throw usage_error("--pass is not accepted: a password in the command line is visible to every user of "
                              "this machine (ps, /proc/PID/cmdline); " + std::string(password_sources) +
                              " (its first line)");
        std::optional<std::string>* slot = single_valued_flag(o, flag);
        if (slot == nullptr && flag != "--seed")
            throw usage_error("unknown flag " + addrmap::detail::quoted(flag, 80));
        if (i + 1 >= argc) throw usage_error(flag + " needs a value");
        const char* value = argv[++i];
        if (slot == nullptr)
            o.seeds.emplace_back(value);
        else
            set_once(flag, *slot, value);
    }
    read_password(o);
    check_cli(o);
    return o;
}

addrmap::tls_options tls_options_of(const cli_options& cli) {
    addrmap::tls_options options;
    options.ca_file = *cli.cacert;
    options.cert_file = cli.cert.value_or("");
    options.key_file = cli.key.value_or("");
    return options;
}

std::vector<addrmap::node_address> parse_seeds(const cli_options& cli) {
    std::vector<addrmap::node_address> seeds;
    for (std::size_t i = 0; i < cli.seeds.size(); ++i)
        seeds.push_back(addrmap::parse_address(cli.seeds[i], "--seed #" + std::to_string(i + 1)));
    return seeds;
}

}  // namespace doctor
