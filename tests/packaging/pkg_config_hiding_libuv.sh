#!/bin/sh
# tests/packaging/pkg_config_hiding_libuv.sh — pkg-config as on a machine without libuv: any call naming the libuv
# module fails, every other call is pkg-config's (loop_components.cmake passes it as PKG_CONFIG_EXECUTABLE).
for arg in "$@"; do
    case $arg in
    libuv | libuv[\ \<\>=]*) exit 1 ;;
    esac
done
exec pkg-config "$@"
