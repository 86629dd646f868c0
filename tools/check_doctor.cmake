# tools/check_doctor.cmake — runs addrmap-doctor and checks its exit status *and* its output together, which
# PASS_REGULAR_EXPRESSION (blind to the exit status) and WILL_FAIL (blind to the output) cannot do.
#
# usage: cmake -DEXPECT_EXIT=N [-DEXPECT_ROWS=N] [-DEXPECT_0=regex ...] [-DREJECT_0=regex ...]
#              -P check_doctor.cmake -- /path/to/addrmap-doctor arguments...
# Regexes are matched against stdout and stderr together; ROWS counts lines starting with "master " or "replica ".
cmake_minimum_required(VERSION 3.16)  # script mode starts with no policies set
set(command)
set(after_separator OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator ON)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "check_doctor: no command after '--'")
endif()
if(NOT DEFINED EXPECT_EXIT)
  message(FATAL_ERROR "check_doctor: -DEXPECT_EXIT=N is required")
endif()

# Right after the fixture starts (or after a failover test), replicas are still syncing and the cluster lists
# only the masters; the doctor then prints "note: the cluster knows N nodes but lists M". Only in that state is
# the run repeated, for up to a minute, so ROWS checks a settled cluster and nothing else is retried.
string(TIMESTAMP started "%s" UTC)
while(TRUE)
  execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(output "${out}${err}")
  string(TIMESTAMP now "%s" UTC)
  math(EXPR waited "${now} - ${started}")
  if(NOT DEFINED EXPECT_ROWS OR NOT output MATCHES "note: the cluster knows [0-9]+ nodes but lists" OR waited GREATER 60)
    break()
  endif()
  message(STATUS "the cluster is still settling (${waited} s): running the doctor again")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E sleep 1)
endwhile()
message(STATUS "exit status ${status}; output:\n${output}")

set(problems)
if(NOT status STREQUAL "${EXPECT_EXIT}")
  list(APPEND problems "exit status is '${status}', expected ${EXPECT_EXIT}")
endif()
foreach(i RANGE 0 19)
  if(DEFINED EXPECT_${i} AND NOT output MATCHES "${EXPECT_${i}}")
    list(APPEND problems "the output does not match: ${EXPECT_${i}}")
  endif()
  if(DEFINED REJECT_${i} AND output MATCHES "${REJECT_${i}}")
    list(APPEND problems "the output must not match: ${REJECT_${i}}")
  endif()
endforeach()
if(DEFINED EXPECT_ROWS)
  string(REGEX MATCHALL "(^|\n)(master|replica) " rows "${out}")
  list(LENGTH rows row_count)
  if(NOT row_count EQUAL EXPECT_ROWS)
    list(APPEND problems "${row_count} node rows, expected ${EXPECT_ROWS}")
  endif()
endif()
if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "check_doctor:\n  ${text}")
endif()
