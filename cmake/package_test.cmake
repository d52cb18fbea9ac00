# SPDX-License-Identifier: MIT
# Packaging test, run by ctest as package.<MODE>:
#   cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR=<loadstar> -DWORK_DIR=<scratch>
#         -DGENERATOR=<gen> [-DMAKE_PROGRAM=] [-DCXX_COMPILER=] [-DLAUNCHER=] [-DCONFIG=]
#         -P package_test.cmake
# find_package:     configure and install loadstar into WORK_DIR/prefix, then build and run
#                   tests/package/find_package against that prefix only.
# add_subdirectory: build and run tests/package/add_subdirectory, which adds SOURCE_DIR.
# -DSEPARATE=ON:    the same with loadstar built LOADSTAR_SEPARATE_COMPILATION (its static
#                   libraries installed, or built in the consumer's tree); the consumer checks
#                   that the macro reached it.
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE SOURCE_DIR WORK_DIR GENERATOR)
    if("${${var}}" STREQUAL "")
        message(FATAL_ERROR "package_test.cmake: -D${var}=... is required")
    endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory)$")
    message(FATAL_ERROR "package_test.cmake: unknown MODE '${MODE}'")
endif()

# Runs a command; on failure prints its output and stops.
function(step what)
    message(STATUS "package.${MODE}: ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        list(JOIN ARGN " " cmd)
        message(NOTICE "$ ${cmd}\n${out}")
        message(FATAL_ERROR "package.${MODE}: ${what} failed (${rc}), output above")
    endif()
endfunction()

set(toolchain -G "${GENERATOR}")
foreach(pair IN ITEMS MAKE_PROGRAM:CMAKE_MAKE_PROGRAM CXX_COMPILER:CMAKE_CXX_COMPILER
                      LAUNCHER:CMAKE_CXX_COMPILER_LAUNCHER CONFIG:CMAKE_BUILD_TYPE)
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 from)
    list(GET pair 1 to)
    if(NOT "${${from}}" STREQUAL "")
        list(APPEND toolchain "-D${to}=${${from}}")
    endif()
endforeach()
set(config_args "")
if(NOT "${CONFIG}" STREQUAL "")
    set(config_args --config "${CONFIG}")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
set(separate_args "")
if(SEPARATE)
    set(separate_args -DLOADSTAR_SEPARATE_COMPILATION=ON)
endif()
set(consumer_args "")
if(MODE STREQUAL "find_package")
    set(prefix "${WORK_DIR}/prefix")
    step("configure loadstar" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/loadstar"
        ${toolchain} "-DCMAKE_INSTALL_PREFIX=${prefix}" -DLOADSTAR_INSTALL=ON
        -DLOADSTAR_BUILD_TESTS=OFF -DLOADSTAR_BUILD_EXAMPLES=OFF -DLOADSTAR_BUILD_BENCHMARKS=OFF
        ${separate_args})
    step("build loadstar" "${CMAKE_COMMAND}" --build "${WORK_DIR}/loadstar" ${config_args})
    step("install loadstar" "${CMAKE_COMMAND}" --install "${WORK_DIR}/loadstar" ${config_args})
    # Only the temporary prefix may satisfy find_package(loadstar).
    set(consumer_args "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
        -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
else()
    set(consumer_args "-DLOADSTAR_SOURCE_TREE=${SOURCE_DIR}" ${separate_args})
endif()

set(consumer "${WORK_DIR}/consumer")
step("configure consumer" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/${MODE}"
    -B "${consumer}" ${toolchain} ${consumer_args} "-DLOADSTAR_EXPECT_SEPARATE=${SEPARATE}")
if(MODE STREQUAL "find_package")
    file(STRINGS "${consumer}/CMakeCache.txt" found REGEX "^loadstar_DIR:")
    string(REGEX REPLACE "^[^=]*=" "" found "${found}")
    file(REAL_PATH "${prefix}" real_prefix)
    file(REAL_PATH "${found}" real_found)
    string(FIND "${real_found}" "${real_prefix}/" at)
    if(NOT at EQUAL 0)
        message(FATAL_ERROR "package.find_package: found loadstar at '${found}', not in '${prefix}'")
    endif()
endif()
step("build consumer" "${CMAKE_COMMAND}" --build "${consumer}" ${config_args})
step("run consumer" "${CMAKE_CTEST_COMMAND}" --test-dir "${consumer}" --output-on-failure
    --no-tests=error ${config_args})
message(STATUS "package.${MODE}: passed")
