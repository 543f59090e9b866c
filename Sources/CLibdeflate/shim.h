#ifndef LOGFERRY_CLIBDEFLATE_SHIM_H
#define LOGFERRY_CLIBDEFLATE_SHIM_H

#include <libdeflate.h>

#endif
