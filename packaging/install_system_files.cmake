# Run at install time (install(SCRIPT)), when CMAKE_INSTALL_PREFIX is the one
# being installed to: `cmake --install` (/usr/local by default) or cpack
# (/usr). Debian's places for the prefix /usr are /etc for the config and
# /lib/systemd/system for the unit (bookworm's dh); any other prefix keeps
# everything under itself. file(INSTALL) adds DESTDIR by itself.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc /etc)
  set(unit_dir /lib/systemd/system)
else()
  set(etc ${CMAKE_INSTALL_PREFIX}/etc)
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
file(INSTALL ${LBD_SOURCE_DIR}/sysconf/lbd.conf DESTINATION ${etc}/lbd)

# The unit in sysconf/ names /usr/sbin/lbd; the installed one names where
# this prefix puts lbd.
file(READ ${LBD_SOURCE_DIR}/sysconf/lbd.service unit)
string(REPLACE "/usr/sbin/lbd" "${CMAKE_INSTALL_PREFIX}/sbin/lbd" unit "${unit}")
file(WRITE ${LBD_BINARY_DIR}/lbd.service "${unit}")
file(INSTALL ${LBD_BINARY_DIR}/lbd.service DESTINATION ${unit_dir})
