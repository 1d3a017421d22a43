/* The launched command's side of Engine.launch (tracer/engine.py) without a fork of the interpreter.
 *
 * os.fork() of sdu copies the page tables of a 20-40 MB process, and the child then runs Python until
 * its execve: every page it touches (refcounts) is a copy-on-write fault, and the parent faults again
 * on each page it writes afterwards. spawn() instead clones a child that shares sdu's memory
 * (CLONE_VM, as posix_spawn does, but without CLONE_VFORK: the child blocks until the tracer has
 * seized it, so the parent must run meanwhile) on a stack of its own, and the child makes only raw
 * system calls, the ones the Python child makes: the dispositions, the wait on the pipe ('g', 's' or
 * EOF: the tracer died, exit 127), chdir, the signal mask, the seccomp program (built by
 * tracer/seccomp.py, installed as Program.install does) and execve; on a failure the same one stderr
 * line, `sdu: CMD: strerror`, and exit 127.
 *
 * Sharing the memory, the child writes none of it but its own stack: no libc call that could take a
 * lock or set errno (the thread pointer is the parent's), raw `syscall` instructions only, and the
 * error text from strerrordesc_np (a table lookup). Everything it reads was copied into one block
 * that the returned capsule owns: the caller keeps it until the child has exec'd or exited (a tracer
 * that dies leaves the block mapped for the child, whose mm it still is; a capsule dropped earlier
 * leaves the block allocated, see block_free).
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* tracer/engine.py uses the module only when its VERSION is the one it was written for (a stale build
 * left by an editable install is ignored): bump both when the interface changes. */
#define LAUNCH_VERSION 2

#if defined(__x86_64__) && defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
#define HAVE_SPAWN 1
#endif

#ifdef HAVE_SPAWN
#define STACK_SIZE (64 * 1024)
#define MAX_SIG 64
#define PR_SET_NO_NEW_PRIVS_ 38
#define PR_SET_SECCOMP_ 22
#define SECCOMP_MODE_FILTER_ 2
#define SECCOMP_SET_MODE_FILTER_ 1

struct kernel_sigaction_ {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

struct sock_fprog_ {
    unsigned short len;
    void *filter;
};

struct child {
    char *path;
    char **argv;
    char **envp;
    char *cwd;           /* NULL: stay */
    const char *name;    /* argv[0] as given, for the error line */
    int rfd, wfd;
    int nsig;
    int sigs[MAX_SIG];
    int ignore[MAX_SIG]; /* 1: SIG_IGN, 0: SIG_DFL */
    uint64_t mask;       /* restored once traced */
    uint64_t waiting;    /* the mask while it waits for the tracer: the parent's at the clone */
    struct sock_fprog_ fprog; /* len 0: no program */
    int no_new_privs;
    char *stack;
    size_t size;         /* of the whole block */
    int done;            /* the parent's read end of a close-on-exec pipe only the child writes to */
};

/* A raw system call: no errno (the thread pointer is the parent's), the result or -errno. */
static long raw(long n, long a, long b, long c, long d, long e) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}

static long install_set(struct child *c) {
    long r = raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, 0, (long)&c->fprog, 0, 0);
    if (r != -ENOSYS) /* kernels 3.5-3.16 have only the prctl interface */
        return r;
    return raw(SYS_prctl, PR_SET_SECCOMP_, SECCOMP_MODE_FILTER_, (long)&c->fprog, 0, 0);
}

/* As seccomp.Program.install: the outcome is read by the tracer at the syscall's exit. */
static void install(struct child *c) {
    if (c->no_new_privs && raw(SYS_prctl, PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0) != 0)
        return;
    if (install_set(c) == -EACCES && !c->no_new_privs) {
        if (raw(SYS_prctl, PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0) != 0)
            return;
        install_set(c);
    }
}

static void fail(struct child *c, long err) {
    char unknown[40] = "Unknown error ";
    const char *text = strerrordesc_np((int)err);
    if (text == NULL) { /* as Python's strerror */
        char digits[24];
        int n = 0;
        unsigned long v = (unsigned long)err;
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v && n < 20);
        size_t at = strlen(unknown);
        while (n)
            unknown[at++] = digits[--n];
        unknown[at] = 0;
        text = unknown;
    }
    struct iovec parts[5] = {{"sdu: ", 5}, {(void *)c->name, strlen(c->name)}, {": ", 2},
                             {(void *)text, strlen(text)}, {"\n", 1}};
    raw(SYS_writev, 2, (long)parts, 5, 0, 0);
    raw(SYS_exit, 127, 0, 0, 0, 0);
}

static int child_main(void *arg) {
    struct child *c = arg;
    /* Every signal is blocked here (spawn blocks them around the clone). A handler of sdu's (CPython's C
     * handler) must never run in this child: it would run on sdu's memory and thread pointer, tripping
     * the handler in sdu (which would act on a signal it never got) and writing its errno. So each caught
     * signal is reset to SIG_DFL first, as posix_spawn does, and only then is any signal unblocked. */
    for (int sig = 1; sig <= MAX_SIG; sig++) {
        struct kernel_sigaction_ old;
        if (raw(SYS_rt_sigaction, sig, 0, (long)&old, 8, 0) == 0 && old.handler != (void *)SIG_DFL &&
            old.handler != (void *)SIG_IGN) {
            struct kernel_sigaction_ dfl = {(void *)SIG_DFL, 0, NULL, 0};
            raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0);
        }
    }
    for (int i = 0; i < c->nsig; i++) {
        struct kernel_sigaction_ act = {(void *)(c->ignore[i] ? SIG_IGN : SIG_DFL), 0, NULL, 0};
        raw(SYS_rt_sigaction, c->sigs[i], (long)&act, 0, 8, 0);
    }
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&c->waiting, 0, 8, 0);
    raw(SYS_close, c->wfd, 0, 0, 0, 0);
    char go = 0;
    long r;
    do
        r = raw(SYS_read, c->rfd, (long)&go, 1, 0, 0);
    while (r == -EINTR);
    raw(SYS_close, c->rfd, 0, 0, 0, 0);
    if (r < 0)
        fail(c, -r);
    if (r == 0) /* the tracer died before it let the child go: the command never starts */
        raw(SYS_exit, 127, 0, 0, 0, 0);
    if (c->cwd != NULL && (r = raw(SYS_chdir, (long)c->cwd, 0, 0, 0, 0)) < 0)
        fail(c, -r);
    /* Traced from here (or the tracer is gone): a pending or later signal ends this child (or is
     * ignored, as the command would), a signal-delivery-stop the tracer passes on. */
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&c->mask, 0, 8, 0);
    if (go == 's' && c->fprog.len)
        install(c);
    r = raw(SYS_execve, (long)c->path, (long)c->argv, (long)c->envp, 0, 0);
    fail(c, -r);
    return 127;
}

/* The block is freed once the child has exec'd or exited (its end of `done` closed: EOF); a child still
 * before its execve when the capsule goes (the Engine dropped early) keeps it: it is never freed. */
static void block_free(PyObject *capsule) {
    struct child *c = PyCapsule_GetPointer(capsule, "tracer._launch.child");
    if (c == NULL)
        return;
    char byte;
    ssize_t r;
    if (c->done < 0)
        r = 0;
    else
        do
            r = read(c->done, &byte, 1);
        while (r < 0 && errno == EINTR);
    if (c->done >= 0)
        close(c->done);
    if (r == 0)
        PyMem_RawFree(c);
}

/* Bytes of `items` (a list of bytes) copied at *at; the pointers into out[], NULL-terminated. */
static int copy_strings(PyObject *items, char **out, char **at) {
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "spawn: argv and env must be lists of bytes");
            return -1;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(item);
        memcpy(*at, PyBytes_AS_STRING(item), (size_t)len + 1);
        out[i] = *at;
        *at += len + 1;
    }
    out[n] = NULL;
    return 0;
}

static Py_ssize_t strings_size(PyObject *items) {
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        size += (PyBytes_Check(item) ? PyBytes_GET_SIZE(item) : 0) + 1 + (Py_ssize_t)sizeof(char *);
    }
    return size + (Py_ssize_t)sizeof(char *);
}

static PyObject *spawn(PyObject *self, PyObject *args) {
    PyObject *path, *argv, *env, *cwd, *dispositions, *mask, *program, *name;
    int rfd, wfd, no_new_privs;
    if (!PyArg_ParseTuple(args, "SO!OOO!O!iiOpS", &path, &PyList_Type, &argv, &env, &cwd, &PyList_Type,
                          &dispositions, &PyList_Type, &mask, &rfd, &wfd, &program, &no_new_privs, &name))
        return NULL;
    if ((env != Py_None && !PyList_Check(env)) || (cwd != Py_None && !PyBytes_Check(cwd)) ||
        (program != Py_None && !PyBytes_Check(program))) {
        PyErr_SetString(PyExc_TypeError, "spawn: env a list or None, cwd and program bytes or None");
        return NULL;
    }
    if (PyList_GET_SIZE(dispositions) > MAX_SIG) {
        PyErr_SetString(PyExc_ValueError, "spawn: too many dispositions");
        return NULL;
    }
    Py_ssize_t nenv = 0;
    extern char **environ;
    if (env == Py_None)
        while (environ[nenv] != NULL)
            nenv++;
    Py_ssize_t size = (Py_ssize_t)sizeof(struct child) + 16 + STACK_SIZE + PyBytes_GET_SIZE(path) + 1 +
                      PyBytes_GET_SIZE(name) + 1 + strings_size(argv) + 8;
    if (env == Py_None) {
        for (Py_ssize_t i = 0; i < nenv; i++)
            size += (Py_ssize_t)(strlen(environ[i]) + 1 + sizeof(char *));
        size += (Py_ssize_t)sizeof(char *);
    } else {
        size += strings_size(env);
    }
    if (cwd != Py_None)
        size += PyBytes_GET_SIZE(cwd) + 1;
    if (program != Py_None)
        size += PyBytes_GET_SIZE(program) + 8;
    char *block = PyMem_RawCalloc(1, (size_t)size);
    if (block == NULL)
        return PyErr_NoMemory();
    PyObject *keep = PyCapsule_New(block, "tracer._launch.child", block_free);
    struct child *c = (struct child *)block;
    c->done = -1;
    if (keep == NULL) {
        PyMem_RawFree(block);
        return NULL;
    }
    char *at = block + sizeof(struct child);
    at += (16 - ((uintptr_t)at & 15)) & 15;
    c->stack = at;
    at += STACK_SIZE;
    c->size = (size_t)size;
    if (program != Py_None && PyBytes_GET_SIZE(program) > 0) {
        at += (8 - ((uintptr_t)at & 7)) & 7;
        memcpy(at, PyBytes_AS_STRING(program), (size_t)PyBytes_GET_SIZE(program));
        c->fprog.filter = at;
        c->fprog.len = (unsigned short)(PyBytes_GET_SIZE(program) / 8);
        at += PyBytes_GET_SIZE(program);
    }
    at += (8 - ((uintptr_t)at & 7)) & 7;
    c->argv = (char **)at;
    at += sizeof(char *) * (size_t)(PyList_GET_SIZE(argv) + 1);
    c->envp = (char **)at;
    at += sizeof(char *) * (size_t)((env == Py_None ? nenv : PyList_GET_SIZE(env)) + 1);
    if (copy_strings(argv, c->argv, &at) < 0)
        goto error;
    if (env == Py_None) {
        for (Py_ssize_t i = 0; i < nenv; i++) {
            size_t len = strlen(environ[i]);
            memcpy(at, environ[i], len + 1);
            c->envp[i] = at;
            at += len + 1;
        }
        c->envp[nenv] = NULL;
    } else if (copy_strings(env, c->envp, &at) < 0) {
        goto error;
    }
    c->path = at;
    memcpy(at, PyBytes_AS_STRING(path), (size_t)PyBytes_GET_SIZE(path) + 1);
    at += PyBytes_GET_SIZE(path) + 1;
    c->name = at;
    memcpy(at, PyBytes_AS_STRING(name), (size_t)PyBytes_GET_SIZE(name) + 1);
    at += PyBytes_GET_SIZE(name) + 1;
    if (cwd != Py_None) {
        c->cwd = at;
        memcpy(at, PyBytes_AS_STRING(cwd), (size_t)PyBytes_GET_SIZE(cwd) + 1);
        at += PyBytes_GET_SIZE(cwd) + 1;
    }
    c->nsig = (int)PyList_GET_SIZE(dispositions);
    for (int i = 0; i < c->nsig; i++) {
        PyObject *pair = PyList_GET_ITEM(dispositions, i);
        if (!PyArg_ParseTuple(pair, "ip", &c->sigs[i], &c->ignore[i]))
            goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mask); i++) {
        long sig = PyLong_AsLong(PyList_GET_ITEM(mask, i));
        if (sig == -1 && PyErr_Occurred())
            goto error;
        if (sig >= 1 && sig <= 64)
            c->mask |= (uint64_t)1 << (sig - 1);
    }
    c->rfd = rfd;
    c->wfd = wfd;
    c->no_new_privs = no_new_privs;
    int done[2];
    if (pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) {
        c->done = -1;
        PyErr_SetFromErrno(PyExc_OSError);
        goto error;
    }
    c->done = done[0];
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before); /* until the child has reset the handlers (child_main) */
    memcpy(&c->waiting, &before, sizeof c->waiting);
    int pid = clone(child_main, c->stack + STACK_SIZE, CLONE_VM | SIGCHLD, c);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    close(done[1]); /* the child's copy stays open until its execve or exit */
    if (pid < 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto error;
    }
    PyObject *out = Py_BuildValue("iO", pid, keep);
    if (out != NULL)
        Py_DECREF(keep); /* (else the block stays allocated: the child reads it) */
    return out;
error:
    Py_DECREF(keep);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ watchdog
 *
 * tracer/guard.py's watchdog without a fork of the interpreter: os.fork() of the tracer copied its page
 * tables and then made every page either process wrote a copy-on-write fault, for as long as the
 * watchdog lived (the whole run): ~4 ms of a short run's wall time (`sdu -- /bin/true`). watchdog()
 * clones it as spawn() clones the command (CLONE_VM, its own stack, raw system calls only, its data in
 * one block the capsule owns) and it does what guard._watch does, in the same order: terminal signals
 * ignored, named COMM, stdin/out/err on /dev/null and every other descriptor closed, moved off the
 * shared CPU, then it follows the tracer's messages (struct "<i": tid pinned or created, -tid gone, 0
 * released) until a release (exit at once) or the tracer's end (its pidfd readable, or EOF), after which
 * it gives the original mask to every known thread still on exactly the shared CPU, and to the threads
 * of processes forked from them meanwhile (guard.restore, the same rounds). It never allocates from the
 * heap it shares with the tracer: its sets live in pages it maps itself. */

#define WD_MASK_BYTES 1024 /* up to 8192 CPUs; sched_getaffinity writes the kernel's own size */
#define WD_ROUNDS 4

struct watch {
    int pidfd, rfd, done_w;
    int cpu;
    uint64_t mask;          /* the signal mask the clone started with (the tracer's) */
    unsigned char original[WD_MASK_BYTES];
    char *stack;
    int done;               /* parent's read end: EOF once the watchdog has exited (the block may go) */
};

/* A set of positive ints in pages of its own: open addressing, 0 empty, -1 deleted. */
struct iset {
    int *slots;
    long cap, used; /* used counts deleted slots too */
};

/* Anonymous pages (mmap's sixth argument, the offset, is 0: raw() passes five). */
static long raw_map(long bytes) {
    long ret;
    register long r10 __asm__("r10") = MAP_PRIVATE | MAP_ANONYMOUS;
    register long r8 __asm__("r8") = -1;
    register long r9 __asm__("r9") = 0;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(SYS_mmap), "D"(0), "S"(bytes), "d"(PROT_READ | PROT_WRITE),
                     "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}

static int iset_grow(struct iset *s) {
    long cap = s->cap ? s->cap * 2 : 1024;
    long r = raw_map(cap * (long)sizeof(int));
    if (r < 0 && r > -4096)
        return -1;
    int *slots = (int *)r;
    struct iset grown = {slots, cap, 0};
    for (long i = 0; i < s->cap; i++) {
        int v = s->slots[i];
        if (v > 0) {
            unsigned long h = ((unsigned long)v * 2654435761u) & (unsigned long)(cap - 1);
            while (slots[h] != 0)
                h = (h + 1) & (unsigned long)(cap - 1);
            slots[h] = v;
            grown.used++;
        }
    }
    if (s->slots != NULL)
        raw(SYS_munmap, (long)s->slots, s->cap * (long)sizeof(int), 0, 0, 0);
    *s = grown;
    return 0;
}

/* The slot of v, or of where it would go (-1 when the set is empty). */
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

static int iset_add(struct iset *s, int v) {
    if ((s->used + 1) * 2 > s->cap && iset_grow(s) < 0)
        return -1;
    int found;
    long at = iset_find(s, v, &found);
    if (!found) {
        if (s->slots[at] == 0)
            s->used++;
        s->slots[at] = v;
    }
    return 0;
}

static void iset_discard(struct iset *s, int v) {
    int found;
    long at = iset_find(s, v, &found);
    if (found)
        s->slots[at] = -1;
}

static void iset_free(struct iset *s) {
    if (s->slots != NULL)
        raw(SYS_munmap, (long)s->slots, s->cap * (long)sizeof(int), 0, 0, 0);
    s->slots = NULL;
    s->cap = s->used = 0;
}

static void wd_exit(void) {
    raw(SYS_exit, 0, 0, 0, 0, 0);
}

/* Decimal digits of `s` up to `end` (or its NUL): the number, or -1 if there are none or others. */
static long parse_uint(const char *s, const char *end) {
    long v = 0;
    const char *p = s;
    for (; (end == NULL || p < end) && *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 0x7fffffff)
            return -1;
    }
    return p == s ? -1 : v;
}

static char *put_uint(char *at, long v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *at++ = digits[--n];
    *at = 0;
    return at;
}

struct linux_dirent64_ {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Calls each(number, ctx) for every numeric entry of directory `path`. */
static void each_number(const char *path, void (*each)(int, void *), void *ctx) {
    long fd = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0);
    if (fd < 0)
        return;
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = raw(SYS_getdents64, fd, (long)buf, sizeof buf, 0, 0);
        if (n <= 0)
            break;
        for (long at = 0; at < n;) {
            struct linux_dirent64_ *d = (struct linux_dirent64_ *)(buf + at);
            long v = parse_uint(d->name, NULL);
            if (v > 0)
                each((int)v, ctx);
            at += d->reclen;
        }
    }
    raw(SYS_close, fd, 0, 0, 0, 0);
}

/* The parent pid in /proc/PID/stat (after the last ')': state, then ppid), or -1. */
static long parent_of(int pid) {
    char path[48] = "/proc/";
    char *at = put_uint(path + 6, pid);
    memcpy(at, "/stat", 6);
    long fd = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0);
    if (fd < 0)
        return -1;
    char buf[1024];
    long n = raw(SYS_read, fd, (long)buf, sizeof buf - 1, 0, 0);
    raw(SYS_close, fd, 0, 0, 0, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *close_paren = NULL;
    for (char *p = buf; p < buf + n; p++)
        if (*p == ')')
            close_paren = p;
    if (close_paren == NULL || close_paren + 4 >= buf + n)
        return -1;
    char *ppid = close_paren + 4; /* ") S " */
    char *end = ppid;
    while (end < buf + n && *end != ' ')
        end++;
    return parse_uint(ppid, end);
}

struct gather {
    struct iset *known;  /* the threads seen so far */
    struct iset *todo;   /* what the next round visits */
    int failed;
};

static void add_todo(int tid, void *ctx) {
    struct gather *g = ctx;
    if (!iset_has(g->known, tid) && iset_add(g->todo, tid) < 0)
        g->failed = 1;
}

static void tasks_into_todo(int pid, struct gather *g) {
    char path[48] = "/proc/";
    char *at = put_uint(path + 6, pid);
    memcpy(at, "/task", 6);
    each_number(path, add_todo, g);
}

static void child_process(int pid, void *ctx) {
    struct gather *g = ctx;
    if (iset_has(g->known, pid))
        return;
    long ppid = parent_of(pid);
    if (ppid > 0 && iset_has(g->known, (int)ppid))
        tasks_into_todo(pid, g);
}

/* Only `cpu` set in the thread's affinity mask (guard._allowed_is with the one shared CPU). */
static int on_cpu_only(int tid, int cpu) {
    unsigned char mask[WD_MASK_BYTES];
    long n = raw(SYS_sched_getaffinity, tid, sizeof mask, (long)mask, 0, 0);
    if (n <= 0)
        return 0;
    for (long i = 0; i < n; i++) {
        unsigned char want = (i == cpu / 8) ? (unsigned char)(1u << (cpu % 8)) : 0;
        if (mask[i] != want)
            return 0;
    }
    return cpu / 8 < n;
}

/* guard.restore: the original mask for `tids` and, for a few rounds, the threads forked from them. */
static void wd_restore(struct watch *w, struct iset *tids) {
    struct iset seen = {NULL, 0, 0}, todo = {NULL, 0, 0};
    for (long i = 0; i < tids->cap; i++)
        if (tids->slots[i] > 0 && iset_add(&todo, tids->slots[i]) < 0)
            return;
    for (int round = 0; round < WD_ROUNDS; round++) {
        for (long i = 0; i < todo.cap; i++) {
            int tid = todo.slots[i];
            if (tid <= 0 || iset_has(&seen, tid))
                continue;
            if (iset_add(&seen, tid) < 0)
                return;
            if (on_cpu_only(tid, w->cpu))
                raw(SYS_sched_setaffinity, tid, WD_MASK_BYTES, (long)w->original, 0, 0);
        }
        iset_free(&todo);
        struct gather g = {&seen, &todo, 0};
        each_number("/proc", child_process, &g);
        for (long i = 0; i < seen.cap; i++)
            if (seen.slots[i] > 0)
                tasks_into_todo(seen.slots[i], &g);
        if (g.failed || todo.used == 0)
            break;
    }
}

static int watch_main(void *arg) {
    struct watch *w = arg;
    /* As child_main: sdu's handlers reset before any signal is unblocked; the terminal's ignored. */
    for (int sig = 1; sig <= MAX_SIG; sig++) {
        struct kernel_sigaction_ old;
        if (raw(SYS_rt_sigaction, sig, 0, (long)&old, 8, 0) == 0 && old.handler != (void *)SIG_DFL &&
            old.handler != (void *)SIG_IGN) {
            struct kernel_sigaction_ dfl = {(void *)SIG_DFL, 0, NULL, 0};
            raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0);
        }
    }
    static const int terminal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof terminal / sizeof terminal[0]; i++) {
        struct kernel_sigaction_ ign = {(void *)SIG_IGN, 0, NULL, 0};
        raw(SYS_rt_sigaction, terminal[i], (long)&ign, 0, 8, 0);
    }
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&w->mask, 0, 8, 0);
    raw(SYS_prctl, PR_SET_NAME, (long)"sdu-guard", 0, 0, 0);
    long devnull = raw(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0, 0);
    if (devnull < 0)
        wd_exit();
    for (int fd = 0; fd < 3; fd++)
        if (devnull != fd)
            raw(SYS_dup2, devnull, fd, 0, 0, 0);
    /* close every descriptor but 0-2 and these (/dev/null's own too): close_range over the gaps (or
     * close, one by one) */
    int keep[3] = {w->pidfd, w->rfd, w->done_w};
    int lows[3], n = 0;
    for (int i = 0; i < 3; i++)
        if (keep[i] > 2)
            lows[n++] = keep[i];
    for (int i = 1; i < n; i++) /* sort the few kept descriptors */
        for (int j = i; j > 0 && lows[j - 1] > lows[j]; j--) {
            int t = lows[j];
            lows[j] = lows[j - 1];
            lows[j - 1] = t;
        }
    int from = 3;
    for (int i = 0; i <= n; i++) {
        unsigned int to = i < n ? (unsigned int)lows[i] - 1 : ~0u;
        if (i < n && lows[i] < from) /* (a duplicate) */
            continue;
        if (to >= (unsigned int)from && raw(SYS_close_range, from, to, 0, 0, 0) < 0) {
            unsigned int last = to;
            struct { uint64_t cur, max; } lim;
            if (raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&lim, 0) == 0 && lim.cur < last)
                last = (unsigned int)lim.cur;
            for (unsigned int fd = (unsigned int)from; fd <= last && fd < (1u << 20); fd++)
                raw(SYS_close, fd, 0, 0, 0, 0);
        }
        if (i < n)
            from = lows[i] + 1;
    }
    raw(SYS_sched_setaffinity, 0, WD_MASK_BYTES, (long)w->original, 0, 0);

    struct iset tids = {NULL, 0, 0};
    struct pollfd_ { int fd; short events, revents; } fds[2] = {{w->pidfd, POLLIN, 0}, {w->rfd, POLLIN, 0}};
    unsigned char buf[4096 + 4];
    long rest = 0;
    int gone = 0;
    for (;;) {
        if (!gone) {
            long r = raw(SYS_poll, (long)fds, 2, -1, 0, 0);
            if (r == -EINTR)
                continue;
            if (r < 0)
                wd_exit();
            if (fds[0].revents) {
                gone = 1; /* what it wrote before it died is all there is */
                long fl = raw(SYS_fcntl, w->rfd, F_GETFL, 0, 0, 0);
                if (fl < 0 || raw(SYS_fcntl, w->rfd, F_SETFL, fl | O_NONBLOCK, 0, 0) < 0)
                    wd_exit();
            }
        }
        long got = raw(SYS_read, w->rfd, (long)(buf + rest), (long)(sizeof buf - (size_t)rest), 0, 0);
        if (got == -EINTR)
            continue;
        if (got == -EAGAIN || got == 0)
            break; /* the tracer is gone without a release */
        if (got < 0)
            wd_exit();
        long end = rest + got;
        long whole = end - end % 4;
        for (long at = 0; at < whole; at += 4) {
            int32_t v;
            memcpy(&v, buf + at, 4); /* (little-endian: x86_64 only, HAVE_SPAWN) */
            if (v == 0)
                wd_exit(); /* released */
            if (v > 0) {
                if (iset_add(&tids, v) < 0)
                    wd_exit();
            } else if (v != INT32_MIN) {
                iset_discard(&tids, -v);
            }
        }
        rest = end - whole;
        memmove(buf, buf + whole, (size_t)rest);
    }
    wd_restore(w, &tids);
    wd_exit();
    return 0;
}

static void watch_free(PyObject *capsule) {
    struct watch *w = PyCapsule_GetPointer(capsule, "tracer._launch.watch");
    if (w == NULL)
        return;
    char byte;
    ssize_t r;
    do
        r = read(w->done, &byte, 1);
    while (r < 0 && errno == EINTR);
    close(w->done);
    if (r == 0) /* the watchdog has exited: nothing runs on the block any more */
        munmap(w, sizeof(struct watch) + STACK_SIZE + 16);
}

static PyObject *watchdog(PyObject *self, PyObject *args) {
    int pidfd, rfd, cpu;
    Py_buffer original;
    if (!PyArg_ParseTuple(args, "iiy*i", &pidfd, &rfd, &original, &cpu))
        return NULL;
    if (cpu < 0 || cpu >= WD_MASK_BYTES * 8) {
        PyBuffer_Release(&original);
        PyErr_SetString(PyExc_ValueError, "watchdog: cpu out of range");
        return NULL;
    }
    size_t size = sizeof(struct watch) + STACK_SIZE + 16;
    struct watch *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) {
        PyBuffer_Release(&original);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    memcpy(w->original, original.buf, (size_t)original.len < sizeof w->original ? (size_t)original.len
                                                                                  : sizeof w->original);
    PyBuffer_Release(&original);
    w->pidfd = pidfd;
    w->rfd = rfd;
    w->cpu = cpu;
    w->stack = (char *)w + sizeof(struct watch);
    w->stack += (16 - ((uintptr_t)w->stack & 15)) & 15;
    int done[2];
    if (pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) {
        munmap(w, size);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    w->done = done[0];
    w->done_w = done[1];
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    memcpy(&w->mask, &before, sizeof w->mask);
    int pid = clone(watch_main, w->stack + STACK_SIZE, CLONE_VM | SIGCHLD, w);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    close(done[1]); /* the watchdog's copy stays open until it exits */
    if (pid < 0) {
        close(done[0]);
        munmap(w, size);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *keep = PyCapsule_New(w, "tracer._launch.watch", watch_free);
    if (keep == NULL) /* (the block stays mapped: the watchdog runs on it) */
        return NULL;
    return Py_BuildValue("iN", pid, keep);
}
#endif

static PyMethodDef launch_methods[] = {
#ifdef HAVE_SPAWN
    {"spawn", spawn, METH_VARARGS,
     "spawn(path, argv, env, cwd, dispositions, mask, rfd, wfd, program, no_new_privs, name) -> (pid, keep):\n"
     "clone the child Engine.launch would fork (see the module source's header); keep `keep` until it "
     "has exec'd or exited."},
    {"watchdog", watchdog, METH_VARARGS,
     "watchdog(pidfd, rfd, original_mask, cpu) -> (pid, keep): clone tracer/guard.py's watchdog (see the\n"
     "module source's watchdog section); keep `keep` until it has been reaped."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef launch_module = {
    PyModuleDef_HEAD_INIT, "_launch", "sdu's compiled launch of a traced command.", -1, launch_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__launch(void) {
    PyObject *m = PyModule_Create(&launch_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", LAUNCH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
