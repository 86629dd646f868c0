// benchmarks/bench_common.hpp — what the live benchmarks (cluster_bench, async_bench, stall_bench) share: one JSON
// object per line for their results, the parsing of their count flags, and their main().
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

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

/// Reads argv as "--flag value" pairs: the connection flags into `c`, every other flag through `other(flag, value)`,
/// which returns false for one it does not know. Throws std::invalid_argument for what is wrong (empty text: --help).
template <class Other>
void parse_flags(int argc, char** argv, connection_flags& c, Other&& other) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") throw std::invalid_argument("");
        if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
        const std::string value = argv[i + 1];
        if (flag == "--seed") c.seed = value;
        else if (flag == "--cacert") c.cacert = value;
        else if (flag == "--policy") c.policy = value;
        else if (flag == "--hostname") c.hostname = value;
        else if (!other(flag, value)) throw std::invalid_argument("unknown flag " + flag);
    }
    if (c.seed.empty() || c.cacert.empty()) throw std::invalid_argument("--seed and --cacert are required");
    static const char* const policies[] = {"identity", "ip_to_hostname", "ip_to_hostname_keep_ip", "static_table", "env"};
    bool known = false;
    for (const char* p : policies) known = known || c.policy == p;
    if (!known) throw std::invalid_argument("--policy '" + c.policy + "' is not one of the choices below");
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
