# cmake/addrmapLoops.cmake — finds the event libraries of addrmap's loop bindings (include/addrmap/loops/*.hpp),
# for the build and (installed beside addrmapConfig.cmake) for consumers. Every lookup is QUIET: a missing loop
# library is never an error here (the caller decides). hiredis's adapters for them are headers hiredis ships.
# In:  _addrmap_loops — the loops to look for, among libevent libuv libev asio.
# Out: for each, addrmap_<loop>_FOUND (TRUE/FALSE); when found, the IMPORTED target addrmap_deps::<loop> (the loop
#      library alone: addrmap::<loop> adds addrmap::addrmap to it); when not, addrmap_<loop>_NOT_FOUND_REASON.
if("libevent" IN_LIST _addrmap_loops OR "libuv" IN_LIST _addrmap_loops)
  find_package(PkgConfig QUIET)
endif()

# libevent and libuv: their pkg-config modules (Debian's libevent-dev, libuv1-dev).
foreach(_addrmap_loop libevent libuv)
  if(NOT _addrmap_loop IN_LIST _addrmap_loops)
    continue()
  endif()
  string(TOUPPER "ADDRMAP_${_addrmap_loop}" _addrmap_prefix)
  if(PkgConfig_FOUND)
    pkg_check_modules(${_addrmap_prefix} QUIET IMPORTED_TARGET ${_addrmap_loop})
  endif()
  if(TARGET PkgConfig::${_addrmap_prefix})
    set(addrmap_${_addrmap_loop}_FOUND TRUE)
    if(NOT TARGET addrmap_deps::${_addrmap_loop})
      add_library(addrmap_deps::${_addrmap_loop} INTERFACE IMPORTED)
      set_property(TARGET addrmap_deps::${_addrmap_loop} PROPERTY INTERFACE_LINK_LIBRARIES PkgConfig::${_addrmap_prefix})
    endif()
  else()
    set(addrmap_${_addrmap_loop}_FOUND FALSE)
    if(_addrmap_loop STREQUAL "libevent")
      set(_addrmap_package libevent-dev)
    else()
      set(_addrmap_package libuv1-dev)
    endif()
    if(PkgConfig_FOUND)
      set(addrmap_${_addrmap_loop}_NOT_FOUND_REASON
          "${_addrmap_loop}: pkg-config has no module '${_addrmap_loop}' (Debian: ${_addrmap_package}; else add its directory to PKG_CONFIG_PATH)")
    else()
      set(addrmap_${_addrmap_loop}_NOT_FOUND_REASON
          "${_addrmap_loop}: it is found through pkg-config, which is not installed (Debian: pkg-config ${_addrmap_package})")
    endif()
  endif()
endforeach()

# libev: ev.h and the library (Debian's libev-dev ships no pkg-config module).
if("libev" IN_LIST _addrmap_loops)
  find_path(ADDRMAP_LIBEV_INCLUDE_DIR ev.h)
  find_library(ADDRMAP_LIBEV_LIBRARY ev)
  if(ADDRMAP_LIBEV_INCLUDE_DIR AND ADDRMAP_LIBEV_LIBRARY)
    set(addrmap_libev_FOUND TRUE)
    if(NOT TARGET addrmap_deps::libev)
      add_library(addrmap_deps::libev INTERFACE IMPORTED)
      set_target_properties(addrmap_deps::libev PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${ADDRMAP_LIBEV_INCLUDE_DIR}"
                            INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${ADDRMAP_LIBEV_INCLUDE_DIR}"
                            INTERFACE_LINK_LIBRARIES "${ADDRMAP_LIBEV_LIBRARY}")
    endif()
  else()
    set(addrmap_libev_FOUND FALSE)
    set(addrmap_libev_NOT_FOUND_REASON
        "libev: ev.h or the ev library not found (Debian: libev-dev; else set ADDRMAP_LIBEV_INCLUDE_DIR and ADDRMAP_LIBEV_LIBRARY)")
  endif()
endif()

# Boost.Asio: header-only (Debian's libboost-system-dev / libboost1.74-dev), plus the thread library. Looked up in a
# function, so Boost's own variables (Boost_LIBRARIES, Boost_INCLUDE_DIRS, ...) never overwrite the consumer's.
function(_addrmap_find_asio)
  find_package(Boost 1.74 QUIET)  # basic_socket::release()
  find_package(Threads QUIET)
  set(_addrmap_asio_header FALSE)
  foreach(_addrmap_dir IN LISTS Boost_INCLUDE_DIRS)
    if(EXISTS "${_addrmap_dir}/boost/asio/generic/stream_protocol.hpp")
      set(_addrmap_asio_header TRUE)
    endif()
  endforeach()
  if(Boost_FOUND AND TARGET Boost::headers AND Threads_FOUND AND _addrmap_asio_header)
    set(addrmap_asio_FOUND TRUE PARENT_SCOPE)
    if(NOT TARGET addrmap_deps::asio)
      add_library(addrmap_deps::asio INTERFACE IMPORTED)
      set_property(TARGET addrmap_deps::asio PROPERTY INTERFACE_LINK_LIBRARIES Boost::headers Threads::Threads)
    endif()
  else()
    set(addrmap_asio_FOUND FALSE PARENT_SCOPE)
    if(NOT Boost_FOUND OR NOT TARGET Boost::headers)
      set(_addrmap_reason "asio: Boost >= 1.74 not found (Debian: libboost-system-dev; else set Boost_ROOT)")
    elseif(NOT _addrmap_asio_header)
      set(_addrmap_reason "asio: Boost ${Boost_VERSION} found, but without boost/asio/generic/stream_protocol.hpp")
    else()
      set(_addrmap_reason "asio: no thread library found (find_package(Threads))")
    endif()
    set(addrmap_asio_NOT_FOUND_REASON "${_addrmap_reason}" PARENT_SCOPE)
  endif()
endfunction()
if("asio" IN_LIST _addrmap_loops)
  _addrmap_find_asio()
endif()
