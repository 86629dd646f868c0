// examples/example_flags.hpp — the examples' shared "--flag value" command-line parsing; not part of addrmap.
// Kept in one place so that each example's main() shows the addrmap code rather than argument handling.
#pragma once

#include <addrmap/cluster_options.hpp>

#include <initializer_list>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace example {

// An optional flag and the value it has when not given, e.g. {"--hostname", "localhost"}.
using flag_default = std::pair<const char*, const char*>;

// Reads argv as "--flag value" pairs, keyed by the flag as written ("--seed"). Every flag in `required` must
// be given with a non-empty value; those in `optional` may be given, else they hold their default, so the
// caller can use at() on every flag it named. Anything else (an unknown or repeated flag, a flag without a
// value, a missing or empty required one) prints `usage` to stderr and returns nullopt: exit with status 2.
inline std::optional<std::map<std::string, std::string>> parse_flags(int argc, char** argv,
                                                                     const std::vector<const char*>& required,
                                                                     std::initializer_list<flag_default> optional,
                                                                     const char* usage) {
    const auto known = [&](const std::string& flag) {
        for (const char* name : required)
            if (flag == name) return true;
        for (const flag_default& option : optional)
            if (flag == option.first) return true;
        return false;
    };
    std::map<std::string, std::string> flags;
    bool ok = true;
    for (int i = 1; ok && i < argc; i += 2)  // emplace refuses a repeated flag
        ok = known(argv[i]) && i + 1 < argc && flags.emplace(argv[i], argv[i + 1]).second;
    for (const char* name : required) {
        const auto it = flags.find(name);
        ok = ok && it != flags.end() && !it->second.empty();
    }
    if (!ok) {
        std::cerr << usage;
        return std::nullopt;
    }
    for (const auto& [name, fallback] : optional) flags.emplace(name, fallback);  // keeps a value given in argv
    return flags;
}

// What an example that connects to a cluster is given: `options` as a cluster takes them (seeds = {--seed HOST:PORT},
// tls.ca_file = --cacert FILE; TLS verifies chain and name, always), and every flag's value by its name.
struct cluster_flags {
    addrmap::cluster_options options;
    std::map<std::string, std::string> values;

    const std::string& at(const std::string& flag) const { return values.at(flag); }
};

// parse_flags with --seed and --cacert required besides the example's own `required` flags; nullopt: exit with 2.
inline std::optional<cluster_flags> parse_cluster_flags(int argc, char** argv,
                                                        std::initializer_list<const char*> required,
                                                        std::initializer_list<flag_default> optional,
                                                        const char* usage) {
    std::vector<const char*> all_required{"--seed", "--cacert"};
    all_required.insert(all_required.end(), required.begin(), required.end());
    auto values = parse_flags(argc, argv, all_required, optional, usage);
    if (!values) return std::nullopt;
    cluster_flags flags;
    flags.options.seeds = {values->at("--seed")};
    flags.options.tls.ca_file = values->at("--cacert");
    flags.values = std::move(*values);
    return flags;
}

}  // namespace example
