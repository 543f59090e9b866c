#define _GNU_SOURCE
#include <unistd.h>

#include "logferry_posix.h"

int logferry_syncfs(int fd) {
    return syncfs(fd);
}
