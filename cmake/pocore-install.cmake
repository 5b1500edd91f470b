# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# Install rules (included from the root CMakeLists.txt when POCORE_INSTALL
# is on): the public headers, libpocore.a and (with POCORE_BUILD_SHARED)
# the shared library, a CMake package exporting pocore::pocore (static) and
# pocore::pocore_shared, and pocore.pc for pkg-config.
#
#   find_package(pocore 0.1 CONFIG REQUIRED)           # pocore::pocore
#   find_package(pocore CONFIG REQUIRED COMPONENTS shared)
#   pkg-config --cflags --libs pocore                   # shared where present
#   pkg-config --static --cflags --libs pocore          # static + private deps
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(POCORE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/pocore
    CACHE STRING "Where pocore-config.cmake is installed (relative to the prefix)")
mark_as_advanced(POCORE_INSTALL_CMAKEDIR)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/pocore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT pocore_development FILES_MATCHING PATTERN "*.hpp")

# One export set per variant, so a package built without the shared
# library is still complete, and a consumer of one variant never needs the
# other's files.
set_target_properties(pocore PROPERTIES EXPORT_NAME pocore)
install(TARGETS pocore EXPORT pocore-static-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT pocore_development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT pocore-static-targets NAMESPACE pocore:: DESTINATION ${POCORE_INSTALL_CMAKEDIR}
        COMPONENT pocore_development)
if(TARGET pocore_shared)
  set_target_properties(pocore_shared PROPERTIES EXPORT_NAME pocore_shared)
  install(TARGETS pocore_shared EXPORT pocore-shared-targets
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT pocore_runtime
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT pocore_runtime
                  NAMELINK_COMPONENT pocore_development
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT pocore_development
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT pocore-shared-targets NAMESPACE pocore:: DESTINATION ${POCORE_INSTALL_CMAKEDIR}
          COMPONENT pocore_development)
endif()

# What a consumer of the static library must link besides libpocore.a;
# pocore-config.cmake finds the same again, pocore.pc lists it.
set(POCORE_CONFIG_NEEDS_THREADS OFF)
set(POCORE_CONFIG_NEEDS_LIBURING OFF)
set(POCORE_PC_LIBS_PRIVATE "")
set(POCORE_PC_REQUIRES_PRIVATE "")
if(WIN32)
  set(POCORE_PC_LIBS_PRIVATE "-lws2_32 -lmswsock")
else()
  set(POCORE_CONFIG_NEEDS_THREADS ON)
  set(POCORE_PC_LIBS_PRIVATE "-pthread")
  if(POCORE_HAVE_IO_URING)
    set(POCORE_CONFIG_NEEDS_LIBURING ON)
    # liburing ships liburing.pc (Debian liburing-dev); name it so its own
    # flags and path are used.
    set(POCORE_PC_REQUIRES_PRIVATE "liburing")
  endif()
endif()

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/pocore-config.cmake.in ${PROJECT_BINARY_DIR}/pocore-config.cmake
  INSTALL_DESTINATION ${POCORE_INSTALL_CMAKEDIR})
# Before 1.0 a minor release may break the API, so 0.1 accepts only 0.1.x.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_pocore_compat SameMinorVersion)
else()
  set(_pocore_compat SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pocore-config-version.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${_pocore_compat})
install(FILES ${PROJECT_BINARY_DIR}/pocore-config.cmake
              ${PROJECT_BINARY_DIR}/pocore-config-version.cmake
        DESTINATION ${POCORE_INSTALL_CMAKEDIR} COMPONENT pocore_development)

# pocore.pc: paths relative to the file itself, so the prefix can move.
file(RELATIVE_PATH POCORE_PC_PREFIX_FROM_PCDIR
     /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" POCORE_PC_PREFIX_FROM_PCDIR "${POCORE_PC_PREFIX_FROM_PCDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/pocore.pc.in ${PROJECT_BINARY_DIR}/pocore.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pocore.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT pocore_development)
