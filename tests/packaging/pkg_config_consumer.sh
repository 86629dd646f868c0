#!/usr/bin/env bash
# tests/packaging/pkg_config_consumer.sh PREFIX CXX OUTDIR [DEPS_PREFIXES] — builds consumer.cpp with only
# `pkg-config --cflags --libs addrmap`, as a Makefile user would, and runs it.
set -euo pipefail
prefix=$1 cxx=$2 out=$3 deps=${4:-}
pc_path="$prefix/share/pkgconfig"
for dir in ${deps//;/ }; do pc_path="$pc_path:$dir/lib/pkgconfig"; done
export PKG_CONFIG_PATH="$pc_path${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p "$out"
flags=$(pkg-config --cflags --libs addrmap)
libdirs=$(pkg-config --libs-only-L addrmap | sed 's/-L/-Wl,-rpath,/g')
# shellcheck disable=SC2086
"$cxx" -o "$out/consumer" "$(dirname "$0")/consumer.cpp" $flags $libdirs
"$out/consumer"
