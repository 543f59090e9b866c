#ifndef LOGFERRY_CRC32C_H
#define LOGFERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC32C instruction (x86-64 SSE4.2, AArch64 CRC extension).
int logferry_crc32c_hardware_available(void);

/// CRC32C of `length` bytes at `data`, continuing from `crc` (0 to start), with the CPU's CRC32C
/// instruction. Only call when `logferry_crc32c_hardware_available()` is true.
uint32_t logferry_crc32c_hardware(uint32_t crc, const void *data, size_t length);

#endif
