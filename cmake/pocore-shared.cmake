# Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
#
# The shared variant, pocore_shared (included from the root CMakeLists.txt
# after both variants got their sources). Its file is named like the static
# one (libpocore.so next to libpocore.a; libpocore.dll with the import
# library libpocore.dll.a on MinGW), so `-lpocore` finds it.

# SONAME: before 1.0 every minor release may break the ABI, so the SONAME
# carries major.minor (libpocore.so.0.1); from 1.0 on, the major alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_pocore_soversion ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(_pocore_soversion ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(pocore_shared PROPERTIES OUTPUT_NAME pocore VERSION ${PROJECT_VERSION}
                                               SOVERSION ${_pocore_soversion})

if(MSVC)
  # pocore.lib would be both the static library and the DLL's import
  # library; the import library takes another name.
  set_target_properties(pocore_shared PROPERTIES ARCHIVE_OUTPUT_NAME pocore_shared
                                                 WINDOWS_EXPORT_ALL_SYMBOLS ON)
elseif(WIN32)
  # MinGW's ld exports every global symbol of a DLL that marks none with
  # dllexport, which is what the public headers need (they carry no export
  # macros).
elseif(APPLE)
  # Apple's ld has no version scripts: export pocore's namespace only.
  target_link_options(pocore_shared PRIVATE "LINKER:-exported_symbol,__ZN6pocore*"
                      "LINKER:-exported_symbol,__ZTVN6pocore*" "LINKER:-exported_symbol,__ZTIN6pocore*"
                      "LINKER:-exported_symbol,__ZTSN6pocore*")
else()
  # ELF: only pocore's own symbols are exported (namespace pocore, its
  # vtables and type info). The rest (template instances of the standard
  # library, liburing's inline helpers, internal C functions) stays local,
  # so it can neither clash with nor be interposed by the application.
  set(_pocore_map ${CMAKE_CURRENT_LIST_DIR}/pocore.map)
  target_link_options(pocore_shared PRIVATE "LINKER:--version-script=${_pocore_map}")
  set_property(TARGET pocore_shared APPEND PROPERTY LINK_DEPENDS ${_pocore_map})
  if(NOT POCORE_SANITIZE)
    # Every dependency is named at link time. (A sanitized library leaves
    # the sanitizer runtime's symbols to the executable that loads it.)
    target_link_options(pocore_shared PRIVATE "LINKER:--no-undefined")
  endif()
endif()
