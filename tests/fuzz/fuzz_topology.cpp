// tests/fuzz/fuzz_topology.cpp — libFuzzer entry point for fuzz_targets::topology (see targets.hpp).
// Build: cmake -DADDRMAP_BUILD_FUZZERS=ON with clang++; run: scripts/fuzz [SECONDS].
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_targets::topology(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
