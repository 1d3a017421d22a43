/* Installs its own seccomp filter (allow everything) with prctl(PR_SET_SECCOMP), then opens a file and
 * prints "ok <fd>". Filters stack: under sdu's pushdown, sdu's RET_TRACE must still win over ALLOW. */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void) {
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 1; }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) { perror("seccomp"); return 2; }
    int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY);
    printf("ok %d\n", fd >= 0);
    close(fd);
    return 0;
}
