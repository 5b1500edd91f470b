# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# cmake -D... -P run_consumer.cmake: configures, builds and runs the
# consumer project (consumer/) in a fresh WORK_DIR, consuming pocore as
# MODE says (find_package, pkg-config, add_subdirectory, fetchcontent).
# Inputs: MODE WORK_DIR SOURCE_DIR PREFIX LIBDIR VERSION GENERATOR MAKE_PROGRAM
# CXX CXX_FLAGS TOOLCHAIN_FILE EMULATOR PKG_CONFIG (may be empty).
foreach(v MODE WORK_DIR SOURCE_DIR VERSION GENERATOR)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${v} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

set(args -S ${CMAKE_CURRENT_LIST_DIR}/consumer -B ${WORK_DIR} -G ${GENERATOR}
         -DPOCORE_CONSUME=${MODE} -DPOCORE_SOURCE_DIR=${SOURCE_DIR}
         -DPOCORE_EXPECTED_VERSION=${VERSION}
         # No optimisation: these builds only prove that linking works.
         -DCMAKE_BUILD_TYPE=)
if(MAKE_PROGRAM)
  list(APPEND args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX)
  list(APPEND args -DCMAKE_CXX_COMPILER=${CXX})
endif()
if(CXX_FLAGS)
  list(APPEND args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
set(env "")
if(TOOLCHAIN_FILE)
  # The cross toolchain links programs with -static; the consumer asks
  # for that per program instead, so the one using pocore's DLL can share
  # the C++ runtime DLL with it.
  list(APPEND args -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE} -DCMAKE_EXE_LINKER_FLAGS=)
  if(MODE STREQUAL "find_package")
    # The toolchain confines find_package to the target's root; name the
    # package directory itself.
    list(APPEND args -Dpocore_DIR=${PREFIX}/${LIBDIR}/cmake/pocore)
  endif()
endif()
if(MODE STREQUAL "find_package")
  list(APPEND args -DCMAKE_PREFIX_PATH=${PREFIX})
elseif(MODE STREQUAL "pkg-config")
  if(PKG_CONFIG)
    list(APPEND args -DPKG_CONFIG_EXECUTABLE=${PKG_CONFIG})
  endif()
  # Only the installed package (plus, natively, the system's .pc files for
  # Requires.private such as liburing). A cross build must see none of the
  # host's: PKG_CONFIG_LIBDIR replaces the default search path.
  if(TOOLCHAIN_FILE)
    set(env PKG_CONFIG_LIBDIR=${PREFIX}/${LIBDIR}/pkgconfig PKG_CONFIG_PATH=)
  else()
    set(env PKG_CONFIG_PATH=${PREFIX}/${LIBDIR}/pkgconfig)
  endif()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -E env ${env} ${CMAKE_COMMAND} ${args}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer (${MODE}): configure failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer (${MODE}): build failed (${rc})")
endif()

file(READ ${WORK_DIR}/consumer-programs.txt programs)
if(programs STREQUAL "")
  message(FATAL_ERROR "consumer (${MODE}): no program was built")
endif()
foreach(program IN LISTS programs)
  execute_process(COMMAND ${EMULATOR} ${program} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err TIMEOUT 60)
  message(STATUS "${program}: ${out}${err}")
  if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "consumer (${MODE}): ${program} failed (${rc})")
  endif()
endforeach()
