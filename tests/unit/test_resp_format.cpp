// tests/unit/test_resp_format.cpp — append_resp and append_resp_argv encode exactly what hiredis's formatters do
// (differentially, over fixed edge cases and thousands of generated formats), and decline what they must.
#include <addrmap/detail/resp_format.hpp>
#include <addrmap/pipeline.hpp>

#include <boost/test/unit_test.hpp>

#include <climits>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

/// hiredis's encoding of the command, or "<declined>" when hiredis refuses the format.
std::string by_hiredis(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    char* raw = nullptr;
    const int len = redisvFormatCommand(&raw, format, ap);
    va_end(ap);
    std::string out = len < 0 ? std::string("<declined>") : std::string(raw, static_cast<std::size_t>(len));
    redisFreeCommand(raw);
    return out;
}

/// append_resp's encoding after a prefix it must keep, or "<declined>" (then the buffer must be as it was).
std::string by_us(const char* format, ...) {
    std::string out = "prefix";
    va_list ap;
    va_start(ap, format);
    const bool encoded = addrmap::detail::append_resp(out, format, ap);
    va_end(ap);
    BOOST_TEST_REQUIRE(out.compare(0, 6, "prefix") == 0);
    if (!encoded) {
        BOOST_TEST(out == "prefix", "a declined format left the buffer changed: " << format);
        return "<declined>";
    }
    return out.substr(6);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_resp_format)

BOOST_AUTO_TEST_CASE(edge_cases_encode_as_hiredis_does) {
    const std::string bin("a b\0c\r\n", 7);
    BOOST_TEST(by_us("SET %s %s", "k", "v") == by_hiredis("SET %s %s", "k", "v"));
    BOOST_TEST(by_us("SET %b %b", "key", std::size_t{3}, bin.data(), bin.size()) ==
               by_hiredis("SET %b %b", "key", std::size_t{3}, bin.data(), bin.size()));
    BOOST_TEST(by_us("  GET    key:%s  ", "a b") == by_hiredis("  GET    key:%s  ", "a b"));
    BOOST_TEST(by_us("SET a%%b c%%") == by_hiredis("SET a%%b c%%"));
    BOOST_TEST(by_us("ECHO %") == by_hiredis("ECHO %"));
    BOOST_TEST(by_us("ECHO 100%") == by_hiredis("ECHO 100%"));
    BOOST_TEST(by_us("SET %s x", "") == by_hiredis("SET %s x", ""));                          // empty argument
    BOOST_TEST(by_us("SET %sx %s", "k", "v") == by_hiredis("SET %sx %s", "k", "v"));          // not a lone %s
    BOOST_TEST(by_us("SET %s %b%%", "k", "v", std::size_t{1}) == by_hiredis("SET %s %b%%", "k", "v", std::size_t{1}));
    const std::string long_value(100000, 'L');
    BOOST_TEST(by_us("SET %s %s", "k", long_value.c_str()) == by_hiredis("SET %s %s", "k", long_value.c_str()));
    BOOST_TEST(by_us("SET k %b", "", std::size_t{0}) == by_hiredis("SET k %b", "", std::size_t{0}));
    BOOST_TEST(by_us("SET {%s}:%s%s v", "tag", "", "x") == by_hiredis("SET {%s}:%s%s v", "tag", "", "x"));
    BOOST_TEST(by_us("PING") == "*1\r\n$4\r\nPING\r\n");
}

BOOST_AUTO_TEST_CASE(other_conversions_and_empty_commands_are_left_to_hiredis) {
    BOOST_TEST(by_us("INCRBY k %d", 5) == "<declined>");
    BOOST_TEST(by_us("SET k %lld", 5LL) == "<declined>");
    BOOST_TEST(by_us("SET %s %f", "k", 1.5) == "<declined>");
    BOOST_TEST(by_us("") == "<declined>");
    BOOST_TEST(by_us("    ") == "<declined>");
    std::string wide = "MSET";
    for (std::size_t i = 0; i < addrmap::detail::resp_format_max_args; ++i) wide += " a";
    BOOST_TEST(by_us(wide.c_str()) == "<declined>");  // 65 arguments
    wide.resize(wide.size() - 2);
    BOOST_TEST(by_us(wide.c_str()) == by_hiredis(wide.c_str()));  // 64 arguments
    std::string conversions = "MSET";  // the same with %s words: read one at a time, 64 at most
    for (std::size_t i = 0; i < addrmap::detail::resp_format_max_args; ++i) conversions += " %s";
    BOOST_TEST(by_us(conversions.c_str(), "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a", "a") == "<declined>");  // 65 arguments
    conversions.resize(conversions.size() - 3);
    BOOST_TEST(by_us(conversions.c_str(), "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a",
                     "a", "a", "a", "a", "a", "a", "a") == by_hiredis(wide.c_str()));  // 64 arguments
}

BOOST_AUTO_TEST_CASE(a_null_string_is_an_empty_argument) {
    BOOST_TEST(by_us("SET k %s", static_cast<const char*>(nullptr)) == by_hiredis("SET k %s", ""));
}

// Formats built at random from literal text, spaces, %% and %b (or %s): the same bytes as hiredis, every one.
BOOST_AUTO_TEST_CASE(generated_formats_encode_as_hiredis_does) {
    std::mt19937 random(20261204);
    // Lengths of one, two and three digits (the header's short and long ways).
    const std::vector<std::string> values = {"", "v", "two words", std::string("nul\0byte", 8), "%s", "%%", " ",
                                             std::string(99, 'n'), std::string(100, 'h'), std::string(1234, 'k')};
    // No lone % but at the very end: "%x" would be a printf conversion (left to hiredis, and reading an int).
    const char* const pieces[] = {"SET", " ", "  ", "k", ":", "%%", "x%%y", "{t}", "\t", "100"};
    for (int round = 0; round < 4000; ++round) {
        const bool strings = round % 2 == 1;
        std::string format;
        int conversions = 0;
        const int parts = 1 + static_cast<int>(random() % 8);
        for (int p = 0; p < parts; ++p) {
            if (random() % 3 == 0 && conversions < 4) {
                format += strings ? "%s" : "%b";
                ++conversions;
            } else {
                format += pieces[random() % std::size(pieces)];
            }
        }
        if (random() % 8 == 0) format += "%";
        const std::string& a = values[random() % values.size()];
        const std::string& b = values[random() % values.size()];
        const std::string& c = values[random() % values.size()];
        const std::string& d = values[random() % values.size()];
        std::string ours, theirs;
        if (strings) {
            ours = by_us(format.c_str(), a.c_str(), b.c_str(), c.c_str(), d.c_str());
            theirs = by_hiredis(format.c_str(), a.c_str(), b.c_str(), c.c_str(), d.c_str());
        } else {
            ours = by_us(format.c_str(), a.data(), a.size(), b.data(), b.size(), c.data(), c.size(), d.data(), d.size());
            theirs = by_hiredis(format.c_str(), a.data(), a.size(), b.data(), b.size(), c.data(), c.size(), d.data(),
                                d.size());
        }
        // hiredis encodes an all-space format as "*0": we leave that one to it.
        if (ours == "<declined>" && theirs.rfind("*0\r\n", 0) == 0) continue;
        BOOST_TEST_REQUIRE(ours == theirs, "format \"" << format << "\"");
    }
}

/// format_raw's encoding (ours for %s/%b/%%, hiredis's for the rest), or "<refused N>" with its length code.
static std::string by_format_raw(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    const addrmap::detail::raw_command raw = addrmap::detail::format_raw(format, ap);
    va_end(ap);
    if (raw.length < 0 || !raw.bytes) return "<refused " + std::to_string(raw.length) + ">";
    return std::string(raw.bytes.get(), static_cast<std::size_t>(raw.length));
}

/// format_into's encoding into `out` (a buffer kept from command to command), or "<refused N>".
static std::string by_format_into(std::string& out, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    const int status = addrmap::detail::format_into(out, format, ap);
    va_end(ap);
    if (status != 0) return "<refused " + std::to_string(status) + ">";
    return out;
}

namespace {
/// Allocations made through hiredis's allocator (hi_malloc and the rest) while one is alive.
struct hiredis_allocations {
    static inline int count = 0;
    static void* malloc_fn(std::size_t n) {
        ++count;
        return std::malloc(n);
    }
    static void* calloc_fn(std::size_t n, std::size_t size) {
        ++count;
        return std::calloc(n, size);
    }
    static void* realloc_fn(void* p, std::size_t n) {
        ++count;
        return std::realloc(p, n);
    }
    static char* strdup_fn(const char* s) {
        ++count;
        return ::strdup(s);
    }
    static void free_fn(void* p) { std::free(p); }
    hiredis_allocations() {
        count = 0;
        hiredisAllocFuncs counting{&malloc_fn, &calloc_fn, &realloc_fn, &strdup_fn, &free_fn};
        hiredisSetAllocators(&counting);
    }
    ~hiredis_allocations() { hiredisResetAllocators(); }
};

/// What a thread_local's destructor formatted at its thread's exit (format_raw keeps no thread-local state of its
/// own that could be gone by then).
std::string formatted_at_thread_exit;
struct formats_at_exit {
    ~formats_at_exit() { formatted_at_thread_exit = by_format_raw("DEL %s", "at-exit"); }
};
}  // namespace

// Every single command (command(), call(), the async cluster's) is formatted by format_raw: the same bytes as
// hiredis's, by either path, and hiredis's refusals stay refusals.
BOOST_AUTO_TEST_CASE(format_raw_gives_hiredis_s_bytes_by_either_path) {
    BOOST_TEST(by_format_raw("SET %s %b", "k", "v\0w", std::size_t{3}) ==
               by_hiredis("SET %s %b", "k", "v\0w", std::size_t{3}));
    BOOST_TEST(by_format_raw("INCRBY %s %d", "k", 42) == by_hiredis("INCRBY %s %d", "k", 42));
    BOOST_TEST(by_format_raw("SET k %q") == "<refused -2>");  // hiredis's "invalid format"
    const std::string big(100 * 1024, 'x');
    BOOST_TEST(by_format_raw("SET k %b", big.data(), big.size()) == by_hiredis("SET k %b", big.data(), big.size()));
    BOOST_TEST(by_format_raw("GET k") == by_hiredis("GET k"));
}

// The async cluster encodes into its pooled calls' buffers (format_into): the same bytes as format_raw's by either
// path, whatever the buffer held before, and the same refusals.
BOOST_AUTO_TEST_CASE(format_into_gives_format_raw_s_bytes_in_a_reused_buffer) {
    std::string buffer = "left over from a longer command before it, which must not show";
    BOOST_TEST(by_format_into(buffer, "SET %s %b", "k", "v\0w", std::size_t{3}) ==
               by_format_raw("SET %s %b", "k", "v\0w", std::size_t{3}));
    BOOST_TEST(by_format_into(buffer, "INCRBY %s %d", "k", 42) == by_format_raw("INCRBY %s %d", "k", 42));
    BOOST_TEST(by_format_into(buffer, "GET k") == by_format_raw("GET k"));
    const std::string big(100 * 1024, 'x');
    BOOST_TEST(by_format_into(buffer, "SET k %b", big.data(), big.size()) == by_format_raw("SET k %b", big.data(), big.size()));
    BOOST_TEST(by_format_into(buffer, "SET k %q") == "<refused -2>");
    const char never_read[1] = {'x'};
    BOOST_TEST(by_format_into(buffer, "SET k %b", never_read, static_cast<std::size_t>(INT_MAX)) == "<refused -1>");
    try {
        addrmap::detail::check_formatted(-2, "SET k %q");
        BOOST_FAIL("check_formatted accepted a bad format");
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()).find("invalid format string") != std::string::npos, e.what());
    }
}

// A command longer than hiredis's int length can carry is refused before any byte of it is read or allocated
// (-1, hiredis's out-of-memory code), and said apart from a bad format.
BOOST_AUTO_TEST_CASE(format_raw_refuses_a_command_over_int_max_without_reading_it) {
    const char never_read[1] = {'x'};
    BOOST_TEST(by_format_raw("SET k %b", never_read, static_cast<std::size_t>(INT_MAX)) == "<refused -1>");
    const addrmap::detail::raw_command too_long{addrmap::detail::command_buffer(nullptr), -1};
    try {
        addrmap::detail::check_formatted(too_long, "SET k %b");
        BOOST_FAIL("check_formatted accepted a refused command");
    } catch (const addrmap::error& e) {
        BOOST_TEST(std::string(e.what()).find("out of memory, or longer than 2 GiB") != std::string::npos, e.what());
    }
}

// Ours is one allocation of hiredis's allocator (the buffer redisFreeCommand frees); hiredis's formatter, for a
// format ours declines, makes several (which shows the count sees them).
BOOST_AUTO_TEST_CASE(format_raw_makes_one_hiredis_allocation_for_s_and_b) {
    int ours = 0, theirs = 0;
    {
        const hiredis_allocations counted;
        BOOST_TEST(by_format_raw("SET %s %b", "key", "value", std::size_t{5}) ==
                   std::string("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"));
        ours = hiredis_allocations::count;
        hiredis_allocations::count = 0;
        BOOST_TEST(by_format_raw("INCRBY %s %d", "key", 5) ==
                   std::string("*3\r\n$6\r\nINCRBY\r\n$3\r\nkey\r\n$1\r\n5\r\n"));
        theirs = hiredis_allocations::count;
    }
    BOOST_TEST(ours == 1);
    BOOST_TEST(theirs > 1);
}

// A command formatted from a thread_local's destructor at thread exit, after format_raw's first use on that thread
// (a reused thread-local buffer would be freed by then: ASan's use-after-free).
BOOST_AUTO_TEST_CASE(format_raw_works_from_a_thread_local_destructor_at_thread_exit) {
    formatted_at_thread_exit.clear();
    std::string formatted_on_thread;  // Boost.Test's checks run on the test's thread only
    std::thread worker([&formatted_on_thread] {
        thread_local formats_at_exit at_exit;  // constructed first, so destroyed after anything format_raw made
        (void)&at_exit;
        formatted_on_thread = by_format_raw("GET %s", "k");
    });
    worker.join();
    BOOST_TEST(formatted_on_thread == by_hiredis("GET %s", "k"));
    BOOST_TEST(formatted_at_thread_exit == by_hiredis("DEL %s", "at-exit"));
}

BOOST_AUTO_TEST_CASE(argv_encodes_as_hiredis_does) {
    const std::vector<std::string_view> args = {"SET", "", std::string_view("a\0b", 3), "value with spaces"};
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* raw = nullptr;
    const long long len = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), argv.data(), lens.data());
    const std::string theirs(raw, static_cast<std::size_t>(len));
    redisFreeCommand(raw);
    std::string ours = "keep";
    addrmap::detail::append_resp_argv(ours, args.begin(), args.end());
    BOOST_TEST(ours == "keep" + theirs);
}

// The pipeline keeps every command in one buffer: a refused command is taken back whole, and the entries before
// and after it keep their bytes.
BOOST_AUTO_TEST_CASE(a_pipeline_refusal_leaves_the_other_commands_intact) {
    addrmap::pipeline p;
    p.add("a", "SET %s %s", "a", "1");
    BOOST_CHECK_THROW(p.add("b", "SUBSCRIBE %s", "b"), addrmap::error);
    BOOST_CHECK_THROW(p.add_argv("b", {"MONITOR"}), addrmap::error);
    BOOST_CHECK_THROW(p.add_argv("b", {}), addrmap::error);
    BOOST_CHECK_THROW(p.add("b", "SET k %q"), addrmap::error);  // hiredis refuses it: error{config}
    p.add("c", "INCRBY %s %d", "c", 7);                           // hiredis's formatter
    p.add_argv("d", {"GET", "d"});
    BOOST_TEST_REQUIRE(p.size() == 3u);
    BOOST_TEST(p.encoded(0) == "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n");
    BOOST_TEST(p.encoded(1) == "*3\r\n$6\r\nINCRBY\r\n$1\r\nc\r\n$1\r\n7\r\n");
    BOOST_TEST(p.encoded(2) == "*2\r\n$3\r\nGET\r\n$1\r\nd\r\n");
    BOOST_CHECK_THROW(p.encoded(3), std::out_of_range);
    p.clear();
    p.add("e", "GET e");
    BOOST_TEST(p.encoded(0) == "*2\r\n$3\r\nGET\r\n$1\r\ne\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
