// tests/fuzz/fuzz_host.cpp — libFuzzer entry point for fuzz_targets::host (see targets.hpp): every parser
// that takes a host agrees with classify_host. Build: cmake -DADDRMAP_BUILD_FUZZERS=ON with clang++.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_targets::host(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
