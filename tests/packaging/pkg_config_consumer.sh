#!/usr/bin/env bash
# tests/packaging/pkg_config_consumer.sh PREFIX CXX OUTDIR [DEPS_PREFIXES [MODULES [SOURCE]]] — builds SOURCE
# (consumer.cpp) with only `pkg-config --cflags --libs MODULES` (addrmap), as a Makefile user would, and runs it.
set -euo pipefail
prefix=$1 cxx=$2 out=$3 deps=${4:-} modules=${5:-addrmap} source=${6:-consumer.cpp}
pc_path="$prefix/share/pkgconfig"
for dir in ${deps//;/ }; do pc_path="$pc_path:$dir/lib/pkgconfig"; done
export PKG_CONFIG_PATH="$pc_path${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p "$out"
# shellcheck disable=SC2086
flags=$(pkg-config --cflags --libs $modules)
# shellcheck disable=SC2086
libdirs=$(pkg-config --libs-only-L $modules | sed 's/-L/-Wl,-rpath,/g')
program=$(basename "$source" .cpp)
# shellcheck disable=SC2086
"$cxx" -o "$out/$program" "$(dirname "$0")/$source" $flags $libdirs
"$out/$program"
