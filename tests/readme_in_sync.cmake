# tests/readme_in_sync.cmake — fails when README.md's quick start is not examples/quick_start.cpp's code
# (from its first #include on), so the README shows code that is compiled and run by CTest.
file(READ "${SOURCE_DIR}/examples/quick_start.cpp" code)
string(FIND "${code}" "#include" at)
string(SUBSTRING "${code}" ${at} -1 code)
file(READ "${SOURCE_DIR}/README.md" readme)
string(FIND "${readme}" "${code}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "README.md's quick start differs from examples/quick_start.cpp: copy the file's code from its first #include into the README")
endif()
message(STATUS "README quick start matches examples/quick_start.cpp")
