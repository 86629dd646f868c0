# examples/run_example.cmake — runs one example and passes only if it exits 0 AND its output matches EXPECT.
# Needed because CTest's PASS_REGULAR_EXPRESSION on its own ignores the exit status.
#
# usage: cmake -DEXPECT=<regex> -P run_example.cmake PROGRAM [ARGS...]
if(NOT DEFINED EXPECT OR EXPECT STREQUAL "")
  message(FATAL_ERROR "run_example.cmake: pass -DEXPECT=<regex>")
endif()
# Everything after the script's own path is the command to run.
set(command "")
set(after_script FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 1 ${last})
  if(after_script)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "-P")
    math(EXPR script_at "${i} + 1")
  elseif(DEFINED script_at AND i EQUAL script_at)
    set(after_script TRUE)
  endif()
endforeach()
if(command STREQUAL "")
  message(FATAL_ERROR "run_example.cmake: no program given after the script")
endif()

execute_process(COMMAND ${command} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE status)
# Show what the example printed, as the user would see it.
message("${out}${err}")
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "example exited with status '${status}' (expected 0)")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "example exited 0 but its output has no match for: ${EXPECT}")
endif()
message(STATUS "exit status 0 and output matches: ${EXPECT}")
