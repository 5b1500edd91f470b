# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# cmake -D... -P install_check.cmake: installs BUILD_DIR into a fresh
# PREFIX with `cmake --install` and checks that the package is complete.
# Inputs: BUILD_DIR PREFIX LIBDIR WIN32 SHARED SOVERSION READELF (may be empty).
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

set(expected include/pocore/pocore.hpp include/pocore/coro.hpp include/pocore/version.hpp
             include/pocore/detail/handler.hpp ${LIBDIR}/libpocore.a
             ${LIBDIR}/cmake/pocore/pocore-config.cmake ${LIBDIR}/cmake/pocore/pocore-config-version.cmake
             ${LIBDIR}/cmake/pocore/pocore-static-targets.cmake ${LIBDIR}/pkgconfig/pocore.pc)
if(SHARED)
  list(APPEND expected ${LIBDIR}/cmake/pocore/pocore-shared-targets.cmake)
  if(WIN32)
    list(APPEND expected bin/libpocore.dll ${LIBDIR}/libpocore.dll.a)
  else()
    list(APPEND expected ${LIBDIR}/libpocore.so ${LIBDIR}/libpocore.so.${SOVERSION})
  endif()
endif()
foreach(f IN LISTS expected)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()
# Nothing private: no source-tree header, no test library.
file(GLOB_RECURSE stray RELATIVE ${PREFIX} ${PREFIX}/*kqueue_shim* ${PREFIX}/*gtest*
     ${PREFIX}/include/pocore/*.cpp)
if(stray)
  message(FATAL_ERROR "cmake --install installed private files: ${stray}")
endif()

if(SHARED AND NOT WIN32 AND READELF)
  # The SONAME is what programs record; only pocore's namespace is exported.
  execute_process(COMMAND ${READELF} -d ${PREFIX}/${LIBDIR}/libpocore.so OUTPUT_VARIABLE dyn)
  if(NOT dyn MATCHES "SONAME[^\n]*\\[libpocore\\.so\\.${SOVERSION}\\]")
    message(FATAL_ERROR "libpocore.so has no SONAME libpocore.so.${SOVERSION}:\n${dyn}")
  endif()
  execute_process(COMMAND ${READELF} --dyn-syms -W ${PREFIX}/${LIBDIR}/libpocore.so OUTPUT_VARIABLE syms)
  string(REGEX MATCHALL "GLOBAL +DEFAULT +[0-9]+ [^\n]*" exported "${syms}")
  list(LENGTH exported n_exported)
  set(foreign "")
  foreach(line IN LISTS exported)
    string(REGEX REPLACE ".* " "" name "${line}")
    # Itanium mangling: every pocore entity contains "6pocore".
    if(NOT name MATCHES "6pocore")
      list(APPEND foreign ${name})
    endif()
  endforeach()
  if(foreign)
    message(FATAL_ERROR "libpocore.so exports symbols outside namespace pocore: ${foreign}")
  endif()
  message(STATUS "libpocore.so: SONAME libpocore.so.${SOVERSION}, ${n_exported} symbols exported")
endif()
message(STATUS "installed into ${PREFIX}")
