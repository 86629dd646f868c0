# cmake/addrmapInstallHiredis.cmake — ADDRMAP_INSTALL_HIREDIS: installs the hiredis scripts/setup built into this
# clone's .deps/ into the install prefix beside addrmap, so the prefix can be copied and used without the clone.
# In:  addrmap_deps::hiredis (cmake/addrmapDependencies.cmake), ADDRMAP_INSTALL, ADDRMAP_INSTALL_HIREDIS.
# Out: ADDRMAP_HIREDIS_FROM_DEPS (TRUE when the hiredis addrmap links is the .deps/ one); the install rules.

# Which hiredis libraries were found: through hiredis's CMake packages, or the full paths pkg-config's lookup gives.
set(_addrmap_deps_dir "${PROJECT_SOURCE_DIR}/.deps")
get_filename_component(_addrmap_deps_real "${_addrmap_deps_dir}" REALPATH)
set(_addrmap_hiredis_files "")
if(TARGET hiredis::hiredis AND TARGET hiredis::hiredis_ssl)
  get_target_property(_addrmap_hiredis_files hiredis::hiredis LOCATION)
elseif(TARGET PkgConfig::ADDRMAP_HIREDIS)
  get_target_property(_addrmap_hiredis_files PkgConfig::ADDRMAP_HIREDIS INTERFACE_LINK_LIBRARIES)
endif()
set(ADDRMAP_HIREDIS_FROM_DEPS FALSE)
foreach(_addrmap_file IN LISTS _addrmap_hiredis_files)
  if(_addrmap_file MATCHES "/libhiredis[.]")
    get_filename_component(_addrmap_file_dir "${_addrmap_file}" DIRECTORY)
    get_filename_component(_addrmap_file_dir "${_addrmap_file_dir}" REALPATH)
    if(_addrmap_file_dir STREQUAL "${_addrmap_deps_real}/lib")
      set(ADDRMAP_HIREDIS_FROM_DEPS TRUE)
    endif()
  endif()
endforeach()

if(NOT ADDRMAP_INSTALL)
  return()
endif()
if(NOT ADDRMAP_INSTALL_HIREDIS)
  if(ADDRMAP_HIREDIS_FROM_DEPS)
    message(STATUS "addrmap: hiredis is .deps/'s: an install of addrmap refers to this clone for it; "
                   "-DADDRMAP_INSTALL_HIREDIS=ON installs it into the prefix too, to ship the prefix alone")
  endif()
  return()
endif()
if(NOT ADDRMAP_HIREDIS_FROM_DEPS)
  # Any other hiredis belongs to whoever installed it (a distribution's package, a build of one's own): copying it
  # here could shadow the system's, so the prefix keeps depending on it, as without this option.
  message(WARNING "ADDRMAP_INSTALL_HIREDIS is ON, but the hiredis addrmap uses (${_addrmap_hiredis_files}) is not "
                  "scripts/setup's build in ${_addrmap_deps_dir}: it is not installed with addrmap; ship it yourself")
  return()
endif()

# hiredis's own layout, kept as scripts/setup installs it (CMAKE_INSTALL_LIBDIR=lib): its CMake package files find
# their prefix three directories up and expect lib/ and include/ there, whatever this project's GNUInstallDirs say.
install(DIRECTORY "${_addrmap_deps_dir}/include/hiredis" DESTINATION include)
install(DIRECTORY "${_addrmap_deps_dir}/lib/" DESTINATION lib
        FILES_MATCHING PATTERN "libhiredis*" PATTERN "hiredis*.cmake" PATTERN "pkgconfig" EXCLUDE)
# hiredis ships no version file for hiredis_ssl's CMake package, so find_package(hiredis_ssl 1.0 CONFIG) (what
# addrmapConfig.cmake asks) could never take it and fell back to pkg-config: one is written, with hiredis's version.
file(READ "${_addrmap_deps_dir}/lib/pkgconfig/hiredis.pc" _addrmap_pc)
if(NOT _addrmap_pc MATCHES "(^|\n)Version: *([0-9.]+)")
  message(FATAL_ERROR "addrmap: ${_addrmap_deps_dir}/lib/pkgconfig/hiredis.pc has no Version: line; run scripts/setup again")
endif()
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/hiredis-cmake/hiredis_ssl-config-version.cmake"
                                 VERSION "${CMAKE_MATCH_2}" COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/hiredis-cmake/hiredis_ssl-config-version.cmake" DESTINATION lib/cmake/hiredis_ssl)
# The pkg-config files name .deps/ as their prefix: installed with it relative to where they are, so a copied
# prefix still resolves -I and -L inside itself.
foreach(_addrmap_module hiredis hiredis_ssl)
  file(READ "${_addrmap_deps_dir}/lib/pkgconfig/${_addrmap_module}.pc" _addrmap_pc)
  if(NOT _addrmap_pc MATCHES "(^|\n)prefix=([^\n]+)")
    message(FATAL_ERROR "addrmap: ${_addrmap_deps_dir}/lib/pkgconfig/${_addrmap_module}.pc has no prefix= line; "
                        "run scripts/setup again")
  endif()
  string(REPLACE "${CMAKE_MATCH_2}" "\${pcfiledir}/../.." _addrmap_pc "${_addrmap_pc}")
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/hiredis-pkgconfig/${_addrmap_module}.pc" "${_addrmap_pc}")
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/hiredis-pkgconfig/${_addrmap_module}.pc" DESTINATION lib/pkgconfig)
endforeach()
