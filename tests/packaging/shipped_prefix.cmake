# tests/packaging/shipped_prefix.cmake — shipping an application: addrmap installed with ADDRMAP_INSTALL_HIREDIS, the
# prefix copied, an app built from the copy alone and installed into it, copied again, and run: nothing in the clone.
# cmake -DSOURCE_DIR= -DWORK_DIR= -DPREFIX_PATH= -DCXX= -DGENERATOR= -DEXPECT_HIREDIS=ON|OFF -P shipped_prefix.cmake
# EXPECT_HIREDIS: hiredis is scripts/setup's .deps/ build, so it must ship in the prefix (else it is the system's).
# The clone it runs from cannot be removed; instead every way back into it is checked shut: the prefix's text files
# name no path of it, the app's RUNPATH is $ORIGIN-relative, and ldd resolves hiredis in the final copy only.
cmake_minimum_required(VERSION 3.16)
foreach(var SOURCE_DIR WORK_DIR CXX GENERATOR EXPECT_HIREDIS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "shipped_prefix.cmake: -D${var}= is required")
  endif()
endforeach()

function(check what)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()
# under(PATH DIR) — whether PATH is DIR or inside it; sets `inside`.
function(under path dir)
  string(FIND "${path}/" "${dir}/" at)
  if(at EQUAL 0)
    set(inside TRUE PARENT_SCOPE)
  else()
    set(inside FALSE PARENT_SCOPE)
  endif()
endfunction()

# runpath_of(BINARY NAME) — readelf -d of BINARY into `out` (parent scope); fails unless its RUNPATH is exactly
# $ORIGIN/../lib, the shipped prefix's own lib/.
function(runpath_of binary name)
  execute_process(COMMAND readelf -d "${binary}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  check("readelf -d ${name}")
  if(NOT out MATCHES "\\(RUNPATH\\)[^\n]*\\[\\$ORIGIN/\\.\\./lib\\]")
    message(FATAL_ERROR "${name}'s RUNPATH is not exactly $ORIGIN/../lib:\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

set(staging "${WORK_DIR}/staging")  # where cmake --install put it
set(shipped "${WORK_DIR}/shipped")  # its copy, the app is built against and installed into
set(landed "${WORK_DIR}/landed")    # the copy of that: the machine it was shipped to
file(REMOVE_RECURSE "${WORK_DIR}")
# What the app's build and run must not lean on: this environment's search paths.
set(clean_env "${CMAKE_COMMAND}" -E env --unset=CMAKE_PREFIX_PATH --unset=PKG_CONFIG_PATH --unset=LD_LIBRARY_PATH
              --unset=DESTDIR)

# 1. addrmap with its hiredis, into the staging prefix (header-only; addrmap-doctor built when CHECK_DOCTOR is ON,
#    to check the installed tool loads hiredis from the prefix too).
if(NOT DEFINED CHECK_DOCTOR)
  set(CHECK_DOCTOR OFF)
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/addrmap-build" -G "${GENERATOR}"
                        "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}" "-DCMAKE_CXX_COMPILER=${CXX}" -DADDRMAP_INSTALL_HIREDIS=ON
                        -DADDRMAP_BUILD_TESTS=OFF -DADDRMAP_BUILD_EXAMPLES=OFF -DADDRMAP_BUILD_TOOLS=${CHECK_DOCTOR}
                        -DADDRMAP_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("configure addrmap with ADDRMAP_INSTALL_HIREDIS=ON")
if(CHECK_DOCTOR)
  execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/addrmap-build" --target addrmap-doctor
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  check("build addrmap-doctor")
endif()
execute_process(COMMAND ${clean_env} "${CMAKE_COMMAND}" --install "${WORK_DIR}/addrmap-build" --prefix "${staging}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("install into ${staging}")
if(EXPECT_HIREDIS AND NOT EXISTS "${staging}/lib/pkgconfig/hiredis_ssl.pc")
  message(FATAL_ERROR "hiredis is .deps/'s, but ADDRMAP_INSTALL_HIREDIS did not install it:\n${out}")
endif()

# 2. The prefix copied elsewhere; the original and addrmap's build tree gone.
file(COPY "${staging}/" DESTINATION "${shipped}")
file(REMOVE_RECURSE "${staging}" "${WORK_DIR}/addrmap-build")
file(GLOB_RECURSE texts "${shipped}/*.cmake" "${shipped}/*.pc" "${shipped}/*.h" "${shipped}/*.hpp")
foreach(text IN LISTS texts)
  file(READ "${text}" content)
  foreach(path "${SOURCE_DIR}" "${staging}")
    string(FIND "${content}" "${path}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${text} names ${path}: the copied prefix still refers to it")
    endif()
  endforeach()
endforeach()
list(LENGTH texts count)
message(STATUS "copied to ${shipped}: none of its ${count} CMake, pkg-config and header files names the clone")

# 3. The app, found from the copied prefix alone (no registry, no environment), installed into it.
# pkg-config is out of reach: the prefix's CMake packages alone must find addrmap and its hiredis (hiredis_ssl's
# version file included), as a consumer without pkg-config finds them.
execute_process(COMMAND ${clean_env} "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/packaging/shipped"
                        -B "${WORK_DIR}/app-build" -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}"
                        "-DPKG_CONFIG_EXECUTABLE=${WORK_DIR}/no-pkg-config"
                        "-DCMAKE_PREFIX_PATH=${shipped}" "-DCMAKE_INSTALL_PREFIX=${shipped}"
                        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("configure the app against ${shipped} only")
# What find_package took: addrmap's package, and hiredis's libraries (through pkg-config or its CMake packages).
file(STRINGS "${WORK_DIR}/app-build/CMakeCache.txt" found
     REGEX "^(addrmap_DIR|hiredis_DIR|hiredis_ssl_DIR|pkgcfg_lib_ADDRMAP_HIREDIS_hiredis|pkgcfg_lib_ADDRMAP_HIREDIS_hiredis_ssl):")
set(hiredis_found_inside FALSE)
foreach(line IN LISTS found)
  string(REGEX REPLACE "^[^=]*=" "" path "${line}")
  if(path MATCHES "-NOTFOUND$")
    continue()
  endif()
  under("${path}" "${shipped}")
  if(line MATCHES "^addrmap_DIR" AND NOT inside)
    message(FATAL_ERROR "the app found addrmap outside the copied prefix: ${line}")
  elseif(NOT line MATCHES "^addrmap_DIR" AND EXPECT_HIREDIS)
    if(NOT inside)
      message(FATAL_ERROR "the app found hiredis outside the copied prefix: ${line}")
    endif()
    set(hiredis_found_inside TRUE)
  endif()
endforeach()
if(EXPECT_HIREDIS AND NOT hiredis_found_inside)
  message(FATAL_ERROR "the app's CMakeCache.txt does not say where hiredis was found:\n${found}")
endif()
execute_process(COMMAND ${clean_env} "${CMAKE_COMMAND}" --build "${WORK_DIR}/app-build"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("build the app")
execute_process(COMMAND ${clean_env} "${CMAKE_COMMAND}" --install "${WORK_DIR}/app-build"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("install the app into ${shipped}/bin")

# 4. Shipped: the prefix with the app copied once more; the copy it was built against and the app's build gone.
file(COPY "${shipped}/" DESTINATION "${landed}")
file(REMOVE_RECURSE "${shipped}" "${WORK_DIR}/app-build")
set(app "${landed}/bin/shipped_consumer")

runpath_of("${app}" "the app")
if(NOT out MATCHES "NEEDED[^\n]*libhiredis\\.so" OR NOT out MATCHES "NEEDED[^\n]*libhiredis_ssl\\.so")
  message(FATAL_ERROR "the app does not need libhiredis and libhiredis_ssl:\n${out}")
endif()

execute_process(COMMAND ${clean_env} ldd "${app}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("ldd")
if(out MATCHES "not found")
  message(FATAL_ERROR "the app has libraries ldd cannot find:\n${out}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${out}")
set(hiredis_count 0)
foreach(line IN LISTS lines)
  if(NOT line MATCHES "=> (/[^ ]+)")
    continue()
  endif()
  get_filename_component(path "${CMAKE_MATCH_1}" ABSOLUTE)  # ldd prints $ORIGIN's expansion: bin/../lib
  under("${path}" "${landed}")
  set(in_landed ${inside})
  foreach(forbidden "${SOURCE_DIR}" "${WORK_DIR}")
    under("${path}" "${forbidden}")
    if(inside AND NOT in_landed)
      message(FATAL_ERROR "the app loads ${path}, from ${forbidden}, not from the shipped prefix:\n${out}")
    endif()
  endforeach()
  if(line MATCHES "libhiredis")
    math(EXPR hiredis_count "${hiredis_count} + 1")
    if(EXPECT_HIREDIS AND NOT in_landed)
      message(FATAL_ERROR "the app loads ${path}, outside the shipped prefix ${landed}:\n${out}")
    endif()
  endif()
endforeach()
if(NOT hiredis_count EQUAL 2)
  message(FATAL_ERROR "ldd lists ${hiredis_count} hiredis libraries, not libhiredis and libhiredis_ssl:\n${out}")
endif()
if(EXPECT_HIREDIS)
  message(STATUS "libhiredis and libhiredis_ssl load from ${landed}/lib; nothing loads from the clone")
else()
  message(STATUS "hiredis is the system's (not .deps/'s), loaded from outside the clone; nothing loads from the clone")
endif()

if(CHECK_DOCTOR AND EXPECT_HIREDIS)
  # The installed doctor, from the copied prefix: RUNPATH into it, hiredis found there, and it runs (usage: exit 2).
  set(doctor "${landed}/bin/addrmap-doctor")
  runpath_of("${doctor}" "the installed addrmap-doctor")
  execute_process(COMMAND ${clean_env} ldd "${doctor}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  check("ldd addrmap-doctor")
  string(REGEX MATCHALL "libhiredis[^ ]* => [^ ]+" loaded "${out}")
  list(LENGTH loaded loaded_count)
  if(out MATCHES "not found" OR NOT loaded_count EQUAL 2)
    message(FATAL_ERROR "addrmap-doctor's hiredis does not load from the copied prefix:\n${out}")
  endif()
  foreach(l IN LISTS loaded)
    string(REGEX REPLACE ".* => " "" path "${l}")
    get_filename_component(path "${path}" ABSOLUTE)
    under("${path}" "${landed}")
    if(NOT inside)
      message(FATAL_ERROR "addrmap-doctor loads ${path}, outside the shipped prefix ${landed}:\n${out}")
    endif()
  endforeach()
  execute_process(COMMAND ${clean_env} "${doctor}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 2 OR NOT out MATCHES "usage: addrmap-doctor")
    message(FATAL_ERROR "the installed addrmap-doctor did not run from the copied prefix (${rc}):\n${out}")
  endif()
  message(STATUS "the installed addrmap-doctor runs from the copied prefix with its hiredis")
endif()

execute_process(COMMAND ${clean_env} "${app}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
check("run ${app}")
if(NOT out MATCHES "formats commands; 10.0.0.7:7001 -> node.redis.test:7001")
  message(FATAL_ERROR "the app ran but did not print its mapping:\n${out}")
endif()
message(STATUS "${out}")

# 5. pkg-config users: the copied prefix's modules alone give -I and -L inside it.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG AND EXPECT_HIREDIS)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${landed}/share/pkgconfig:${landed}/lib/pkgconfig"
                          "${PKG_CONFIG}" --cflags --libs addrmap
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  check("pkg-config --cflags --libs addrmap")
  string(REGEX MATCHALL "-[IL][^ \n]+" flags "${out}")
  set(libdir_given FALSE)
  foreach(flag IN LISTS flags)
    string(SUBSTRING "${flag}" 2 -1 dir)
    get_filename_component(dir "${dir}" ABSOLUTE)  # hiredis.pc's ${pcfiledir}/../.. collapsed
    under("${dir}" "${landed}")
    if(NOT inside AND NOT dir MATCHES "^/usr(/|$)")
      message(FATAL_ERROR "pkg-config points outside the shipped prefix: ${flag}\n${out}")
    endif()
    if(flag MATCHES "^-L" AND dir STREQUAL "${landed}/lib")
      set(libdir_given TRUE)
    endif()
  endforeach()
  if(NOT libdir_given)
    message(FATAL_ERROR "pkg-config gives no -L${landed}/lib:\n${out}")
  endif()
  message(STATUS "pkg-config: ${out}")
endif()
message(STATUS "a copied prefix ran the app with addrmap and hiredis from itself alone")
