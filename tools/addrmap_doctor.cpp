// tools/addrmap_doctor.cpp — addrmap-doctor: reads the cluster's topology from a seed, maps every node through a
// policy and dials it with verification on; prints one row per node and a verdict whose suggested fix is computed.
//
// usage: see usage_text. Exit status: 0 every node verified, 1 a node (or every seed) failed, 2 usage/config error.
#include <addrmap/addrmap.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/detail/ssl_handles.hpp>
#include <addrmap/detail/topology_refresh.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

using addrmap::error;
using addrmap::error_kind;
using addrmap::node_address;
using addrmap::node_role;

// ---- command line -------------------------------------------------------------------------------------

/// Where the AUTH password comes from: never the command line, which every user of the machine can read (ps,
/// /proc/PID/cmdline). Not ADDRMAP_*: that prefix belongs to the env policy, which refuses names it does not know,
/// so ADDRMAP_DOCTOR_PASSWORD would break --policy env here and every env_cluster program run from the same shell.
constexpr const char* password_variable = "DOCTOR_PASSWORD";
constexpr const char* password_sources = "set DOCTOR_PASSWORD in the environment, or give --pass-file FILE";

constexpr const char* usage_text =
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

// ---- small text helpers -------------------------------------------------------------------------------

/// Server-sent text on the user's terminal: escaped and cut as the library's messages quote it, so a reply can
/// neither forge output nor flood it.
std::string printable(std::string_view text) { return addrmap::detail::escaped(text, 200); }

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += separator;
        out += part;
    }
    return out;
}

std::string milliseconds_text(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", ms);
    return buf;
}

bool is_ip(std::string_view host) {
    const addrmap::host_kind kind = addrmap::classify_host(host);
    return kind == addrmap::host_kind::ipv4 || kind == addrmap::host_kind::ipv6;
}

bool is_name(std::string_view host) { return addrmap::classify_host(host) == addrmap::host_kind::name; }

/// Compares IPs as binary addresses, so "::1" and "0::1" are one address. False when either is not an IP.
bool same_ip(const std::string& a, const std::string& b) {
    unsigned char x[sizeof(in6_addr)] = {}, y[sizeof(in6_addr)] = {};
    for (const int family : {AF_INET, AF_INET6})
        if (::inet_pton(family, a.c_str(), x) == 1)
            return ::inet_pton(family, b.c_str(), y) == 1 && std::memcmp(x, y, sizeof x) == 0;
    return false;
}

// ---- certificates in PEM files (only to name them in messages) ----------------------------------------

// The library's own RAII handles (detail/ssl_handles.hpp): one deleter per OpenSSL type in the project.
using addrmap::detail::bio_ptr;
using addrmap::detail::x509_ptr;

std::string subject_text(const X509* cert) {
    bio_ptr text(BIO_new(BIO_s_mem()));
    if (!text || X509_NAME_print_ex(text.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) return "?";
    char* data = nullptr;
    const long size = BIO_get_mem_data(text.get(), &data);
    return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string("?");
}

/// The subjects of the certificates in a PEM file ("CN=addrmap test CA"), in file order.
std::vector<std::string> pem_subjects(const std::string& file) {
    std::vector<std::string> subjects;
    bio_ptr in(BIO_new_file(file.c_str(), "r"));
    while (in) {
        x509_ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        subjects.push_back(subject_text(cert.get()));
    }
    ERR_clear_error();  // the last PEM_read_bio_X509 always fails ("no start line"): that is the end of the file
    return subjects;
}

/// "CN=a; CN=b" — a system bundle holds over a hundred, so long lists are cut after three.
std::string subjects_summary(const std::string& file) {
    std::vector<std::string> subjects = pem_subjects(file);
    if (subjects.empty()) return "no certificate";
    const std::size_t total = subjects.size();
    if (total > 3) {
        subjects.resize(3);
        subjects.push_back("and " + std::to_string(total - 3) + " more");
    }
    return join(subjects, "; ");
}

// ---- the policy ---------------------------------------------------------------------------------------

/// Where a policy sent an address, copied: the library's endpoint only views its strings.
struct route {
    std::string dial_host;
    std::uint16_t port = 0;
    std::string tls_name;

    static route of(const addrmap::endpoint& e) {
        return {std::string(e.dial_host()), e.port(), std::string(e.tls_name())};
    }
    static route as_given(const node_address& a) { return {a.host, a.port, a.host}; }
    addrmap::endpoint view() const noexcept { return addrmap::endpoint(dial_host, port, tls_name); }
    std::string dial_text() const { return addrmap::format_host_port(dial_host, port); }
    friend bool operator==(const route& a, const route& b) noexcept {
        return a.dial_host == b.dial_host && a.port == b.port && a.tls_name == b.tls_name;
    }
};

/// One of the shipped policies, chosen at run time, with a one-line description for the report.
class doctor_policy {
public:
    explicit doctor_policy(const cli_options& o) : name_(*o.policy), impl_(make(o)) { description_ = describe(o); }

    /// The policy's answer, through addrmap::map_address like the adapter. Throws addrmap::error.
    route map(const node_address& address) const {
        return std::visit([&](const auto& policy) { return route::of(addrmap::map_address(policy, address)); }, impl_);
    }
    const std::string& name() const noexcept { return name_; }
    const std::string& description() const noexcept { return description_; }

private:
    using variant = std::variant<addrmap::identity, addrmap::ip_to_hostname, addrmap::static_table, addrmap::env>;

    static variant make(const cli_options& o) {
        const std::string& name = *o.policy;
        if (name == "identity") return addrmap::identity{};
        if (name == "ip_to_hostname") return addrmap::ip_to_hostname(*o.hostname);
        if (name == "ip_to_hostname_keep_ip")
            return addrmap::ip_to_hostname(*o.hostname, addrmap::ip_to_hostname::mode::dial_ip_verify_hostname);
        if (name == "static_table") return addrmap::static_table::parse(*o.table);
        return addrmap::env();
    }

    std::string describe(const cli_options& o) const {
        if (name_ == "identity") return "identity (dial and verify each address as reported)";
        if (name_ == "ip_to_hostname")
            return "ip_to_hostname (dial and verify " + *o.hostname + " at each node's port)";
        if (name_ == "ip_to_hostname_keep_ip")
            return "ip_to_hostname_keep_ip (dial each reported IP, verify " + *o.hostname + ")";
        if (const auto* table = std::get_if<addrmap::static_table>(&impl_))
            return "static_table (" + std::to_string(table->size()) + (table->size() == 1 ? " entry)" : " entries)");
        return describe_env(std::get<addrmap::env>(impl_));
    }

    static std::string describe_env(const addrmap::env& policy) {
        std::vector<std::string> parts;
        if (const auto& table = policy.table())
            parts.push_back(policy.prefix() + "TABLE with " + std::to_string(table->size()) + " entries");
        if (const auto& rule = policy.hostname_rule())
            parts.push_back(policy.prefix() + "HOSTNAME=" + rule->hostname() +
                            (rule->dial_mode() == addrmap::ip_to_hostname::mode::dial_hostname ? " (dial the name)"
                                                                                               : " (dial the IP)"));
        parts.push_back(policy.prefix() +
                        "ON_MISS=" + (policy.miss_behavior() == addrmap::on_miss::fail ? "fail" : "pass_through"));
        return "env (" + join(parts, ", ") + ")";
    }

    std::string name_;
    variant impl_;
    std::string description_;
};

// ---- probing one address ------------------------------------------------------------------------------

/// What dialing one route established.
struct outcome {
    std::optional<error_kind> failure;           ///< nullopt: chain and name verified (and AUTH accepted)
    std::string detail;                          ///< the addrmap::error message, on failure
    std::vector<std::string> certificate_names;  ///< from the handshake, when it succeeded
    std::optional<double> handshake_ms;          ///< the TLS handshake alone, when it succeeded
    std::string peer_ip;                         ///< the address the dial reached, when it succeeded
    std::vector<addrmap::certificate_validity> chain;  ///< the verified chain's dates, when it succeeded

    bool ok() const noexcept { return !failure; }
    std::string result_text() const { return failure ? addrmap::to_string(*failure) : "ok"; }
    void fail(const error& e) {
        failure = e.kind();
        detail = e.what();
    }
};

/// One reported address (a seed or a node of the topology) and what the policy and the dial made of it.
struct node_row {
    node_role role = node_role::master;
    node_address reported;
    std::string id;  ///< the node ID the topology gave it; empty for seeds and when the server sent none
    std::vector<addrmap::slot_range> slots;
    std::optional<route> mapped;  ///< absent when the policy refused the address (result says why)
    outcome result;

    bool ok() const noexcept { return result.ok(); }
};

struct credentials {
    std::string user;
    std::string password;
    std::string source;  ///< where the password came from ("DOCTOR_PASSWORD", "--pass-file 'F'")
};

std::string peer_ip_of(int fd) {
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0) return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, &peer, sizeof v4);
        if (::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text) != nullptr) return text;
    } else if (peer.ss_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, &peer, sizeof v6);
        if (::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text) != nullptr) return text;
    }
    return {};
}

/// AUTH as basic_cluster sends it: password alone, or ACL user + password. The secret is never printed.
void authenticate(const addrmap::tls_connection& connection, const credentials& creds) {
    if (creds.password.empty()) return;
    void* raw = creds.user.empty()
                    ? redisCommand(connection.get(), "AUTH %b", creds.password.data(), creds.password.size())
                    : redisCommand(connection.get(), "AUTH %b %b", creds.user.data(), creds.user.size(),
                                   creds.password.data(), creds.password.size());
    const addrmap::reply_ptr reply(static_cast<redisReply*>(raw));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        const std::string why = reply ? printable(std::string_view(reply->str, reply->len)) : "connection lost";
        throw error(error_kind::server, "AUTH failed on node " + addrmap::to_string(connection.reported()) + ": " +
                                            why + " (check --user and the password from " + creds.source + ")");
    }
}

/// Dials `where` with chain and name verification, then AUTHs when a password is set. Records the
/// outcome; returns the connection only when everything succeeded. `seed_number` N > 0: `reported` is --seed #N.
std::optional<addrmap::tls_connection> dial(addrmap::tls_context& tls, const node_address& reported, const route& where,
                                            const credentials& creds, outcome& result, std::size_t seed_number = 0) {
    // A resumed session skips certificate verification: every row gets a full handshake of its own.
    tls.clear_sessions();
    try {
        addrmap::dial_limits limits;
        limits.seed_number = seed_number;
        addrmap::tls_connection connection = addrmap::connect_tls(tls, reported, where.view(), limits);
        result.certificate_names = connection.handshake().certificate_names;
        result.handshake_ms = static_cast<double>(connection.handshake().handshake_time.count()) / 1000.0;
        result.chain = connection.handshake().chain;
        result.peer_ip = peer_ip_of(connection.get()->fd);
        authenticate(connection, creds);
        return connection;
    } catch (const error& e) {
        result.fail(e);
        return std::nullopt;
    }
}

/// A node the server reports as '?' (detail::node_registry's rule): no policy can map it.
bool is_unknown_node(const node_row& row) { return addrmap::detail::node_registry::is_unknown_node(row.reported); }

/// The row's node as the cluster reported it: "host:port", and for a '?' node its node ID, the only thing that tells
/// two of them at one port apart (the ID is the server's text: escaped).
std::string reported_text(const node_row& row) {
    std::string text = addrmap::to_string(row.reported);
    if (is_unknown_node(row) && !row.id.empty()) text += " (ID " + printable(row.id) + ")";
    return text;
}

/// Maps the row's address through the policy; a policy that throws is this row's failure.
void map_row(const doctor_policy& policy, node_row& row) {
    try {
        // The adapter's rule: '?' is an unknown node, never mapped or dialed.
        if (is_unknown_node(row)) throw error(error_kind::topology, addrmap::detail::unknown_node_message(row.reported));
        row.mapped = policy.map(row.reported);
    } catch (const error& e) {
        row.result.fail(e);
    }
}

// ---- discovery ----------------------------------------------------------------------------------------

struct topology_read {
    addrmap::topology layout;
    std::string command;  ///< "CLUSTER SHARDS" or "CLUSTER SLOTS"
};

addrmap::reply_ptr ask(redisContext* context, const char* command, const node_address& seed) {
    addrmap::reply_ptr reply(static_cast<redisReply*>(redisCommand(context, command)));
    if (!reply)
        throw error(error_kind::connect, "lost the connection to seed " + addrmap::to_string(seed) + " while asking " +
                                             command + ": " + context->errstr);
    return reply;
}

/// CLUSTER SHARDS, or CLUSTER SLOTS when the server has no SHARDS (Redis < 7) or refuses it for another reason (an
/// ACL user allowed only SLOTS): the drivers' own query (detail/topology_refresh.hpp), so a node that refuses for now
/// (LOADING, BUSY, MASTERDOWN, ...) is reported as such, not asked SLOTS, and the next seed is tried.
topology_read read_topology(redisContext* context, const node_address& seed) {
    const std::string name = "seed " + addrmap::to_string(seed);
    bool lacks_shards = false;
    addrmap::detail::node_topology_query query(lacks_shards);
    std::string shards_refusal;
    while (true) {
        const addrmap::reply_ptr reply = ask(context, query.name(), seed);
        const bool refused = reply->type == REDIS_REPLY_ERROR;
        const std::string_view text = refused ? std::string_view(reply->str, reply->len) : std::string_view();
        if (refused && addrmap::detail::refusal_of(text) == addrmap::detail::refusal::noauth)
            throw error(error_kind::server, name + " requires AUTH before " + query.name() + " ('" + printable(text) +
                                                "'): " + password_sources + " (and --user for an ACL user)");
        if (refused && query.querying_slots() && !shards_refusal.empty() && !addrmap::detail::is_transient_refusal(text))
            throw error(error_kind::topology, name + " refused CLUSTER SHARDS ('" + shards_refusal +
                                                  "') and CLUSTER SLOTS ('" + printable(text) + "'); is it a cluster node?");
        if (refused && !query.querying_slots()) shards_refusal = printable(text);
        if (query.on_reply(*reply, name) == addrmap::detail::node_topology_query::result::view)
            return {std::move(query.view()), query.name()};
    }
}

/// cluster_known_nodes from CLUSTER INFO: every node this one knows, including replicas that CLUSTER SHARDS
/// and CLUSTER SLOTS leave out while they sync or after they failed. nullopt when the answer has no such line.
std::optional<std::size_t> known_nodes(redisContext* context) {
    const addrmap::reply_ptr info(static_cast<redisReply*>(redisCommand(context, "CLUSTER INFO")));
    if (!info || (info->type != REDIS_REPLY_STRING && info->type != REDIS_REPLY_VERB)) return std::nullopt;
    const std::string_view text(info->str, info->len);
    static constexpr std::string_view key = "cluster_known_nodes:";
    const std::size_t at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t count = 0;
    std::size_t i = at + key.size();
    const std::size_t first_digit = i;
    for (; i < text.size() && i - first_digit < 9 && text[i] >= '0' && text[i] <= '9'; ++i)
        count = count * 10 + static_cast<std::size_t>(text[i] - '0');
    if (i == first_digit) return std::nullopt;
    return count;
}

/// One seed: first through the policy (what basic_cluster::connect() does), then — only to be able to
/// report on the nodes when that failed — dialed as given.
struct seed_attempt {
    node_row row;                     ///< the seed through the policy: the library's truth
    std::optional<outcome> as_given;  ///< the extra dial as given, when the policy's route failed
    std::optional<outcome> read;      ///< reading the topology over the connection that worked
    std::string command;              ///< what produced the topology, when read
    std::size_t masters = 0, replicas = 0, covered_slots = 0;
    std::optional<std::size_t> known_nodes;  ///< what the seed's CLUSTER INFO counts

    /// basic_cluster::connect() gets past this seed: the policy's route verified and answered.
    bool usable() const noexcept { return row.ok() && read && read->ok(); }
};

struct discovery {
    std::vector<seed_attempt> seeds;
    std::optional<addrmap::topology> layout;
    node_address reporter;  ///< the seed whose answer is used; empty hosts resolve against it, as in the adapter

    bool usable_seed() const {
        return std::any_of(seeds.begin(), seeds.end(), [](const seed_attempt& s) { return s.usable(); });
    }
};

/// Reads the topology over `connection` into `attempt`; returns it on success.
std::optional<addrmap::topology> read_over(const addrmap::tls_connection& connection, seed_attempt& attempt) {
    attempt.read.emplace();
    try {
        topology_read answer = read_topology(connection.get(), attempt.row.reported);
        attempt.command = answer.command;
        for (const auto& s : answer.layout.shards) attempt.replicas += s.replicas.size();
        attempt.masters = answer.layout.shards.size();
        attempt.covered_slots = answer.layout.covered_slots();
        attempt.known_nodes = known_nodes(connection.get());
        return std::move(answer.layout);
    } catch (const error& e) {
        attempt.read->fail(e);
        return std::nullopt;
    }
}

std::optional<addrmap::topology> try_seed(addrmap::tls_context& tls, const doctor_policy& policy,
                                          const credentials& creds, seed_attempt& attempt, std::size_t seed_number) {
    node_row& row = attempt.row;
    map_row(policy, row);
    if (row.mapped) {
        if (auto connection = dial(tls, row.reported, *row.mapped, creds, row.result, seed_number))
            return read_over(*connection, attempt);
    }
    const route given = route::as_given(row.reported);
    if (row.mapped && *row.mapped == given) return std::nullopt;  // the same dial would fail the same way
    attempt.as_given.emplace();
    if (auto connection = dial(tls, row.reported, given, creds, *attempt.as_given, seed_number))
        return read_over(*connection, attempt);
    return std::nullopt;
}

/// Tries the seeds in order, like basic_cluster::connect(), until one yields a topology.
discovery discover(addrmap::tls_context& tls, const doctor_policy& policy, const credentials& creds,
                   const std::vector<node_address>& seeds) {
    discovery found;
    for (const node_address& seed : seeds) {
        seed_attempt& attempt = found.seeds.emplace_back();
        attempt.row.role = node_role::seed;
        attempt.row.reported = seed;
        if (auto layout = try_seed(tls, policy, creds, attempt, found.seeds.size())) {
            found.layout = std::move(layout);
            found.reporter = seed;
            break;
        }
    }
    return found;
}

/// Each master, then its replicas, each node once; an empty host is the reporter's (as in the adapter). A node is
/// told apart as the core's node table does (node_registry::index_key): by address, a '?' node by its node ID.
std::vector<node_row> rows_of(const addrmap::topology& layout, const node_address& reporter) {
    std::vector<node_row> rows;
    std::set<std::string> seen;
    auto add = [&](node_address address, std::string_view id, node_role role,
                   const std::vector<addrmap::slot_range>& slots) {
        if (address.host.empty()) address.host = reporter.host;
        if (!seen.insert(addrmap::detail::node_registry::index_key(address, id)).second) return;
        node_row& row = rows.emplace_back();
        row.role = role;
        row.reported = std::move(address);
        row.id.assign(id);
        row.slots = slots;
    };
    // CLUSTER SHARDS lists shards in no fixed order: sort by first slot, replicas by address, so that
    // two runs print the same table.
    std::vector<const addrmap::shard*> shards;
    for (const addrmap::shard& s : layout.shards) shards.push_back(&s);
    std::sort(shards.begin(), shards.end(), [](const addrmap::shard* a, const addrmap::shard* b) {
        return a->ranges.front().first < b->ranges.front().first;
    });
    using listed = std::pair<node_address, std::string_view>;  // a replica and its node ID
    const auto by_address = [](const listed& a, const listed& b) {
        if (a.first.host != b.first.host) return a.first.host < b.first.host;
        return a.first.port != b.first.port ? a.first.port < b.first.port : a.second < b.second;
    };
    for (const addrmap::shard* s : shards) {
        add(s->master, s->master_id, node_role::master, s->ranges);
        std::vector<listed> replicas;
        for (std::size_t r = 0; r < s->replicas.size(); ++r) replicas.emplace_back(s->replicas[r], s->replica_id(r));
        std::sort(replicas.begin(), replicas.end(), by_address);
        for (const auto& [replica, id] : replicas) add(replica, id, node_role::replica, {});
    }
    return rows;
}

void probe_nodes(addrmap::tls_context& tls, const doctor_policy& policy, const credentials& creds,
                 std::vector<node_row>& rows) {
    for (node_row& row : rows) {
        map_row(policy, row);
        if (row.mapped) dial(tls, row.reported, *row.mapped, creds, row.result);  // the connection closes here
    }
}

// ---- the suggested fix --------------------------------------------------------------------------------

/// "try: FLAGS (WHY)" — flags to paste, and the fact that makes them the right ones.
struct suggestion {
    std::string flags;
    std::string why;
    std::string text() const { return why.empty() ? flags : flags + " (" + why + ")"; }
};

/// A DNS name that was dialed and verified: the certificate carries it and it resolves from here.
struct verified_name {
    std::string name;
    std::string peer_ip;
};

/// Everything the suggestions are computed from.
class findings {
public:
    findings(const cli_options& cli, const discovery& found, const std::vector<node_row>& nodes)
        : cli_(cli), found_(found), nodes_(nodes) {}

    const cli_options& cli() const noexcept { return cli_; }
    const discovery& found() const noexcept { return found_; }
    const std::vector<node_row>& nodes() const noexcept { return nodes_; }

    /// Names that reached a node and verified, seeds first (a seed given by name is the user's own choice).
    std::vector<verified_name> dialable_names() const {
        std::vector<verified_name> names;
        auto consider = [&](const route& r, const outcome& o) {
            if (!o.ok() || r.dial_host != r.tls_name || !is_name(r.dial_host)) return;
            for (const auto& known : names)
                if (known.name == r.dial_host) return;
            names.push_back({r.dial_host, o.peer_ip});
        };
        for (const seed_attempt& s : found_.seeds) {
            if (s.row.mapped) consider(*s.row.mapped, s.row.result);
            if (s.as_given) consider(route::as_given(s.row.reported), *s.as_given);
        }
        for (const node_row& row : nodes_)
            if (row.mapped) consider(*row.mapped, row.result);
        return names;
    }

    /// DNS names ("DNS:x" SANs) of every certificate seen in a successful handshake.
    std::vector<std::string> certificate_dns_names() const {
        std::vector<std::string> names;
        auto take = [&](const outcome& o) {
            for (const auto& entry : o.certificate_names)
                if (entry.rfind("DNS:", 0) == 0 &&
                    std::find(names.begin(), names.end(), entry.substr(4)) == names.end())
                    names.push_back(entry.substr(4));
        };
        for (const seed_attempt& s : found_.seeds) {
            take(s.row.result);
            if (s.as_given) take(*s.as_given);
        }
        for (const node_row& row : nodes_) take(row.result);
        return names;
    }

    bool anything_verified() const {
        for (const seed_attempt& s : found_.seeds)
            if ((s.row.mapped && s.row.ok()) || (s.as_given && s.as_given->ok())) return true;
        return std::any_of(nodes_.begin(), nodes_.end(), [](const node_row& r) { return r.mapped && r.ok(); });
    }

    bool is_current(const std::string& policy, const std::string& hostname) const {
        return cli_.policy == policy && cli_.hostname.value_or("") == hostname;
    }

private:
    const cli_options& cli_;
    const discovery& found_;
    const std::vector<node_row>& nodes_;
};

std::string addresses_of(const std::vector<const node_row*>& rows) {
    std::vector<std::string> out;
    for (const node_row* row : rows) out.push_back(reported_text(*row));
    return join(out, ", ");
}

/// "ip:port=TARGET" for each row whose reported host is an IP (static_table keys are IPs), joined by ','.
std::string table_entries(const std::vector<const node_row*>& rows, const std::string& target) {
    std::vector<std::string> entries;
    for (const node_row* row : rows)
        if (is_ip(row->reported.host)) entries.push_back(addrmap::to_string(row->reported) + "=" + target);
    return join(entries, ",");
}

std::string addresses_dialed(const std::vector<const node_row*>& rows) {
    std::vector<std::string> out;
    for (const node_row* row : rows) {
        const std::string text = row->mapped->dial_text();
        if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    }
    return join(out, ", ");
}

bool distinct_ports(const std::vector<const node_row*>& rows) {
    std::set<std::uint16_t> ports;
    for (const node_row* row : rows)
        if (!ports.insert(row->reported.port).second) return false;
    return true;
}

/// Certificates carry DNS names but not the names or IPs the policy asked for.
suggestion suggest_for_tls_name(const std::vector<const node_row*>& failed, const findings& f) {
    for (const verified_name& known : f.dialable_names()) {
        // Dialing the name at each node's port reaches the same node only if the name leads to the IP
        // every failing node reported; otherwise keep dialing the IPs (reachable: TLS got as far as the
        // name check) and verify the name.
        const bool behind_name = std::all_of(failed.begin(), failed.end(), [&](const node_row* row) {
            return same_ip(row->reported.host, known.peer_ip);
        });
        const std::string policy = behind_name ? "ip_to_hostname" : "ip_to_hostname_keep_ip";
        if (f.is_current(policy, known.name)) continue;
        return {"--policy " + policy + " --hostname " + known.name,
                behind_name ? "the certificate carries " + known.name + ", and it leads to " + known.peer_ip +
                                  ", the address the nodes report"
                            : "the certificate carries " + known.name + ", but " + known.name + " leads to " +
                                  known.peer_ip + ", not to the nodes' IPs: dial each reported IP and verify it"};
    }
    // A name from a verified certificate that no dial has shown to resolve: verify it, dial the IPs.
    for (const std::string& name : f.certificate_dns_names()) {
        const bool wildcard = name.rfind("*.", 0) == 0;
        const std::string concrete = wildcard ? "node" + name.substr(1) : name;
        if (!addrmap::is_valid_dns_name(concrete) || f.is_current("ip_to_hostname_keep_ip", concrete)) continue;
        return {"--policy ip_to_hostname_keep_ip --hostname " + concrete,
                "the certificate carries " + name + (wildcard ? ", which covers " + concrete : "")};
    }
    std::string why = "NAME: a DNS name the certificate carries, listed in the details";
    if (failed.front()->role != node_role::seed)
        why += "; if each node's certificate carries its own name, map each with --policy static_table --table '" +
               table_entries(failed, "NAME") + "'";
    return {"--policy ip_to_hostname_keep_ip --hostname NAME", why};
}

suggestion suggest_for_tls_chain(const std::vector<const node_row*>& failed, const findings& f) {
    const std::string& file = *f.cli().cacert;
    const std::string holds = file + " holds " + subjects_summary(file);
    if (f.anything_verified())
        return {"--cacert FILE that also trusts the issuer of " + addresses_of(failed),
                holds +
                    ", which verified the other nodes; the details say whether those certificates come from "
                    "another CA or are expired"};
    return {"--cacert FILE holding the CA that issued the nodes' certificates",
            holds + "; the details name the issuer the servers' chain leads to"};
}

/// TCP failed. Either the policy dialed a name that does not work from here, or the reported
/// addresses are unreachable (NAT, container networks).
suggestion suggest_for_unreachable(const std::vector<const node_row*>& failed, const findings& f) {
    const node_row& first = *failed.front();
    // Only the host was swapped for a name (ip_to_hostname's dial_hostname): the name is what fails.
    const bool dialed_a_name = std::all_of(failed.begin(), failed.end(), [&](const node_row* row) {
        return is_ip(row->reported.host) && is_name(row->mapped->dial_host) &&
               row->mapped->port == row->reported.port && row->mapped->tls_name == first.mapped->tls_name;
    });
    if (dialed_a_name && !f.is_current("ip_to_hostname_keep_ip", first.mapped->tls_name))
        return {"--policy ip_to_hostname_keep_ip --hostname " + first.mapped->tls_name,
                first.mapped->dial_host + " cannot be dialed from here; dial the reported IPs and verify the name"};
    if (distinct_ports(failed)) {
        for (const verified_name& known : f.dialable_names()) {
            if (f.is_current("ip_to_hostname", known.name)) continue;
            return {"--policy ip_to_hostname --hostname " + known.name,
                    addresses_dialed(failed) + " cannot be reached from here, but " + known.name +
                        " reached the cluster and the certificate carries it; dial it at each node's port"};
        }
    }
    return {"--policy static_table --table '" + table_entries(failed, "HOST:PORT") + "'",
            "the reported addresses are unreachable from here (NAT or a container network?): replace HOST:PORT "
            "with where each node can be reached"};
}

/// A static_table target for `row`'s working route: "host", "host:port" when the port changes, "/tls=" when
/// the TLS name differs from the host.
std::string table_target(const node_row& row) {
    const route& r = *row.mapped;
    std::string text = r.dial_host;
    if (r.port != row.reported.port)
        text = r.dial_text();
    else if (addrmap::classify_host(r.dial_host) == addrmap::host_kind::ipv6)
        text = "[" + r.dial_host + "]";
    if (r.tls_name != r.dial_host) text += "/tls=" + r.tls_name;
    return text;
}

/// The target that worked for the nodes the policy does map, if they agree on one; else a verified name.
std::string working_table_target(const findings& f) {
    std::optional<std::string> target;
    for (const node_row& row : f.nodes()) {
        if (!row.mapped || !row.ok()) continue;
        const std::string here = table_target(row);
        if (target && *target != here) return "HOST";
        target = here;
    }
    if (target) return *target;
    const auto names = f.dialable_names();
    return names.empty() ? "HOST" : names.front().name;
}

/// The policy refused addresses (error_kind::topology from map): say what to add to it.
suggestion suggest_for_unmapped(const std::vector<const node_row*>& failed, const findings& f) {
    const std::string& policy = *f.cli().policy;
    const std::string target = working_table_target(f);
    if (policy == "static_table")
        return {"--table '" + *f.cli().table + "," + table_entries(failed, target) + "'",
                "the table has no entry for " + addresses_of(failed)};
    if (policy == "env") {
        const auto names = f.dialable_names();
        if (!names.empty())
            return {"ADDRMAP_HOSTNAME=" + names.front().name + " in the environment",
                    "env has no rule for " + addresses_of(failed) + "; the certificate carries " + names.front().name};
        return {"ADDRMAP_TABLE='" + table_entries(failed, target) + "' in the environment",
                "env has no rule for " + addresses_of(failed)};
    }
    return {"a policy that maps " + addresses_of(failed), "see the details"};
}

/// Nodes reported as '?': another policy cannot help (no policy maps an unknown address); the node must announce
/// a hostname. In the library's words (detail::unknown_node_message), not a second version of them.
suggestion suggest_for_unknown_nodes(const std::vector<const node_row*>& unknown) {
    return {addrmap::detail::unknown_node_fix((unknown.size() == 1 ? "the node reported as " : "the nodes reported as ") +
                                              addresses_of(unknown)),
            std::string(addrmap::detail::unknown_node_cause)};
}

suggestion suggest_for(error_kind kind, const std::vector<const node_row*>& failed, const findings& f) {
    const bool all_mapped =
        std::all_of(failed.begin(), failed.end(), [](const node_row* r) { return r->mapped.has_value(); });
    switch (kind) {
        case error_kind::tls_name: return suggest_for_tls_name(failed, f);
        case error_kind::tls_chain: return suggest_for_tls_chain(failed, f);
        case error_kind::connect:
        case error_kind::timeout:
            if (all_mapped) return suggest_for_unreachable(failed, f);
            break;
        case error_kind::topology:
            if (!all_mapped) return suggest_for_unmapped(failed, f);
            break;
        case error_kind::tls_handshake:
            if (!f.cli().cert)
                return {"--cert FILE --key FILE", "the servers may require a client certificate; see the details"};
            return {"a client certificate the servers trust", "see the details"};
        case error_kind::server:
            if (!f.cli().password)
                return {"DOCTOR_PASSWORD in the environment or --pass-file FILE (and --user USER for an ACL user)",
                        "the cluster requires AUTH"};
            return {"the right --user and password (now from " + f.cli().password_source + ")", "AUTH was refused"};
        default: break;
    }
    return {"see the details", ""};
}

/// How far a seed got through the policy's route: mapped, TCP, TLS, AUTH and topology.
int seed_progress(const seed_attempt& s) {
    if (!s.row.mapped) return 0;
    if (s.row.result.failure == error_kind::connect || s.row.result.failure == error_kind::timeout) return 1;
    if (!s.row.ok()) return s.row.result.failure == error_kind::server ? 3 : 2;
    return 4;
}

/// The seed whose failure says most (the one that got furthest; the first of those), to explain and fix.
const seed_attempt& most_telling_seed(const discovery& found) {
    const seed_attempt* best = &found.seeds.front();
    for (const seed_attempt& s : found.seeds)
        if (seed_progress(s) > seed_progress(*best)) best = &s;
    return *best;
}

/// No seed worked through the policy, so basic_cluster::connect() would fail before any node.
suggestion suggest_for_seeds(const findings& f) {
    const seed_attempt& first = most_telling_seed(f.found());
    const node_row& seed = first.row;
    const std::string& policy = *f.cli().policy;
    if (!seed.mapped && policy == "env" && !is_ip(seed.reported.host)) {
        // A hostname rule passes names through; a table never matches one.
        const auto names = f.dialable_names();
        if (!names.empty())
            return {"ADDRMAP_HOSTNAME=" + names.front().name + " in the environment",
                    "a hostname rule also passes seeds given by name through"};
        return {"--seed IP:PORT that ADDRMAP_TABLE maps, or ADDRMAP_ON_MISS=pass_through",
                "seeds go through the policy, and ADDRMAP_TABLE maps IP addresses only"};
    }
    if (!seed.mapped && policy == "static_table" && !is_ip(seed.reported.host)) {
        // Table keys are IPs; a seed given by name never matches one.
        for (const node_row& row : f.nodes())
            if (row.ok() && is_ip(row.reported.host))
                return {"--seed " + addrmap::to_string(row.reported),
                        "seeds go through the policy, and a static_table maps IP addresses only; the table maps " +
                            addrmap::to_string(row.reported)};
        return {"--seed IP:PORT of a node the table maps",
                "seeds go through the policy, and a static_table maps IP addresses only"};
    }
    const bool unreachable = seed.result.failure == error_kind::connect || seed.result.failure == error_kind::timeout;
    if (seed.mapped && unreachable)
        return {"--seed HOST:PORT of a node reachable from here",
                "check the seed's host and that the port is the node's TLS port"};
    if (!seed.ok()) return suggest_for(*seed.result.failure, {&seed}, f);
    if (first.read && first.read->failure) return suggest_for(*first.read->failure, {&seed}, f);
    return {"see the details", ""};
}

// ---- the report ---------------------------------------------------------------------------------------

/// Long failure messages go below the table, numbered; the table cites them as [n].
class detail_list {
public:
    std::string cite(const std::string& message) {
        messages_.push_back(message);
        return "[" + std::to_string(messages_.size()) + "]";
    }
    void print(std::ostream& out) const {
        if (messages_.empty()) return;
        out << "\ndetails:\n";
        for (std::size_t i = 0; i < messages_.size(); ++i) out << "  [" << i + 1 << "] " << messages_[i] << '\n';
    }

private:
    std::vector<std::string> messages_;
};

std::string slots_text(const std::vector<addrmap::slot_range>& ranges) {
    std::vector<std::string> parts;
    for (const auto& r : ranges) parts.push_back(std::to_string(r.first) + "-" + std::to_string(r.last));
    return parts.empty() ? "-" : join(parts, ",");
}

std::string outcome_text(const outcome& o, detail_list& details) {
    if (!o.ok()) return o.result_text() + " " + details.cite(o.detail);
    return "ok (" + milliseconds_text(o.handshake_ms.value_or(0.0)) +
           " ms; certificate: " + join(o.certificate_names, ", ") + ")";
}

void print_seed(std::ostream& out, const seed_attempt& s, detail_list& details) {
    const node_row& row = s.row;
    out << "seed " << addrmap::to_string(row.reported) << ": ";
    if (row.mapped)
        out << "dial " << row.mapped->dial_text() << ", TLS name " << row.mapped->tls_name << ": ";
    else
        out << "the policy cannot map it: ";
    out << outcome_text(row.result, details) << '\n';
    if (s.as_given)
        out << "  dialed as given instead, to read the topology (basic_cluster would stop at this seed): "
            << outcome_text(*s.as_given, details) << '\n';
    if (!s.read) return;
    if (!s.read->ok()) {
        out << "  reading the topology failed: " << s.read->result_text() << " " << details.cite(s.read->detail)
            << '\n';
        return;
    }
    out << "  topology from " << s.command << ": " << s.masters << " masters, " << s.replicas << " replicas, "
        << s.covered_slots << " of " << addrmap::slot_count << " slots covered\n";
    if (s.known_nodes && *s.known_nodes > s.masters + s.replicas)
        out << "  note: the cluster knows " << *s.known_nodes << " nodes but lists " << s.masters + s.replicas
            << ": CLUSTER SHARDS and SLOTS leave out replicas that are still syncing, have failed or have not joined "
               "yet (basic_cluster never sees them either); run again in a moment to check them too\n";
}

/// "2027-12-05" (UTC); "after 2262" for the clock's end (a date past it, or one OpenSSL could not read).
std::string date_text(std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point::max()) return "after 2262";
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    char buf[16];
    if (gmtime_r(&seconds, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) return "?";
    return buf;
}

/// The node certificate's notAfter, for the table ("-" when the dial failed).
std::string not_after_text(const outcome& o) {
    if (!o.ok() || o.chain.empty()) return "-";
    return date_text(o.chain.front().not_after);
}

void print_table(std::ostream& out, const std::vector<node_row>& rows, detail_list& details) {
    using line = std::array<std::string, 9>;
    std::vector<line> lines;
    lines.push_back({"ROLE", "REPORTED", "DIAL", "TLS NAME", "RESULT", "MS", "SLOTS", "NOT AFTER",
                     "CERTIFICATE NAMES / DETAIL"});
    for (const node_row& row : rows) {
        const outcome& o = row.result;
        lines.push_back({addrmap::to_string(row.role), reported_text(row),
                         row.mapped ? row.mapped->dial_text() : "-", row.mapped ? row.mapped->tls_name : "-",
                         o.result_text(), o.ok() && o.handshake_ms ? milliseconds_text(*o.handshake_ms) : "-",
                         row.role == node_role::master ? slots_text(row.slots) : "-", not_after_text(o),
                         o.ok() ? join(o.certificate_names, ", ") : details.cite(o.detail)});
    }
    std::array<std::size_t, 9> width{};
    for (const line& l : lines)
        for (std::size_t c = 0; c < l.size(); ++c) width[c] = std::max(width[c], l[c].size());
    for (const line& l : lines) {
        std::string text;
        for (std::size_t c = 0; c < l.size(); ++c) {
            text += l[c];
            if (c + 1 < l.size()) text += std::string(width[c] - l[c].size() + 2, ' ');
        }
        out << text << '\n';
    }
}

/// One line per certificate (a node's or a CA's, each once) that expires within `warning`, after the table; nothing
/// when none does. Expiry is a warning: it does not change the verdict or the exit status.
void print_expiry_warnings(std::ostream& out, const std::vector<node_row>& rows, std::chrono::seconds warning) {
    const auto now = std::chrono::system_clock::now();
    std::vector<std::string> seen;
    for (const node_row& row : rows)
        for (const addrmap::certificate_validity& c : row.result.chain) {
            if (c.not_after - now > warning || std::find(seen.begin(), seen.end(), c.fingerprint) != seen.end()) continue;
            seen.push_back(c.fingerprint);
            const auto days = std::chrono::duration_cast<std::chrono::hours>(c.not_after - now).count() / 24;
            out << "warning: " << (c.depth == 0 ? "the certificate of node " : "a CA certificate of node ")
                << reported_text(row) << " (" << addrmap::detail::shortened(join(c.names, ", "), 300) << ") expires on "
                << date_text(c.not_after)
                << ", in " << days << " days: renew it before then\n";
        }
}

/// Failure kinds of `rows`, most frequent first, with the rows of each.
std::vector<std::pair<error_kind, std::vector<const node_row*>>> group_failures(const std::vector<node_row>& rows) {
    std::vector<std::pair<error_kind, std::vector<const node_row*>>> groups;
    for (const node_row& row : rows) {
        if (row.ok()) continue;
        auto it =
            std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == *row.result.failure; });
        if (it == groups.end()) it = groups.insert(groups.end(), {*row.result.failure, {}});
        it->second.push_back(&row);
    }
    std::stable_sort(groups.begin(), groups.end(),
                     [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
    return groups;
}

/// Why the seeds failed: the most telling seed's policy failure, or its topology read failure.
std::string seed_failure_kind(const discovery& found) {
    const seed_attempt& first = most_telling_seed(found);
    if (!first.row.ok()) return first.row.result.result_text();
    if (first.read && !first.read->ok()) return first.read->result_text();
    return "unknown";
}

/// Adds a fix unless one with the same flags is already there (one change can fix seeds and nodes).
void add_fix(std::vector<suggestion>& fixes, suggestion fix) {
    for (const suggestion& known : fixes)
        if (known.flags == fix.flags) return;
    fixes.push_back(std::move(fix));
}

/// The one-line verdict; true when everything verified.
bool print_verdict(std::ostream& out, const findings& f, const std::string& policy) {
    const std::vector<node_row>& nodes = f.nodes();
    const bool seeds_ok = f.found().usable_seed();
    const auto groups = group_failures(nodes);
    if (f.found().layout && seeds_ok && groups.empty()) {
        out << "verdict: OK — all " << nodes.size() << " nodes verified with policy " << policy << '\n';
        return true;
    }
    std::vector<std::string> problems;
    std::vector<suggestion> fixes;
    if (!f.found().layout) {
        problems.push_back("no seed could be used to read the topology (" + seed_failure_kind(f.found()) + ")");
    } else {
        std::size_t failed = 0;
        std::vector<std::string> kinds;
        for (const auto& [kind, rows] : groups) {
            failed += rows.size();
            kinds.push_back(addrmap::to_string(kind));
            // '?' nodes get the server-side fix; the others of the same kind the fix computed for them.
            std::vector<const node_row*> unknown, others;
            for (const node_row* row : rows) (is_unknown_node(*row) ? unknown : others).push_back(row);
            if (!unknown.empty()) add_fix(fixes, suggest_for_unknown_nodes(unknown));
            if (!others.empty()) add_fix(fixes, suggest_for(kind, others, f));
        }
        if (failed > 0)
            problems.push_back(std::to_string(failed) + " of " + std::to_string(nodes.size()) + " nodes failed (" +
                               join(kinds, ", ") + ")");
        else
            problems.push_back("all " + std::to_string(nodes.size()) + " nodes verified");
        if (!seeds_ok)
            problems.push_back("no seed works with policy " + policy + " (" + seed_failure_kind(f.found()) + ")");
    }
    if (!seeds_ok) add_fix(fixes, suggest_for_seeds(f));
    std::vector<std::string> fix_texts;
    for (const suggestion& fix : fixes) fix_texts.push_back(fix.text());
    out << "verdict: FAIL — " << join(problems, ", but ") << "; try: " << join(fix_texts, "; and ") << '\n';
    return false;
}

// ---- main ---------------------------------------------------------------------------------------------

addrmap::tls_options tls_options_of(const cli_options& cli) {
    addrmap::tls_options options;
    options.ca_file = *cli.cacert;
    options.cert_file = cli.cert.value_or("");
    options.key_file = cli.key.value_or("");
    return options;
}

std::vector<node_address> parse_seeds(const cli_options& cli) {
    std::vector<node_address> seeds;
    for (std::size_t i = 0; i < cli.seeds.size(); ++i)
        seeds.push_back(addrmap::parse_address(cli.seeds[i], "--seed #" + std::to_string(i + 1)));
    return seeds;
}

void print_header(std::ostream& out, const cli_options& cli, const doctor_policy& policy) {
    out << "addrmap-doctor " << ADDRMAP_VERSION_MAJOR << '.' << ADDRMAP_VERSION_MINOR << '.' << ADDRMAP_VERSION_PATCH
        << ": policy " << policy.description() << "\n  trusted CAs: " << *cli.cacert << " ("
        << subjects_summary(*cli.cacert) << ")\n  client certificate: "
        << (cli.cert ? *cli.cert + " (" + subjects_summary(*cli.cert) + ")" : std::string("none"))
        << "\n  AUTH: "
        << (cli.password ? (cli.user ? "user " + addrmap::detail::quoted(*cli.user, 80) : std::string("password only")) +
                               ", password from " + cli.password_source
                         : std::string("none"))
        << "\n\n";
}

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

int main(int argc, char** argv) {
    // OpenSSL writes with write(2): a node that resets the connection must not end the doctor with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    cli_options cli;
    try {
        cli = parse_cli(argc, argv);
    } catch (const usage_error& e) {
        std::cerr << "addrmap-doctor: " << e.what() << "\n\n" << usage_text;
        return 2;
    }
    if (cli.help) {
        std::cout << usage_text;
        return 0;
    }
    try {
        return run(cli);
    } catch (const addrmap::error& e) {
        // Per-node failures never get here; what does is configuration (seed, policy input, TLS files).
        std::cerr << e.what() << '\n';
        return e.kind() == error_kind::config ? 2 : 1;
    } catch (const std::exception& e) {
        std::cerr << "addrmap-doctor: " << e.what() << '\n';
        return 1;
    }
}
