#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <unistd.h>

#include "logferry_posix.h"

int logferry_start_writeback(int fd, long long offset, long long count) {
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE);
}

int logferry_syncfs(int fd) {
    return syncfs(fd);
}

int logferry_malloc_keep_freed(size_t mmap_threshold, size_t trim_threshold) {
    int mmap_set = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    int trim_set = mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
    return mmap_set == 1 && trim_set == 1;
}

int logferry_malloc_single_arena(void) {
    return mallopt(M_ARENA_MAX, 1) == 1;
}

int logferry_malloc_trim(void) {
    return malloc_trim(0);
}

int logferry_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
