// addrmap/cluster_scan.hpp — every key of the cluster exactly once, also while slots move: keys are read slot by
// slot (CLUSTER GETKEYSINSLOT) from the node that holds them, following MIGRATING/IMPORTING and new owners.
//
// Why exactly once: a key belongs to one slot, each slot is finished before the cursor moves past it, and
// within a slot the keys read from several nodes (a slot caught mid-migration) are merged without duplicates.
// Why none is missed: after reading a slot from node X, X itself is asked (CLUSTER NODES) whether it still owns
// the slot and is not migrating it; if not, the node the keys went to is read next. Keys of a slot only move
// from the migrating node to the importing one, so reading the source before the target sees every key that
// existed before the scan reached the slot (a key moved in between is read twice and kept once).
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/cluster_nodes_reply.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/detail/scan_fsm.hpp>
#include <addrmap/error.hpp>
#include <addrmap/pipeline.hpp>
#include <addrmap/slot.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace addrmap {

/// A cursor over every key of the cluster (see the top of this file for the guarantee). Keys written or
/// deleted while the scan runs may or may not be returned; every key that exists from the scan's start
/// to its end is returned exactly once. Memory: the keys of one slot at a time.
template <class Cluster>
class cluster_scan {
public:
    explicit cluster_scan(Cluster& cluster, cluster_scan_options options = {}) : cluster_(cluster), options_(options) {
        options_.call.repeat_policy = repeat::allowed;
        if (options_.slots_per_step == 0 || options_.keys_per_request == 0 || options_.max_hops < 1)
            throw error(error_kind::config,
                        "cluster_scan_options: slots_per_step, keys_per_request and max_hops must be >= 1");
    }

    /// Appends the keys of the next slots to `keys`; false (and nothing appended) once every slot was read.
    bool next(std::vector<std::string>& keys) {
        if (cursor_ >= slot_count) return false;
        refresh_if_due(cluster_);
        const std::uint32_t step = static_cast<std::uint32_t>(std::min<std::size_t>(options_.slots_per_step, slot_count));
        const std::uint32_t end = std::min<std::uint32_t>(slot_count, cursor_ + step);
        // Group the step's slots by their owner in the client's map, read each group, then ask the owner once
        // (after its reads) about all of them; slots it no longer holds alone are followed one by one.
        std::vector<std::pair<node_address, std::vector<std::uint16_t>>> groups;
        for (std::uint32_t s = cursor_; s < end; ++s) {
            node_id owner = cluster_.core().owner(static_cast<int>(s));
            if (owner == no_node) {
                cluster_.refresh();
                owner = cluster_.core().owner(static_cast<int>(s));
                if (owner == no_node)
                    throw error(error_kind::topology, "cluster_scan: no node serves slot " + std::to_string(s) +
                                                          " (the cluster does not cover every slot)");
            }
            const node_address& at = cluster_.core().node(owner).reported;
            auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == at; });
            if (g == groups.end()) g = groups.insert(groups.end(), {at, {}});
            g->second.push_back(static_cast<std::uint16_t>(s));
        }
        std::vector<std::vector<std::string>> per_slot(end - cursor_);
        for (const auto& [at, slots] : groups) {
            for (std::uint16_t s : slots) read_slot(at, s, per_slot[s - cursor_]);
            const detail::cluster_nodes_view view = nodes_view(at);
            for (std::uint16_t s : slots) follow(view, s, per_slot[s - cursor_]);
        }
        for (auto& slot_keys : per_slot)
            for (auto& key : slot_keys) keys.push_back(std::move(key));
        cursor_ = end;
        return true;
    }

    /// The next slot to read; slot_count (16384) once done.
    std::uint32_t cursor() const noexcept { return cursor_; }
    /// Slots read from more than one node because they moved (or were moving) while the scan reached them.
    std::uint64_t slots_followed() const noexcept { return slots_followed_; }
    /// Requests sent (GETKEYSINSLOT and CLUSTER NODES).
    std::uint64_t requests() const noexcept { return requests_; }

private:
    /// Adds the keys of `slot` held by `at` that `keys` does not have yet.
    void read_slot(const node_address& at, std::uint16_t slot, std::vector<std::string>& keys) {
        const std::string slot_text = std::to_string(slot);
        for (std::size_t count = options_.keys_per_request;; count *= 2) {
            const std::string count_text = std::to_string(count);
            ++requests_;
            reply_ptr r = cluster_.command_on(at, {"CLUSTER", "GETKEYSINSLOT", slot_text, count_text}, options_.call);
            if (r->type != REDIS_REPLY_ARRAY)
                throw error(r->type == REDIS_REPLY_ERROR ? error_kind::server : error_kind::protocol,
                            "cluster_scan: CLUSTER GETKEYSINSLOT " + slot_text + " on " + to_string(at) + " answered " +
                                (r->type == REDIS_REPLY_ERROR ? quoted_reply(*r) : std::string("not an array")));
            if (r->elements == count) continue;  // there may be more: ask again for more (GETKEYSINSLOT has no cursor)
            std::unordered_set<std::string_view> have(keys.begin(), keys.end());
            std::vector<std::string> fresh;
            for (std::size_t i = 0; i < r->elements; ++i) {
                const redisReply* k = r->element[i];
                if (k->type != REDIS_REPLY_STRING) continue;
                const std::string_view key(k->str, k->len);
                if (have.count(key) == 0) fresh.emplace_back(key);
            }
            for (auto& key : fresh) keys.push_back(std::move(key));
            return;
        }
    }

    detail::cluster_nodes_view nodes_view(const node_address& at) {
        ++requests_;
        reply_ptr r = cluster_.command_on(at, {"CLUSTER", "NODES"}, options_.call);
        if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_VERB)
            throw error(r->type == REDIS_REPLY_ERROR ? error_kind::server : error_kind::protocol,
                        "cluster_scan: CLUSTER NODES on " + to_string(at) + " answered " +
                            (r->type == REDIS_REPLY_ERROR ? quoted_reply(*r) : std::string("not text")));
        return detail::parse_cluster_nodes(std::string_view(r->str, r->len));
    }

    /// `view` was taken after `slot` was read from the node it describes: read it from wherever its keys went.
    void follow(detail::cluster_nodes_view view, std::uint16_t slot, std::vector<std::string>& keys) {
        std::vector<std::string> read_before;
        for (int hop = 0; hop < options_.max_hops; ++hop) {
            const detail::scan_follow f = detail::follow_slot(view, slot, read_before);
            if (f.complete) return;
            if (hop == 0) ++slots_followed_;
            read_before.push_back(view.self_id);
            read_slot(f.next, slot, keys);
            view = nodes_view(f.next);
        }
        throw error(error_kind::topology, "cluster_scan: slot " + std::to_string(slot) +
                                              " was still moving after it was read from " +
                                              std::to_string(options_.max_hops) + " nodes");
    }

    static std::string quoted_reply(const redisReply& r) { return detail::quoted(std::string_view(r.str, r.len), 200); }

    Cluster& cluster_;
    cluster_scan_options options_;
    std::uint32_t cursor_ = 0;
    std::uint64_t slots_followed_ = 0;
    std::uint64_t requests_ = 0;
};

}  // namespace addrmap
