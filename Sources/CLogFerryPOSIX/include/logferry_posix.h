#ifndef LOGFERRY_POSIX_H
#define LOGFERRY_POSIX_H

#include <spawn.h>
#include <stddef.h>

/// syncfs(2): writes back and makes durable everything of the file system `fd` is on, in one journal commit.
/// Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not set. Returns 0, or -1 with errno.
int logferry_syncfs(int fd);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing back the dirty pages of `fd` in [offset, offset +
/// count) without waiting for them (count 0: to the end of the file). Not a durability guarantee: the later fdatasync
/// is; it spreads the writes so that fdatasync finds little left to do. Declared only under _GNU_SOURCE. Returns 0,
/// or -1 with errno.
int logferry_start_writeback(int fd, long long offset, long long count);

/// glibc malloc: serve allocations below `mmap_threshold` from the heap and give freed heap memory back to the
/// kernel only beyond `trim_threshold`. Returns 1 when both were taken, 0 otherwise.
int logferry_malloc_keep_freed(size_t mmap_threshold, size_t trim_threshold);

/// glibc malloc: one arena for all threads (M_ARENA_MAX 1). Returns 1 when taken, 0 otherwise.
int logferry_malloc_single_arena(void);

/// glibc malloc_trim(0): gives every whole free page of the heap back to the kernel, not only the top of it.
/// Returns 1 when memory was released, 0 otherwise.
int logferry_malloc_trim(void);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every descriptor from `from` on before
/// exec, so it inherits none of the parent's but its standard streams. Declared only under _GNU_SOURCE. Returns 0 or
/// an error number.
int logferry_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);

#endif
