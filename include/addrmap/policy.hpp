// addrmap/policy.hpp — what a mapping policy is: the trait, the C++20 concept, one readable error.
// The library calls a policy only through detail::policy_access, so members and lambdas behave alike.
#pragma once

#include <addrmap/address.hpp>

#include <optional>
#include <type_traits>
#include <utility>

namespace addrmap {

namespace detail {

template <class P, class = void>
struct has_member_map : std::false_type {};
template <class P>
struct has_member_map<P, std::void_t<decltype(std::declval<const P&>().map(std::declval<const node_address&>()))>>
    : std::is_convertible<decltype(std::declval<const P&>().map(std::declval<const node_address&>())), endpoint> {};

template <class P, class = void>
struct has_member_try_map : std::false_type {};
template <class P>
struct has_member_try_map<
    P, std::void_t<decltype(std::declval<const P&>().try_map(std::declval<const node_address&>()))>>
    : std::is_convertible<decltype(std::declval<const P&>().try_map(std::declval<const node_address&>())),
                          std::optional<endpoint>> {};

/// A callable (lambda, function object without `map`) taking the address and giving an endpoint.
template <class P>
struct is_callable_policy
    : std::bool_constant<!has_member_map<P>::value && std::is_invocable_r_v<endpoint, const P&, const node_address&>> {
};

}  // namespace detail

/// True when P can map addresses: it has `endpoint map(const node_address&) const`, or it is
/// callable as `endpoint(const node_address&)` on a const object (a lambda).
template <class P>
struct is_mapping_policy : std::bool_constant<detail::has_member_map<P>::value || detail::is_callable_policy<P>::value> {
};

template <class P>
inline constexpr bool is_mapping_policy_v = is_mapping_policy<P>::value;

/// True when P can also *decline* an address: `std::optional<endpoint> try_map(const node_address&) const`.
/// first_match uses it to move on to the next policy; every other caller uses `map`.
template <class P>
inline constexpr bool is_partial_policy_v = detail::has_member_try_map<P>::value;

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
/// C++20 spelling of the same requirement.
template <class P>
concept mapping_policy = is_mapping_policy_v<P>;
#endif

/// Put in every template that takes a policy, so the user sees one sentence, not a backtrace.
#define ADDRMAP_CHECK_POLICY(P)                                                                              \
    static_assert(::addrmap::is_mapping_policy_v<P>,                                                        \
                  "addrmap: a mapping policy needs `endpoint map(const node_address&) const` "               \
                  "(or must be callable as `endpoint(const node_address&)` on a const object, like a lambda)")

namespace detail {

/// The one place the library calls a policy.
struct policy_access {
    template <class P>
    static endpoint map(const P& policy, const node_address& address) {
        ADDRMAP_CHECK_POLICY(P);
        if constexpr (!is_mapping_policy_v<P>) {
            return endpoint({}, 0, {});  // unreachable: keeps the static_assert the only diagnostic
        } else if constexpr (has_member_map<P>::value) {
            return policy.map(address);
        } else {
            return policy(address);
        }
    }

    /// `try_map` where the policy has it, otherwise `map` (which always answers or throws).
    template <class P>
    static std::optional<endpoint> try_map(const P& policy, const node_address& address) {
        ADDRMAP_CHECK_POLICY(P);
        if constexpr (is_partial_policy_v<P>) {
            return policy.try_map(address);
        } else {
            return map(policy, address);
        }
    }
};

}  // namespace detail

/// Maps one address through any policy (member `map` or callable). Same path the adapter uses.
template <class P>
endpoint map_address(const P& policy, const node_address& address) {
    return detail::policy_access::map(policy, address);
}

}  // namespace addrmap
