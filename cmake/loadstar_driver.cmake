# SPDX-License-Identifier: MIT
# loadstar_add_driver(<name> PACKAGE <find_package name> TARGETS <imported targets>...
#                     [OPTIONAL])
#
# Creates the INTERFACE target loadstar_<name> (alias and export name loadstar::<name>) that
# links the core and the driver's client library PUBLIC, and records <name>=<package> in the
# global property LOADSTAR_DRIVERS so the install rules export the target and the installed
# config can find the same package. With OPTIONAL, a missing client library only skips the
# driver (with a status message): the rest of loadstar still configures.
function(loadstar_add_driver name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "OPTIONAL" "PACKAGE" "TARGETS")
    if(NOT arg_PACKAGE OR NOT arg_TARGETS)
        message(FATAL_ERROR "loadstar_add_driver(${name}): PACKAGE and TARGETS are required")
    endif()
    if(arg_OPTIONAL)
        find_package(${arg_PACKAGE} QUIET)
        if(NOT ${arg_PACKAGE}_FOUND)
            message(STATUS "loadstar: ${arg_PACKAGE} not found, loadstar::${name} not available")
            return()
        endif()
    else()
        find_package(${arg_PACKAGE} REQUIRED)
    endif()
    add_library(loadstar_${name} INTERFACE)
    add_library(loadstar::${name} ALIAS loadstar_${name})
    set_target_properties(loadstar_${name} PROPERTIES EXPORT_NAME ${name})
    target_link_libraries(loadstar_${name} INTERFACE loadstar ${arg_TARGETS})
    set_property(GLOBAL APPEND PROPERTY LOADSTAR_DRIVERS "${name}=${arg_PACKAGE}")
endfunction()
