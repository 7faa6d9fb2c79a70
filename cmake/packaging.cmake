# Installation (`make install`, PREFIX, DESTDIR) and the Debian package
# (`make deb`, CPack). docs/install.md describes the result.
#
# Installed: the binary, the lua/ tree (lib, integrations, examples) under
# <prefix>/share/siemrelay/lua, the configuration (<sysconfdir>/siemrelay/
# siemrelay.yaml: /etc/siemrelay for the prefix /usr, <prefix>/etc/siemrelay
# otherwise), the systemd unit and the docs. The admin page (web/) is
# compiled into the binary (cmake/embed_web.cmake): no files to install.
include(GNUInstallDirs)

set(SR_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SR_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/siemrelay)
set(SR_DOCDIR ${CMAKE_INSTALL_FULL_DATADIR}/doc/siemrelay)
set(SR_PKG_DIR ${CMAKE_BINARY_DIR}/packaging)
configure_file(${CMAKE_SOURCE_DIR}/packaging/siemrelay.service.in
  ${SR_PKG_DIR}/siemrelay.service @ONLY)

install(TARGETS siemrelay RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The gateway looks for this tree beside its binary first
# (runtime/app/gateway.c lua_dir), so a DESTDIR or relocated copy finds it.
install(DIRECTORY lua/ DESTINATION ${CMAKE_INSTALL_DATADIR}/siemrelay/lua)
install(FILES packaging/siemrelay.yaml DESTINATION ${SR_CONFDIR})
# systemd reads units from /usr/lib and /usr/local/lib alike.
install(FILES ${SR_PKG_DIR}/siemrelay.service
  DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
install(FILES README.md DESTINATION ${SR_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${SR_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(DIRECTORY config/examples/ DESTINATION ${SR_DOCDIR}/examples)

# The Debian package: `make deb` configures a build with the prefix /usr
# (so that the configuration is /etc/siemrelay) and runs `cpack -G DEB`.
set(CPACK_PACKAGE_NAME siemrelay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "siemrelay maintainers <maintainers@siemrelay.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "security-event forwarding gateway")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The long description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "siemrelay takes security events over HTTP, TCP and Kafka and forwards\nthem to SIEM and data platforms in their own wire formats, with Lua\nscripts, disk spools, an admin API and a systemd service.")
# The libraries' packages come from dpkg-shlibdeps; the postinst needs adduser.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
foreach(script postinst prerm postrm conffiles)
  set(src ${CMAKE_SOURCE_DIR}/packaging/deb/${script})
  if(EXISTS ${src}.in)
    configure_file(${src}.in ${SR_PKG_DIR}/deb/${script} @ONLY)
  endif()
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${SR_PKG_DIR}/deb/postinst ${SR_PKG_DIR}/deb/prerm ${SR_PKG_DIR}/deb/postrm
  ${SR_PKG_DIR}/deb/conffiles)
# Maintainer scripts 0755, the rest 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
