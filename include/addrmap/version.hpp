// addrmap/version.hpp — the library's version, the single place CMake reads it from.
// Bump ADDRMAP_VERSION_* here; CMakeLists.txt parses these three lines.
#pragma once

#define ADDRMAP_VERSION_MAJOR 0
#define ADDRMAP_VERSION_MINOR 1
#define ADDRMAP_VERSION_PATCH 0

#define ADDRMAP_VERSION (ADDRMAP_VERSION_MAJOR * 10000 + ADDRMAP_VERSION_MINOR * 100 + ADDRMAP_VERSION_PATCH)
