// tests/fuzz/targets.hpp — one function per parser that reads untrusted text; the libFuzzer entry points
// and the unit tests' corpus replay both call these, so a stored crash input is replayed by `ctest`.
#pragma once

#include <addrmap/addrmap.hpp>
#include <addrmap/detail/mapping_check.hpp>
#include <addrmap/detail/reply_arena.hpp>

#include <bitset>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz_targets {

/// A broken invariant: a parser accepted input and returned something inconsistent, or failed with
/// something other than addrmap::error. Under libFuzzer it escapes and aborts (a crash); the unit
/// tests report it as a failure.
struct violation : std::logic_error {
    using std::logic_error::logic_error;
};

#define FUZZ_REQUIRE(condition)                                                                        \
    do {                                                                                               \
        if (!(condition)) throw ::fuzz_targets::violation(std::string(__FILE__ ":") +                  \
                                                          std::to_string(__LINE__) + ": " #condition); \
    } while (0)

/// Rejections must be addrmap::error of the kind the parser documents, with a message a person can read.
inline void check_rejection(const addrmap::error& e, std::initializer_list<addrmap::error_kind> allowed) {
    bool kind_ok = false;
    for (addrmap::error_kind k : allowed) kind_ok = kind_ok || e.kind() == k;
    FUZZ_REQUIRE(kind_ok);
    const std::string_view message = e.what();
    FUZZ_REQUIRE(!message.empty());
    FUZZ_REQUIRE(message.size() < 4096);  // hostile input is quoted abbreviated, never echoed whole
    for (const char c : message)           // ... and escaped: no control or non-ASCII byte reaches a log
        FUZZ_REQUIRE(c >= 0x20 && c < 0x7f);
}

inline void check_endpoint(const addrmap::endpoint& e) {
    FUZZ_REQUIRE(!e.dial_host().empty());
    FUZZ_REQUIRE(e.port() != 0);
    FUZZ_REQUIRE(!e.tls_name().empty());
    const auto name_kind = addrmap::classify_host(e.tls_name());
    FUZZ_REQUIRE(name_kind != addrmap::host_kind::name || addrmap::is_valid_dns_name(e.tls_name()));
}

inline void check_parsed_address(const addrmap::node_address& a) {
    FUZZ_REQUIRE(a.port != 0);
    FUZZ_REQUIRE(addrmap::classify_host(a.host) != addrmap::host_kind::name || addrmap::is_valid_dns_name(a.host));
}

/// An accepted only-list answers exactly as checking every listed block would (long lists are hashed),
/// for the listed networks themselves, their neighbours, and fixed probes; refusals name the address.
inline void check_only_list(const addrmap::ip_to_hostname& policy, std::string_view text) {
    std::vector<addrmap::detail::cidr_block> blocks;
    addrmap::detail::for_each_entry(addrmap::detail::trim_blanks(text), [&](std::size_t, std::string_view entry) {
        addrmap::detail::cidr_block block;
        FUZZ_REQUIRE(!addrmap::detail::parse_cidr_into(entry, block));  // the policy accepted it
        blocks.push_back(block);
    });
    std::vector<addrmap::detail::ip_address> probes;
    for (const char* fixed : {"10.0.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "fd00::1", "::"})
        probes.push_back(*addrmap::detail::parse_ip(fixed));
    for (const auto& block : blocks) {
        addrmap::detail::ip_address next = block.base;  // the network address and the one after its last
        for (std::size_t i = block.base.bit_count() / 8; i-- > 0;)
            if (++next.bytes[i] != 0) break;
        probes.push_back(block.base);
        probes.push_back(next);
    }
    for (const auto& ip : probes) {
        bool inside = blocks.empty();  // no list: every IP is mapped
        for (const auto& block : blocks) inside = inside || block.contains(ip);
        const addrmap::node_address address{addrmap::detail::format_ip(ip), 7000, {}};
        FUZZ_REQUIRE(policy.try_map(address).has_value() == inside);
        try {
            check_endpoint(policy.map(address));
            FUZZ_REQUIRE(inside);
        } catch (const addrmap::error& e) {
            FUZZ_REQUIRE(!inside);
            check_rejection(e, {addrmap::error_kind::topology});
        }
    }
}

/// Addresses (config and redirect syntax) and MOVED/ASK texts. Accepted addresses must round-trip
/// through to_string.
inline void address(std::string_view text) {
    try {
        const addrmap::node_address a = addrmap::parse_address(text);
        check_parsed_address(a);
        const addrmap::node_address again = addrmap::parse_address(addrmap::to_string(a));
        FUZZ_REQUIRE(again.host == a.host && again.port == a.port);
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::config});
    }
    try {
        const addrmap::node_address a = addrmap::parse_redirect_target(text);
        FUZZ_REQUIRE(a.port != 0);
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::protocol});
    }
    try {
        if (const auto r = addrmap::parse_redirect(text)) {
            FUZZ_REQUIRE(r->slot < addrmap::slot_count);
            FUZZ_REQUIRE(r->target.port != 0);
            FUZZ_REQUIRE(addrmap::classify_host(r->target.host) != addrmap::host_kind::name ||
                         addrmap::is_valid_dns_name(r->target.host));
            FUZZ_REQUIRE(text.substr(0, r->type == addrmap::redirect::kind::moved ? 6 : 4) ==
                         (r->type == addrmap::redirect::kind::moved ? "MOVED " : "ASK "));
        }
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::protocol});
    }
    if (const auto port = addrmap::parse_port(text)) FUZZ_REQUIRE(*port != 0);
    // The same text as ip_to_hostname's hostname and only-list (the CIDR grammar).
    try {
        const addrmap::ip_to_hostname policy("node.example.com", addrmap::ip_to_hostname::mode::dial_hostname, text);
        FUZZ_REQUIRE(policy.restricted() == !addrmap::detail::trim_blanks(text).empty());
        check_only_list(policy, text);
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::config});
    }
    try {
        const addrmap::ip_to_hostname policy{std::string(text)};
        check_endpoint(policy.map(addrmap::node_address{"10.0.0.1", 7000, {}}));
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::config});
    }
}

/// Calls f; true when it returned, false when it threw an addrmap::error that passes check_rejection.
template <class F>
bool accepted(F&& f, std::initializer_list<addrmap::error_kind> kinds) {
    try {
        f();
        return true;
    } catch (const addrmap::error& e) {
        check_rejection(e, kinds);
        return false;
    }
}

/// One host grammar: every place a host enters (classify_host, parse_ip, the config and redirect address
/// parsers, MOVED/ASK, the CIDR parser, the table grammar, CLUSTER SLOTS, allowed_names, the shipped
/// policies and check_mapping in detail/mapping_check.hpp) gives the same answer about `text` as a host. The
/// disagreement between two of them (a NUL hidden from one parser) is the bug class this target exists for.
inline void host(std::string_view text) {
    using addrmap::host_kind;
    const host_kind kind = addrmap::classify_host(text);
    const bool is_ip = kind == host_kind::ipv4 || kind == host_kind::ipv6;
    const bool is_host = is_ip || kind == host_kind::name;  // a concrete host, dialable after mapping
    const std::string owned(text);

    // Nothing with a byte outside [A-Za-z0-9._:-] is a host of any kind.
    bool outside = false;
    for (char c : text) outside = outside || !addrmap::detail::is_host_char(c);
    if (outside) FUZZ_REQUIRE(kind == host_kind::invalid || (kind == host_kind::unknown && text == "?"));
    if (kind == host_kind::ipv4) FUZZ_REQUIRE(text.find_first_not_of("0123456789.") == std::string_view::npos);

    // The classifier's own helpers.
    const auto ip = addrmap::detail::parse_ip(text);
    FUZZ_REQUIRE(ip.has_value() == is_ip);
    if (ip) {
        FUZZ_REQUIRE(ip->is_v6 == (kind == host_kind::ipv6));
        FUZZ_REQUIRE(addrmap::detail::parse_ip(addrmap::detail::format_ip(*ip)) == ip);  // canonical text agrees
    }
    FUZZ_REQUIRE(addrmap::is_valid_dns_name(text) == (kind == host_kind::name));
    FUZZ_REQUIRE(!addrmap::detail::check_host(text, true).has_value() == (kind != host_kind::invalid));
    FUZZ_REQUIRE(!addrmap::detail::check_dns_name(text).has_value() == (kind == host_kind::name));
    FUZZ_REQUIRE(!addrmap::detail::check_tls_name(text).has_value() == is_host);
    const std::string shown = addrmap::format_host_port(text, 7000);
    for (char c : shown) FUZZ_REQUIRE(c >= 0x20 && c < 0x7f);

    // Addresses built from it, in both syntaxes. A leading '[' is the bracket syntax itself: skip those.
    if (text.empty() || text.front() != '[') {
        const std::string with_port = owned + ":7000";
        addrmap::node_address parsed;
        const bool config_ok = accepted([&] { parsed = addrmap::parse_address(with_port); }, {addrmap::error_kind::config});
        FUZZ_REQUIRE(config_ok == (kind == host_kind::ipv4 || kind == host_kind::name));
        if (config_ok) FUZZ_REQUIRE(parsed.host == text && parsed.port == 7000);
        if (kind == host_kind::ipv6) {
            FUZZ_REQUIRE(accepted([&] { parsed = addrmap::parse_address("[" + owned + "]:7000"); },
                                  {addrmap::error_kind::config}));
            FUZZ_REQUIRE(parsed.host == text);
        }
        const bool redirect_ok =
            accepted([&] { parsed = addrmap::parse_redirect_target(with_port); }, {addrmap::error_kind::protocol});
        FUZZ_REQUIRE(redirect_ok == (kind != host_kind::invalid));
        if (redirect_ok) FUZZ_REQUIRE(parsed.host == text);
        std::optional<addrmap::redirect> moved;
        const bool moved_ok =
            accepted([&] { moved = addrmap::parse_redirect("MOVED 1 " + with_port); }, {addrmap::error_kind::protocol});
        FUZZ_REQUIRE(moved_ok == redirect_ok);
        if (moved_ok) FUZZ_REQUIRE(moved.has_value() && moved->target.host == text);
    }

    // The CIDR / only-list grammar (one entry, no prefix) and the table grammar's parts.
    if (text.find('/') == std::string_view::npos && (text.empty() || text.front() != '[')) {
        addrmap::detail::cidr_block block;
        const auto problem = addrmap::detail::parse_cidr_into(text, block);
        FUZZ_REQUIRE(!problem.has_value() == is_ip);
        if (problem) FUZZ_REQUIRE(problem->message.size() < 4096);
    }
    if (text.find_first_of(":[/") == std::string_view::npos) {
        addrmap::detail::table_key key;
        FUZZ_REQUIRE(!addrmap::detail::parse_table_key(text, 0, key).has_value() == (kind == host_kind::ipv4));
        addrmap::detail::table_entry_spec spec;
        const bool target_ok = !addrmap::detail::parse_table_target(text, 0, spec).has_value();
        FUZZ_REQUIRE(target_ok == (kind == host_kind::ipv4 || kind == host_kind::name));
        if (target_ok) FUZZ_REQUIRE(spec.dial_host == text);
    }
    if (kind == host_kind::ipv6) {
        addrmap::detail::table_entry_spec spec;
        FUZZ_REQUIRE(!addrmap::detail::parse_table_target("[" + owned + "]", 0, spec).has_value());
        FUZZ_REQUIRE(spec.dial_host == text);
    }

    // CLUSTER SLOTS naming it as the master's host: accepted exactly when it is a host or unknown.
    {
        const std::string reply_bytes = "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$" + std::to_string(text.size()) + "\r\n" +
                                        owned + "\r\n:7000\r\n";
        addrmap::detail::reader_ptr reader(redisReaderCreate());
        if (!reader) throw std::bad_alloc();
        void* raw = nullptr;
        if (redisReaderFeed(reader.get(), reply_bytes.data(), reply_bytes.size()) == REDIS_OK &&
            redisReaderGetReply(reader.get(), &raw) == REDIS_OK && raw != nullptr) {
            addrmap::detail::reply_ptr reply = addrmap::detail::adopt_reply(raw);
            addrmap::topology t;
            const bool slots_ok = accepted([&] { t = addrmap::parse_cluster_slots(reply.get()); },
                                           {addrmap::error_kind::protocol, addrmap::error_kind::topology});
            FUZZ_REQUIRE(slots_ok == (kind != host_kind::invalid));
            if (slots_ok) FUZZ_REQUIRE(t.shards.size() == 1 && t.shards[0].master.host == text);
        }
    }

    // allowed_names: only a name is ever allowed; a name allows itself, in any case.
    FUZZ_REQUIRE(addrmap::allowed_names::any().allows(text) == (kind == host_kind::name));
    if (text.substr(0, 2) != "*." && text != "*") {
        std::optional<addrmap::allowed_names> exact;
        const bool pattern_ok = accepted([&] { exact.emplace(addrmap::allowed_names{text}); }, {addrmap::error_kind::config});
        FUZZ_REQUIRE(pattern_ok == (kind == host_kind::name));
        if (exact) {
            FUZZ_REQUIRE(exact->allows(text));
            std::string upper = owned;
            for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
            FUZZ_REQUIRE(exact->allows(upper));
            FUZZ_REQUIRE(!exact->allows(owned + "."));
            if (owned.size() < 250) FUZZ_REQUIRE(!exact->allows("x." + owned));
        }
    }
    if (kind == host_kind::name && text.find('.') != std::string_view::npos && text.size() < 240) {
        const std::string wildcard = "*." + owned.substr(owned.find('.') + 1);
        std::optional<addrmap::allowed_names> under;
        if (accepted([&] { under.emplace(addrmap::allowed_names{wildcard}); }, {addrmap::error_kind::config})) {
            FUZZ_REQUIRE(under->allows(text));
            FUZZ_REQUIRE(!under->allows(owned.substr(owned.find('.') + 1)));  // the suffix itself is not under it
        }
    }

    // The shipped policies, allowing any name, and the last check before dialing.
    const addrmap::node_address address{owned, 7000, {}};
    const addrmap::identity open_identity{addrmap::allowed_names::any()};
    addrmap::endpoint mapped("x", 1, "x");
    FUZZ_REQUIRE(accepted([&] { mapped = open_identity.map(address); }, {addrmap::error_kind::topology}) == is_host);
    if (is_host) check_endpoint(mapped);
    const addrmap::ip_to_hostname open_hostname("localhost", {}, {}, addrmap::allowed_names::any());
    FUZZ_REQUIRE(open_hostname.try_map(address).has_value() == is_host);
    FUZZ_REQUIRE(accepted([&] { (void)open_hostname.map(address); }, {addrmap::error_kind::topology}) == is_host);
    const addrmap::identity closed_identity;
    FUZZ_REQUIRE(accepted([&] { (void)closed_identity.map(address); }, {addrmap::error_kind::topology}) == is_ip);
    FUZZ_REQUIRE(accepted([&] { addrmap::detail::check_mapping("fuzz", addrmap::endpoint(text, 7000, "localhost")); },
                          {addrmap::error_kind::config}) == is_host);
    FUZZ_REQUIRE(accepted([&] { addrmap::detail::check_mapping("fuzz", addrmap::endpoint("localhost", 7000, text)); },
                          {addrmap::error_kind::config}) == is_host);
}

/// Addresses a policy is asked about: fixed ones plus every fragment of the input that parses as one,
/// so lookups also hit the keys the input itself defined.
inline std::vector<addrmap::node_address> probe_addresses(std::string_view text) {
    std::vector<addrmap::node_address> out = {{"10.0.0.1", 7000, {}}, {"10.0.0.2", 6379, {}},
                                              {"fd00::1", 7000, {}},  {"127.0.0.1", 1, {}},
                                              {"node.example.com", 7000, {}}};
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size() && out.size() < 64; ++i) {
        if (i < text.size() && text[i] != '=' && text[i] != ';' && text[i] != ',' && text[i] != '\n' &&
            text[i] != '/')
            continue;
        try {
            addrmap::node_address a = addrmap::parse_address(addrmap::detail::trim_blanks(text.substr(start, i - start)));
            out.push_back(std::move(a));
        } catch (const addrmap::error&) {
        }
        start = i + 1;
    }
    return out;
}

template <class Policy>
void check_policy_on(const Policy& policy, std::string_view text) {
    for (const addrmap::node_address& a : probe_addresses(text)) {
        const auto maybe = policy.try_map(a);
        if (maybe) check_endpoint(*maybe);
        try {
            const addrmap::endpoint e = policy.map(a);
            check_endpoint(e);
            FUZZ_REQUIRE(!maybe || (maybe->dial_host() == e.dial_host() && maybe->port() == e.port() &&
                                    maybe->tls_name() == e.tls_name()));
        } catch (const addrmap::error& e) {
            FUZZ_REQUIRE(!maybe);  // map may only refuse what try_map declined
            check_rejection(e, {addrmap::error_kind::topology});
        }
    }
}

/// The static_table grammar, with both on_miss settings.
inline void table(std::string_view text) {
    for (addrmap::on_miss miss : {addrmap::on_miss::fail, addrmap::on_miss::pass_through}) {
        try {
            const addrmap::static_table policy = addrmap::static_table::parse(text, miss);
            check_policy_on(policy, text);
            FUZZ_REQUIRE(policy.unmatched_entries().size() <= policy.size());
        } catch (const addrmap::error& e) {
            check_rejection(e, {addrmap::error_kind::config});
        }
    }
}

/// The environment policy. Input: lines of NAME=VALUE; a NAME without the prefix gets "ADDRMAP_"
/// prepended, so "TABLE=..." sets ADDRMAP_TABLE (and the dictionary's names are reachable).
inline void environment(std::string_view text) {
    std::map<std::string, std::string> variables;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        const std::size_t equals = line.find('=');
        std::string name(line.substr(0, equals));
        if (name.rfind("ADDRMAP_", 0) != 0) name = "ADDRMAP_" + name;
        variables.emplace(std::move(name), equals == std::string_view::npos ? std::string() : std::string(line.substr(equals + 1)));
        start = end + 1;
    }
    try {
        const addrmap::env policy(variables);
        check_policy_on(policy, text);
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::config});
    }
}

inline void check_topology(const addrmap::topology& t) {
    std::bitset<addrmap::slot_count> claimed;
    for (const addrmap::shard& s : t.shards) {
        FUZZ_REQUIRE(!s.ranges.empty());
        check_parsed_address(s.master);
        for (const addrmap::node_address& r : s.replicas) check_parsed_address(r);
        for (std::size_t i = 0; i < s.ranges.size(); ++i) {
            const addrmap::slot_range& r = s.ranges[i];
            FUZZ_REQUIRE(r.first <= r.last && r.last < addrmap::slot_count);
            if (i > 0) FUZZ_REQUIRE(s.ranges[i - 1].last < r.first);  // sorted, non-overlapping
            for (std::size_t slot = r.first; slot <= r.last; ++slot) {
                FUZZ_REQUIRE(!claimed.test(slot));  // no slot claimed twice
                claimed.set(slot);
            }
        }
    }
    FUZZ_REQUIRE(claimed.count() == t.covered_slots());
    FUZZ_REQUIRE(t.covered_slots() > 0);
    const addrmap::slot_owner_table owners = t.slot_owners();
    for (std::size_t slot = 0; slot < addrmap::slot_count; slot += 97) {
        const addrmap::shard* owner = t.owner_of(static_cast<std::uint16_t>(slot));
        FUZZ_REQUIRE((owner == nullptr) == (owners[slot] < 0));
        if (owner) FUZZ_REQUIRE(owner == &t.shards[static_cast<std::size_t>(owners[slot])]);
    }
}

/// Arbitrary bytes through hiredis's own reader (RESP2 and RESP3), every reply it yields through
/// every topology parser; error and status replies through the MOVED/ASK parser.
/// An array of strings read as a command (argv): the key extraction (command_keys.hpp) must stay inside argv and
/// refuse only with error{config}; the slot must be one of the keys' slots.
inline void command_keys(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements > 4096) return;
    std::vector<std::string_view> argv;
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const redisReply* e = reply.element[i];
        if (e == nullptr || (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS)) return;
        argv.emplace_back(e->str, e->len);
    }
    argv.shrink_to_fit();
    try {
        const std::vector<std::size_t> positions = addrmap::key_positions(argv.data(), argv.size());
        for (std::size_t i : positions) FUZZ_REQUIRE(i > 0 && i < argv.size());
        const int slot = addrmap::command_slot(argv);
        FUZZ_REQUIRE(positions.empty() ? slot == -1 : slot == addrmap::key_slot(argv[positions.front()]));
    } catch (const addrmap::error& e) {
        check_rejection(e, {addrmap::error_kind::config});
    }
}

inline void topology(std::string_view bytes) {
    addrmap::detail::reader_ptr reader(redisReaderCreate());
    if (!reader) throw std::bad_alloc();
    // hiredis callocs an array's element pointers before reading them; a "*4000000000" header would ask
    // for 32 GB. That is the reader's allocation policy, not our parsers', so cap it here.
    reader->maxelements = 1 << 16;
    if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) return;
    for (int replies = 0; replies < 64; ++replies) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) return;  // a RESP syntax error
        addrmap::detail::reply_ptr reply = addrmap::detail::adopt_reply(raw);
        if (!reply) return;  // incomplete
        try {
            check_topology(addrmap::parse_cluster_slots(reply.get()));
        } catch (const addrmap::error& e) {
            check_rejection(e, {addrmap::error_kind::protocol, addrmap::error_kind::topology});
        }
        for (auto ports : {addrmap::port_preference::tls, addrmap::port_preference::plaintext}) {
            try {
                check_topology(addrmap::parse_cluster_shards(reply.get(), ports));
            } catch (const addrmap::error& e) {
                check_rejection(e, {addrmap::error_kind::protocol, addrmap::error_kind::topology});
            }
        }
        if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS) address({reply->str, reply->len});
        command_keys(*reply);
    }
}

/// Field by field, as hiredis lays a reply out (the reply arena promises code that reads one cannot tell them apart).
inline void check_same_reply(const redisReply& ours, const redisReply& theirs) {
    FUZZ_REQUIRE(ours.type == theirs.type);
    FUZZ_REQUIRE(ours.integer == theirs.integer);
    FUZZ_REQUIRE(ours.len == theirs.len);
    FUZZ_REQUIRE(std::string_view(ours.vtype, 3) == std::string_view(theirs.vtype, 3));
    FUZZ_REQUIRE((ours.str == nullptr) == (theirs.str == nullptr));
    if (theirs.str != nullptr) {
        FUZZ_REQUIRE(std::string_view(ours.str, ours.len) == std::string_view(theirs.str, theirs.len));
        FUZZ_REQUIRE(ours.str[ours.len] == '\0');
    }
    FUZZ_REQUIRE(ours.dval == theirs.dval || (std::isnan(ours.dval) && std::isnan(theirs.dval)));
    FUZZ_REQUIRE(ours.elements == theirs.elements);
    for (std::size_t k = 0; k < theirs.elements; ++k) check_same_reply(*ours.element[k], *theirs.element[k]);
}

/// Untrusted bytes through two readers, hiredis's own functions and the reply arena's (detail/reply_arena.hpp):
/// the same answers in the same order, every reply equal field by field, and its copy for hiredis equal too; the
/// arena's reader is given the bytes in two feeds, so a reply cut between reads is built across them. Under ASan,
/// anything built and not let go of (an error mid-reply, a reply cut short) is a leak.
inline void replies(std::string_view bytes) {
    addrmap::detail::reader_ptr theirs(redisReaderCreate());
    addrmap::detail::reader_ptr ours(redisReaderCreate());
    if (!theirs || !ours) throw std::bad_alloc();
    theirs->maxelements = ours->maxelements = 1 << 16;  // hiredis's allocation policy, not the arena's
    addrmap::detail::reply_builder builder;
    std::vector<addrmap::detail::arena_reply> kept;  // some replies outlive the reader and the builder
    {
        const addrmap::detail::reply_builder::installed into(builder, ours.get());
        if (redisReaderFeed(theirs.get(), bytes.data(), bytes.size()) != REDIS_OK) return;
        const std::size_t half = bytes.size() / 2;
        if (redisReaderFeed(ours.get(), bytes.data(), half) != REDIS_OK) return;
        bool fed_all = false;
        for (int replies = 0; replies < 4096; ++replies) {  // an input holds at most 1,366 (3 bytes each)
            void* mine = nullptr;
            int our_status = redisReaderGetReply(ours.get(), &mine);
            if (our_status == REDIS_OK && mine == nullptr && !fed_all) {
                fed_all = true;
                if (redisReaderFeed(ours.get(), bytes.data() + half, bytes.size() - half) != REDIS_OK) return;
                our_status = redisReaderGetReply(ours.get(), &mine);
            }
            addrmap::detail::arena_reply our_reply(static_cast<redisReply*>(mine));
            void* raw = nullptr;
            const int their_status = redisReaderGetReply(theirs.get(), &raw);
            const addrmap::detail::reply_ptr their_reply = addrmap::detail::adopt_reply(raw);
            FUZZ_REQUIRE(our_status == their_status);
            FUZZ_REQUIRE((our_reply.get() == nullptr) == (their_reply == nullptr));
            if (their_status != REDIS_OK || !their_reply) return;
            check_same_reply(*our_reply.get(), *their_reply);
            const addrmap::detail::reply_ptr copy(addrmap::detail::copy_for_hiredis(*our_reply.get()));
            FUZZ_REQUIRE(copy != nullptr);
            check_same_reply(*copy, *their_reply);
            if (replies % 3 == 0) kept.push_back(std::move(our_reply));
        }
    }
}

}  // namespace fuzz_targets
