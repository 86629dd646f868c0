// benchmarks/bench_common.hpp — what the live benchmarks (cluster, async, pubsub and stall_bench) share: one JSON
// object per line for their results, their flags, rounds taken in turn, the masters they measure on, and their main().
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_options.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace addrmap_bench {

// ---- output: one JSON object on one line -------------------------------------------------------------

inline std::string json_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

class json_line {
public:
    void text(std::string_view key, std::string_view value) { add(key, "\"" + json_escape(value) + "\""); }
    void integer(std::string_view key, long long value) { add(key, std::to_string(value)); }
    void number(std::string_view key, double value, int decimals) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
        add(key, buf);
    }
    void boolean(std::string_view key, bool value) { add(key, value ? "true" : "false"); }
    void raw(std::string_view key, std::string value) { add(key, std::move(value)); }

    // Several fields of one kind at once, in the order given: a run's settings, or figures of one precision.
    void texts(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
        for (const auto& [key, value] : fields) text(key, value);
    }
    void counts(std::initializer_list<std::pair<std::string_view, std::size_t>> fields) {
        for (const auto& [key, value] : fields) integer(key, static_cast<long long>(value));
    }
    void numbers(int decimals, std::initializer_list<std::pair<std::string_view, double>> fields) {
        for (const auto& [key, value] : fields) number(key, value, decimals);
    }
    std::string str() const { return "{" + body_ + "}"; }

private:
    void add(std::string_view key, const std::string& value) {
        if (!body_.empty()) body_ += ", ";
        body_ += "\"" + json_escape(key) + "\": " + value;
    }
    std::string body_;
};

inline std::size_t parse_count(const std::string& flag, const std::string& value) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n == 0 || n > 100000000ull)
        throw std::invalid_argument(flag + " '" + value + "': expected a whole number from 1 to 100000000");
    return static_cast<std::size_t>(n);
}

/// The flags every live benchmark takes: where the cluster is and how its reported addresses are mapped.
struct connection_flags {
    std::string seed;
    std::string cacert;
    std::string policy = "ip_to_hostname";
    std::string hostname = "localhost";
};

/// One of a benchmark's own flags and the option it sets: a count (parse_count checks it) or a text.
struct own_flag {
    own_flag(const char* flag, std::size_t& count) : flag(flag), count(&count) {}
    own_flag(const char* flag, std::string& text) : flag(flag), text(&text) {}
    const char* flag;
    std::size_t* count = nullptr;
    std::string* text = nullptr;
};

/// Reads argv as "--flag value" pairs: the connection flags into `c`, the benchmark's `own` flags into their options.
/// Throws std::invalid_argument for what is wrong (empty text: --help).
inline void parse_flags(int argc, char** argv, connection_flags& c, std::initializer_list<own_flag> own) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") throw std::invalid_argument("");
        if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
        const std::string value = argv[i + 1];
        const auto mine = std::find_if(own.begin(), own.end(), [&](const own_flag& f) { return flag == f.flag; });
        if (flag == "--seed") c.seed = value;
        else if (flag == "--cacert") c.cacert = value;
        else if (flag == "--policy") c.policy = value;
        else if (flag == "--hostname") c.hostname = value;
        else if (mine == own.end()) throw std::invalid_argument("unknown flag " + flag);
        else if (mine->count != nullptr) *mine->count = parse_count(flag, value);
        else *mine->text = value;
    }
    if (c.seed.empty() || c.cacert.empty()) throw std::invalid_argument("--seed and --cacert are required");
    static const char* const policies[] = {"identity", "ip_to_hostname", "ip_to_hostname_keep_ip", "static_table", "env"};
    bool known = false;
    for (const char* p : policies) known = known || c.policy == p;
    if (!known) throw std::invalid_argument("--policy '" + c.policy + "' is not one of the choices below");
}

// ---- rounds ---------------------------------------------------------------------------------------------

/// Runs `step`, then `later` in order; or, when `reversed`, `later` in reverse order and `step` last.
template <class Step, class... Later>
void run_steps(bool reversed, Step&& step, Later&&... later) {
    if (!reversed) step();
    if constexpr (sizeof...(Later) != 0) run_steps(reversed, later...);
    if (reversed) step();
}

/// One round of measurements taken in turn: in the order given in even rounds, reversed in odd ones, so that drift on
/// a shared machine hits every side alike.
template <class... Step>
void in_turn(std::size_t round, Step&&... steps) {
    run_steps(round % 2 == 1, steps...);
}

// ---- the masters ----------------------------------------------------------------------------------------

/// Masters of the node table, in slot order.
inline std::vector<addrmap::node_info> masters_of(const std::vector<addrmap::node_info>& nodes) {
    std::vector<addrmap::node_info> out;
    for (const auto& n : nodes)
        if (n.role == addrmap::node_role::master && !n.slots.empty()) out.push_back(n);
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.slots.front().first < b.slots.front().first; });
    return out;
}

/// The master `--node` names as the cluster reports it (HOST:PORT); std::runtime_error when none is.
inline std::vector<addrmap::node_info>::const_iterator master_named(const std::vector<addrmap::node_info>& masters,
                                                                    const std::string& node) {
    const auto found = std::find_if(masters.begin(), masters.end(), [&](const addrmap::node_info& m) {
        return addrmap::to_string(m.reported) == node;
    });
    if (found == masters.end()) throw std::runtime_error("--node " + node + " is not a master with slots");
    return found;
}

// ---- main() ----------------------------------------------------------------------------------------------

/// A live benchmark's main(): `parse` reads the command line (std::invalid_argument: exit 2 with `usage`, nothing
/// printed but the reason), `header` writes the run's settings into the JSON line, `run` measures into it (an
/// std::invalid_argument there is a usage error too; any other exception: exit 1 with "error" in the printed line).
template <class Parse, class Header, class Run>
int bench_main(const char* name, const char* usage, int argc, char** argv, Parse parse, Header header, Run run) {
    decltype(parse(argc, argv)) options;
    try {
        options = parse(argc, argv);
    } catch (const std::invalid_argument& e) {
        if (e.what()[0] != '\0') std::fprintf(stderr, "%s: %s\n", name, e.what());
        std::fputs(usage, stderr);
        return 2;
    }
    json_line out;
    header(options, out);
    try {
        run(options, out);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s: %s\n%s", name, e.what(), usage);
        return 2;
    } catch (const std::exception& e) {
        out.text("error", e.what());
        std::printf("%s\n", out.str().c_str());
        return 1;
    }
    std::printf("%s\n", out.str().c_str());
    return 0;
}

}  // namespace addrmap_bench
