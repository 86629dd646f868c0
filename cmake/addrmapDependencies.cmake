# cmake/addrmapDependencies.cmake — finds OpenSSL and hiredis >= 1.0 with hiredis_ssl, for the build
# and (installed beside addrmapConfig.cmake) for consumers. Defines addrmap_deps::hiredis.
include(CMakeFindDependencyMacro)
find_dependency(OpenSSL 1.1.1)

if(NOT TARGET addrmap_deps::hiredis)
  # Upstream hiredis (and our .deps/ build) ship CMake packages; Debian's packages only pkg-config files.
  find_package(hiredis 1.0 CONFIG QUIET)
  find_package(hiredis_ssl 1.0 CONFIG QUIET)
  add_library(addrmap_deps::hiredis INTERFACE IMPORTED)
  if(TARGET hiredis::hiredis AND TARGET hiredis::hiredis_ssl)
    set_property(TARGET addrmap_deps::hiredis PROPERTY
      INTERFACE_LINK_LIBRARIES hiredis::hiredis_ssl hiredis::hiredis OpenSSL::SSL OpenSSL::Crypto)
    set(addrmap_HIREDIS_VERSION "${hiredis_VERSION}")
  else()
    find_package(PkgConfig QUIET)
    if(PkgConfig_FOUND)
      pkg_check_modules(ADDRMAP_HIREDIS QUIET IMPORTED_TARGET "hiredis >= 1.0" "hiredis_ssl >= 1.0")
    endif()
    if(NOT ADDRMAP_HIREDIS_FOUND)
      set(_addrmap_msg "addrmap needs hiredis >= 1.0 built with TLS (hiredis_ssl): found neither the CMake packages hiredis/hiredis_ssl nor the pkg-config modules. Run scripts/setup (it builds hiredis into .deps/) and pass -DCMAKE_PREFIX_PATH=<repo>/.deps, or install libhiredis-dev >= 1.0.")
      if(DEFINED CMAKE_FIND_PACKAGE_NAME)
        set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE "${_addrmap_msg}")
        set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
        return()
      endif()
      message(FATAL_ERROR "${_addrmap_msg}")
    endif()
    set_property(TARGET addrmap_deps::hiredis PROPERTY
      INTERFACE_LINK_LIBRARIES PkgConfig::ADDRMAP_HIREDIS OpenSSL::SSL OpenSSL::Crypto)
    set(addrmap_HIREDIS_VERSION "${ADDRMAP_HIREDIS_hiredis_VERSION}")
  endif()
endif()
