# Installation: the cria executable with the bundled model, and the C API as a CMake package
# (find_package(cria) gives cria::cria) and a pkg-config module (cria.pc). Everything is relative to
# the prefix, so `cmake --install BUILD --prefix DIR` works for any DIR.
include(CMakePackageConfigHelpers)

if(CRIA_BUILD_CLI)
  install(TARGETS cria RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# cli::default_model_path() looks for it beside an installed executable, in <bin>/../share/cria/models.
install(FILES ${PROJECT_SOURCE_DIR}/models/kjv-Q8_0.gguf DESTINATION ${CMAKE_INSTALL_DATADIR}/cria/models)

if(CRIA_BUILD_SHARED)
  set(CRIA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cria)
  install(TARGETS cria_shared EXPORT criaTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/cria/cria.h ${PROJECT_SOURCE_DIR}/include/cria/cria.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cria)
  install(EXPORT criaTargets NAMESPACE cria:: DESTINATION ${CRIA_CMAKE_DIR} FILE criaTargets.cmake)

  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/criaConfig.cmake.in
    ${PROJECT_BINARY_DIR}/criaConfig.cmake INSTALL_DESTINATION ${CRIA_CMAKE_DIR})
  # Before 1.0 a minor version may change the API, so only the same minor version is compatible.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/criaConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/criaConfig.cmake ${PROJECT_BINARY_DIR}/criaConfigVersion.cmake
    DESTINATION ${CRIA_CMAKE_DIR})

  # pkg-config: the prefix is found from the .pc file's own place (${pcfiledir}), not written in at
  # configure time, because the prefix given to `cmake --install` may differ from CMAKE_INSTALL_PREFIX.
  set(CRIA_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  if(IS_ABSOLUTE "${CRIA_PC_DIR}")
    set(CRIA_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH CRIA_PC_UP "/prefix/${CRIA_PC_DIR}" "/prefix")
    string(REGEX REPLACE "/$" "" CRIA_PC_UP "${CRIA_PC_UP}")
    set(CRIA_PC_PREFIX "\${pcfiledir}/${CRIA_PC_UP}")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/cria.pc.in ${PROJECT_BINARY_DIR}/cria.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/cria.pc DESTINATION ${CRIA_PC_DIR})
endif()
