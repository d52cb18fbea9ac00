# SPDX-License-Identifier: MIT
# Install rules: the headers, the exported targets (loadstar::loadstar and one per driver),
# loadstarConfig.cmake and a SameMajorVersion, architecture-independent version file.
include(CMakePackageConfigHelpers)

set(LOADSTAR_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/loadstar"
    CACHE STRING "Where to install loadstarConfig.cmake, relative to the prefix")

get_property(_loadstar_drivers GLOBAL PROPERTY LOADSTAR_DRIVERS)
set(_loadstar_driver_targets "")
foreach(_driver IN LISTS _loadstar_drivers)
    string(REGEX REPLACE "=.*" "" _name "${_driver}")
    list(APPEND _loadstar_driver_targets loadstar_${_name})
endforeach()

# LOADSTAR_SEPARATE_COMPILATION: the static libraries the public targets then link.
get_property(_loadstar_compiled GLOBAL PROPERTY LOADSTAR_COMPILED_TARGETS)
list(APPEND _loadstar_driver_targets ${_loadstar_compiled})

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT loadstar_development)
install(TARGETS loadstar ${_loadstar_driver_targets}
        EXPORT loadstarTargets
        COMPONENT loadstar_development)
install(EXPORT loadstarTargets
        NAMESPACE loadstar::
        DESTINATION "${LOADSTAR_INSTALL_CMAKEDIR}"
        COMPONENT loadstar_development)

# Substituted into the config as @LOADSTAR_CONFIG_DRIVERS@: "sqlite=SQLite3;..."
set(LOADSTAR_CONFIG_DRIVERS "${_loadstar_drivers}")
configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/loadstarConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/loadstarConfig.cmake"
    INSTALL_DESTINATION "${LOADSTAR_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/loadstarConfigVersion.cmake"
    COMPATIBILITY SameMajorVersion
    ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/loadstarConfig.cmake"
              "${PROJECT_BINARY_DIR}/loadstarConfigVersion.cmake"
        DESTINATION "${LOADSTAR_INSTALL_CMAKEDIR}"
        COMPONENT loadstar_development)

unset(_loadstar_drivers)
unset(_loadstar_compiled)
unset(_loadstar_driver_targets)
unset(_name)
