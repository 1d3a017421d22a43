/* Prints "<uid> <euid>" and opens a file: installed setuid-root by the pushdown tests. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY);
    printf("%d %d %d\n", (int)getuid(), (int)geteuid(), fd >= 0);
    return 0;
}
