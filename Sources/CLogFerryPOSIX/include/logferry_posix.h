#ifndef LOGFERRY_POSIX_H
#define LOGFERRY_POSIX_H

/// syncfs(2): writes back and makes durable everything of the file system `fd` is on, in one journal commit.
/// Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not set. Returns 0, or -1 with errno.
int logferry_syncfs(int fd);

#endif
