// addrmap/detail/connection_state_commands.hpp — commands that change what a connection's later replies mean
// (SUBSCRIBE, MONITOR, HELLO, ...), refused before sending: every call of a node shares its connection.
#pragma once

#include <addrmap/address.hpp>  // detail::iequals_ascii
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace addrmap::detail {

struct connection_state_command {
    std::string_view name;        ///< upper case
    std::string_view subcommand;  ///< "" for the whole command
    std::string_view why;         ///< what it would do to the shared connection, and what to use instead
};

inline constexpr std::string_view pub_sub_advice =
    "turns the connection into a subscriber, so the replies of every later call on it would be messages. addrmap has "
    "no pub/sub API yet: subscribe on a hiredis connection of your own";

/// The one list, for both drivers, pipelines and transactions.
inline constexpr connection_state_command connection_state_commands[] = {
    {"SUBSCRIBE", "", pub_sub_advice},
    {"PSUBSCRIBE", "", pub_sub_advice},
    {"SSUBSCRIBE", "", pub_sub_advice},
    {"UNSUBSCRIBE", "", pub_sub_advice},
    {"PUNSUBSCRIBE", "", pub_sub_advice},
    {"SUNSUBSCRIBE", "", pub_sub_advice},
    {"MONITOR", "", "turns the connection into a stream of every command the server runs"},
    {"SYNC", "", "turns the connection into a replication stream"},
    {"PSYNC", "", "turns the connection into a replication stream"},
    {"HELLO", "", "changes the protocol (RESP3) or the user of the connection; set credentials in tls_options"},
    {"AUTH", "", "changes the user of the connection for every later call; set credentials in tls_options"},
    {"RESET", "", "drops the connection's authentication and READONLY state"},
    {"SELECT", "", "changes the database of every later call (a cluster serves database 0 only)"},
    {"QUIT", "", "closes the connection under the calls queued on it"},
    {"CLIENT", "REPLY", "stops the server replying, so every later call on the connection would get the wrong reply"},
    {"READONLY", "", "changes where the connection's reads go; cluster_options::read_from chooses replicas"},
    {"READWRITE", "", "changes where the connection's reads go; cluster_options::read_from chooses replicas"},
    {"ASKING", "", "is sent by the cluster itself when it follows an ASK redirect"},
    {"MULTI", "", "would queue every later call on the connection; use begin_transaction()"},
    {"EXEC", "", "belongs to a transaction; use begin_transaction()"},
    {"DISCARD", "", "belongs to a transaction; use begin_transaction()"},
    {"WATCH", "", "would hold for every later call on the connection; use begin_transaction()"},
    {"UNWATCH", "", "belongs to a transaction; use begin_transaction()"},
};

/// The shortest (`longest` false) or longest name in the list: a cheap first look at every call's command name.
constexpr std::size_t connection_state_command_length(bool longest) noexcept {
    std::size_t bound = connection_state_commands[0].name.size();
    for (const connection_state_command& row : connection_state_commands)
        if (longest ? row.name.size() > bound : row.name.size() < bound) bound = row.name.size();
    return bound;
}
inline constexpr std::size_t shortest_connection_state_command = connection_state_command_length(false);  // AUTH, ...
inline constexpr std::size_t longest_connection_state_command = connection_state_command_length(true);  // PUNSUBSCRIBE

/// The list's row for a command given as its name and first argument, or nullptr.
inline const connection_state_command* find_connection_state_command(std::string_view name,
                                                                     std::string_view first_argument) noexcept {
    for (const connection_state_command& row : connection_state_commands)
        if (row.name.size() == name.size() && iequals_ascii(row.name, name) &&
            (row.subcommand.empty() || iequals_ascii(row.subcommand, first_argument)))
            return &row;
    return nullptr;
}

/// error{config} when the RESP-encoded command, named `name` (command_name(encoded), read once by the caller), is one
/// of the list (nothing was sent), else nullopt. `allowed` names commands the caller manages itself (a transaction
/// runs WATCH and UNWATCH on its own connection).
inline std::optional<error> refuse_connection_state_command(std::string_view encoded, std::string_view name,
                                                            std::initializer_list<std::string_view> allowed) {
    // Cheap first look, since every call passes here: the rows' names are 4 to 12 letters long (GET and SET leave
    // at once) and start with one of these letters (the unit tests check every row passes it).
    if (name.size() < shortest_connection_state_command || name.size() > longest_connection_state_command)
        return std::nullopt;
    switch (name[0] | 0x20) {
        case 'a': case 'c': case 'd': case 'e': case 'h': case 'm': case 'p': case 'q': case 'r': case 's':
        case 'u': case 'w': break;
        default: return std::nullopt;
    }
    resp_args args(encoded);
    args.next();  // the name
    const std::optional<std::string_view> first = args.next();
    const connection_state_command* row = find_connection_state_command(name, first.value_or(std::string_view{}));
    if (row == nullptr) return std::nullopt;
    for (std::string_view ok : allowed)
        if (iequals_ascii(ok, row->name)) return std::nullopt;
    const std::string label = row->subcommand.empty() ? std::string(row->name)
                                                      : std::string(row->name) + " " + std::string(row->subcommand);
    return error(error_kind::config, label + " was refused: it " + std::string(row->why) +
                                         ". addrmap shares each node's connection among all calls; nothing was sent");
}

/// The same, reading the name from `encoded`.
inline std::optional<error> refuse_connection_state_command(std::string_view encoded,
                                                            std::initializer_list<std::string_view> allowed = {}) {
    resp_args args(encoded);
    const std::optional<std::string_view> name = args.next();
    if (!name) return std::nullopt;
    return refuse_connection_state_command(encoded, *name, allowed);
}

}  // namespace addrmap::detail
