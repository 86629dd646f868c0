// addrmap/detail/scan_fsm.hpp — the cluster scan's decisions without I/O: which node to ask for which slot's keys,
// when to read the topology, when a slot must be read again elsewhere. Every scan driver runs this one machine.
//
// Why a machine: the blocking cluster_scan (cluster_scan.hpp) and any async driver must make the same decisions, and
// the guarantee (every key exactly once while slots move, see cluster_scan.hpp) is tested here on canned replies,
// without sockets. The driver only carries out what next() says and reports how it went.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/cluster_core.hpp>
#include <addrmap/command_safety.hpp>
#include <addrmap/detail/cluster_nodes_reply.hpp>
#include <addrmap/detail/handles.hpp>
#include <addrmap/detail/quote.hpp>
#include <addrmap/error.hpp>
#include <addrmap/slot.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace addrmap {

/// How a cluster scan reads (cluster_scan.hpp). Declared with the machine that checks and follows it.
struct cluster_scan_options {
    std::size_t slots_per_step = 128;     ///< slots read by one step (one cluster_scan::next())
    std::size_t keys_per_request = 1000;  ///< GETKEYSINSLOT count; doubled while a slot has more keys
    /// How far one slot is followed (it moved, or was moving): once it was read from this many nodes after the
    /// one it was first read from, the scan ends with error{topology} (the last of them is asked, but its answer
    /// is not used).
    int max_hops = 8;
    call_options call;                    ///< per request (the repeat policy is always "allowed": these only read)
};

namespace detail {

/// After a slot was read from the node whose view this is: read it from `next` too, or it is complete.
struct scan_follow {
    bool complete = false;
    node_address next;
};

/// The scan's one rule: where a slot's keys may still be. `read_before` holds the ids of the nodes this slot was
/// read from before the node whose view this is.
inline scan_follow follow_slot(const cluster_nodes_view& view, std::uint16_t slot,
                               const std::vector<std::string>& read_before) {
    const auto reachable = [&](const cluster_nodes_view::row& r) {
        if (r.address.port == 0)  // flagged noaddr: the answering node does not know where it is
            throw error(error_kind::topology, "slot " + std::to_string(slot) + ": node " + quoted(r.id, 60) +
                                                  " has no address (noaddr) in the CLUSTER NODES of node " +
                                                  quoted(view.self_id, 60) + ", so its keys cannot be read now");
        return r.address;
    };
    const auto address_of = [&](const std::string& id) {
        const cluster_nodes_view::row* r = view.find(id);
        if (r == nullptr)
            throw error(error_kind::topology, "slot " + std::to_string(slot) + ": node " + quoted(id, 60) +
                                                  " named in a migration is not in the CLUSTER NODES of node " +
                                                  quoted(view.self_id, 60));
        return reachable(*r);
    };
    scan_follow f;
    if (const std::string* target = cluster_nodes_view::in(view.migrating, slot)) {
        f.next = address_of(*target);  // keys may already be there: read it after this node
        return f;
    }
    if (const std::string* source = cluster_nodes_view::in(view.importing, slot)) {
        // Keys flow from the source to this node: complete when the source was read first.
        f.complete = std::find(read_before.begin(), read_before.end(), *source) != read_before.end();
        if (f.complete) return f;
        f.next = address_of(*source);  // the source, then (it says it migrates here) this node again
        return f;
    }
    const cluster_nodes_view::row* owner = view.owner(slot);
    if (owner == nullptr)
        throw error(error_kind::topology,
                    "slot " + std::to_string(slot) + " has no owner in the view of node " + quoted(view.self_id, 60));
    f.complete = owner->id == view.self_id;
    if (!f.complete) f.next = reachable(*owner);  // the slot moved away before or while it was read here
    return f;
}

/// What the scan's driver does next.
struct scan_action {
    enum class kind {
        send,            ///< send `args` to the node reported as `at`; report with on_reply() or on_failed()
        refresh_if_due,  ///< a step begins: read the topology if the core says it is due (addrmap::refresh_if_due)
        refresh,         ///< a slot has no owner in the map: read the topology now, then call next() again
        step_done,       ///< the step's keys are ready: take_keys()
        done,            ///< every slot was read
    };
    kind what = kind::done;
    node_address at;                ///< send: the node, as the cluster reported it
    std::vector<std::string> args;  ///< send: the command, CLUSTER GETKEYSINSLOT or CLUSTER NODES
};

/// One cluster scan, step by step (a step: `slots_per_step` slots from the cursor). A step groups its slots by
/// their owner in the core's map; for each group, in turn: GETKEYSINSLOT for each slot (its count doubled while the
/// reply is full, since GETKEYSINSLOT has no cursor), then one CLUSTER NODES on that node, after its reads; each
/// slot the answer does not settle on that node (follow_slot) is read from the node it names and that node asked
/// in turn, until one settles it or the slot was read from `max_hops` nodes after the first (error{topology}).
/// Keys of a slot read from several nodes are kept once.
///
/// The driver loop: a = next(core); send → the request, then on_reply(reply) or, if it failed, on_failed();
/// refresh_if_due / refresh → read the topology (calling next() again says it was done); step_done → take_keys();
/// done → the end.
///
/// Failure: anything that ends a step early (on_failed(), or an error thrown by next() or on_reply()) abandons the
/// step; the cursor stays at its first slot and its keys read so far are dropped, so the next next() starts the same
/// step over, grouped by the map as it then is (after a failover, at the new owners). Nothing is returned twice:
/// keys are only handed out by take_keys(), once a whole step was read.
///
/// Not thread-safe (one driver owns it).
class scan_fsm {
public:
    /// Throws error{config} unless slots_per_step, keys_per_request and max_hops are >= 1.
    explicit scan_fsm(const cluster_scan_options& options) : options_(options) {
        options_.call.repeat_policy = repeat::allowed;
        if (options_.slots_per_step == 0 || options_.keys_per_request == 0 || options_.max_hops < 1)
            throw error(error_kind::config,
                        "cluster_scan_options: slots_per_step, keys_per_request and max_hops must be >= 1");
    }

    /// The options as the requests must use them: `call.repeat_policy` is repeat::allowed (they only read).
    const cluster_scan_options& options() const noexcept { return options_; }

    /// What to do next. Says the same send again until it is reported. Throws error{topology} when a slot still
    /// has no owner after the refresh asked for it (the step is then abandoned, see the class comment).
    scan_action next(const cluster_core& core) {
        switch (phase_) {
            case phase::between_steps:
                if (cursor_ >= slot_count) return only(scan_action::kind::done);
                reset_step();
                phase_ = phase::refresh_if_due_asked;
                return only(scan_action::kind::refresh_if_due);
            case phase::refresh_if_due_asked:
            case phase::refresh_asked:
                try {
                    return plan_step(core);
                } catch (...) {
                    end_step();
                    throw;
                }
            case phase::read_group: return getkeysinslot(group().at, group().slots[read_index_]);
            case phase::view_group: return cluster_nodes(group().at);
            case phase::read_follow: return getkeysinslot(follow_at_, followed_slot());
            case phase::view_follow: return cluster_nodes(follow_at_);
            case phase::step_ready: return only(scan_action::kind::step_done);
        }
        return scan_action{};
    }

    /// The reply to the last send. Throws error{server} (an error reply) or error{protocol} (another wrong type,
    /// bad CLUSTER NODES text) naming the node, or error{topology} (a migration names a node the view lacks, a slot
    /// with no owner, still moving after max_hops); each abandons the step.
    void on_reply(const redisReply& reply) {
        if (!awaiting_reply()) throw std::logic_error("scan_fsm::on_reply: no request was sent");
        ++requests_;
        try {
            take_reply(reply);
        } catch (...) {
            end_step();
            throw;
        }
    }

    /// The last send or refresh failed (the driver has the error and reports it): the step is abandoned.
    void on_failed() noexcept {
        if (awaiting_reply()) ++requests_;
        end_step();
    }

    /// After step_done: appends the step's keys (slot by slot) to `keys` and moves the cursor past the step.
    void take_keys(std::vector<std::string>& keys) {
        if (phase_ != phase::step_ready) throw std::logic_error("scan_fsm::take_keys: the step is not read yet");
        std::size_t count = 0;
        for (const auto& slot_keys : keys_) count += slot_keys.size();
        keys.reserve(keys.size() + count);  // then moving them in cannot fail half-way
        for (auto& slot_keys : keys_)
            for (auto& key : slot_keys) keys.push_back(std::move(key));
        cursor_ = step_end_;
        end_step();
    }

    /// The first slot of the step under way (or of the next one); slot_count (16384) once done.
    std::uint32_t cursor() const noexcept { return cursor_; }
    /// Slots read from more than one node because they moved (or were moving) while the scan reached them.
    std::uint64_t slots_followed() const noexcept { return slots_followed_; }
    /// Requests reported (GETKEYSINSLOT and CLUSTER NODES), answered or failed.
    std::uint64_t requests() const noexcept { return requests_; }

private:
    /// Where the doubling count stops: a slot answering this many keys and more is refused (error{protocol}), so a
    /// node that always answers a full reply cannot make the client ask for ever more.
    static constexpr std::size_t max_keys_per_request = std::size_t(1) << 26;

    enum class phase {
        between_steps,
        refresh_if_due_asked,
        refresh_asked,  // a slot had no owner
        read_group,     // GETKEYSINSLOT of group().slots[read_index_] on group().at
        view_group,     // CLUSTER NODES on group().at, after its reads
        read_follow,    // GETKEYSINSLOT of followed_slot() on follow_at_
        view_follow,    // CLUSTER NODES on follow_at_, after that read
        step_ready,
    };

    /// The step's slots the map gives to one node, in slot order.
    struct owner_group {
        node_address at;
        std::vector<std::uint16_t> slots;
    };

    bool awaiting_reply() const noexcept {
        return phase_ == phase::read_group || phase_ == phase::view_group || phase_ == phase::read_follow ||
               phase_ == phase::view_follow;
    }

    static scan_action only(scan_action::kind what) {
        scan_action a;
        a.what = what;
        return a;
    }
    static scan_action send(const node_address& at, std::vector<std::string> args) {
        scan_action a;
        a.what = scan_action::kind::send;
        a.at = at;
        a.args = std::move(args);
        return a;
    }
    scan_action getkeysinslot(const node_address& at, std::uint16_t slot) const {
        return send(at, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(count_)});
    }
    static scan_action cluster_nodes(const node_address& at) { return send(at, {"CLUSTER", "NODES"}); }

    const owner_group& group() const noexcept { return groups_[group_index_]; }
    std::uint16_t followed_slot() const noexcept { return group().slots[follow_index_]; }
    std::vector<std::string>& keys_of(std::uint16_t slot) noexcept { return keys_[slot - cursor_]; }

    /// Groups the step's slots by owner, or asks for a refresh when a slot has none (once per slot and step).
    scan_action plan_step(const cluster_core& core) {
        const auto step = static_cast<std::uint32_t>(std::min<std::size_t>(options_.slots_per_step, slot_count));
        step_end_ = std::min<std::uint32_t>(slot_count, cursor_ + step);
        groups_.clear();
        for (std::uint32_t s = cursor_; s < step_end_; ++s) {
            const auto slot = static_cast<std::uint16_t>(s);
            const node_id owner = core.owner(static_cast<int>(s));
            if (owner == no_node) {
                if (std::find(refreshed_for_.begin(), refreshed_for_.end(), slot) != refreshed_for_.end())
                    throw error(error_kind::topology, "cluster_scan: no node serves slot " + std::to_string(s) +
                                                          " (the cluster does not cover every slot)");
                refreshed_for_.push_back(slot);
                phase_ = phase::refresh_asked;
                return only(scan_action::kind::refresh);
            }
            const node_address& at = core.node(owner).reported;
            auto g = std::find_if(groups_.begin(), groups_.end(), [&](const owner_group& x) { return x.at == at; });
            if (g == groups_.end()) g = groups_.insert(groups_.end(), owner_group{at, {}});
            g->slots.push_back(slot);
        }
        keys_.assign(step_end_ - cursor_, {});
        group_index_ = 0;
        begin_group();
        return getkeysinslot(group().at, group().slots[read_index_]);
    }

    void begin_group() noexcept {
        read_index_ = 0;
        count_ = options_.keys_per_request;
        phase_ = phase::read_group;
    }

    void take_reply(const redisReply& reply) {
        switch (phase_) {
            case phase::read_group:
                if (!add_keys(group().at, group().slots[read_index_], reply)) return;  // asked again, for more
                if (++read_index_ == group().slots.size()) phase_ = phase::view_group;
                return;
            case phase::view_group:
                group_view_ = parse_view(group().at, reply);
                follow_index_ = 0;
                hops_ = 0;
                read_before_.clear();
                follow_or_move_on();
                return;
            case phase::read_follow:
                if (add_keys(follow_at_, followed_slot(), reply)) phase_ = phase::view_follow;
                return;
            case phase::view_follow:
                hop_view_ = parse_view(follow_at_, reply);
                ++hops_;
                follow_or_move_on();
                return;
            default: return;  // on_reply checked awaiting_reply()
        }
    }

    /// Adds the keys of `slot` that `at` answered and the slot does not have yet. False when the reply was full:
    /// there may be more, so the next request asks for twice as many.
    bool add_keys(const node_address& at, std::uint16_t slot, const redisReply& r) {
        if (r.type != REDIS_REPLY_ARRAY)
            throw error(r.type == REDIS_REPLY_ERROR ? error_kind::server : error_kind::protocol,
                        "cluster_scan: CLUSTER GETKEYSINSLOT " + std::to_string(slot) + " on " + to_string(at) +
                            " answered " +
                            (r.type == REDIS_REPLY_ERROR ? quoted_reply(r) : std::string("not an array")));
        // Every element is a key: anything else is not GETKEYSINSLOT's answer (and a hostile node's full replies of
        // cheap integers would double the count, and the client's memory, for nothing).
        for (std::size_t i = 0; i < r.elements; ++i) {
            const redisReply* k = r.element[i];
            if (k->type != REDIS_REPLY_STRING)
                throw error(error_kind::protocol, "cluster_scan: CLUSTER GETKEYSINSLOT " + std::to_string(slot) + " on " +
                                                      to_string(at) + " answered an element that is not a key (#" +
                                                      std::to_string(i + 1) + ")");
        }
        if (r.elements == count_) {
            if (count_ >= max_keys_per_request)
                throw error(error_kind::protocol, "cluster_scan: slot " + std::to_string(slot) + " on " + to_string(at) +
                                                      " answered " + std::to_string(count_) +
                                                      " keys and would be asked for more: more than the scan reads "
                                                      "from one slot");
            count_ *= 2;
            return false;
        }
        std::vector<std::string>& keys = keys_of(slot);
        std::unordered_set<std::string_view> have(keys.begin(), keys.end());
        std::vector<std::string> fresh;
        for (std::size_t i = 0; i < r.elements; ++i) {
            const std::string_view key(r.element[i]->str, r.element[i]->len);
            if (have.count(key) == 0) fresh.emplace_back(key);
        }
        for (auto& key : fresh) keys.push_back(std::move(key));
        count_ = options_.keys_per_request;
        return true;
    }

    static cluster_nodes_view parse_view(const node_address& at, const redisReply& r) {
        if (r.type != REDIS_REPLY_STRING && r.type != REDIS_REPLY_VERB)
            throw error(r.type == REDIS_REPLY_ERROR ? error_kind::server : error_kind::protocol,
                        "cluster_scan: CLUSTER NODES on " + to_string(at) + " answered " +
                            (r.type == REDIS_REPLY_ERROR ? quoted_reply(r) : std::string("not text")));
        return parse_cluster_nodes(std::string_view(r.str, r.len));
    }

    static std::string quoted_reply(const redisReply& r) { return quoted(std::string_view(r.str, r.len), 200); }

    /// The group's view (or the last hop's) is in: finds the next slot of the group that must be read elsewhere;
    /// when none is left, the next group, or the step is read.
    void follow_or_move_on() {
        const std::vector<std::uint16_t>& slots = group().slots;
        while (follow_index_ < slots.size()) {
            const std::uint16_t slot = slots[follow_index_];
            if (hops_ == options_.max_hops)
                throw error(error_kind::topology, "cluster_scan: slot " + std::to_string(slot) +
                                                      " was still moving after it was read from " +
                                                      std::to_string(options_.max_hops) + " nodes");
            const cluster_nodes_view& view = hops_ == 0 ? group_view_ : hop_view_;
            const scan_follow f = follow_slot(view, slot, read_before_);
            if (!f.complete) {
                if (hops_ == 0) ++slots_followed_;
                read_before_.push_back(view.self_id);
                follow_at_ = f.next;
                count_ = options_.keys_per_request;
                phase_ = phase::read_follow;
                return;
            }
            ++follow_index_;
            hops_ = 0;
            read_before_.clear();
        }
        if (++group_index_ < groups_.size()) {
            begin_group();
            return;
        }
        phase_ = phase::step_ready;
    }

    /// Forgets the step under way, read or abandoned; the cursor is moved (or not) by the caller.
    void end_step() noexcept {
        reset_step();
        phase_ = phase::between_steps;
    }
    void reset_step() noexcept {
        groups_.clear();
        keys_.clear();
        refreshed_for_.clear();
        read_before_.clear();
        group_index_ = read_index_ = follow_index_ = 0;
        hops_ = 0;
    }

    cluster_scan_options options_;
    std::uint32_t cursor_ = 0;
    std::uint64_t slots_followed_ = 0;
    std::uint64_t requests_ = 0;

    // The step under way.
    phase phase_ = phase::between_steps;
    std::uint32_t step_end_ = 0;
    std::vector<std::uint16_t> refreshed_for_;  // slots that had no owner, a refresh asked for each
    std::vector<owner_group> groups_;
    std::vector<std::vector<std::string>> keys_;  // per slot from cursor_, each key once
    std::size_t group_index_ = 0;
    std::size_t read_index_ = 0;                  // read_group: the slot read in the group
    std::size_t count_ = 0;                       // the GETKEYSINSLOT count of the read under way
    cluster_nodes_view group_view_;               // the group's node's CLUSTER NODES, after its reads
    std::size_t follow_index_ = 0;                // the group's slot being settled
    int hops_ = 0;                                // nodes that slot was followed to
    std::vector<std::string> read_before_;        // ids of the nodes that slot was read from, in order
    node_address follow_at_;
    cluster_nodes_view hop_view_;                 // the CLUSTER NODES of the node last followed to
};

}  // namespace detail
}  // namespace addrmap
