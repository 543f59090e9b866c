#ifndef LOGFERRY_CSYSTEMD_SHIM_H
#define LOGFERRY_CSYSTEMD_SHIM_H

// libsystemd (libsystemd-dev): sd-journal to read the journal, sd-daemon for sd_notify and the watchdog.
// Only LogFerrySystemd imports this module; nothing else sees a C pointer.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
