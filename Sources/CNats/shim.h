#ifndef LOGFERRY_CNATS_SHIM_H
#define LOGFERRY_CNATS_SHIM_H

// The NATS C client (libnats-dev, 3.x with JetStream), wrapped by LogFerryNATS.
#include <nats/nats.h>

#endif
