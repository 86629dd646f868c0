# tests/packaging/install_unbuilt.cmake — `cmake -S . -B build && cmake --install build` with nothing built (what a
# header-only consumer does): the install must succeed without addrmap-doctor, and the result must be usable.
# cmake -DSOURCE_DIR= -DWORK_DIR= -DPREFIX_PATH= -DCXX= -DGENERATOR= -DCTEST= -P install_unbuilt.cmake
foreach(var SOURCE_DIR WORK_DIR CXX GENERATOR CTEST)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_unbuilt.cmake: -D${var}= is required")
  endif()
endforeach()

# Each step is its own execute_process: a prefix path list must reach the command with its ';' intact.
function(check what)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
# A fresh build tree with the default options (tools included), configured and never built.
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
                        "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}" "-DCMAKE_CXX_COMPILER=${CXX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("configure")
execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=DESTDIR
                        "${CMAKE_COMMAND}" --install "${WORK_DIR}/build" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("install without building")

foreach(file include/addrmap/addrmap.hpp include/addrmap/cluster.hpp share/cmake/addrmap/addrmapConfig.cmake
             share/cmake/addrmap/addrmapTargets.cmake share/cmake/addrmap/addrmapLoops.cmake share/pkgconfig/addrmap.pc
             share/pkgconfig/addrmap-libevent.pc share/pkgconfig/addrmap-libuv.pc share/pkgconfig/addrmap-libev.pc
             share/pkgconfig/addrmap-asio.pc include/addrmap/loops/libevent.hpp)
  if(NOT EXISTS "${WORK_DIR}/prefix/${file}")
    message(FATAL_ERROR "the install is missing ${file}")
  endif()
endforeach()
if(EXISTS "${WORK_DIR}/prefix/bin/addrmap-doctor")
  message(FATAL_ERROR "addrmap-doctor was installed although it was never built")
endif()

# The header-only consumer builds and runs against what was installed.
execute_process(COMMAND "${CTEST}" --build-and-test "${SOURCE_DIR}/tests/packaging/find_package"
                        "${WORK_DIR}/consumer" --build-generator "${GENERATOR}"
                        --build-options "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;${PREFIX_PATH}"
                        "-DCMAKE_CXX_COMPILER=${CXX}" --test-command consumer
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("find_package consumer")
if(NOT out MATCHES "10.0.0.7:7001 -> 10.0.0.7:7001")
  message(FATAL_ERROR "the consumer ran but did not print its mapping:\n${out}")
endif()
message(STATUS "installed without addrmap-doctor; the find_package consumer built and ran")
