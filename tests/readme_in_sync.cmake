# tests/readme_in_sync.cmake — fails when README.md's quick starts are not examples/quick_start.cpp's and
# examples/async_quick_start.cpp's code (from the first #include on), so the README shows code that CTest compiles and runs.
file(READ "${SOURCE_DIR}/README.md" readme)
foreach(example quick_start async_quick_start)
  file(READ "${SOURCE_DIR}/examples/${example}.cpp" code)
  string(FIND "${code}" "#include" at)
  string(SUBSTRING "${code}" ${at} -1 code)
  string(FIND "${readme}" "${code}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "README.md's quick start differs from examples/${example}.cpp: copy the file's code from its first #include into the README")
  endif()
  message(STATUS "README quick start matches examples/${example}.cpp")
endforeach()
