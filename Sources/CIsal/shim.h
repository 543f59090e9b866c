#ifndef LOGFERRY_CISAL_SHIM_H
#define LOGFERRY_CISAL_SHIM_H

#include <stdint.h>
#include <isa-l/igzip_lib.h>

/// The level buffer ISA-L's deflate needs at `level` (ISAL_DEF_LVLx_DEFAULT). The size macros are
/// expressions over other macros, which Swift cannot import, so this evaluates them.
static inline uint32_t logferry_isal_level_buffer_size(int level) {
    switch (level) {
    case 0: return ISAL_DEF_LVL0_DEFAULT;
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    default: return ISAL_DEF_LVL3_DEFAULT;
    }
}

/// ISAL_DEF_MAX_LEVEL, the highest level ISA-L's deflate knows.
static inline int logferry_isal_max_level(void) {
    return ISAL_DEF_MAX_LEVEL;
}

#endif
