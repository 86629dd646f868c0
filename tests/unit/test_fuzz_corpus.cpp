// tests/unit/test_fuzz_corpus.cpp — replays every fuzz seed and every stored fuzz crash input through the
// same checked functions the libFuzzer targets run, so a fixed crash stays fixed in every build (GCC too).
#include "../fuzz/targets.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path fuzz_dir = ADDRMAP_TEST_FUZZ_DIR;
const fs::path data_dir = ADDRMAP_TEST_DATA_DIR;

std::vector<fs::path> inputs_in(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().filename() != ".gitkeep") out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <class Target>
std::size_t replay(const std::vector<fs::path>& dirs, Target target) {
    std::size_t count = 0;
    for (const fs::path& dir : dirs)
        for (const fs::path& file : inputs_in(dir)) {
            const std::string bytes = read_bytes(file);
            BOOST_TEST_CONTEXT("input " << file) {
                try {
                    target(bytes);
                } catch (const fuzz_targets::violation& v) {
                    BOOST_ERROR(v.what());
                } catch (const std::exception& e) {
                    BOOST_ERROR(std::string("escaped as a non-addrmap exception: ") + e.what());
                }
            }
            ++count;
        }
    return count;
}

std::vector<fs::path> seeds_of(const char* target) {
    return {fuzz_dir / "corpus" / target, fuzz_dir / "regressions" / target};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz_corpus)

BOOST_AUTO_TEST_CASE(address_inputs_replay_clean) {
    BOOST_TEST(replay(seeds_of("address"), fuzz_targets::address) >= 6u);
}

BOOST_AUTO_TEST_CASE(table_inputs_replay_clean) {
    BOOST_TEST(replay(seeds_of("table"), fuzz_targets::table) >= 2u);
}

BOOST_AUTO_TEST_CASE(env_inputs_replay_clean) {
    BOOST_TEST(replay(seeds_of("env"), fuzz_targets::environment) >= 2u);
}

BOOST_AUTO_TEST_CASE(topology_inputs_replay_clean) {
    auto dirs = seeds_of("topology");
    dirs.push_back(data_dir);
    BOOST_TEST(replay(dirs, fuzz_targets::topology) >= 13u);
}

BOOST_AUTO_TEST_CASE(reply_inputs_replay_clean) {
    auto dirs = seeds_of("replies");
    dirs.push_back(data_dir);
    BOOST_TEST(replay(dirs, fuzz_targets::replies) >= 8u);
}

BOOST_AUTO_TEST_CASE(host_inputs_replay_clean) {
    BOOST_TEST(replay(seeds_of("host"), fuzz_targets::host) >= 18u);
}

// The host target's agreement checks hold on the hostile hosts of issue 12, and a host the grammar
// refuses never comes back accepted from any parser (checked inside fuzz_targets::host).
BOOST_AUTO_TEST_CASE(host_checks_hold_on_hostile_hosts) {
    using namespace std::string_literals;
    for (const std::string& text : {"127.0.0.2\0"s, "127.0.0.1 "s, "1.2.3.4%eth0"s, "::1%lo"s, "a\tb"s, "\x1b[0m"s,
                                    "caf\xc3\xa9.com"s, "127.1"s, "0x7f.0.0.2"s, ""s, "?"s, "[::1]"s, "*.example.com"s}) {
        BOOST_TEST_CONTEXT("host '" << addrmap::detail::escaped(text, 80) << "'") {
            BOOST_CHECK_NO_THROW(fuzz_targets::host(text));
        }
    }
}

// The checks themselves must be able to fail, or a clean replay proves nothing.
BOOST_AUTO_TEST_CASE(checks_reject_an_inconsistent_topology) {
    addrmap::topology overlapping;
    addrmap::shard a;
    a.ranges = {{0, 100}};
    a.master = {"127.0.0.1", 7000, {}};
    addrmap::shard b = a;
    b.ranges = {{50, 60}};
    overlapping.shards = {a, b};
    BOOST_CHECK_THROW(fuzz_targets::check_topology(overlapping), fuzz_targets::violation);
    overlapping.shards.pop_back();
    BOOST_CHECK_NO_THROW(fuzz_targets::check_topology(overlapping));
}

BOOST_AUTO_TEST_CASE(checks_reject_a_message_with_raw_control_bytes) {
    BOOST_CHECK_THROW(fuzz_targets::check_rejection(addrmap::error(addrmap::error_kind::config, "host 'a\tb'"),
                                                    {addrmap::error_kind::config}),
                      fuzz_targets::violation);
    BOOST_CHECK_NO_THROW(fuzz_targets::check_rejection(
        addrmap::error(addrmap::error_kind::config, "host 'a\\x09b'"), {addrmap::error_kind::config}));
}

BOOST_AUTO_TEST_CASE(checks_reject_the_wrong_error_kind) {
    BOOST_CHECK_THROW(fuzz_targets::check_rejection(addrmap::error(addrmap::error_kind::connect, "x"),
                                                    {addrmap::error_kind::config}),
                      fuzz_targets::violation);
}

BOOST_AUTO_TEST_SUITE_END()
