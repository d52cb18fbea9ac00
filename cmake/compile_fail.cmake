# SPDX-License-Identifier: MIT
# Compile-fail check, run by ctest as compile_fail.<name>:
#   cmake -DBUILD_DIR=<build tree> -DTARGET=<target> -DSOURCE=<file.cpp> [-DCONFIG=<cfg>]
#         -P compile_fail.cmake
# Builds TARGET and succeeds only if the build fails AND its output matches every
# `// expect: <regex>` line of SOURCE (CMake regex syntax) AND, if SOURCE has a line
# `// max-lines: <N>`, the compiler's diagnostics are at most N lines (the build tool's own
# lines, such as ninja's progress, FAILED: and the command, are not counted): one mistake,
# one error, not a cascade. Otherwise prints the output.
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS BUILD_DIR TARGET SOURCE)
    if("${${var}}" STREQUAL "")
        message(FATAL_ERROR "compile_fail.cmake: -D${var}=... is required")
    endif()
endforeach()

# Collect the regexes one by one (no CMake lists: a regex may contain ';').
file(READ "${SOURCE}" rest)
set(count 0)
while(rest MATCHES "//[ \t]*expect:[ \t]*([^\r\n]*)")
    string(STRIP "${CMAKE_MATCH_1}" regex_${count})
    string(FIND "${rest}" "${CMAKE_MATCH_0}" at)
    string(LENGTH "${CMAKE_MATCH_0}" length)
    math(EXPR at "${at} + ${length}")
    string(SUBSTRING "${rest}" ${at} -1 rest)
    math(EXPR count "${count} + 1")
endwhile()
if(count EQUAL 0)
    message(FATAL_ERROR "${SOURCE}: no '// expect: <regex>' line")
endif()
file(STRINGS "${SOURCE}" max_lines_line REGEX "//[ \t]*max-lines:[ \t]*[0-9]+")
set(max_lines "")
if(max_lines_line MATCHES "max-lines:[ \t]*([0-9]+)")
    set(max_lines "${CMAKE_MATCH_1}")
endif()

set(config_args "")
if(NOT "${CONFIG}" STREQUAL "")
    set(config_args --config "${CONFIG}")
endif()
execute_process(
    COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
    RESULT_VARIABLE rc OUTPUT_VARIABLE output ERROR_VARIABLE output)
string(ASCII 27 esc)
string(REGEX REPLACE "${esc}\\[[0-9;]*[A-Za-z]" "" output "${output}")

# Prints the build output verbatim, then fails with a one-line reason.
function(fail reason)
    message(NOTICE "${output}")
    message(FATAL_ERROR "${reason}")
endfunction()

if(rc EQUAL 0)
    fail("${TARGET} compiled (output above), but ${SOURCE} must fail to compile")
endif()
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
    if(NOT output MATCHES "${regex_${i}}")
        fail("${TARGET} failed to compile (output above), but not with '${regex_${i}}'")
    endif()
endforeach()
if(NOT max_lines STREQUAL "")
    # The compiler's lines: all but the build tool's (progress, FAILED:, the command line).
    # Walked with string(FIND), not as a CMake list: diagnostics hold ';' and unbalanced '['.
    set(rest "${output}\n")
    set(diagnostics 0)
    while(NOT rest STREQUAL "")
        string(FIND "${rest}" "\n" eol)
        string(SUBSTRING "${rest}" 0 ${eol} line)
        math(EXPR eol "${eol} + 1")
        string(SUBSTRING "${rest}" ${eol} -1 rest)
        if(line STREQUAL "" OR line MATCHES "^\\[[0-9]+/[0-9]+\\]" OR line MATCHES "^(FAILED:|ninja:|g?make)"
           OR line MATCHES "CMakeFiles/${TARGET}\\.dir/")
            continue()
        endif()
        math(EXPR diagnostics "${diagnostics} + 1")
    endwhile()
    if(diagnostics GREATER max_lines)
        fail("${TARGET} failed to compile with the expected message, but in ${diagnostics} lines of diagnostics (output above); at most ${max_lines} are allowed")
    endif()
    message(STATUS "${TARGET} failed to compile as expected, in ${diagnostics} lines of diagnostics (at most ${max_lines})")
    return()
endif()
message(STATUS "${TARGET} failed to compile as expected")
