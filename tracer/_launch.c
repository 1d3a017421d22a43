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
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* tracer/engine.py uses the module only when its VERSION is the one it was written for (a stale build
 * left by an editable install is ignored): bump both when the interface changes. */
#define LAUNCH_VERSION 1

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
#endif

static PyMethodDef launch_methods[] = {
#ifdef HAVE_SPAWN
    {"spawn", spawn, METH_VARARGS,
     "spawn(path, argv, env, cwd, dispositions, mask, rfd, wfd, program, no_new_privs, name) -> (pid, keep):\n"
     "clone the child Engine.launch would fork (see the module source's header); keep `keep` until it "
     "has exec'd or exited."},
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
