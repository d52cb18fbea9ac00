# SPDX-License-Identifier: MIT
# Internal INTERFACE targets for loadstar's own tests, examples and benchmarks. They are never
# linked by the public targets, never installed and never exported.

# Strict warnings, as errors.
add_library(loadstar_warnings INTERFACE)
if(MSVC)
    target_compile_options(loadstar_warnings INTERFACE /W4 /WX /permissive-)
else()
    # -Wno-missing-field-initializers: GCC 12 warns on designated initializers that leave
    # members to their defaults (`Author{.name = "Jane"}`), which is the style API.md uses.
    target_compile_options(loadstar_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror
                           -Wno-missing-field-initializers)
endif()

# LOADSTAR_SANITIZE: ASan + UBSan on compile and link, aborting on the first report.
# Carried by loadstar_warnings, so every internal binary gets it.
add_library(loadstar_sanitize INTERFACE)
if(LOADSTAR_SANITIZE)
    if(MSVC)
        message(FATAL_ERROR "LOADSTAR_SANITIZE is supported with GCC and Clang only")
    endif()
    set(_loadstar_sanitize_flags
        -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_compile_options(loadstar_sanitize INTERFACE ${_loadstar_sanitize_flags})
    target_link_options(loadstar_sanitize INTERFACE ${_loadstar_sanitize_flags})
    unset(_loadstar_sanitize_flags)
endif()
target_link_libraries(loadstar_warnings INTERFACE loadstar_sanitize)
