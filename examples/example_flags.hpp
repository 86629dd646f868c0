// examples/example_flags.hpp — the examples' shared "--flag value" command-line parsing; not part of addrmap.
// Kept in one place so that each example's main() shows the addrmap code rather than argument handling.
#pragma once

#include <initializer_list>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace example {

// An optional flag and the value it has when not given, e.g. {"--hostname", "localhost"}.
using flag_default = std::pair<const char*, const char*>;

// Reads argv as "--flag value" pairs, keyed by the flag as written ("--seed"). Every flag in `required` must
// be given with a non-empty value; those in `optional` may be given, else they hold their default, so the
// caller can use at() on every flag it named. Anything else (an unknown or repeated flag, a flag without a
// value, a missing or empty required one) prints `usage` to stderr and returns nullopt: exit with status 2.
inline std::optional<std::map<std::string, std::string>> parse_flags(int argc, char** argv,
                                                                     std::initializer_list<const char*> required,
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

}  // namespace example
