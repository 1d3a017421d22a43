/* Known syscall sequences for tracer tests; argv[1] selects one. Compiled by the tests with gcc. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void files(void) {
    char buf[64];
    int fd = open("f.txt", O_WRONLY | O_CREAT | O_TRUNC, 0640);
    write(fd, "hello world\n", 12);
    close(fd);
    fd = openat(AT_FDCWD, "f.txt", O_RDONLY);
    read(fd, buf, sizeof buf);
    lseek(fd, 0, SEEK_SET);
    pread(fd, buf, 5, 6);
    close(fd);
    open("/nonexistent/x", O_RDONLY);
    mkdir("d", 0755);
    rename("f.txt", "d/g.txt");
    struct stat st;
    stat("d/g.txt", &st);
    unlink("d/g.txt");
    rmdir("d");
}

/* One path buffer, rewritten between opens: each open's exit must name its own file. */
static void reopen(void) {
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "r%d.txt", i % 7);
        int fd = i % 2 ? openat(AT_FDCWD, name, O_WRONLY | O_CREAT, 0600) : open(name, O_WRONLY | O_CREAT, 0600);
        close(fd);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof name, "r%d.txt", i);
        unlink(name);
    }
}

static void pipes(void) {
    int p[2];
    char buf[8];
    pipe2(p, O_CLOEXEC);
    write(p[1], "abc", 3);
    read(p[0], buf, sizeof buf);
    int d = dup(p[0]);
    dup2(d, 20);
    close(20);
    close(d);
    close(p[0]);
    close(p[1]);
}

static void tcp(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    char buf[16];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 4);
    getsockname(s, (struct sockaddr *)&a, &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int x = accept(s, NULL, NULL);
    sendto(c, "ping", 4, 0, NULL, 0);
    recvfrom(x, buf, sizeof buf, 0, NULL, NULL);
    shutdown(c, SHUT_WR);
    close(x);
    close(c);
    close(s);
}

static void udp(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in from;
    socklen_t len = sizeof a, flen = sizeof from;
    char buf[16];
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    sendto(c, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a);
    recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    close(c);
    close(s);
}

static void unixsock(void) {
    int sv[2];
    char buf[8];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "u", 1);
    read(sv[1], buf, sizeof buf);
    close(sv[0]);
    close(sv[1]);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "u.sock");
    unlink("u.sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 1);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int x = accept(s, NULL, NULL);
    close(x);
    close(c);
    close(s);
    unlink("u.sock");
}

static void *worker(void *arg) {
    syscall(SYS_getppid);
    write(1, arg, 2);
    return NULL;
}

static void threads(void) {
    pthread_t t1, t2;
    pthread_create(&t1, NULL, worker, "a\n");
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, worker, "b\n");
    pthread_join(t2, NULL);
}

static void forks(void) {
    pid_t p = fork();
    if (p == 0) {
        write(1, "child\n", 6);
        _exit(3);
    }
    waitpid(p, NULL, 0);
    p = vfork();
    if (p == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);
}

static void on_usr1(int sig) { (void)sig; write(1, "sig\n", 4); }

static void signals(void) {
    signal(SIGUSR1, on_usr1);
    kill(getpid(), SIGUSR1);
    signal(SIGUSR2, SIG_IGN);
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
}

static void *execer(void *arg) {
    (void)arg;
    execl("/bin/true", "true", (char *)NULL);
    return NULL;
}

static void execthread(void) {
    pthread_t t;
    pthread_create(&t, NULL, execer, NULL);
    pause();
}

static void loop(void) {
    /* For attach tests: keep making syscalls; writes a dot per round to stdout. */
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (;;) {
        syscall(SYS_getppid);
        write(1, ".", 1);
        nanosleep(&ts, NULL);
    }
}

static void spin(void) {
    long n = 100000;
    const char *e = getenv("N");
    if (e) n = atol(e);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
}

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "files";
    if (!strcmp(m, "files")) files();
    else if (!strcmp(m, "pipes")) pipes();
    else if (!strcmp(m, "reopen")) reopen();
    else if (!strcmp(m, "tcp")) tcp();
    else if (!strcmp(m, "udp")) udp();
    else if (!strcmp(m, "unix")) unixsock();
    else if (!strcmp(m, "threads")) threads();
    else if (!strcmp(m, "forks")) forks();
    else if (!strcmp(m, "signals")) signals();
    else if (!strcmp(m, "execthread")) execthread();
    else if (!strcmp(m, "loop")) loop();
    else if (!strcmp(m, "spin")) spin();
    else if (!strcmp(m, "exit")) return atoi(argv[2]);
    else return 100;
    return 0;
}
