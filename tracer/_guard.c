/* sdu-guard: tracer/guard.py's co-location watchdog as a small program of its own.
 *
 *     sdu-guard-N PIDFD RFD CPU MASK
 *
 * guard.start runs it with posix_spawn (a vfork and an execve: no copy of the tracer, whose fork cost a
 * short run ~4 ms of wall time in page-table copies and copy-on-write faults), handing it a pidfd of the
 * tracer (PIDFD), the read end of the tracer's pipe (RFD), the one shared CPU and the original mask
 * (MASK: the cpumask bytes in hex, byte 0 first). It does what guard._watch does, in the same order:
 * the terminal's signals ignored, named sdu-guard, stdin/out/err on /dev/null and every other
 * descriptor closed, moved off the shared CPU; then it follows the tracer's messages (int32, native
 * order: tid pinned or created, -tid gone, 0 released) until a release (exit at once) or the tracer's
 * end (its pidfd readable, or EOF), after which it gives the original mask to every known thread still
 * on exactly the shared CPU, and to the threads of processes forked from them meanwhile (guard.restore's
 * rounds). Being a process of its own (its own memory, unlike a CLONE_VM child of the tracer), it
 * outlives every way the tracer can die: an OOM kill or a core dump takes only the tracer.
 *
 * Exit status: 0, or 2 for arguments it cannot use (guard.start checks them before it runs it).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range /* glibc 2.32's <sys/syscall.h> stops at Linux 5.8 */
#define SYS_close_range 436
#endif

#define MASK_BYTES 1024 /* up to 8192 CPUs; sched_getaffinity writes the kernel's own size */
#define ROUNDS 4        /* guard._ROUNDS */

/* A set of positive ints: open addressing, 0 empty, -1 deleted. */
struct iset {
    int *slots;
    long cap, used, live; /* used counts deleted slots too */
};

static void die(void) {
    _exit(0); /* a watchdog has no one to report to: it just ends (as guard._watch) */
}

static void iset_grow(struct iset *s) {
    /* doubled when most slots hold live ids, else rebuilt at the same size (drops the deleted ones) */
    long cap = s->cap == 0 ? 1024 : (s->live + 1) * 4 > s->cap ? s->cap * 2 : s->cap;
    int *slots = calloc((size_t)cap, sizeof(int));
    if (slots == NULL)
        die();
    for (long i = 0; i < s->cap; i++) {
        int v = s->slots[i];
        if (v > 0) {
            unsigned long h = ((unsigned long)v * 2654435761u) & (unsigned long)(cap - 1);
            while (slots[h] != 0)
                h = (h + 1) & (unsigned long)(cap - 1);
            slots[h] = v;
        }
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->used = s->live;
}

/* The slot of v (*found set), or of where it would go. The set is never full (used <= cap / 2). */
static long iset_find(const struct iset *s, int v, int *found) {
    *found = 0;
    if (s->cap == 0)
        return -1;
    unsigned long mask = (unsigned long)(s->cap - 1);
    unsigned long h = ((unsigned long)v * 2654435761u) & mask;
    long free_at = -1;
    while (s->slots[h] != 0) {
        if (s->slots[h] == v) {
            *found = 1;
            return (long)h;
        }
        if (s->slots[h] == -1 && free_at < 0)
            free_at = (long)h;
        h = (h + 1) & mask;
    }
    return free_at >= 0 ? free_at : (long)h;
}

static int iset_has(const struct iset *s, int v) {
    int found;
    iset_find(s, v, &found);
    return found;
}

static void iset_add(struct iset *s, int v) {
    if ((s->used + 1) * 2 > s->cap)
        iset_grow(s);
    int found;
    long at = iset_find(s, v, &found);
    if (!found) {
        if (s->slots[at] == 0)
            s->used++;
        s->slots[at] = v;
        s->live++;
    }
}

static void iset_discard(struct iset *s, int v) {
    int found;
    long at = iset_find(s, v, &found);
    if (found) {
        s->slots[at] = -1;
        s->live--;
    }
}

static void iset_clear(struct iset *s) {
    free(s->slots);
    s->slots = NULL;
    s->cap = s->used = s->live = 0;
}

/* Calls each(number, ctx) for every numeric entry of directory `path`. */
static void each_number(const char *path, void (*each)(int, void *), void *ctx) {
    DIR *dir = opendir(path);
    if (dir == NULL)
        return;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        char *end;
        long v = strtol(d->d_name, &end, 10);
        if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && *end == 0 && v > 0 && v <= 0x7fffffff)
            each((int)v, ctx);
    }
    closedir(dir);
}

/* The parent pid in /proc/PID/stat (after the last ')': state, then ppid), or -1. */
static long parent_of(int pid) {
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    if (close_paren == NULL || close_paren + 4 >= buf + n)
        return -1;
    char *end;
    long ppid = strtol(close_paren + 4, &end, 10); /* ") S PPID ..." */
    return end == close_paren + 4 ? -1 : ppid;
}

struct gather {
    struct iset *known; /* the threads seen so far */
    struct iset *todo;  /* what the next round visits */
};

static void add_todo(int tid, void *ctx) {
    struct gather *g = ctx;
    if (!iset_has(g->known, tid))
        iset_add(g->todo, tid);
}

static void tasks_into_todo(int pid, struct gather *g) {
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    each_number(path, add_todo, g);
}

static void child_process(int pid, void *ctx) {
    struct gather *g = ctx;
    if (iset_has(g->known, pid))
        return;
    long ppid = parent_of(pid);
    if (ppid > 0 && ppid <= 0x7fffffff && iset_has(g->known, (int)ppid))
        tasks_into_todo(pid, g);
}

/* Only `cpu` set in the thread's mask (guard._allowed_is with the one shared CPU). */
static int on_cpu_only(int tid, int cpu) {
    unsigned char mask[MASK_BYTES];
    long n = syscall(SYS_sched_getaffinity, tid, sizeof mask, mask);
    if (n <= 0 || cpu / 8 >= n)
        return 0;
    for (long i = 0; i < n; i++) {
        unsigned char want = (i == cpu / 8) ? (unsigned char)(1u << (cpu % 8)) : 0;
        if (mask[i] != want)
            return 0;
    }
    return 1;
}

/* guard.restore: the original mask for `tids` and, for a few rounds, the threads forked from them. */
static void restore(struct iset *tids, const unsigned char *original, int cpu) {
    struct iset seen = {NULL, 0, 0, 0}, todo = {NULL, 0, 0, 0};
    for (long i = 0; i < tids->cap; i++)
        if (tids->slots[i] > 0)
            iset_add(&todo, tids->slots[i]);
    for (int round = 0; round < ROUNDS; round++) {
        for (long i = 0; i < todo.cap; i++) {
            int tid = todo.slots[i];
            if (tid <= 0 || iset_has(&seen, tid))
                continue;
            iset_add(&seen, tid);
            if (on_cpu_only(tid, cpu))
                syscall(SYS_sched_setaffinity, tid, MASK_BYTES, original);
        }
        iset_clear(&todo);
        /* processes forked meanwhile (their parent is a known thread's process) inherited the one CPU */
        struct gather g = {&seen, &todo};
        each_number("/proc", child_process, &g);
        for (long i = 0; i < seen.cap; i++)
            if (seen.slots[i] > 0)
                tasks_into_todo(seen.slots[i], &g);
        if (todo.live == 0)
            break;
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int number(const char *text, long low, long high, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < low || v > high)
        return -1;
    *out = v;
    return 0;
}

/* Every descriptor but 0-2 and keep[0..n-1] closed: close_range over the gaps, else one by one. */
static void close_others(int *keep, int n) {
    for (int i = 1; i < n; i++) /* (sorted: a few descriptors) */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = 3;
    for (int i = 0; i <= n; i++) {
        unsigned int to = i < n ? (unsigned int)keep[i] - 1 : ~0u;
        if (i < n && (unsigned int)keep[i] < from)
            continue;
        if (to >= from && syscall(SYS_close_range, from, to, 0) != 0) {
            struct rlimit lim;
            unsigned int last = to;
            if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < last)
                last = (unsigned int)lim.rlim_cur;
            for (unsigned int fd = from; fd <= last && fd < (1u << 20); fd++)
                close((int)fd);
        }
        if (i < n)
            from = (unsigned int)keep[i] + 1;
    }
}

int main(int argc, char **argv) {
    long pidfd, rfd, cpu;
    unsigned char original[MASK_BYTES] = {0};
    if (argc != 5 || number(argv[1], 0, 1 << 20, &pidfd) || number(argv[2], 0, 1 << 20, &rfd) ||
        number(argv[3], 0, MASK_BYTES * 8 - 1, &cpu) || strlen(argv[4]) % 2 || strlen(argv[4]) > 2 * MASK_BYTES)
        return 2;
    for (size_t i = 0; argv[4][2 * i]; i++) {
        int hi = hex_value(argv[4][2 * i]), lo = hex_value(argv[4][2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 2;
        original[i] = (unsigned char)(hi << 4 | lo);
    }
    static const int terminal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof terminal / sizeof terminal[0]; i++)
        signal(terminal[i], SIG_IGN);
    prctl(PR_SET_NAME, "sdu-guard"); /* (the program's name has the protocol's number: guard.HELPER) */
    /* its two descriptors above 2 first: /dev/null goes on 0-2 (sdu run with stdin closed has one there) */
    int keep[2] = {(int)pidfd, (int)rfd};
    for (int i = 0; i < 2; i++)
        if (keep[i] <= 2 && (keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 3)) < 0)
            die();
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0)
        die();
    for (int fd = 0; fd < 3; fd++)
        if (devnull != fd)
            dup2(devnull, fd);
    close_others(keep, 2);
    syscall(SYS_sched_setaffinity, 0, MASK_BYTES, original); /* not on the shared CPU */

    struct iset tids = {NULL, 0, 0, 0};
    struct pollfd fds[2] = {{keep[0], POLLIN, 0}, {keep[1], POLLIN, 0}};
    int in = keep[1];
    unsigned char buf[4096 + 4];
    size_t rest = 0;
    int gone = 0;
    for (;;) {
        if (!gone) {
            int r = poll(fds, 2, -1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                die();
            if (fds[0].revents) {
                gone = 1; /* what it wrote before it died is all there is */
                int fl = fcntl(in, F_GETFL);
                if (fl < 0 || fcntl(in, F_SETFL, fl | O_NONBLOCK) < 0)
                    die();
            }
        }
        ssize_t got = read(in, buf + rest, sizeof buf - rest);
        if (got < 0 && errno == EINTR)
            continue;
        if (got == 0 || (got < 0 && errno == EAGAIN))
            break; /* the tracer is gone without a release */
        if (got < 0)
            die();
        size_t end = rest + (size_t)got;
        size_t whole = end - end % 4;
        for (size_t at = 0; at < whole; at += 4) {
            int32_t v;
            memcpy(&v, buf + at, 4);
            if (v == 0)
                die(); /* released */
            if (v > 0)
                iset_add(&tids, v);
            else if (v != INT32_MIN)
                iset_discard(&tids, -v);
        }
        rest = end - whole;
        memmove(buf, buf + whole, rest);
    }
    restore(&tids, original, (int)cpu);
    return 0;
}
