# SPDX-License-Identifier: MIT
# LOADSTAR_SEPARATE_COMPILATION: the non-template code (engine and pool, the session's
# transaction and sweep, DDL, SQL rendering; the SQLite and PostgreSQL drivers) compiled once,
# in static libraries, instead of in every translation unit that uses it (see
# detail/config.hpp). The public targets stay what they are: loadstar::loadstar links
# loadstar_compiled and each driver loadstar_<driver>_compiled, all carrying the macro PUBLIC,
# so every consumer compiles declarations only.
add_library(loadstar_compiled STATIC "${PROJECT_SOURCE_DIR}/src/loadstar.cpp")
set_target_properties(loadstar_compiled PROPERTIES EXPORT_NAME compiled)
target_include_directories(loadstar_compiled PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(loadstar_compiled PUBLIC cxx_std_20)
target_compile_definitions(loadstar_compiled PUBLIC LOADSTAR_SEPARATE_COMPILATION)
target_link_libraries(loadstar INTERFACE loadstar_compiled)
set(_loadstar_compiled loadstar_compiled)

# Each driver's code (src/<driver>.cpp) links what the driver target links: the core and the
# client library.
foreach(_driver IN ITEMS sqlite postgres)
    if(NOT TARGET loadstar_${_driver})
        continue()
    endif()
    get_target_property(_links loadstar_${_driver} INTERFACE_LINK_LIBRARIES)
    add_library(loadstar_${_driver}_compiled STATIC "${PROJECT_SOURCE_DIR}/src/${_driver}.cpp")
    set_target_properties(loadstar_${_driver}_compiled PROPERTIES EXPORT_NAME ${_driver}_compiled)
    target_link_libraries(loadstar_${_driver}_compiled PUBLIC ${_links})
    target_link_libraries(loadstar_${_driver} INTERFACE loadstar_${_driver}_compiled)
    list(APPEND _loadstar_compiled loadstar_${_driver}_compiled)
endforeach()

# Our own build compiles them with the strict warnings (and the sanitizers, LOADSTAR_SANITIZE),
# like every other binary of it; never part of what is installed.
if(TARGET loadstar_warnings)
    foreach(_target IN LISTS _loadstar_compiled)
        target_link_libraries(${_target} PRIVATE $<BUILD_INTERFACE:loadstar_warnings>)
    endforeach()
endif()
set_property(GLOBAL PROPERTY LOADSTAR_COMPILED_TARGETS "${_loadstar_compiled}")
unset(_loadstar_compiled)
unset(_target)
unset(_driver)
unset(_links)
