// tests/scenarios/resharding.cpp — slots moved between masters (SETSLOT MIGRATING/IMPORTING + MIGRATE), both drivers:
// writes during a 40-slot move are all read back; a half-moved slot answers ASK, a moved one MOVED, both followed.
#include "admin_connection.hpp"
#include "node_control.hpp"
#include "reshard_support.hpp"
#include "scenario_drivers.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace addrmap;

namespace {

using scenario::text_of;

/// Puts slots a test moves from X to Y back on X however the test ends: all at once when the move went through whole,
/// else each alone (slot_back_home), as a move that failed half way leaves slots on X, on Y and one half moved, which
/// one migrate_slots() call over all of them would stop at.
class slots_back_home {
public:
    slots_back_home(std::vector<std::uint16_t> slots, live::move_scene scene)
        : slots_(std::move(slots)), scene_(std::move(scene)) {}
    slots_back_home(const slots_back_home&) = delete;
    slots_back_home& operator=(const slots_back_home&) = delete;
    ~slots_back_home() {
        if (!done_) restore();
    }
    /// The move to Y went through for every slot: the way back can take them all in one go.
    void moved_whole() { whole_ = true; }
    /// "" or why a slot could not be put back, or why the nodes did not all agree on the map afterwards (a bounded
    /// wait: the next suite must not start with a map still settling).
    std::string restore() {
        const std::string why = put_back();
        const std::string settled = live::wait_until_slots_agree();
        return why.empty() ? settled : why;
    }

private:
    std::string put_back() {
        done_ = true;
        if (whole_) {
            std::atomic<bool> failed{false};
            std::string why;
            live::migrate_slots(slots_, scene_.y, scene_.x, scene_.ports, failed, why);
            if (!failed) return {};
        }
        std::string why;
        for (std::uint16_t slot : slots_) {
            const std::string failed = live::slot_back_home(slot, scene_.x, scene_.y, scene_.ports).put_back();
            if (!failed.empty() && why.empty()) why = failed;
        }
        return why;
    }

    std::vector<std::uint16_t> slots_;
    live::move_scene scene_;
    bool whole_ = false;
    bool done_ = false;
};

/// Joins a thread however the test ends (a failed REQUIRE must not leave it running with references to the test).
struct joined_thread {
    std::thread thread;
    ~joined_thread() {
        if (thread.joinable()) thread.join();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(resharding)

// 40 slots move from X to Y while the driver writes to keys in them, in batches (the blocking driver's pipeline, the
// async driver's calls at once) and one call at a time: no error reaches the caller, and every acknowledged write is
// read back. A MOVED is met (the reads after the move at the latest: nothing else refreshes the map), and followed.
BOOST_AUTO_TEST_CASE_TEMPLATE(writes_during_resharding_are_all_read_back, Driver, scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    std::vector<std::uint16_t> moving;
    for (std::uint32_t slot = scene.slot; moving.size() < 40; ++slot) moving.push_back(static_cast<std::uint16_t>(slot));
    std::vector<std::string> tags;
    for (std::uint16_t slot : moving) tags.push_back(live::tag_for_slot(slot));
    slots_back_home home(moving, scene);

    std::atomic<bool> failed{false}, moved_all{false};
    std::string why;
    joined_thread mover{std::thread([&] {
        live::migrate_slots(moving, scene.x, scene.y, scene.ports, failed, why);
        moved_all = true;
    })};
    // Keep writing until at least 10 000 writes are acknowledged and the move is over (the mover ends on its own, and
    // the loop by its limit at the latest). 2000 keys (50 per moving slot), each written again and again: the value
    // read back at the end must be the last one acknowledged, so writes of one key also kept their order.
    std::map<std::string, std::string> acknowledged;
    std::vector<std::string> errors;
    int written = 0;
    const auto key_of = [&](int i) {
        const int k = i % 2000;
        return "{" + tags[static_cast<std::size_t>(k) % tags.size()] + "}:" + std::to_string(k);
    };
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while ((written < 10000 || !moved_all.load()) && std::chrono::steady_clock::now() < give_up) {
        std::vector<std::vector<std::string>> batch;
        for (int i = 0; i < 200; ++i, ++written) batch.push_back({"SET", key_of(written), "v" + std::to_string(written)});
        const std::vector<outcome> results = driver.all(batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (results[i].ok() && results[i]->type == REDIS_REPLY_STATUS)
                acknowledged[batch[i][1]] = batch[i][2];
            else if (errors.size() < 5)
                errors.push_back("SET " + batch[i][1] + ": " + scenario::why(results[i]));
        }
        const std::string key = key_of(written), value = "v" + std::to_string(written);
        ++written;
        const outcome one = driver.command(key, {"SET", key, value});
        if (one.ok() && one->type == REDIS_REPLY_STATUS)
            acknowledged[key] = value;
        else if (errors.size() < 5)
            errors.push_back("SET " + key + ": " + scenario::why(one));
    }
    mover.thread.join();
    BOOST_TEST_REQUIRE(!failed.load(), "the test's own migration failed: " << why);
    home.moved_whole();
    BOOST_TEST(errors.empty(), "errors reached the caller, the first: " << (errors.empty() ? "" : errors.front()));
    BOOST_TEST(acknowledged.size() == 2000u);

    std::vector<std::vector<std::string>> reads;
    std::vector<std::string> expected;
    for (const auto& [key, value] : acknowledged) {
        reads.push_back({"GET", key});
        expected.push_back(value);
    }
    const std::vector<outcome> values = driver.all(reads);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < values.size(); ++i)
        if (text_of(values[i]) != expected[i] && wrong++ < 5)
            BOOST_TEST(false, reads[i][1] << " read back as '" << scenario::why(values[i]) << "', written " << expected[i]);
    BOOST_TEST(wrong == 0u);
    const cluster_stats& stats = driver.stats();
    std::cout << Driver::name << " resharding: " << written << " writes while " << moving.size()
              << " slots moved; MOVED " << stats.moved << ", ASK " << stats.ask << ", TRYAGAIN " << stats.tryagain
              << ", refreshes " << stats.refreshes << "\n";
    BOOST_TEST(written >= 10000);
    BOOST_TEST(stats.moved > 0u);
    BOOST_TEST(home.restore() == "");
}

// One slot half moved (X MIGRATING, Y IMPORTING, its keys already on Y): reads of old keys and writes of new ones are
// answered ASK by X and followed to Y (ASKING first) without learning the slot; once the move is finished, the
// first call meets MOVED and the map learns Y. Then the slot goes home and the next call finds it there.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_half_moved_slot_answers_ask_and_a_moved_one_moved_both_followed, Driver,
                              scenario::drivers) {
    Driver driver(scenario::options());
    driver.connect();
    const auto masters = live::masters(driver);
    BOOST_TEST_REQUIRE(masters.size() == 3u);
    const live::move_scene scene = live::move_scene_of(masters);
    const std::string tag = "{" + live::tag_for_slot(scene.slot) + "}";
    const std::string old_key = tag + "reshard-old", new_key = tag + "reshard-new";
    BOOST_TEST_REQUIRE(driver.command(old_key, {"SET", old_key, "old"}).ok());
    BOOST_TEST_REQUIRE(driver.command(new_key, {"DEL", new_key}).ok());
    live::slot_back_home home(scene.slot, scene.x, scene.y, scene.ports);
    const cluster_stats before = driver.stats();

    live::move_slot(scene.slot, scene.x.port, scene.y.port, scene.ports, false);
    const outcome old_value = driver.command(old_key, {"GET", old_key});
    BOOST_TEST(text_of(old_value) == "old", scenario::why(old_value));
    const outcome written = driver.command(new_key, {"SET", new_key, "new"});
    BOOST_TEST_REQUIRE(written.ok(), scenario::why(written));
    BOOST_TEST(written->type == REDIS_REPLY_STATUS);
    BOOST_TEST(driver.stats().ask - before.ask == 2u);  // one ASK each, never cached: the slot is still X's
    BOOST_TEST(driver.stats().moved == before.moved);
    BOOST_TEST(live::owner_port(driver, scene.slot) == scene.x.port);
    {
        live::admin_connection y(scene.y.port);  // the new key went to Y (ASKING let it in), not to X
        y.ok("ASKING");
        const auto there = y.run("GET %b", new_key.data(), new_key.size());
        BOOST_TEST((there->type == REDIS_REPLY_STRING && std::string(there->str, there->len) == "new"));
    }

    // Finished: X answers MOVED, followed, and the map learns it.
    live::move_slot(scene.slot, scene.x.port, scene.y.port, scene.ports, true);
    const outcome after_move = driver.command(new_key, {"GET", new_key});
    BOOST_TEST(text_of(after_move) == "new", scenario::why(after_move));
    BOOST_TEST(driver.stats().moved - before.moved >= 1u);
    const outcome again = driver.command(old_key, {"GET", old_key});
    BOOST_TEST(text_of(again) == "old", scenario::why(again));
    const cluster_stats learned_y = driver.stats();
    BOOST_TEST(learned_y.ask - before.ask == 2u);

    // Home again: the map is stale once more. The next call learns X again: by the refresh the MOVED made due (the
    // blocking driver reads it at its next call once refresh_min_interval has passed), or by a MOVED back from Y.
    BOOST_TEST_REQUIRE(home.restore() == "");
    const outcome home_value = driver.command(old_key, {"GET", old_key});
    BOOST_TEST(text_of(home_value) == "old", scenario::why(home_value));
    BOOST_TEST(driver.stats().moved + driver.stats().refreshes > learned_y.moved + learned_y.refreshes);
    BOOST_TEST(driver.stats().ask == learned_y.ask);  // a whole slot: no ASK
    std::cout << Driver::name << " half-moved slot " << scene.slot << ": ASK " << driver.stats().ask - before.ask
              << ", MOVED " << driver.stats().moved - before.moved << "\n";
}

BOOST_AUTO_TEST_SUITE_END()
