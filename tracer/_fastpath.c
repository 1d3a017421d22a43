/* The tracer's compiled fast path: whole syscall stops handled without entering Python.
 *
 * Engine._loop (tracer/engine.py) hands the waiting over to Core.run(), which loops on wait4 and
 * handles, entirely in C, the syscall-enter and syscall-exit stops of known, non-quiet threads whose
 * syscall has a recipe: the event is encoded as EventBuilder would (same bytes; the recipes are
 * built in tracer/fastpath.py from the decoders the Python path uses), appended to the pipelined
 * link's batch (u16 cpu + event), the Thread's nr/args/in_syscall updated as the Python loop does,
 * and the thread resumed. Every other stop - process events, signals, new threads, syscalls without
 * a recipe, a batch that is full or old, a placement sample due, a failed request - is returned to
 * Python untouched (the thread still stopped), with its wait status, time and CPU, and the Python
 * loop handles it as if it had waited itself. An event that starts a batch (the batch was empty) is
 * handled here too, and then run() returns for Python to note the batch's time and arm its timer.
 *
 * Signals: Core.arm() wraps the C-level handlers of the signals Python handles (the Python handler
 * runs only once control is back in the interpreter); the wrapper notes the signal, and run()
 * returns as if wait4 had been interrupted before it would wait again, so a signal taken while a stop
 * is being handled in C is served as promptly as in the Python loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GET_SYSCALL_INFO 0x420e /* PTRACE_GET_SYSCALL_INFO (Linux 5.3), by number: old headers lack it */
#define INFO_ENTRY 1
#define INFO_EXIT 2
#define INFO_SECCOMP 3
#define SYSCALL_STOP_SIG (0x80 | SIGTRAP)
#define SECCOMP_STOP (SIGTRAP | (7 << 8)) /* PTRACE_EVENT_SECCOMP */
#define MAX_NR 1024
#define PAGE 4096
#define MAX_PAGES 64 /* pages per read, as tracer/memory.py (snaplen <= 64 KiB needs at most 17) */
#define PATH_LIMIT 4096
#define HEADER_SIZE 26
#define MAX_PARAMS 8
/* tracer/fastpath.py uses the module only when its VERSION is the one it was written for (a stale build
 * left by an editable install is ignored): bump both when the interface or the op set changes. */
#define FASTPATH_VERSION 7

/* struct ptrace_syscall_info, as the kernel lays it out (linux/ptrace.h may lack it on old headers) */
struct sc_info {
    uint8_t op;
    uint8_t pad[3];
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    union {
        struct { uint64_t nr; uint64_t args[6]; } entry;
        struct { int64_t rval; uint8_t is_error; } exit;
        struct { uint64_t nr; uint64_t args[6]; uint32_t ret_data; } seccomp;
    } u;
};

enum op_kind {
    OP_S32 = 0,    /* 8 bytes: the low 32 bits of args[a], sign-extended (fds, ints) */
    OP_U32 = 1,    /* 4 bytes: args[a] & 0xffffffff */
    OP_U64 = 2,    /* 8 bytes: args[a] */
    OP_U8 = 3,     /* 1 byte: args[a] & 0xff */
    OP_CONST16 = 4,/* 2 bytes: a */
    OP_RET = 5,    /* 8 bytes: the return value */
    OP_DATA = 6,   /* bytebuf: min(ret, snaplen) bytes at args[a], nothing when ret <= 0 */
    OP_PATH = 7,   /* string: the NUL-terminated string at args[a] (4096 bytes at most), "(NULL)" for 0 */
    OP_OFLAGS = 8, /* 4 bytes: native open flags args[a] as PPM file flags */
    OP_OMODE = 9,  /* 4 bytes: args[b] & 07777 when args[a] has O_CREAT or O_TMPFILE, else 0 */
    OP_DEV = 10,   /* 4 bytes: the opened fd's st_dev, new_encode_dev'd, 0 on failure or want_dev off */
    OP_MFLAGS = 11,/* 4 bytes: native mmap flags args[a] as PPM mmap flags */
    OP_FCNTL = 12, /* 1 byte: the fcntl command (int) args[a] as its PPM value, 0 when unknown */
    OP_VMSIZE = 13,/* 4 bytes each: VmSize, VmRSS, VmSwap (KiB) of the process, from /proc/PID/status */
    OP_VMRSS = 14,
    OP_VMSWAP = 15,
};
#define OP_LAST OP_VMSWAP

typedef struct { uint8_t kind; uint8_t a; uint8_t b; int32_t c; } Op;
typedef struct { int code; int n; Op ops[MAX_PARAMS]; } Recipe; /* code -1: not emitted */
/* memo_arg: the arg whose path both the enter and the exit recipe write (open, openat, creat), -1 if none */
typedef struct { Recipe enter; Recipe exit; int set; int memo_arg; } Route;

/* The path an enter stop read, for its exit (see encode). `args` is the args tuple the enter stop
 * gave the Thread (a strong reference): the exit finds the memo valid only while the Thread still
 * holds that very tuple, i.e. when this enter is the one of the syscall now exiting; a stop Python
 * handled, or a later syscall, sets a new tuple. One memo per tid % MEMO_SLOTS (a collision means
 * one more read, never a wrong path). */
#define MEMO_SLOTS 16
typedef struct { PyObject *args; long nr; size_t len; char path[PATH_LIMIT + 1]; } Memo;

/* open's dev without a stat of /proc/PID/fd/N, where that gives the same number (fd_dev).
 * fdinfo: /proc/PID/fdinfo/N files kept open, one per slot keyed by (pid, fd); the kernel looks the fd
 * up again at every read, so one open file serves every later open that returns the same fd number.
 * mounts: mount id -> the mount's device, from sdu's own /proc/self/mountinfo (mount ids are unique
 * system-wide while a mount exists, so the table serves a process in another mount namespace too:
 * its mounts are not listed and take the stat), for the mounts whose file system type is one of
 * `fstypes` (those whose stat st_dev is the superblock's device, which mountinfo shows). */
#define DEV_SLOTS 32 /* (with the index below, one process's fds 0-31 never share a slot) */
typedef struct { pid_t pid; int fd; int info_fd; int misses; } DevSlot;
typedef struct { int id; int listed; uint32_t dev; } MountDev;
typedef struct {
    DevSlot slots[DEV_SLOTS];
    int mi_fd;              /* /proc/self/mountinfo (its poll says when the mount table changed); -1 */
    int off;                /* 1: not used for this run (no fstypes, no mountinfo, or it changes too often) */
    MountDev *mounts;       /* sorted by id */
    int n_mounts, cap_mounts;
    char *fstypes;          /* NUL-separated names, ending with an empty one */
    unsigned long long fast, stat, reloads;
} DevCache;

/* The registers an enter stop gave the Thread as `args` (a strong reference, compared by identity like
 * Memo's), for its exit: six ints less to convert back at every exit. */
typedef struct { PyObject *args; uint64_t raw[6]; } ArgMemo;
/* Per syscall number, the args tuple of the last enter stop run() took, and whose: a thread that makes
 * the same call with the same registers again (a loop) gets that tuple again instead of seven new
 * objects. Never shared between threads, so that a tuple still names one thread's call (the Memo). */
typedef struct { pid_t tid; PyObject *args; uint64_t raw[6]; } ArgCache;

/* The Thread attributes run() reads and writes (tracer/engine.py's Thread, a __slots__ class). */
enum { A_QUIET, A_IN_SYSCALL, A_SECCOMP, A_NR, A_ARGS, A_SLOT, A_PID, N_ATTRS };

typedef struct {
    PyObject_HEAD
    Route *routes;          /* indexed by native nr */
    uint8_t place_nrs[MAX_NR];
    int snaplen;
    int want_dev;
    int place_cpu;
    Py_ssize_t batch_bytes;
    int64_t batch_ns;
    uint32_t oflag_nat[32], oflag_ppm[32];
    int n_oflags;
    uint32_t ppm_rdonly, ppm_wronly, ppm_rdwr;
    uint32_t mflag_nat[32], mflag_ppm[32];
    int n_mflags;
    int32_t fcntl_nat[64];
    uint8_t fcntl_ppm[64];
    int n_fcntl;
    int want_vm;
    pid_t vm_pid;           /* one kept /proc/PID/status, as for dev */
    int vm_fd;
    int mem_ok;             /* process_vm_readv usable; off after ENOSYS/EPERM (Python reads /proc/PID/mem) */
    unsigned long long stops, syscalls, declined;
    pid_t dev_pid;          /* one kept /proc/PID/fd directory (most runs hammer one process) */
    int dev_dirfd;
    DevCache dev;           /* open's dev from fdinfo's mnt_id where that is st_dev (see fd_dev) */
    char *scratch;          /* one event being encoded */
    size_t scratch_size;
    char *mem;              /* tracee memory read buffer */
    Memo *memo;             /* MEMO_SLOTS paths read at enter stops */
    unsigned long long memo_hits;
    PyTypeObject *th_type;  /* the Thread class whose slot offsets are below (see slots_for), or NULL */
    long key_tid;           /* the threads dict key run() looked up last (see thread_of), and its object */
    PyObject *key;
    ArgMemo *argmemo;       /* MEMO_SLOTS enter stops' registers, for their exits */
    ArgCache *argcache;     /* MAX_NR: the last args tuple of each syscall */
    Py_ssize_t off[N_ATTRS];
} Core;

static PyObject *s_quiet, *s_in_syscall, *s_seccomp, *s_nr, *s_args, *s_slot, *s_pid, *s_tid;

/* ---- signals ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t tripped;
static struct sigaction saved[NSIG];
static unsigned char wrapped[NSIG];

static void wrapper(int sig, siginfo_t *si, void *ctx) {
    tripped = 1;
    struct sigaction *old = &saved[sig];
    if (old->sa_flags & SA_SIGINFO)
        old->sa_sigaction(sig, si, ctx);
    else
        old->sa_handler(sig);
}

static PyObject *core_arm(PyObject *self, PyObject *noargs) {
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction cur;
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD || wrapped[sig])
            continue;
        if (sigaction(sig, NULL, &cur) != 0)
            continue;
        if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN))
            continue;
        struct sigaction mine = cur;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = wrapper;
        saved[sig] = cur;
        if (sigaction(sig, &mine, NULL) == 0)
            wrapped[sig] = 1;
    }
    tripped = 0;
    Py_RETURN_NONE;
}

static PyObject *core_disarm(PyObject *self, PyObject *noargs) {
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction cur;
        if (!wrapped[sig])
            continue;
        wrapped[sig] = 0;
        /* restore only if nobody replaced the wrapper meanwhile */
        if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == wrapper)
            sigaction(sig, &saved[sig], NULL);
    }
    Py_RETURN_NONE;
}

/* ---- tracee memory ---------------------------------------------------------------------------- */

/* Up to size bytes at addr, split at page boundaries so a fault cuts the read short instead of
 * failing it. Returns the count read, or -1 with errno (ESRCH: gone; ENOSYS/EPERM: unusable). */
static ssize_t vm_read(pid_t tid, uint64_t addr, char *dst, size_t size) {
    struct iovec local = {dst, size};
    struct iovec remote[MAX_PAGES];
    size_t n = 0;
    uint64_t pos = addr, end = addr + size;
    while (pos < end && n < MAX_PAGES) {
        uint64_t nxt = (pos / PAGE + 1) * PAGE;
        if (nxt > end)
            nxt = end;
        remote[n].iov_base = (void *)(uintptr_t)pos;
        remote[n].iov_len = nxt - pos;
        n++;
        pos = nxt;
    }
    local.iov_len = pos - addr;
    return process_vm_readv(tid, &local, 1, remote, n, 0);
}

enum { MEM_OK = 0, MEM_GONE = 1, MEM_UNUSABLE = 2 };

static int mem_status(void) {
    if (errno == ESRCH)
        return MEM_GONE;
    if (errno == ENOSYS || errno == EPERM)
        return MEM_UNUSABLE;
    return MEM_OK; /* EFAULT and the rest: what was read (nothing) */
}

/* ---- encoding --------------------------------------------------------------------------------- */

static int ensure(Core *c, size_t need) {
    if (need <= c->scratch_size)
        return 0;
    size_t sz = c->scratch_size * 2;
    while (sz < need)
        sz *= 2;
    char *p = PyMem_Realloc(c->scratch, sz);
    if (p == NULL)
        return -1;
    c->scratch = p;
    c->scratch_size = sz;
    return 0;
}

static uint32_t open_flags(Core *c, uint32_t flags) {
    uint32_t acc = flags & 3;
    uint32_t res = acc == 1 ? c->ppm_wronly : acc == 2 ? c->ppm_rdwr : c->ppm_rdonly;
    for (int i = 0; i < c->n_oflags; i++)
        if (flags & c->oflag_nat[i])
            res |= c->oflag_ppm[i];
    return res;
}

/* `v` in decimal, NUL-terminated, into `out` (21 bytes at least): at every open exit, where snprintf's
 * format parsing cost more than the digits. */
static void decimal(char *out, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *out++ = tmp[--n];
    *out = 0;
}

static uint32_t encode_dev(unsigned int major, unsigned int minor) {
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* st_dev of /proc/PID/fd/N, new_encode_dev'd; 0 on failure. */
static uint32_t stat_dev(Core *c, pid_t pid, int64_t fd) {
    if (c->dev_pid != pid) {
        char dir[64];
        if (c->dev_dirfd >= 0)
            close(c->dev_dirfd);
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
        c->dev_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        c->dev_pid = c->dev_dirfd >= 0 ? pid : 0;
        if (c->dev_dirfd < 0)
            return 0;
    }
    char name[24];
    struct stat st;
    decimal(name, (uint64_t)fd); /* (fd >= 0 here: an open's return value) */
    if (fstatat(c->dev_dirfd, name, &st, 0) != 0)
        return 0;
    return encode_dev(gnu_dev_major(st.st_dev), gnu_dev_minor(st.st_dev));
}

static int mount_order(const void *a, const void *b) {
    int x = ((const MountDev *)a)->id, y = ((const MountDev *)b)->id;
    return (x > y) - (x < y);
}

static const MountDev *find_mount(const DevCache *d, int id) {
    int lo = 0, hi = d->n_mounts - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int at = d->mounts[mid].id;
        if (at == id)
            return &d->mounts[mid];
        if (at < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static int listed_fstype(const DevCache *d, const char *name, size_t len) {
    for (const char *t = d->fstypes; t != NULL && *t; t += strlen(t) + 1)
        if (strlen(t) == len && memcmp(t, name, len) == 0)
            return 1;
    return 0;
}

/* One mountinfo line: "ID PARENT MAJOR:MINOR ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...".
 * 0 with *out set (dev 0 marks a mount whose stat may differ: its file system is not listed), -1 when
 * the line does not read so. */
static int parse_mount(const DevCache *d, const char *line, MountDev *out) {
    char *end;
    long id = strtol(line, &end, 10);
    if (end == line || *end != ' ')
        return -1;
    strtol(end, &end, 10); /* (the parent) */
    unsigned long major = strtoul(end, &end, 10);
    if (*end != ':')
        return -1;
    unsigned long minor = strtoul(end + 1, &end, 10);
    const char *sep = strstr(end, " - ");
    if (sep == NULL)
        return -1;
    const char *type = sep + 3;
    size_t len = strcspn(type, " \n");
    out->id = (int)id;
    out->listed = listed_fstype(d, type, len);
    out->dev = encode_dev((unsigned int)major, (unsigned int)minor);
    return 0;
}

/* The mount table, read again from mi_fd. 0, or -1 (the caller turns the fdinfo way off). */
static int load_mounts(DevCache *d) {
    size_t cap = 16384, len = 0;
    char *text = PyMem_Malloc(cap);
    if (text == NULL || lseek(d->mi_fd, 0, SEEK_SET) != 0) {
        PyMem_Free(text);
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *bigger = PyMem_Realloc(text, cap * 2);
            if (bigger == NULL) {
                PyMem_Free(text);
                return -1;
            }
            text = bigger;
            cap *= 2;
        }
        ssize_t n = read(d->mi_fd, text + len, cap - len - 1);
        if (n < 0) {
            PyMem_Free(text);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    text[len] = 0;
    d->n_mounts = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = 0;
        MountDev m;
        if (parse_mount(d, line, &m) == 0) {
            if (d->n_mounts == d->cap_mounts) {
                int cap_m = d->cap_mounts ? d->cap_mounts * 2 : 64;
                MountDev *more = PyMem_Realloc(d->mounts, (size_t)cap_m * sizeof(MountDev));
                if (more == NULL) {
                    PyMem_Free(text);
                    return -1;
                }
                d->mounts = more;
                d->cap_mounts = cap_m;
            }
            d->mounts[d->n_mounts++] = m;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    PyMem_Free(text);
    qsort(d->mounts, (size_t)d->n_mounts, sizeof(MountDev), mount_order);
    return 0;
}

static void dev_slot_clear(DevSlot *s) {
    if (s->info_fd >= 0)
        close(s->info_fd);
    s->pid = 0;
    s->fd = -1;
    s->info_fd = -1;
    s->misses = 0;
}

static void dev_off(DevCache *d) {
    d->off = 1;
    for (int i = 0; i < DEV_SLOTS; i++)
        dev_slot_clear(&d->slots[i]);
}

/* The device of tracee fd `fd` from /proc/PID/fdinfo/FD's mnt_id and the mount table: 1 with *dev set,
 * 0 when the stat must say. Only a mount of a listed file system answers, and only once a poll of
 * mountinfo has said that the table is current (a mount id is reused after an unmount, which the poll
 * reports). A (pid, fd) seen for the first time takes the stat, as does one whose last two answers
 * were not here (a file system not listed, a pipe), so a run whose fds never come back, or are not on
 * listed file systems, makes the calls it made before and keeps no file open for them. */
static int fdinfo_dev(DevCache *d, pid_t pid, int fd, uint32_t *dev) {
    DevSlot *s = &d->slots[((unsigned int)fd * 31u + (unsigned int)pid) % DEV_SLOTS];
    if (s->pid != pid || s->fd != fd) {
        dev_slot_clear(s);
        s->pid = pid;
        s->fd = fd;
        return 0;
    }
    if (s->misses >= 2)
        return 0;
    if (s->info_fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
        s->info_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->info_fd < 0) {
            s->misses = 2;
            return 0;
        }
    }
    char text[256];
    ssize_t n = pread(s->info_fd, text, sizeof text - 1, 0);
    if (n <= 0) { /* the fd or the process is gone: a new file next time */
        close(s->info_fd);
        s->info_fd = -1;
        s->misses++;
        return 0;
    }
    text[n] = 0;
    const char *at = strstr(text, "\nmnt_id:\t");
    if (at == NULL) {
        s->misses++;
        return 0;
    }
    int id = 0;
    for (at += 9; *at >= '0' && *at <= '9' && id < 100000000; at++)
        id = id * 10 + (*at - '0');
    const MountDev *m = find_mount(d, id);
    if (m != NULL && !m->listed) { /* (a stale entry only sends this one to the stat) */
        s->misses++;
        return 0;
    }
    if (d->mi_fd < 0) {
        d->mi_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (d->mi_fd < 0 || load_mounts(d) != 0) {
            dev_off(d);
            return 0;
        }
        m = find_mount(d, id);
    } else {
        struct pollfd pf = {d->mi_fd, POLLPRI, 0};
        if (poll(&pf, 1, 0) < 0)
            return 0;
        if (pf.revents & (POLLERR | POLLPRI)) {
            d->reloads++;
            /* a run that mounts all the time: the stat is cheaper than reading the table each time */
            if (load_mounts(d) != 0 || (d->reloads > 64 && d->reloads * 8 > d->fast)) {
                dev_off(d);
                return 0;
            }
            m = find_mount(d, id);
        }
    }
    if (m == NULL || !m->listed) {
        s->misses++;
        return 0;
    }
    s->misses = 0;
    *dev = m->dev;
    return 1;
}

static uint32_t fd_dev(Core *c, pid_t pid, int64_t fd) {
    if (!c->want_dev || fd < 0)
        return 0;
    uint32_t dev;
    if (!c->dev.off && fd <= INT32_MAX && fdinfo_dev(&c->dev, pid, (int)fd, &dev)) {
        c->dev.fast++;
        return dev;
    }
    c->dev.stat++;
    return stat_dev(c, pid, fd);
}

static uint32_t mmap_flags(Core *c, uint32_t flags) {
    uint32_t res = 0;
    for (int i = 0; i < c->n_mflags; i++)
        if (flags & c->mflag_nat[i])
            res |= c->mflag_ppm[i];
    return res;
}

static uint8_t fcntl_cmd(Core *c, int32_t cmd) {
    for (int i = 0; i < c->n_fcntl; i++)
        if (c->fcntl_nat[i] == cmd)
            return c->fcntl_ppm[i];
    return 0;
}

/* The value after `key` in /proc/PID/status text, as tracer.decoders.base._field_kib reads it. */
static uint32_t field_kib(const char *text, size_t len, const char *key) {
    const char *i = memmem(text, len, key, strlen(key));
    if (i == NULL)
        return 0;
    const char *p = i + strlen(key), *end = text + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    unsigned long long v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (unsigned long long)(*p++ - '0');
    return (uint32_t)v;
}

/* (vm_size, vm_rss, vm_swap) of pid; zeros when want_vm is off or the process is gone. */
static void proc_vm(Core *c, pid_t pid, uint32_t out[3]) {
    out[0] = out[1] = out[2] = 0;
    if (!c->want_vm)
        return;
    if (c->vm_pid != pid) {
        char path[64];
        if (c->vm_fd >= 0)
            close(c->vm_fd);
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        c->vm_fd = open(path, O_RDONLY | O_CLOEXEC);
        c->vm_pid = c->vm_fd >= 0 ? pid : 0;
        if (c->vm_fd < 0)
            return;
    }
    char text[8192];
    ssize_t n = pread(c->vm_fd, text, sizeof text, 0);
    if (n <= 0)
        return;
    out[0] = field_kib(text, (size_t)n, "VmSize:");
    out[1] = field_kib(text, (size_t)n, "VmRSS:");
    out[2] = field_kib(text, (size_t)n, "VmSwap:");
}

#define PUT(T, v) do { T _v = (T)(v); memcpy(p, &_v, sizeof _v); p += sizeof _v; } while (0)

/* Encodes one event into c->scratch. Returns its size, 0 when the thread is gone (the event is
 * dropped, as the Python path drops it on ProcessGone), -1 when memory cannot be read here (the stop
 * goes to Python), -2 on a Python error. */
/* `known` (exit stops): the path of arg `known_arg` as the enter stop read it (with its NUL, `known_len`
 * bytes), written instead of reading it again; NULL to read. `path_at` (enter stops, may be NULL): set
 * to where the first path param went in c->scratch (NULL if none), `path_len` to its length. */
static Py_ssize_t encode(Core *c, const Recipe *r, uint64_t ts, pid_t tid, pid_t pid, const uint64_t *args,
                         int64_t ret, const char *known, size_t known_len, int known_arg,
                         const char **path_at, size_t *path_len) {
    size_t need = HEADER_SIZE + 2 * r->n;
    for (int i = 0; i < r->n; i++) {
        switch (r->ops[i].kind) {
        case OP_DATA: need += c->snaplen; break;
        case OP_PATH: need += PATH_LIMIT + 8; break;
        default: need += 8;
        }
    }
    if (ensure(c, need) != 0) {
        PyErr_NoMemory();
        return -2;
    }
    uint32_t vm[3];
    int vm_done = 0;
    char *base = c->scratch;
    uint16_t *lens = (uint16_t *)(base + HEADER_SIZE);
    char *p = base + HEADER_SIZE + 2 * r->n;
    for (int i = 0; i < r->n; i++) {
        const Op *op = &r->ops[i];
        char *start = p;
        switch (op->kind) {
        case OP_S32: PUT(int64_t, (int32_t)(uint32_t)args[op->a]); break;
        case OP_U32: PUT(uint32_t, (uint32_t)args[op->a]); break;
        case OP_U64: PUT(uint64_t, args[op->a]); break;
        case OP_U8: PUT(uint8_t, (uint8_t)args[op->a]); break;
        case OP_CONST16: PUT(uint16_t, (uint16_t)op->c); break;
        case OP_RET: PUT(int64_t, ret); break;
        case OP_OFLAGS: PUT(uint32_t, open_flags(c, (uint32_t)args[op->a])); break;
        case OP_OMODE: {
            uint32_t flags = (uint32_t)args[op->a];
            PUT(uint32_t, (flags & (0100 | 020000000)) ? ((uint32_t)args[op->b] & 07777) : 0);
            break;
        }
        case OP_DEV: PUT(uint32_t, fd_dev(c, pid, ret)); break;
        case OP_MFLAGS: PUT(uint32_t, mmap_flags(c, (uint32_t)args[op->a])); break;
        case OP_FCNTL: PUT(uint8_t, fcntl_cmd(c, (int32_t)(uint32_t)args[op->a])); break;
        case OP_VMSIZE:
        case OP_VMRSS:
        case OP_VMSWAP:
            if (!vm_done) {
                proc_vm(c, pid, vm);
                vm_done = 1;
            }
            PUT(uint32_t, vm[op->kind - OP_VMSIZE]);
            break;
        case OP_DATA: {
            if (ret > 0 && args[op->a] != 0) {
                size_t want = ret < c->snaplen ? (size_t)ret : (size_t)c->snaplen;
                ssize_t got = vm_read(tid, args[op->a], p, want);
                if (got < 0) {
                    int st = mem_status();
                    if (st == MEM_GONE)
                        return 0;
                    if (st == MEM_UNUSABLE)
                        return -1;
                    got = 0;
                }
                p += got;
            }
            break;
        }
        case OP_PATH: {
            uint64_t addr = args[op->a];
            if (path_at != NULL && *path_at == NULL)
                *path_at = p;
            if (known != NULL && op->a == known_arg) {
                memcpy(p, known, known_len);
                p += known_len;
                break;
            }
            if (addr == 0) {
                memcpy(p, "(NULL)", 7);
                p += 7;
                break;
            }
            size_t got = 0;
            uint64_t pos = addr;
            int done = 0;
            while (got < PATH_LIMIT && !done) {
                size_t want = PAGE - pos % PAGE;
                if (want > PATH_LIMIT - got)
                    want = PATH_LIMIT - got;
                ssize_t n = vm_read(tid, pos, p + got, want);
                if (n < 0) {
                    int st = mem_status();
                    if (st == MEM_GONE)
                        return 0;
                    if (st == MEM_UNUSABLE)
                        return -1;
                    break;
                }
                if (n == 0)
                    break;
                char *nul = memchr(p + got, 0, (size_t)n);
                if (nul != NULL) {
                    got = (size_t)(nul - p);
                    done = 1;
                } else {
                    got += (size_t)n;
                    pos += (uint64_t)n;
                    if ((size_t)n < want)
                        break;
                }
            }
            p += got;
            *p++ = 0;
            break;
        }
        }
        lens[i] = (uint16_t)(p - start);
        if (op->kind == OP_PATH && path_at != NULL && *path_at == start)
            *path_len = (size_t)(p - start);
    }
    size_t total = (size_t)(p - base);
    char *h = base;
    memcpy(h, &ts, 8);
    int64_t tid64 = tid;
    memcpy(h + 8, &tid64, 8);
    uint32_t len32 = (uint32_t)total;
    memcpy(h + 16, &len32, 4);
    uint16_t code = (uint16_t)r->code;
    memcpy(h + 20, &code, 2);
    uint32_t nparams = (uint32_t)r->n;
    memcpy(h + 22, &nparams, 4);
    return (Py_ssize_t)total;
}

/* ---- the loop --------------------------------------------------------------------------------- */

/* The Thread's attributes are __slots__: run() reads and writes them at their offsets in the object
 * (the member descriptors' offsets, looked up once per class) instead of through getattr and setattr,
 * ~10 attribute accesses a stop. A class whose attributes are not all plain object slots is left to
 * Python (run() declines its stops). */
static PyObject **attr_names[N_ATTRS] = {&s_quiet, &s_in_syscall, &s_seccomp, &s_nr, &s_args, &s_slot, &s_pid};

/* 1 when th's class is the one whose offsets c holds (looked up now if needed), 0 if it cannot be. */
static int slots_for(Core *c, PyObject *th) {
    PyTypeObject *type = Py_TYPE(th);
    if (type == c->th_type)
        return 1;
    Py_ssize_t off[N_ATTRS];
    for (int a = 0; a < N_ATTRS; a++) {
        PyObject *d = _PyType_Lookup(type, *attr_names[a]); /* borrowed */
        /* (a descriptor of another class, assigned in this one's body, would name another layout) */
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type) || !PyType_IsSubtype(type, PyDescr_TYPE(d)))
            return 0;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY))
            return 0;
        off[a] = m->offset;
    }
    Py_INCREF(type);
    Py_XSETREF(c->th_type, type);
    memcpy(c->off, off, sizeof off);
    return 1;
}

/* Attribute `a` of th (borrowed), NULL when unset. */
static inline PyObject *th_get(Core *c, PyObject *th, int a) {
    return *(PyObject **)((char *)th + c->off[a]);
}

/* Sets attribute `a` of th to v (a new reference, stolen), as PyMember_SetOne does for T_OBJECT_EX. */
static inline void th_set(Core *c, PyObject *th, int a, PyObject *v) {
    PyObject **at = (PyObject **)((char *)th + c->off[a]);
    PyObject *old = *at;
    *at = v;
    Py_XDECREF(old);
}

/* 1/0 for a bool attribute (True/False, or any object's truth), -1 when unset or on an error. */
static int th_true(Core *c, PyObject *th, int a) {
    PyObject *v = th_get(c, th, a);
    if (v == Py_True)
        return 1;
    if (v == Py_False)
        return 0;
    return v == NULL ? -1 : PyObject_IsTrue(v);
}

/* An int attribute as a long; -1 with *err set when unset or not an int that fits. */
static long th_long(Core *c, PyObject *th, int a, int *err) {
    PyObject *v = th_get(c, th, a);
    if (v == NULL || !PyLong_Check(v)) {
        *err = 1;
        return -1;
    }
    long r = PyLong_AsLong(v);
    if (r == -1 && PyErr_Occurred())
        *err = 1;
    return r;
}

/* The Thread's args tuple for an enter stop's six registers (as ptrace.unpack_args makes it). */
static PyObject *args_tuple(const uint64_t *args) {
    PyObject *t = PyTuple_New(6);
    if (t == NULL)
        return NULL;
    for (int i = 0; i < 6; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(args[i]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* The args tuple for an enter stop of `tid` (a new reference): the one its last such call got when the
 * registers are the same (ArgCache), else a new one. */
static PyObject *enter_args(Core *c, long nr, pid_t tid, const uint64_t *args) {
    ArgCache *e = &c->argcache[nr];
    if (e->args != NULL && e->tid == tid && memcmp(e->raw, args, sizeof e->raw) == 0)
        return Py_NewRef(e->args);
    PyObject *t = args_tuple(args);
    if (t != NULL) {
        Py_XSETREF(e->args, Py_NewRef(t));
        e->tid = tid;
        memcpy(e->raw, args, sizeof e->raw);
    }
    return t;
}

static PyObject *stop_tuple(int tid, int status, int err, uint64_t ts, int cpu) {
    return Py_BuildValue("(iiiKi)", tid, status, err, (unsigned long long)ts, cpu);
}

/* threads[tid] (borrowed), NULL if absent (or on an error, set). The key object of the last lookup is
 * kept, and taken from the Thread's own `tid` when that is the int the dict was most likely keyed with,
 * so that a run of stops of one thread neither allocates an int nor compares two. */
static PyObject *thread_of(Core *c, PyObject *threads, pid_t tid) {
    if (c->key == NULL || c->key_tid != tid) {
        PyObject *key = PyLong_FromLong(tid);
        if (key == NULL)
            return NULL;
        PyObject *th = PyDict_GetItemWithError(threads, key);
        if (th != NULL) {
            PyObject *own = PyObject_GetAttr(th, s_tid);
            if (own != NULL && PyLong_CheckExact(own) && PyLong_AsLong(own) == tid) {
                Py_SETREF(key, own);
            } else {
                Py_XDECREF(own);
                PyErr_Clear();
            }
        }
        Py_XSETREF(c->key, key);
        c->key_tid = tid;
        return th;
    }
    return PyDict_GetItemWithError(threads, c->key);
}

/* 1 when the calling thread is the process's only Python thread (one interpreter, one thread state):
 * then no thread can be waiting for the GIL, and run() keeps it across wait4. Releasing and taking it
 * back at every stop was a fifth of run()'s instructions (callgrind: ~390 of ~2,000 a stop). A thread
 * started later (by a finalizer the allocations here may run) is seen at the next stop. */
static int only_thread(void) {
    PyInterpreterState *interp = PyInterpreterState_Head();
    if (interp == NULL || PyInterpreterState_Next(interp) != NULL)
        return 0;
    PyThreadState *head = PyInterpreterState_ThreadHead(interp);
    return head != NULL && PyThreadState_Next(head) == NULL;
}

/* run(threads, buf, first_ts, place_active, next_sample) -> (tid, status, err, ts, cpu)
 * The first stop not handled here (tid -1: wait4 failed with err; EINTR also when a signal was taken
 * while handling a stop), or (0, 0, 0, ts, cpu) after an event that makes the batch due for writing,
 * or (0, 1, 0, ts, cpu) after the event that started the batch (buf was empty: first_ts is unused), so
 * that Python notes the batch's time and arms its timer. */
static PyObject *core_run(Core *c, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 5 || !PyDict_Check(argv[0]) || !PyByteArray_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError, "run(threads: dict, buf: bytearray, first_ts, place_active, next_sample)");
        return NULL;
    }
    PyObject *threads = argv[0], *buf = argv[1];
    unsigned long long first_ts = PyLong_AsUnsignedLongLong(argv[2]);
    int place_active = PyObject_IsTrue(argv[3]);
    unsigned long long next_sample = PyLong_AsUnsignedLongLong(argv[4]);
    if (PyErr_Occurred())
        return NULL;
    for (;;) {
        if (tripped) {
            tripped = 0;
            return stop_tuple(-1, 0, EINTR, 0, 0);
        }
        int status = 0;
        pid_t tid;
        if (only_thread()) {
            tid = wait4(-1, &status, __WALL, NULL);
        } else {
            Py_BEGIN_ALLOW_THREADS
            tid = wait4(-1, &status, __WALL, NULL);
            Py_END_ALLOW_THREADS
        }
        if (tid < 0)
            return stop_tuple(-1, 0, errno, 0, 0);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t ts = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
        int cpu = place_active && c->place_cpu >= 0 ? c->place_cpu : sched_getcpu();
        c->stops++;
        int sig8 = status >> 8;
        if ((status & 0xff) != 0x7f || (sig8 != SYSCALL_STOP_SIG && sig8 != SECCOMP_STOP))
            goto decline;
        PyObject *th = thread_of(c, threads, tid);
        if (th == NULL) {
            if (PyErr_Occurred())
                return NULL;
            goto decline;
        }
        Py_ssize_t blen = PyByteArray_GET_SIZE(buf);
        if (blen >= c->batch_bytes || (blen > 0 && ts - first_ts >= (uint64_t)c->batch_ns))
            goto decline;
        int err = 0;
        if (!slots_for(c, th) || th_true(c, th, A_QUIET) != 0)
            goto decline_err;
        struct sc_info info;
        if (ptrace((enum __ptrace_request)GET_SYSCALL_INFO, tid, (void *)sizeof info, &info) <= 0)
            goto decline;
        int in_syscall = th_true(c, th, A_IN_SYSCALL);
        int under_seccomp = th_true(c, th, A_SECCOMP);
        if (in_syscall < 0 || under_seccomp < 0)
            goto decline_err;
        int entering;
        long nr;
        const uint64_t *args;
        uint64_t argbuf[6];
        PyObject *exit_args = NULL;
        if (info.op == INFO_EXIT) {
            if (!in_syscall)
                goto decline;
            nr = th_long(c, th, A_NR, &err);
            if (err)
                goto decline_err;
            if (nr < 0 || nr >= MAX_NR || !c->routes[nr].set)
                goto decline;
            if (place_active && (ts >= next_sample || c->place_nrs[nr]))
                goto decline;
            PyObject *targs = th_get(c, th, A_ARGS);
            if (targs == NULL || !PyTuple_Check(targs) || PyTuple_GET_SIZE(targs) != 6)
                goto decline;
            ArgMemo *am = &c->argmemo[tid % MEMO_SLOTS];
            if (am->args == targs) {
                memcpy(argbuf, am->raw, sizeof argbuf);
                Py_CLEAR(am->args); /* (the exit is its last use) */
            } else {
                for (int i = 0; i < 6; i++)
                    argbuf[i] = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(targs, i));
            }
            exit_args = targs; /* (compared by identity only; the Thread keeps it alive) */
            if (PyErr_Occurred())
                goto decline_err;
            args = argbuf;
            entering = 0;
        } else if (info.op == INFO_ENTRY || (info.op == INFO_SECCOMP && !in_syscall)) {
            nr = (long)info.u.entry.nr;
            if (nr < 0 || nr >= MAX_NR || !c->routes[nr].set)
                goto decline;
            args = info.u.entry.args;
            entering = 1;
        } else {
            goto decline;
        }
        PyObject *slot = th_get(c, th, A_SLOT);
        if (slot == NULL || !PyDict_Check(slot) || PyDict_GET_SIZE(slot) > 0)
            goto decline; /* a decoder's scratch from a Python-handled half: Python clears it */
        const Recipe *r = entering ? &c->routes[nr].enter : &c->routes[nr].exit;
        Py_ssize_t size = 0;
        Memo *memo = NULL;
        const char *path_at = NULL;
        size_t path_len = 0;
        if (r->code >= 0) {
            if (!c->mem_ok && r->n > 0) {
                for (int i = 0; i < r->n; i++)
                    if (r->ops[i].kind == OP_DATA || r->ops[i].kind == OP_PATH)
                        goto decline;
            }
            pid_t pid = (pid_t)th_long(c, th, A_PID, &err);
            if (err)
                goto decline_err;
            /* open/openat/creat: the exit writes the path its enter stop read (when the fast path
             * took both), instead of a second process_vm_readv. This differs from sysdig, whose
             * driver reads the path again at the exit, only if another thread rewrites the path's
             * buffer while the open is in flight. tracer/decoders/open.py does the same in Python. */
            int marg = c->routes[nr].memo_arg;
            memo = marg >= 0 ? &c->memo[tid % MEMO_SLOTS] : NULL;
            const char *known = NULL;
            if (memo != NULL && !entering && memo->args != NULL && memo->args == exit_args && memo->nr == nr) {
                known = memo->path;
                c->memo_hits++;
            }
            size = encode(c, r, ts, tid, pid, args, entering ? 0 : info.u.exit.rval, known,
                          known != NULL ? memo->len : 0, marg, entering && memo != NULL ? &path_at : NULL,
                          &path_len);
            if (memo != NULL && !entering)
                Py_CLEAR(memo->args); /* used, or stale: the exit is the memo's last use */
            if (size == -1) {
                c->mem_ok = 0;
                goto decline;
            }
            if (size == -2)
                goto resume_and_fail;
        }
        /* commit: the Thread as the Python loop leaves it */
        if (entering) {
            PyObject *pnr = PyLong_FromLong(nr);
            PyObject *targs = enter_args(c, nr, tid, args);
            if (pnr == NULL || targs == NULL) {
                Py_XDECREF(pnr);
                Py_XDECREF(targs);
                goto resume_and_fail;
            }
            if (memo != NULL && path_at != NULL && path_len <= sizeof memo->path) {
                Py_INCREF(targs);
                Py_XSETREF(memo->args, targs);
                memo->nr = nr;
                memo->len = path_len;
                memcpy(memo->path, path_at, path_len);
            } else if (c->memo[tid % MEMO_SLOTS].args == targs) {
                /* a path read by an earlier call with these registers: not this call's */
                Py_CLEAR(c->memo[tid % MEMO_SLOTS].args);
            }
            ArgMemo *am = &c->argmemo[tid % MEMO_SLOTS];
            Py_XSETREF(am->args, Py_NewRef(targs));
            memcpy(am->raw, args, sizeof am->raw);
            th_set(c, th, A_NR, pnr);
            th_set(c, th, A_ARGS, targs);
            th_set(c, th, A_IN_SYSCALL, Py_NewRef(Py_True));
            c->syscalls++;
        } else {
            th_set(c, th, A_IN_SYSCALL, Py_NewRef(Py_False));
        }
        if (size > 0) {
            uint16_t cpu16 = (uint16_t)cpu;
            if (PyByteArray_Resize(buf, blen + 2 + size) != 0)
                goto resume_and_fail;
            char *dst = PyByteArray_AS_STRING(buf) + blen;
            memcpy(dst, &cpu16, 2);
            memcpy(dst + 2, c->scratch, (size_t)size);
        }
        ptrace(under_seccomp && !entering ? PTRACE_CONT : PTRACE_SYSCALL, tid, 0, 0);
        if (size > 0 && blen == 0)
            return stop_tuple(0, 1, 0, ts, cpu);
        if (size > 0 && (blen + 2 + size >= c->batch_bytes || ts - first_ts >= (uint64_t)c->batch_ns))
            return stop_tuple(0, 0, 0, ts, cpu);
        continue;
    resume_and_fail:
        ptrace(PTRACE_SYSCALL, tid, 0, 0);
        return NULL;
    decline_err:
        PyErr_Clear();
    decline:
        c->declined++;
        return stop_tuple(tid, status, 0, ts, cpu);
    }
}

/* ---- the Core object -------------------------------------------------------------------------- */

static int parse_recipe(Recipe *r, PyObject *code, PyObject *ops) {
    r->code = (int)PyLong_AsLong(code);
    if (r->code == -1 && PyErr_Occurred())
        return -1;
    PyObject *seq = PySequence_Fast(ops, "ops must be a sequence");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_PARAMS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many params");
        return -1;
    }
    r->n = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind, a, b, cst;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "iiii", &kind, &a, &b, &cst)) {
            Py_DECREF(seq);
            return -1;
        }
        if (kind < 0 || kind > OP_LAST || a < 0 || a > 5 || b < 0 || b > 5) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "bad op");
            return -1;
        }
        r->ops[i].kind = (uint8_t)kind;
        r->ops[i].a = (uint8_t)a;
        r->ops[i].b = (uint8_t)b;
        r->ops[i].c = cst;
    }
    Py_DECREF(seq);
    return 0;
}

/* The arg of the enter recipe's first path param when the exit recipe writes the same arg's path. */
static int memo_arg(const Route *rt) {
    for (int i = 0; i < rt->enter.n; i++) {
        if (rt->enter.ops[i].kind != OP_PATH)
            continue;
        for (int j = 0; j < rt->exit.n; j++)
            if (rt->exit.ops[j].kind == OP_PATH && rt->exit.ops[j].a == rt->enter.ops[i].a)
                return rt->enter.ops[i].a;
        return -1;
    }
    return -1;
}

static int parse_pairs(PyObject *pairs, uint32_t *nat, uint32_t *ppm, int max, int *n) {
    PyObject *seq = PySequence_Fast(pairs, "a sequence of (native, ppm) pairs");
    if (seq == NULL)
        return -1;
    *n = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && i < max; i++) {
        unsigned int a, b;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "II", &a, &b)) {
            Py_DECREF(seq);
            return -1;
        }
        nat[*n] = a;
        ppm[*n] = b;
        (*n)++;
    }
    Py_DECREF(seq);
    return 0;
}

/* The NUL-separated copy of a sequence of bytes fdinfo_dev matches mountinfo's types with; none turns
 * it off. */
static int set_fstypes(DevCache *d, PyObject *types) {
    PyObject *seq = PySequence_Fast(types, "dev_fstypes: a sequence of bytes");
    if (seq == NULL)
        return -1;
    size_t size = 1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(t) || PyBytes_GET_SIZE(t) == 0 || memchr(PyBytes_AS_STRING(t), 0, PyBytes_GET_SIZE(t))) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "dev_fstypes: non-empty bytes without NUL");
            return -1;
        }
        size += (size_t)PyBytes_GET_SIZE(t) + 1;
    }
    char *all = PyMem_Malloc(size), *p = all;
    if (all == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        memcpy(p, PyBytes_AS_STRING(t), (size_t)PyBytes_GET_SIZE(t) + 1);
        p += PyBytes_GET_SIZE(t) + 1;
    }
    *p = 0;
    Py_DECREF(seq);
    PyMem_Free(d->fstypes);
    d->fstypes = all;
    d->off = n == 0;
    return 0;
}

/* Core(routes, place_nrs, snaplen, want_dev, want_vm, place_cpu, batch_bytes, batch_ns, oflags, acc,
 *      mflags, fcntl, dev_fstypes)
 * routes: {nr: (enter_code, enter_ops, exit_code, exit_ops)}, an op being (kind, a, b, const);
 * oflags, mflags: ((native_bit, ppm_bit), ...); acc: (ppm O_RDONLY, O_WRONLY, O_RDWR);
 * fcntl: ((native_cmd, ppm_value), ...); dev_fstypes: the file system types (bytes) whose mounts may
 * give open's dev from the mount table (fdinfo_dev). */
static int core_init(Core *c, PyObject *args, PyObject *kwds) {
    PyObject *routes, *place_nrs, *oflags, *acc, *mflags, *fcntl, *fstypes;
    int snaplen, want_dev, want_vm, place_cpu;
    Py_ssize_t batch_bytes;
    long long batch_ns;
    if (!PyArg_ParseTuple(args, "O!OiiiinLOOOOO", &PyDict_Type, &routes, &place_nrs, &snaplen, &want_dev,
                          &want_vm, &place_cpu, &batch_bytes, &batch_ns, &oflags, &acc, &mflags, &fcntl,
                          &fstypes))
        return -1;
    if (set_fstypes(&c->dev, fstypes) != 0)
        return -1;
    if (snaplen < 0 || snaplen > 65536) {
        PyErr_SetString(PyExc_ValueError, "snaplen out of the fast path's range");
        return -1;
    }
    c->snaplen = snaplen;
    c->want_dev = want_dev;
    c->want_vm = want_vm;
    c->place_cpu = place_cpu;
    c->batch_bytes = batch_bytes;
    c->batch_ns = batch_ns;
    c->mem_ok = 1;
    if (c->routes == NULL)
        c->routes = PyMem_Calloc(MAX_NR, sizeof(Route));
    if (c->scratch == NULL) {
        c->scratch_size = 8192;
        c->scratch = PyMem_Malloc(c->scratch_size);
    }
    if (c->memo == NULL)
        c->memo = PyMem_Calloc(MEMO_SLOTS, sizeof(Memo));
    if (c->argmemo == NULL)
        c->argmemo = PyMem_Calloc(MEMO_SLOTS, sizeof(ArgMemo));
    if (c->argcache == NULL)
        c->argcache = PyMem_Calloc(MAX_NR, sizeof(ArgCache));
    if (c->routes == NULL || c->scratch == NULL || c->memo == NULL || c->argmemo == NULL || c->argcache == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(routes, &pos, &key, &val)) {
        long nr = PyLong_AsLong(key);
        if (nr < 0 || nr >= MAX_NR) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "syscall number out of range");
            return -1;
        }
        PyObject *ec, *eo, *xc, *xo;
        if (!PyArg_ParseTuple(val, "OOOO", &ec, &eo, &xc, &xo))
            return -1;
        if (parse_recipe(&c->routes[nr].enter, ec, eo) != 0 || parse_recipe(&c->routes[nr].exit, xc, xo) != 0)
            return -1;
        c->routes[nr].set = 1;
        c->routes[nr].memo_arg = memo_arg(&c->routes[nr]);
    }
    PyObject *it = PyObject_GetIter(place_nrs);
    if (it == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long nr = PyLong_AsLong(item);
        Py_DECREF(item);
        if (nr >= 0 && nr < MAX_NR)
            c->place_nrs[nr] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    uint32_t fnat[64], fppm[64];
    if (parse_pairs(oflags, c->oflag_nat, c->oflag_ppm, 32, &c->n_oflags) != 0 ||
        parse_pairs(mflags, c->mflag_nat, c->mflag_ppm, 32, &c->n_mflags) != 0 ||
        parse_pairs(fcntl, fnat, fppm, 64, &c->n_fcntl) != 0)
        return -1;
    for (int i = 0; i < c->n_fcntl; i++) {
        c->fcntl_nat[i] = (int32_t)fnat[i];
        c->fcntl_ppm[i] = (uint8_t)fppm[i];
    }
    if (!PyArg_ParseTuple(acc, "III", &c->ppm_rdonly, &c->ppm_wronly, &c->ppm_rdwr))
        return -1;
    return 0;
}

static PyObject *core_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Core *c = (Core *)type->tp_alloc(type, 0);
    if (c != NULL) {
        c->dev_dirfd = -1;
        c->vm_fd = -1;
        c->dev.mi_fd = -1;
        c->dev.off = 1;
        for (int i = 0; i < DEV_SLOTS; i++) {
            c->dev.slots[i].fd = -1;
            c->dev.slots[i].info_fd = -1;
        }
    }
    return (PyObject *)c;
}

static void core_dealloc(Core *c) {
    if (c->dev_dirfd >= 0)
        close(c->dev_dirfd);
    if (c->vm_fd >= 0)
        close(c->vm_fd);
    for (int i = 0; i < DEV_SLOTS; i++)
        dev_slot_clear(&c->dev.slots[i]);
    if (c->dev.mi_fd >= 0)
        close(c->dev.mi_fd);
    PyMem_Free(c->dev.mounts);
    PyMem_Free(c->dev.fstypes);
    Py_XDECREF(c->th_type);
    Py_XDECREF(c->key);
    if (c->argmemo != NULL) {
        for (int i = 0; i < MEMO_SLOTS; i++)
            Py_XDECREF(c->argmemo[i].args);
        PyMem_Free(c->argmemo);
    }
    if (c->argcache != NULL) {
        for (int i = 0; i < MAX_NR; i++)
            Py_XDECREF(c->argcache[i].args);
        PyMem_Free(c->argcache);
    }
    PyMem_Free(c->routes);
    PyMem_Free(c->scratch);
    if (c->memo != NULL) {
        for (int i = 0; i < MEMO_SLOTS; i++)
            Py_XDECREF(c->memo[i].args);
        PyMem_Free(c->memo);
    }
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *core_forget(Core *c, PyObject *arg) {
    long pid = PyLong_AsLong(arg);
    if (pid == -1 && PyErr_Occurred())
        return NULL;
    if (c->dev_pid == pid && c->dev_dirfd >= 0) {
        close(c->dev_dirfd);
        c->dev_dirfd = -1;
        c->dev_pid = 0;
    }
    if (c->vm_pid == pid && c->vm_fd >= 0) {
        close(c->vm_fd);
        c->vm_fd = -1;
        c->vm_pid = 0;
    }
    for (int i = 0; i < DEV_SLOTS; i++)
        if (c->dev.slots[i].pid == pid)
            dev_slot_clear(&c->dev.slots[i]);
    Py_RETURN_NONE;
}

static PyObject *core_dev_reads(Core *c, PyObject *noargs) {
    return Py_BuildValue("(KKK)", c->dev.fast, c->dev.stat, c->dev.reloads);
}

static PyObject *core_counts(Core *c, PyObject *noargs) {
    return Py_BuildValue("(KKK)", c->stops, c->syscalls, c->declined);
}

static PyObject *core_memo_hits(Core *c, PyObject *noargs) {
    return PyLong_FromUnsignedLongLong(c->memo_hits);
}

static PyObject *core_mem_ok(Core *c, PyObject *noargs) {
    return PyBool_FromLong(c->mem_ok);
}

/* encode(nr, entering, ts, tid, pid, args, ret) -> bytes | None: the event run() would append for
 * that stop (None: no recipe, not emitted, or the thread is gone). For tests, which compare it with
 * EventBuilder's bytes for the same call. */
static PyObject *core_encode(Core *c, PyObject *args) {
    long nr;
    int entering, tid, pid;
    unsigned long long ts;
    long long ret;
    PyObject *targs;
    if (!PyArg_ParseTuple(args, "lpKiiO!L", &nr, &entering, &ts, &tid, &pid, &PyTuple_Type, &targs, &ret))
        return NULL;
    if (nr < 0 || nr >= MAX_NR || !c->routes[nr].set || PyTuple_GET_SIZE(targs) != 6)
        Py_RETURN_NONE;
    uint64_t a[6];
    for (int i = 0; i < 6; i++)
        a[i] = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(targs, i));
    if (PyErr_Occurred())
        return NULL;
    const Recipe *r = entering ? &c->routes[nr].enter : &c->routes[nr].exit;
    if (r->code < 0)
        Py_RETURN_NONE;
    Py_ssize_t size = encode(c, r, ts, tid, pid, a, ret, NULL, 0, -1, NULL, NULL);
    if (size == -2)
        return NULL;
    if (size <= 0)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(c->scratch, size);
}

static PyMethodDef core_methods[] = {
    {"encode", (PyCFunction)core_encode, METH_VARARGS,
     "encode(nr, entering, ts, tid, pid, args, ret) -> the event's bytes (tests)"},
    {"run", (PyCFunction)(void (*)(void))core_run, METH_FASTCALL,
     "run(threads, buf, first_ts, place_active, next_sample) -> (tid, status, err, ts, cpu)"},
    {"arm", (PyCFunction)core_arm, METH_NOARGS, "Wrap the C-level handlers of the signals Python handles."},
    {"disarm", (PyCFunction)core_disarm, METH_NOARGS, "Undo arm()."},
    {"forget", (PyCFunction)core_forget, METH_O, "forget(pid): close what is kept for an exited process."},
    {"counts", (PyCFunction)core_counts, METH_NOARGS, "(stops seen, syscalls entered, stops returned)"},
    {"mem_ok", (PyCFunction)core_mem_ok, METH_NOARGS, "process_vm_readv still usable here."},
    {"memo_hits", (PyCFunction)core_memo_hits, METH_NOARGS, "Exit stops that wrote their enter's path."},
    {"dev_reads", (PyCFunction)core_dev_reads, METH_NOARGS,
     "(open devs from the mount table, from a stat, mount table reloads)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer._fastpath.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = core_new,
    .tp_init = (initproc)core_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = core_methods,
    .tp_doc = "The compiled syscall-stop loop (see the module source's header).",
};

/* ---- the libc calls the Python tracer makes (tracer/libc.py: these when built, else ctypes) ----------
 * Thin wrappers, no policy: each returns what the call returns and keeps its errno for last_errno(), as
 * ctypes' use_errno does, so tracer/ptrace.py and tracer/memory.py decide the same on either. */

static int last_err;

/* ptrace(request, tid, addr, data) -> the call's result (-1: see last_errno()). addr is an int; data an
 * int or a writable buffer (a bytearray from tracer/libc.py's buffer()), passed by its address. */
static PyObject *calls_ptrace(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "ptrace(request, tid, addr, data)");
        return NULL;
    }
    long request = PyLong_AsLong(args[0]);
    long tid = PyLong_AsLong(args[1]);
    unsigned long addr = PyLong_AsUnsignedLongMask(args[2]);
    if (PyErr_Occurred())
        return NULL;
    void *data;
    PyObject *d = args[3];
    if (PyByteArray_CheckExact(d)) {
        data = PyByteArray_AS_STRING(d);
    } else if (PyLong_Check(d)) {
        data = (void *)PyLong_AsUnsignedLongMask(d);
        if (PyErr_Occurred())
            return NULL;
    } else {
        PyErr_SetString(PyExc_TypeError, "ptrace: data must be an int or a bytearray");
        return NULL;
    }
    long ret = ptrace((enum __ptrace_request)request, (pid_t)tid, (void *)addr, data);
    if (ret == -1)
        last_err = errno;
    return PyLong_FromLong(ret);
}

/* wait4(pid, options) -> (pid, status, errno); pid -1 on an error (EINTR is not retried). The GIL is
 * released while it waits. */
static PyObject *calls_wait4(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "wait4(pid, options)");
        return NULL;
    }
    long pid = PyLong_AsLong(args[0]);
    long options = PyLong_AsLong(args[1]);
    if (PyErr_Occurred())
        return NULL;
    int status = 0, err = 0;
    pid_t got;
    Py_BEGIN_ALLOW_THREADS /* it blocks: other threads (netcap's capture thread) run meanwhile, as with ctypes */
    got = wait4((pid_t)pid, &status, (int)options, NULL);
    if (got == -1)
        err = errno;
    Py_END_ALLOW_THREADS
    if (got == -1)
        return Py_BuildValue("(iii)", -1, 0, err);
    return Py_BuildValue("(iii)", (int)got, status, 0);
}

/* vm_read(tid, buf, addr, size) -> bytes read into buf[:size] (-1: see last_errno()): process_vm_readv
 * with one remote iovec per page, so a read that runs into an unmapped page stops at that page. */
static PyObject *calls_vm_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyByteArray_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "vm_read(tid, bytearray, addr, size)");
        return NULL;
    }
    long tid = PyLong_AsLong(args[0]);
    unsigned long addr = PyLong_AsUnsignedLongMask(args[2]);
    Py_ssize_t size = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    static long page;
    if (page == 0)
        page = sysconf(_SC_PAGESIZE);
    if (size < 0 || size > PyByteArray_GET_SIZE(args[1]) || (addr % page + size + page - 1) / page > MAX_PAGES) {
        PyErr_SetString(PyExc_ValueError, "vm_read: size out of range");
        return NULL;
    }
    struct iovec local = {PyByteArray_AS_STRING(args[1]), (size_t)size};
    struct iovec remote[MAX_PAGES];
    int n = 0;
    unsigned long pos = addr, end = addr + size;
    while (pos < end) {
        unsigned long next = (pos / page + 1) * page;
        if (next > end)
            next = end;
        remote[n].iov_base = (void *)pos;
        remote[n].iov_len = next - pos;
        n++;
        pos = next;
    }
    ssize_t got = process_vm_readv((pid_t)tid, &local, 1, remote, n, 0);
    if (got == -1)
        last_err = errno;
    return PyLong_FromSsize_t(got);
}

/* vm_write(tid, addr, data) -> bytes written (-1: see last_errno()), one process_vm_writev. */
static PyObject *calls_vm_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "vm_write(tid, addr, bytes)");
        return NULL;
    }
    long tid = PyLong_AsLong(args[0]);
    unsigned long addr = PyLong_AsUnsignedLongMask(args[1]);
    if (PyErr_Occurred())
        return NULL;
    struct iovec local = {PyBytes_AS_STRING(args[2]), (size_t)PyBytes_GET_SIZE(args[2])};
    struct iovec remote = {(void *)addr, (size_t)PyBytes_GET_SIZE(args[2])};
    ssize_t got = process_vm_writev((pid_t)tid, &local, 1, &remote, 1, 0);
    if (got == -1)
        last_err = errno;
    return PyLong_FromSsize_t(got);
}

/* fstatat_dev(dirfd, name) -> st_dev of name under dirfd, -1 on any failure (no errno kept). */
static PyObject *calls_fstatat_dev(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "fstatat_dev(dirfd, bytes)");
        return NULL;
    }
    long dirfd = PyLong_AsLong(args[0]);
    if (PyErr_Occurred())
        return NULL;
    struct stat st;
    if (fstatat((int)dirfd, PyBytes_AS_STRING(args[1]), &st, 0) != 0)
        return PyLong_FromLong(-1);
    return PyLong_FromUnsignedLongLong((unsigned long long)st.st_dev);
}

/* pidfd_getfd(pidfd, fd) -> a copy of the fd in this process (-1: see last_errno()). */
static PyObject *calls_pidfd_getfd(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "pidfd_getfd(pidfd, fd)");
        return NULL;
    }
    long pidfd = PyLong_AsLong(args[0]);
    long fd = PyLong_AsLong(args[1]);
    if (PyErr_Occurred())
        return NULL;
    long got = syscall(438 /* SYS_pidfd_getfd, by number: old headers lack it */, (int)pidfd, (int)fd, 0);
    if (got == -1)
        last_err = errno;
    return PyLong_FromLong(got);
}

static PyObject *calls_sched_getcpu(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(sched_getcpu());
}

static PyObject *calls_last_errno(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(last_err);
}

static PyMethodDef calls_methods[] = {
    {"ptrace", (PyCFunction)(void (*)(void))calls_ptrace, METH_FASTCALL,
     "ptrace(request, tid, addr, data) -> result; data: an int or a bytearray"},
    {"wait4", (PyCFunction)(void (*)(void))calls_wait4, METH_FASTCALL, "wait4(pid, options) -> (pid, status, errno)"},
    {"vm_read", (PyCFunction)(void (*)(void))calls_vm_read, METH_FASTCALL,
     "vm_read(tid, buf, addr, size) -> bytes read into buf, one remote iovec per page"},
    {"vm_write", (PyCFunction)(void (*)(void))calls_vm_write, METH_FASTCALL, "vm_write(tid, addr, data) -> written"},
    {"fstatat_dev", (PyCFunction)(void (*)(void))calls_fstatat_dev, METH_FASTCALL,
     "fstatat_dev(dirfd, name) -> st_dev, or -1"},
    {"pidfd_getfd", (PyCFunction)(void (*)(void))calls_pidfd_getfd, METH_FASTCALL,
     "pidfd_getfd(pidfd, fd) -> new fd"},
    {"sched_getcpu", calls_sched_getcpu, METH_NOARGS, "sched_getcpu()"},
    {"last_errno", calls_last_errno, METH_NOARGS, "errno of the last failed call above"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastpath_module = {
    PyModuleDef_HEAD_INIT, "_fastpath", "sdu's compiled syscall-stop fast path.", -1, calls_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    s_quiet = PyUnicode_InternFromString("quiet");
    s_in_syscall = PyUnicode_InternFromString("in_syscall");
    s_seccomp = PyUnicode_InternFromString("seccomp");
    s_nr = PyUnicode_InternFromString("nr");
    s_args = PyUnicode_InternFromString("args");
    s_slot = PyUnicode_InternFromString("slot");
    s_pid = PyUnicode_InternFromString("pid");
    s_tid = PyUnicode_InternFromString("tid");
    if (!s_quiet || !s_in_syscall || !s_seccomp || !s_nr || !s_args || !s_slot || !s_pid || !s_tid)
        return NULL;
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&fastpath_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", FASTPATH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
