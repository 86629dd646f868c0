# cmake/addrmapTesting.cmake — CTest fixtures for the live TLS servers and helpers to register tests.
# Tests never start servers by hand: they require the fixture, which runs the project's scripts.
set(TLS_LAB_PORT "" CACHE STRING "First port of the standalone TLS test servers (default: cluster port + 6)")
if(TLS_LAB_PORT STREQUAL "")
  math(EXPR _addrmap_lab_port "${ADDRMAP_TEST_CLUSTER_PORT} + 6")
else()
  set(_addrmap_lab_port ${TLS_LAB_PORT})
endif()
set(ADDRMAP_TEST_ENVIRONMENT
    "LOCAL_CLUSTER_PORT=${ADDRMAP_TEST_CLUSTER_PORT}"
    "LOCAL_CLUSTER_DIR=${ADDRMAP_TEST_CLUSTER_DIR}"
    "TLS_LAB_PORT=${_addrmap_lab_port}"
    "TLS_LAB_DIR=${CMAKE_BINARY_DIR}/test-tls-lab"
    "TEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# addrmap_server_fixture(NAME FIXTURE SCRIPT) — fixture.NAME.start and fixture.NAME.stop, which run
# scripts/SCRIPT start and stop around the tests that require FIXTURE.
function(addrmap_server_fixture name fixture script)
  add_test(NAME fixture.${name}.start COMMAND "${PROJECT_SOURCE_DIR}/scripts/${script}" start)
  add_test(NAME fixture.${name}.stop COMMAND "${PROJECT_SOURCE_DIR}/scripts/${script}" stop)
  set_tests_properties(fixture.${name}.start PROPERTIES FIXTURES_SETUP ${fixture} LABELS fixture
                       ENVIRONMENT "${ADDRMAP_TEST_ENVIRONMENT}" TIMEOUT 90)
  set_tests_properties(fixture.${name}.stop PROPERTIES FIXTURES_CLEANUP ${fixture} LABELS fixture
                       ENVIRONMENT "${ADDRMAP_TEST_ENVIRONMENT}" TIMEOUT 60)
endfunction()
addrmap_server_fixture(cluster tls_cluster cluster)
if(EXISTS "${PROJECT_SOURCE_DIR}/scripts/tls-lab")
  addrmap_server_fixture(tls_lab tls_lab tls-lab)
endif()

# addrmap_add_program(TARGET STD src...) — a test/example/benchmark program with the project's flags.
# Programs of several sources are unity builds (ADDRMAP_UNITY_BUILD): every test file instantiates the same cluster
# templates, and compiling them once per batch instead of once per file halves the build. Batches of 13 make two of
# each test program (measured with GCC 12 on the 2-core CI machine: async_tests and unit_tests_cxx17 took 375 s of
# compiler time in batches of 6, 295 s in batches of 12).
option(ADDRMAP_UNITY_BUILD "Compile multi-file test programs in batches (faster; off to build each file alone)" ON)
function(addrmap_add_program target std)
  add_executable(${target} ${ARGN})
  target_link_libraries(${target} PRIVATE addrmap::addrmap addrmap_project_flags)
  set_target_properties(${target} PROPERTIES CXX_STANDARD ${std} CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  list(LENGTH ARGN _count)
  if(ADDRMAP_UNITY_BUILD AND _count GREATER 2)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 13)
    # GCC takes a test file's unnamed-namespace fixture, now #included, as a header's type leaking into the
    # BOOST_FIXTURE_TEST_CASE derived from it: true of a header, not of a file compiled once.
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
  endif()
endfunction()

# addrmap_add_test_program(TARGET STD src...) — a Boost.Test program: addrmap_add_program plus Boost.Test's
# implementation and main(), compiled once per standard (tests/boost_test_main.cpp; 20 s of GCC each time).
function(addrmap_add_test_program target std)
  if(NOT TARGET addrmap_boost_test_main_cxx${std})
    add_library(addrmap_boost_test_main_cxx${std} OBJECT "${PROJECT_SOURCE_DIR}/tests/boost_test_main.cpp")
    target_link_libraries(addrmap_boost_test_main_cxx${std} PRIVATE Boost::headers addrmap_project_flags)
    set_target_properties(addrmap_boost_test_main_cxx${std} PROPERTIES CXX_STANDARD ${std} CXX_STANDARD_REQUIRED ON
                                                                       CXX_EXTENSIONS OFF)
  endif()
  addrmap_add_program(${target} ${std} ${ARGN})
  target_link_libraries(${target} PRIVATE Boost::headers addrmap_boost_test_main_cxx${std})
endfunction()

# addrmap_live_test(NAME FIXTURES fixture... COMMAND ...) — a test that needs live servers. Live tests
# share the servers (failover and resharding change them), so they never run concurrently.
function(addrmap_live_test name)
  cmake_parse_arguments(ARG "" "" "FIXTURES;COMMAND;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${ARG_COMMAND})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}" RESOURCE_LOCK live_servers
                       ENVIRONMENT "${ADDRMAP_TEST_ENVIRONMENT}" LABELS "integration;${ARG_LABELS}" TIMEOUT 600)
endfunction()
