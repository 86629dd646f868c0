// addrmap/policies/first_match.hpp — composition: the first policy that answers maps the address.
// Lets a deployment stack rules (table, then hostname, then identity) without writing a policy.
#pragma once

#include <addrmap/address.hpp>
#include <addrmap/detail/policy_errors.hpp>
#include <addrmap/error.hpp>
#include <addrmap/policy.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace addrmap {

namespace detail {

/// Instantiated once per policy type so a bad one yields exactly the ADDRMAP_CHECK_POLICY message.
template <class P>
struct checked_policy {
    ADDRMAP_CHECK_POLICY(P);
    static constexpr bool value = true;  // the assertion above is the check; this only forces it
};

}  // namespace detail

/// Asks each policy in order. A policy with try_map may decline (nullopt) and the next is asked;
/// a policy without try_map (identity, a lambda) always answers, so nothing after it is reached.
/// If every policy declines, map throws error{topology} naming the address; try_map returns
/// nullopt, so a first_match can itself be a member of another first_match.
/// An exception from a policy (e.g. identity given an unknown host) propagates unchanged.
/// first_match has no allowed names of its own: each member decides which reported names it passes
/// through (a shipped member declines a name it does not allow, so the next member is asked).
///
///     addrmap::first_match policy{addrmap::static_table::parse("10.0.0.9=special.example.com"),
///                                 addrmap::ip_to_hostname("redis.example.com"),
///                                 [](const addrmap::node_address& a) { ... }};
///
/// Policies are stored by value (std::tuple); reach them with get<I>().
/// Lifetime: the endpoint is whatever the answering policy returned (usually views into that
/// policy, stored here, or into `address`): valid while this first_match and `address` live.
template <class... P>
class first_match {
    static_assert(sizeof...(P) > 0, "addrmap: first_match needs at least one policy");
    static_assert((detail::checked_policy<P>::value && ...));
    // When a policy is invalid the assertion above has already spoken; the calls below are skipped
    // so the compiler adds no second, longer error.
    static constexpr bool all_valid = (is_mapping_policy_v<P> && ...);

public:
    /// Default-constructs every policy (only when each is default-constructible).
    template <bool enabled = (std::is_default_constructible_v<P> && ...), std::enable_if_t<enabled, int> = 0>
    first_match() : policies_() {}

    explicit first_match(P... policies) : policies_(std::move(policies)...) {}

    std::optional<endpoint> try_map(const node_address& address) const {
        std::optional<endpoint> result;
        if constexpr (all_valid) {
            std::apply(
                [&](const auto&... policy) {
                    // || stops at the first policy that answers.
                    (void)((result = detail::policy_access::try_map(policy, address)).has_value() || ...);
                },
                policies_);
        }
        return result;
    }

    endpoint map(const node_address& address) const {
        if (auto result = try_map(address)) return *result;
        std::string message = "first_match: no policy mapped " + to_string(address) + " (" +
                              std::to_string(sizeof...(P)) + " tried)";
        const host_kind kind = classify_host(address.host);
        if (kind == host_kind::unknown)
            message += "; the reported host is unknown ('' or '?'): the adapter resolves '' against the node "
                       "that reported it and never maps '?' (a node whose address the server does not know)";
        else if (kind == host_kind::invalid)
            message += ": " + detail::invalid_host_message(address.host);
        else if (kind == host_kind::name)
            message += "; a reported name passes only a member whose allowed names cover it (allowed_names)";
        else
            message += "; end the list with a policy that always answers (identity, or a lambda)";
        throw error(error_kind::topology, message);
    }

    template <std::size_t I>
    const auto& get() const noexcept {
        return std::get<I>(policies_);
    }
    template <std::size_t I>
    auto& get() noexcept {
        return std::get<I>(policies_);
    }

private:
    std::tuple<P...> policies_;
};

template <class... P>
first_match(P...) -> first_match<P...>;

}  // namespace addrmap
