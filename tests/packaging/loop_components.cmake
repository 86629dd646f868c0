# tests/packaging/loop_components.cmake — the installed package's event-loop targets as find_package defines them:
# every loop found without COMPONENTS; a loop missing (libuv, hidden by pkg_config_hiding_libuv.sh) leaves the rest
# usable, or fails find_package with the reason when it is a required component; an unknown component fails.
# cmake -DSOURCE_DIR= -DWORK_DIR= -DPREFIX_PATH= -DCXX= -DGENERATOR= -DFOUND_LOOPS= -P loop_components.cmake
cmake_minimum_required(VERSION 3.16)
foreach(var SOURCE_DIR WORK_DIR PREFIX_PATH CXX GENERATOR FOUND_LOOPS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "loop_components.cmake: -D${var}= is required")
  endif()
endforeach()
string(REPLACE "," ";" FOUND_LOOPS "${FOUND_LOOPS}")
set(_hiding "${SOURCE_DIR}/tests/packaging/pkg_config_hiding_libuv.sh")

# configure(NAME EXPECT_RC FIND_ARGS [extra cmake args]) — configures the components consumer; sets `out`.
function(configure name expect_rc find_args)
  file(REMOVE_RECURSE "${WORK_DIR}/${name}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/packaging/components" -B "${WORK_DIR}/${name}"
                          -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}" "-DCMAKE_CXX_COMPILER=${CXX}"
                          "-DADDRMAP_FIND_ARGS=${find_args}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if((expect_rc EQUAL 0 AND NOT rc EQUAL 0) OR (NOT expect_rc EQUAL 0 AND rc EQUAL 0))
    message(FATAL_ERROR "${name}: configure exited ${rc}, expected ${expect_rc}:\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
# expect(NAME TARGET defined|absent)
function(expect name target state)
  if(NOT out MATCHES "addrmap::${target}: ${state}")
    message(FATAL_ERROR "${name}: addrmap::${target} should be ${state}:\n${out}")
  endif()
endfunction()

# No components: addrmap::addrmap and every loop this machine has.
configure(all 0 "")
expect(all addrmap defined)
foreach(loop libevent libuv libev asio)
  if(loop IN_LIST FOUND_LOOPS)
    expect(all ${loop} defined)
  else()
    expect(all ${loop} absent)
  endif()
endforeach()
message(STATUS "no components: addrmap::addrmap and every loop found here (${FOUND_LOOPS})")

if(NOT "libuv" IN_LIST FOUND_LOOPS OR NOT "libevent" IN_LIST FOUND_LOOPS)
  message(STATUS "libuv or libevent is not installed here: the missing-libuv cases are skipped")
  return()
endif()
# Without libuv: the package is still found, with no addrmap::libuv.
configure(no_libuv 0 "" "-DPKG_CONFIG_EXECUTABLE=${_hiding}")
expect(no_libuv addrmap defined)
expect(no_libuv libevent defined)
expect(no_libuv libuv absent)
message(STATUS "without libuv: found, addrmap::addrmap and addrmap::libevent defined, addrmap::libuv absent")

# Only the components asked for are looked up; an optional one may be missing.
configure(optional 0 "COMPONENTS libevent OPTIONAL_COMPONENTS libuv" "-DPKG_CONFIG_EXECUTABLE=${_hiding}")
expect(optional libevent defined)
expect(optional libuv absent)
expect(optional asio absent)
message(STATUS "COMPONENTS libevent OPTIONAL_COMPONENTS libuv without libuv: found, only addrmap::libevent defined")

# A required component that is missing: find_package fails and says which library and why.
configure(required 1 "COMPONENTS libuv" "-DPKG_CONFIG_EXECUTABLE=${_hiding}")
if(NOT out MATCHES "addrmap::libuv: pkg-config has no module 'libuv'")
  message(FATAL_ERROR "required: find_package failed without naming the missing libuv:\n${out}")
endif()
message(STATUS "COMPONENTS libuv without libuv: find_package fails naming libuv")

configure(unknown 1 "COMPONENTS libfoo")
if(NOT out MATCHES "addrmap::libfoo: addrmap has no such component")
  message(FATAL_ERROR "unknown: find_package failed without naming the unknown component:\n${out}")
endif()
message(STATUS "COMPONENTS libfoo: find_package fails naming it")
message(STATUS "the installed package's loop targets follow what is found and what is required")
