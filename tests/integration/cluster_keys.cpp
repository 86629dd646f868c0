// tests/integration/cluster_keys.cpp — the key table (command_keys.hpp) against the live server: COMMAND GETKEYS
// agrees with it on every row. Routing by those keys, for both drivers, is tests/scenarios/keys.cpp.
#include "../command_samples.hpp"
#include "cluster_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <hiredis/hiredis.h>

#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace addrmap;

std::vector<std::string_view> views(const std::vector<std::string>& args) { return {args.begin(), args.end()}; }

/// "[k, a, '']": keys as a failure message shows them (an empty key stays visible).
std::string join(const std::vector<std::string_view>& keys) {
    std::string text = "[";
    for (std::string_view key : keys) text += (text.size() > 1 ? ", " : "") + (key.empty() ? "''" : std::string(key));
    return text + "]";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_keys)

BOOST_AUTO_TEST_CASE(command_getkeys_agrees_on_every_table_row) {
    ip_to_hostname_cluster cluster(live::cluster_options({live::seed_by_name()}), ip_to_hostname("localhost"));
    cluster.connect();
    const auto masters = live::masters(cluster);
    BOOST_TEST_REQUIRE(!masters.empty());
    std::size_t compared = 0, keyless = 0;
    std::vector<const command_keys_entry*> agreed;  // the rows with a sample the server agreed on
    for (const auto& sample : samples::all()) {
        BOOST_TEST_CONTEXT("command " << sample.argv[0] << " (" << sample.argv.size() << " arguments)") {
            std::vector<std::string_view> ask{"COMMAND", "GETKEYS"};
            for (const auto& a : sample.argv) ask.push_back(a);
            reply_ptr reply = cluster.command_on(masters[0].reported, ask);
            const std::vector<std::string_view> ours = command_keys(views(sample.argv));
            BOOST_TEST_REQUIRE(reply->type == REDIS_REPLY_ARRAY,
                               (reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : std::string()));
            std::vector<std::string> theirs;
            for (std::size_t i = 0; i < reply->elements; ++i)
                theirs.emplace_back(reply->element[i]->str, reply->element[i]->len);
            const bool same = std::vector<std::string>(ours.begin(), ours.end()) == theirs;
            BOOST_TEST(same, "ours: " << join(ours) << "; the server's: " << join(views(theirs)));
            if (same) agreed.push_back(samples::row_of(sample));
            ++compared;
            if (ours.empty()) ++keyless;  // EVAL with numkeys 0: no keys (addrmap sends it to any master)
        }
    }
    std::cout << "cluster_keys: COMMAND GETKEYS agreed on " << compared << " samples (" << keyless
              << " without keys) covering " << std::size(command_key_table) << " table rows\n";
    BOOST_TEST(compared == samples::all().size());
    const std::string unchecked = samples::rows_not_in(agreed);
    BOOST_TEST(unchecked.empty(), "table rows the server did not confirm on a sample: " << unchecked);
}

BOOST_AUTO_TEST_SUITE_END()
