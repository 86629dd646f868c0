// tests/fuzz/fuzz_replies.cpp — libFuzzer entry point for fuzz_targets::replies (see targets.hpp).
// Build: cmake -DADDRMAP_BUILD_FUZZERS=ON with clang++; run: scripts/fuzz [SECONDS].
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_targets::replies(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
