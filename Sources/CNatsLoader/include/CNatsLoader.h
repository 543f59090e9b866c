#ifndef LOGFERRY_CNATSLOADER_H
#define LOGFERRY_CNATSLOADER_H

#include <stddef.h>

/// Loads the NATS C client library once (see nats_loader.c); 0 when it is loaded (now or before), else -1 with
/// the reason written into `error` (at most `capacity` bytes, NUL-terminated).
int logferry_nats_load(char *error, size_t capacity);

/// The soname of the libnats LogFerry was built against, e.g. "libnats.so.3.4".
const char *logferry_nats_soname(void);

#endif
