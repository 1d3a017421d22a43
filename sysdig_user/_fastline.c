/* The compiled default line: sdu's printing loop for the commonest events, in C.
 *
 * With sysdig's default output (no -p, no filter, no chisel, no -w/-S/-n/-j/-D, buffers printed as
 * text) every event costs the Python pipeline an Event object, Inspector.process and a generated
 * line function: ~12 us. Core handles an event here when everything it needs is simple:
 *
 *  - the event's type has a recipe (sysdig_user/output/fastline.py builds them from the event table
 *    and render.py's per-param plan, so the text is the one render.py prints), its param count is
 *    the table's and its length array adds up to its length;
 *  - its thread is in the thread table, and the Inspector has nothing unusual pending;
 *  - every param renders: numbers, errnos, strings, data buffers, fds of the table with a printable
 *    ASCII name, absolute printable paths here; through render.py's functions the rest of what the
 *    recipes allow (a flag value not in render's cache yet, socket fds, relative paths, PIDs,
 *    uids/gids, sockaddr/socktuple, poll's fd lists).
 *
 * Types without a parser ("pure": read, write, the generic syscalls...) are then done entirely here:
 * the line, then exactly what Inspector.process does to the thread for them (pairing, latency, the
 * pending enter - kept as (raw, cpu, num) and turned into an Event by process() if an exit needs it).
 * openat exits of a clean absolute name and close exits (OP_OPENAT, OP_CLOSE) also make their fd
 * table change here, through FdTable.add/remove. Other types with a parser get an Event and
 * Inspector.process, as in Python, and only their line is built here, then the Verdict applied as
 * EventPipeline.on_event does. Anything else is declined before any state changes, and the caller
 * gives that event to the Python pipeline (after taking the lines handled so far, so the output
 * keeps its order).
 *
 * event_blocks(): the -w writing process's loop when nothing reads the events (fastline.passthrough):
 * the pipelined frames laid out as scap event blocks, unparsed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define HEADER_SIZE 26
#define FRAME_HEAD 22 /* u16 cpu, then the event header up to its u32 length */
#define MAX_PARAMS 32
#define EV_V1 0x204 /* scap event blocks (sysdig_user/scap/blocks.py) */
#define EV_V2 0x216
#define EV_V2_LARGE 0x221
#define READER_BUF_SIZE 65536
#define FASTLINE_VERSION 7

/* state changes done here for types with a parser (the rest of those go through Inspector.process) */
enum { OP_NONE = 0, OP_OPENAT, OP_CLOSE, OP_SKIP, OP_VM };
/* silent recipes only: OP_SKIP, a type process() only counts (EF_SKIPPARSERESET, no thread); OP_VM,
 * parsers_process.vm_exit (brk/mmap/munmap exits: params 1-3 are the process's memory counters) */

enum { K_DEC = 1, K_STR, K_ERRNO, K_FD, K_FLAGS, K_HEX, K_OCT, K_SIGNED64, K_PADDED, K_PATH, K_BUF, K_CALLINT, K_PYRAW };

typedef struct {
    int kind;
    int size;       /* the raw length a number must have (1, 2, 4, 8); 0 for strings and buffers */
    int is_signed;
    uint64_t mask;  /* K_HEX / K_OCT: the type's width */
    PyObject *texts; /* K_FLAGS: render.py's value -> text cache for the table (a dict) */
    PyObject *table; /* K_FLAGS: the table's name, for the fallback call */
    PyObject *call;  /* K_CALLINT: text of (state, thread, value); K_PATH: of (state, thread, dirfd, raw);
                      * K_PYRAW: of (state, thread, raw) */
    int dirfd;       /* K_PATH: the index of the dirfd param, -1 without one */
    char prefix[48]; /* "name=" */
    int prefix_len;
} ParamRecipe;

typedef struct {
    int known;
    int nparams;
    int enter;
    int uses_fd;
    int handler; /* the Inspector has a parser for this type */
    int generic; /* evt.type is the name of param 0's syscall */
    int op;      /* OP_OPENAT: parsers_files.open_exit for openat; OP_CLOSE: close_exit */
    uint64_t o_directory;              /* OP_OPENAT: PPM_O_DIRECTORY */
    PyObject *fdinfo, *file_type, *dir_type; /* OP_OPENAT: FdInfo, FdType.FILE_V2, FdType.DIRECTORY */
    int file_type_n, dir_type_n;
    char head[64]; /* "> openat " */
    int head_len;
    ParamRecipe *params;
} CodeRecipe;

typedef struct {
    PyObject_HEAD
    PyObject *inspector, *state, *clock, *event_type, *format_line, *flags_fallback, *clock_prefix, *fd_resolved;
    PyObject *process, *apply;
    CodeRecipe *recipes;
    int nrecipes;
    char **sc_names;
    int n_sc;
    char *generic_name;
    char **errnos;
    int n_errnos;
    char *fd_prefix[32];
    uint64_t l4_types;
    long max_len;
    int started;
    int64_t clock_sec;
    char clock_text[64];
    int clock_len;
    /* while an openat exit's line is written before its fd is added: that fd's type and name */
    int64_t ovr_fd;
    int ovr_type;
    const char *ovr_name;
    Py_ssize_t ovr_len;
    char *out;
    Py_ssize_t out_len, out_cap;
    Py_ssize_t count;
    /* EV_V1 blocks (old captures): the reader's per-code param-count guesses (a list of (n, struct)),
     * the two codes it never guesses for, and the buffer an event is rebuilt in as v2 */
    PyObject *v1_guess;
    int v1_odd[2];
    uint8_t *v1_buf;
    /* silent (the table chisels' run, sysdig_user/output/fastline.py chisel_core): the state kept as
     * above, no line written; the codes flagged in `declines` go to the Python pipeline (the chisels'
     * candidates); last_ts: the time of the last event handled here, for the chisels' clock */
    int silent;
    uint8_t *declines;
    Py_ssize_t n_declines;
    int64_t last_ts;
    int have_last_ts;
} Core;

static PyObject *s_pending, *s_num, *s_first_ts, *s_threads, *s_fdtable, *s_fds, *s_type, *s_name, *s_comm,
    *s_thread, *s_lastevent_type, *s_last_latency_entertime, *s_latency, *s_last_enter, *s_lastevent_fd,
    *s_last_event_ts, *s_fix_sockets, *s_add, *s_remove, *s_extra, *s_name_changed_at, *s_vmsize_kb, *s_vmrss_kb,
    *s_vmswap_kb;

/* ------------------------------------------------------------------------------------------- output */

static int reserve(Core *c, Py_ssize_t more) {
    if (c->out_len + more <= c->out_cap) return 0;
    Py_ssize_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + more) cap *= 2;
    char *p = PyMem_Realloc(c->out, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    c->out = p;
    c->out_cap = cap;
    return 0;
}

static inline int put(Core *c, const char *s, Py_ssize_t n) {
    if (reserve(c, n) < 0) return -1;
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return 0;
}

static inline int putc1(Core *c, char ch) { return put(c, &ch, 1); }

static int put_i64(Core *c, int64_t v) {
    char buf[24];
    char *e = buf + sizeof buf, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return put(c, p, e - p);
}

static int put_u64(Core *c, uint64_t u) {
    char buf[24];
    char *e = buf + sizeof buf, *p = e;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return put(c, p, e - p);
}

/* a str's UTF-8 bytes (strict: a name holding surrogate escapes declines the event) */
static int put_str(Core *c, PyObject *s) {
    if (!PyUnicode_Check(s)) return 1;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) {
        PyErr_Clear();
        return 1;
    }
    return put(c, u, n);
}

/* ----------------------------------------------------------------------------------------- decoding */

static inline uint64_t rd_u(const uint8_t *p, int size) {
    uint64_t v = 0;
    memcpy(&v, p, size); /* little-endian host (x86_64) */
    return v;
}

static inline int64_t rd_s(const uint8_t *p, int size) {
    switch (size) {
    case 1: return (int8_t)p[0];
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

static int printable_ascii(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

static int put_errno(Core *c, int64_t v) {
    if (put_i64(c, v) < 0) return -1;
    if (v < 0 && -v < c->n_errnos && c->errnos[-v]) {
        const char *name = c->errnos[-v];
        if (putc1(c, '(') < 0 || put(c, name, strlen(name)) < 0 || putc1(c, ')') < 0) return -1;
    }
    return 0;
}

/* the fd table's FdInfo for fd (new reference), or NULL with no error when absent; with table_out, the
 * FdTable too (a new reference, set only when the fd is there) */
static PyObject *fd_info(PyObject *th, int64_t fd, PyObject **table_out) {
    PyObject *table = PyObject_GetAttr(th, s_fdtable);
    if (!table) return NULL;
    PyObject *fds = PyObject_GetAttr(table, s_fds);
    if (!fds) {
        Py_DECREF(table);
        return NULL;
    }
    PyObject *info = NULL;
    if (!PyDict_Check(fds)) {
        PyErr_SetString(PyExc_TypeError, "FdTable.fds is not a dict");
    } else {
        PyObject *key = PyLong_FromLongLong(fd);
        info = key ? PyDict_GetItemWithError(fds, key) : NULL;
        Py_XDECREF(key);
        Py_XINCREF(info);
    }
    Py_DECREF(fds);
    if (table_out && info)
        *table_out = table;
    else
        Py_DECREF(table);
    return info;
}

/* "3(<f>/etc/passwd)": the fd, its type's prefix ("<o>" for a type without one) and its name */
static int put_fd_named(Core *c, int64_t fd, long type, const char *name, Py_ssize_t len) {
    const char *prefix = type >= 0 && type < 32 && c->fd_prefix[type] ? c->fd_prefix[type] : "<o>";
    if (put_i64(c, fd) < 0 || putc1(c, '(') < 0 || put(c, prefix, strlen(prefix)) < 0 || put(c, name, len) < 0)
        return -1;
    return putc1(c, ')');
}

/* render.py's _fd_arg: 1 = declined (an unprintable name) */
static int put_fd(Core *c, PyObject *th, int64_t fd) {
    if (fd < 0) {
        if (fd == -100) return put(c, "-100(AT_FDCWD)", 14);
        return put_errno(c, fd);
    }
    if (fd == c->ovr_fd) return put_fd_named(c, fd, c->ovr_type, c->ovr_name, c->ovr_len);
    PyObject *info = fd_info(th, fd, NULL);
    if (!info) return PyErr_Occurred() ? -1 : put_i64(c, fd);
    int rc = 1;
    PyObject *type = PyObject_GetAttr(info, s_type);
    PyObject *name = type ? PyObject_GetAttr(info, s_name) : NULL;
    if (!type || !name) {
        rc = -1;
        goto done;
    }
    long t = PyLong_AsLong(type);
    if (t == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        goto done;
    }
    if (t < 0 || t >= 64) goto done;
    if ((c->l4_types >> t) & 1) { /* "<4t>1.2.3.4:5->6.7.8.9:80": render.fd_resolved */
        PyObject *text = PyObject_CallOneArg(c->fd_resolved, info);
        if (!text) {
            rc = -1;
            goto done;
        }
        rc = put_i64(c, fd) < 0 || putc1(c, '(') < 0 ? -1 : put_str(c, text);
        Py_DECREF(text);
        if (!rc) rc = putc1(c, ')');
        goto done;
    }
    if (!PyUnicode_Check(name) || !PyUnicode_IS_ASCII(name)) goto done;
    const char *u = (const char *)PyUnicode_DATA(name);
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (!printable_ascii(u, n)) goto done;
    rc = put_fd_named(c, fd, t, u, n);
done:
    Py_XDECREF(type);
    Py_XDECREF(name);
    Py_DECREF(info);
    return rc;
}

static int put_flags(Core *c, ParamRecipe *r, uint64_t v) {
    PyObject *key = PyLong_FromUnsignedLongLong(v);
    if (!key) return -1;
    PyObject *text = PyDict_GetItemWithError(r->texts, key); /* borrowed */
    int rc;
    if (text) {
        rc = put_str(c, text);
    } else if (PyErr_Occurred()) {
        rc = -1;
    } else {
        text = PyObject_CallFunctionObjArgs(c->flags_fallback, key, r->table, NULL);
        rc = text ? put_str(c, text) : -1;
        Py_XDECREF(text);
    }
    Py_DECREF(key);
    return rc;
}

static int put_buffer(Core *c, const uint8_t *p, Py_ssize_t n, long max_len) {
    Py_ssize_t keep = n;
    int dots = 0;
    if (max_len && n > max_len) {
        if (max_len > 3) {
            keep = max_len - 3;
            dots = 1;
        } else {
            keep = max_len;
        }
    }
    if (reserve(c, keep + 3) < 0) return -1;
    char *o = c->out + c->out_len;
    for (Py_ssize_t i = 0; i < keep; i++) o[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
    c->out_len += keep;
    if (dots) return put(c, "...", 3);
    return 0;
}

typedef struct {
    const uint8_t *ev;
    int64_t ts, tid;
    int code;
    int cpu;
    const uint8_t *param[MAX_PARAMS];
    Py_ssize_t plen[MAX_PARAMS];
} Parsed;

/* the text a Python function gives (a str), appended */
static int put_call(Core *c, PyObject *text) {
    if (!text) return -1;
    int rc = put_str(c, text);
    Py_DECREF(text);
    return rc;
}

/* one param's text after its "name=": 0 done, 1 declined, -1 error */
static int put_param(Core *c, ParamRecipe *r, const uint8_t *p, Py_ssize_t n, PyObject *th, Parsed *e) {
    if (r->size && n != r->size) return 1;
    switch (r->kind) {
    case K_DEC:
        return r->is_signed ? put_i64(c, rd_s(p, r->size)) : put_u64(c, rd_u(p, r->size));
    case K_SIGNED64:
        return put_i64(c, rd_s(p, 8));
    case K_ERRNO:
        return put_errno(c, rd_s(p, r->size));
    case K_FD:
        return put_fd(c, th, rd_s(p, r->size));
    case K_FLAGS:
        return put_flags(c, r, rd_u(p, r->size));
    case K_HEX: {
        uint64_t v = (r->is_signed ? (uint64_t)rd_s(p, r->size) : rd_u(p, r->size)) & r->mask;
        char buf[24];
        int k = snprintf(buf, sizeof buf, "%llX", (unsigned long long)v);
        return put(c, buf, k);
    }
    case K_OCT: {
        uint64_t v = (r->is_signed ? (uint64_t)rd_s(p, r->size) : rd_u(p, r->size)) & r->mask;
        if (!v) return putc1(c, '0');
        char buf[32];
        int k = snprintf(buf, sizeof buf, "0%llo", (unsigned long long)v);
        return put(c, buf, k);
    }
    case K_PADDED: {
        int64_t v = r->is_signed || r->size == 8 ? rd_s(p, r->size) : (int64_t)rd_u(p, r->size);
        char buf[32];
        int k = snprintf(buf, sizeof buf, "%09lld", (long long)v);
        return put(c, buf, k);
    }
    case K_STR: { /* as decode_str gives it, and utf-8/surrogateescape gives back: the bytes up to a NUL */
        const uint8_t *z = memchr(p, 0, n);
        return put(c, (const char *)p, z ? z - p : n);
    }
    case K_PATH: { /* an absolute printable path prints as it is; others through render.path_strings */
        const uint8_t *z = memchr(p, 0, n);
        Py_ssize_t len = z ? z - p : n;
        if (len && p[0] == '/' && printable_ascii((const char *)p, len)) return put(c, (const char *)p, len);
        PyObject *dirfd = Py_None;
        if (r->dirfd >= 0) {
            if (e->plen[r->dirfd] != 8) return 1;
            dirfd = PyLong_FromLongLong(rd_s(e->param[r->dirfd], 8));
            if (!dirfd) return -1;
        } else {
            Py_INCREF(dirfd);
        }
        PyObject *raw = PyBytes_FromStringAndSize((const char *)p, n);
        PyObject *text = raw ? PyObject_CallFunctionObjArgs(r->call, c->state, th, dirfd, raw, NULL) : NULL;
        Py_XDECREF(raw);
        Py_DECREF(dirfd);
        return put_call(c, text);
    }
    case K_PYRAW: {
        PyObject *raw = PyBytes_FromStringAndSize((const char *)p, n);
        PyObject *text = raw ? PyObject_CallFunctionObjArgs(r->call, c->state, th, raw, NULL) : NULL;
        Py_XDECREF(raw);
        return put_call(c, text);
    }
    case K_CALLINT: {
        PyObject *v = r->is_signed ? PyLong_FromLongLong(rd_s(p, r->size)) : PyLong_FromUnsignedLongLong(rd_u(p, r->size));
        if (!v) return -1;
        PyObject *text = PyObject_CallFunctionObjArgs(r->call, c->state, th, v, NULL);
        Py_DECREF(v);
        return put_call(c, text);
    }
    case K_BUF:
        return n ? put_buffer(c, p, n, c->max_len) : 0;
    }
    return 1;
}

/* -------------------------------------------------------------------------------------------- lines */

static int put_time(Core *c, int64_t ts) {
    int64_t sec = ts / 1000000000, frac = ts % 1000000000;
    if (frac < 0) {
        sec -= 1;
        frac += 1000000000;
    }
    if (sec != c->clock_sec || !c->clock_len) {
        PyObject *text = PyObject_CallFunction(c->clock_prefix, "L", (long long)sec);
        if (!text) return -1;
        Py_ssize_t n;
        const char *u = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
        if (!u || n >= (Py_ssize_t)sizeof c->clock_text) {
            Py_DECREF(text);
            PyErr_Clear();
            return 1;
        }
        memcpy(c->clock_text, u, n);
        c->clock_len = (int)n;
        c->clock_sec = sec;
        Py_DECREF(text);
    }
    char buf[16];
    snprintf(buf, sizeof buf, "%09lld", (long long)frac);
    if (put(c, c->clock_text, c->clock_len) < 0) return -1;
    return put(c, buf, 9);
}

/* the default line: "%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info" */
static int put_line(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    int rc;
    if (put_i64(c, num) < 0 || putc1(c, ' ') < 0) return -1;
    if ((rc = put_time(c, e->ts)) != 0) return rc;
    if (putc1(c, ' ') < 0 || put_i64(c, e->cpu) < 0 || putc1(c, ' ') < 0) return -1;
    PyObject *comm = PyObject_GetAttr(th, s_comm);
    if (!comm) return -1;
    rc = put_str(c, comm);
    Py_DECREF(comm);
    if (rc) return rc;
    if (put(c, " (", 2) < 0 || put_i64(c, e->tid) < 0 || put(c, ") ", 2) < 0) return -1;
    if (R->generic) {
        const char *name = c->generic_name;
        if (e->plen[0] == 2) {
            unsigned sc = (unsigned)rd_u(e->param[0], 2);
            if ((int)sc < c->n_sc) name = c->sc_names[sc];
        } else {
            return 1;
        }
        if (put(c, R->head, R->head_len) < 0 || put(c, name, strlen(name)) < 0 || putc1(c, ' ') < 0) return -1;
    } else {
        if (put(c, R->head, R->head_len) < 0) return -1;
        for (int i = 0; i < R->nparams; i++) {
            ParamRecipe *r = &R->params[i];
            if (put(c, r->prefix, r->prefix_len) < 0) return -1;
            if ((rc = put_param(c, r, e->param[i], e->plen[i], th, e)) != 0) return rc;
            if (putc1(c, ' ') < 0) return -1;
        }
    }
    return putc1(c, '\n');
}

static int set_i64(PyObject *o, PyObject *name, int64_t v) {
    PyObject *x = PyLong_FromLongLong(v);
    if (!x) return -1;
    int rc = PyObject_SetAttr(o, name, x);
    Py_DECREF(x);
    return rc;
}

/* an int attribute as int64; one past the int64 range (a damaged capture's u64 timestamp, which the Python
 * side keeps unsigned) wraps to the int64 that e->ts holds for the same bytes, not an OverflowError */
static int get_i64(PyObject *o, PyObject *name, int64_t *v) {
    PyObject *x = PyObject_GetAttr(o, name);
    if (!x) return -1;
    int overflow = 0;
    long long r = PyLong_AsLongLongAndOverflow(x, &overflow);
    if (overflow) r = (long long)PyLong_AsUnsignedLongLongMask(x);
    Py_DECREF(x);
    *v = r;
    return r == -1 && PyErr_Occurred() ? -1 : 0;
}

/* Inspector.process's pairing for an exit: is the thread's last event this exit's enter */
static int paired(PyObject *th, int code, int *yes) {
    int64_t last_type;
    if (get_i64(th, s_lastevent_type, &last_type) < 0) return -1;
    *yes = code == last_type + 1;
    return 0;
}

/* what Inspector.process does to a known thread for an event type without a parser */
static int pure_state(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, PyObject *raw, int64_t num) {
    if (set_i64(c->inspector, s_num, num) < 0) return -1;
    if (R->enter) {
        int64_t fd = R->uses_fd ? rd_s(e->param[0], 8) : -1;
        PyObject *stash = Py_BuildValue("(OiL)", raw, e->cpu, (long long)num);
        if (!stash) return -1;
        int rc = PyObject_SetAttr(th, s_last_enter, stash);
        Py_DECREF(stash);
        if (rc < 0 || set_i64(th, s_lastevent_type, e->code) < 0 ||
            set_i64(th, s_last_latency_entertime, e->ts) < 0 || set_i64(th, s_latency, 0) < 0 ||
            set_i64(th, s_lastevent_fd, fd) < 0)
            return -1;
    } else {
        int64_t entered;
        int yes;
        if (get_i64(th, s_last_latency_entertime, &entered) < 0) return -1;
        if (entered && set_i64(th, s_latency, e->ts - entered) < 0) return -1;
        if (paired(th, e->code, &yes) < 0) return -1;
        if (yes && PyObject_SetAttr(th, s_last_enter, Py_None) < 0) return -1;
    }
    return set_i64(th, s_last_event_ts, e->ts);
}

static int parse(Core *c, const uint8_t *ev, Py_ssize_t len, Parsed *e, CodeRecipe **out) {
    if (len < HEADER_SIZE) return 1;
    uint32_t evlen;
    uint16_t code;
    uint32_t nparams;
    memcpy(&e->ts, ev, 8);
    memcpy(&e->tid, ev + 8, 8);
    memcpy(&evlen, ev + 16, 4);
    memcpy(&code, ev + 20, 2);
    memcpy(&nparams, ev + 22, 4);
    /* a timestamp past INT64_MAX (damaged) prints unsigned, as the Python line does it */
    if (evlen != len || code >= c->nrecipes || e->ts < 0) return 1;
    CodeRecipe *R = &c->recipes[code];
    if (!R->known || nparams > MAX_PARAMS) return 1;
    /* silent: an event with fewer params than the table's (old captures) when nothing here reads them
     * (process() runs the parser, on such events too) */
    if ((int)nparams != R->nparams) {
        if (!c->silent || (int)nparams > R->nparams || (R->op != OP_NONE && R->op != OP_SKIP) ||
            (R->enter && R->uses_fd && !nparams))
            return 1;
        for (uint32_t i = nparams; i < MAX_PARAMS; i++) e->plen[i] = 0;
    }
    Py_ssize_t pos = HEADER_SIZE + 2 * (Py_ssize_t)nparams;
    if (pos > len) return 1;
    for (uint32_t i = 0; i < nparams; i++) {
        uint16_t n;
        memcpy(&n, ev + HEADER_SIZE + 2 * i, 2);
        e->param[i] = ev + pos;
        e->plen[i] = n;
        pos += n;
    }
    if (pos != len) return 1;
    e->ev = ev;
    e->code = code;
    *out = R;
    return 0;
}

/* the Inspector in a state where an event may skip process(): 1 if not (yet) */
static int ready(Core *c) {
    if (c->started) return 0;
    PyObject *first = PyObject_GetAttr(c->state, s_first_ts);
    if (!first) return -1;
    int unset = first == Py_None;
    Py_DECREF(first);
    if (unset) return 1;
    int64_t clock_first;
    if (get_i64(c->clock, s_first_ts, &clock_first) < 0) return -1;
    if (clock_first < 0) return 1;
    c->started = 1;
    return 0;
}

/* parsers_files' helpers for an absolute name: nothing for concatenate_paths to fold (no "//", no
 * "/."), printable ASCII; its length without a final '/' (0: not such a name) */
static Py_ssize_t clean_absolute(const uint8_t *p, Py_ssize_t n) {
    const uint8_t *z = memchr(p, 0, n);
    Py_ssize_t len = z ? z - p : n;
    if (!len || p[0] != '/' || !printable_ascii((const char *)p, len)) return 0;
    for (Py_ssize_t i = 0; i + 1 < len; i++)
        if (p[i] == '/' && (p[i + 1] == '/' || p[i + 1] == '.')) return 0;
    if (len > 1 && p[len - 1] == '/') len--;
    return len;
}

/* OP_OPENAT's state change (open_exit for a successful openat of a clean absolute name): the new
 * FdInfo in the table, the thread's lastevent_fd, and fd.name_changed's mark (a new fd's name differs
 * from its empty old name) */
static int openat_state(Core *c, CodeRecipe *R, PyObject *th, int64_t fd, uint64_t flags, uint64_t dev,
                        int64_t num) {
    int is_dir = (flags & R->o_directory) != 0;
    PyObject *name = PyUnicode_DecodeASCII(c->ovr_name, c->ovr_len, NULL);
    if (!name) return -1;
    PyObject *info = PyObject_CallFunction(R->fdinfo, "LOOKK", (long long)fd, is_dir ? R->dir_type : R->file_type,
                                           name, (unsigned long long)flags, (unsigned long long)dev);
    Py_DECREF(name);
    if (!info) return -1;
    int rc = -1;
    PyObject *table = PyObject_GetAttr(th, s_fdtable), *r = NULL, *extra = NULL, *n = NULL;
    if (!table) goto done;
    if (!(r = PyObject_CallMethodOneArg(table, s_add, info))) goto done;
    if (set_i64(th, s_lastevent_fd, fd) < 0) goto done;
    if (!(extra = PyObject_GetAttr(info, s_extra)) || !(n = PyLong_FromLongLong(num))) goto done;
    rc = PyObject_SetItem(extra, s_name_changed_at, n);
done:
    Py_XDECREF(n);
    Py_XDECREF(extra);
    Py_XDECREF(r);
    Py_XDECREF(table);
    Py_DECREF(info);
    return rc;
}

/* an event of a type with a parser and no OP: the Event and Inspector.process, as in Python; the
 * line here when it can be, else the Python formatter's; then the Verdict applied */
static int handle_parsed(Core *c, CodeRecipe *R, Parsed *e, const uint8_t *ev, Py_ssize_t len, PyObject *rawobj) {
    int rc = 0;
    Py_ssize_t mark = c->out_len;
    PyObject *raw = rawobj ? (Py_INCREF(rawobj), rawobj) : PyBytes_FromStringAndSize((const char *)ev, len);
    PyObject *evt = NULL, *verdict = NULL, *th = NULL;
    if (!raw || !(evt = PyObject_CallFunction(c->event_type, "Oi", raw, e->cpu)) ||
        !(verdict = PyObject_CallOneArg(c->process, evt))) {
        rc = -1;
        goto out;
    }
    c->count++;
    c->last_ts = e->ts;
    c->have_last_ts = 1;
    int64_t num;
    if (!(th = PyObject_GetAttr(evt, s_thread)) || get_i64(evt, s_num, &num) < 0) {
        rc = -1;
        goto out;
    }
    rc = c->silent ? 0 : th == Py_None ? 1 : put_line(c, R, e, th, num);
    if (rc < 0) goto out;
    if (rc) { /* the event is processed: its line comes from the Python formatter */
        c->out_len = mark;
        PyObject *line = PyObject_CallOneArg(c->format_line, evt);
        if (!line) {
            rc = -1;
            goto out;
        }
        rc = 0;
        if (line != Py_None) {
            PyObject *b = PyUnicode_AsEncodedString(line, "utf-8", "surrogateescape");
            if (!b || put(c, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b)) < 0 || putc1(c, '\n') < 0) rc = -1;
            Py_XDECREF(b);
        }
        Py_DECREF(line);
        if (rc) goto out;
    }
    if (verdict != Py_None) {
        PyObject *r = PyObject_CallOneArg(c->apply, verdict);
        if (!r) {
            rc = -1;
            goto out;
        }
        Py_DECREF(r);
    }
out:
    Py_XDECREF(th);
    Py_XDECREF(verdict);
    Py_XDECREF(evt);
    Py_XDECREF(raw);
    return rc;
}

/* one event: 0 handled (its line appended), 1 declined (nothing changed), -1 error */
static int handle(Core *c, const uint8_t *ev, Py_ssize_t len, int cpu, PyObject *rawobj) {
    Parsed e;
    CodeRecipe *R;
    int rc = parse(c, ev, len, &e, &R);
    if (rc) return rc;
    if (e.code < c->n_declines && c->declines[e.code]) return 1;
    e.cpu = cpu;
    if ((rc = ready(c)) != 0) return rc;
    PyObject *flag = PyObject_GetAttr(c->inspector, s_fix_sockets);
    if (!flag) return -1;
    int fix = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    if (fix) return fix < 0 ? -1 : 1;
    PyObject *pending = PyObject_GetAttr(c->inspector, s_pending);
    if (!pending) return -1;
    if (pending != Py_None) { /* what process() does first */
        PyObject *r = PyObject_CallOneArg(c->apply, pending);
        Py_DECREF(pending);
        if (!r) return -1;
        Py_DECREF(r);
    } else {
        Py_DECREF(pending);
    }
    if (R->op == OP_SKIP) { /* process(): counted, nothing else */
        int64_t n;
        if (get_i64(c->inspector, s_num, &n) < 0 || set_i64(c->inspector, s_num, n + 1) < 0) return -1;
        c->count++;
        c->last_ts = e.ts;
        c->have_last_ts = 1;
        return 0;
    }
    if (c->silent && R->enter && R->uses_fd && e.plen[0] != 8) return 1; /* process() reads an 8-byte fd */
    PyObject *table = PyObject_GetAttr(c->state, s_threads);
    if (!table) return -1;
    PyObject *threads = PyObject_GetAttr(table, s_threads);
    Py_DECREF(table);
    if (!threads) return -1;
    PyObject *key = PyLong_FromLongLong(e.tid);
    if (!key) {
        Py_DECREF(threads);
        return -1;
    }
    PyObject *th = PyDict_Check(threads) ? PyDict_GetItemWithError(threads, key) : NULL;
    Py_DECREF(key);
    Py_XINCREF(th);
    Py_DECREF(threads);
    if (!th) return PyErr_Occurred() ? -1 : 1;
    if (R->handler && R->op == OP_NONE) {
        rc = handle_parsed(c, R, &e, ev, len, rawobj);
        Py_DECREF(th);
        return rc;
    }
    Py_ssize_t mark = c->out_len;
    PyObject *raw = NULL, *close_table = NULL;
    int64_t num, open_fd = -1, close_fd = -1;
    if (get_i64(c->inspector, s_num, &num) < 0) {
        rc = -1;
        goto out;
    }
    num += 1;
    if (R->op == OP_OPENAT && e.plen[0] == 8 && (open_fd = rd_s(e.param[0], 8)) >= 0) {
        Py_ssize_t n = clean_absolute(e.param[2], e.plen[2]);
        if (!n || e.plen[3] != 4 || e.plen[5] != 4) { /* a name to resolve: parsers_files does it */
            rc = handle_parsed(c, R, &e, ev, len, rawobj);
            goto out;
        }
        uint64_t flags = rd_u(e.param[3], 4);
        c->ovr_fd = open_fd;
        c->ovr_type = flags & R->o_directory ? R->dir_type_n : R->file_type_n;
        c->ovr_name = (const char *)e.param[2];
        c->ovr_len = n;
    } else if (R->op == OP_VM && R->nparams >= 4 && (e.plen[1] != 4 || e.plen[2] != 4 || e.plen[3] != 4)) {
        rc = handle_parsed(c, R, &e, ev, len, rawobj); /* counters of another size: the parser reads them */
        goto out;
    } else if (R->op == OP_CLOSE && e.plen[0] == 8 && rd_s(e.param[0], 8) >= 0) {
        int yes;
        if (paired(th, e.code, &yes) < 0) {
            rc = -1;
            goto out;
        }
        if (yes) { /* close_exit: a paired close of an fd in the table removes it once printed */
            if (get_i64(th, s_lastevent_fd, &close_fd) < 0) {
                rc = -1;
                goto out;
            }
            PyObject *info = fd_info(th, close_fd, &close_table);
            if (!info && PyErr_Occurred()) {
                rc = -1;
                goto out;
            }
            Py_XDECREF(info);
        }
    }
    rc = c->silent ? 0 : put_line(c, R, &e, th, num);
    if (rc) {
        c->out_len = mark;
        goto out;
    }
    if (R->enter) {
        raw = rawobj ? (Py_INCREF(rawobj), rawobj) : PyBytes_FromStringAndSize((const char *)ev, len);
        if (!raw) {
            rc = -1;
            goto out;
        }
    }
    rc = pure_state(c, R, &e, th, raw, num);
    if (!rc && R->op == OP_VM && R->nparams >= 4 &&
        (set_i64(th, s_vmsize_kb, (int64_t)rd_u(e.param[1], 4)) < 0 ||
         set_i64(th, s_vmrss_kb, (int64_t)rd_u(e.param[2], 4)) < 0 ||
         set_i64(th, s_vmswap_kb, (int64_t)rd_u(e.param[3], 4)) < 0))
        rc = -1;
    if (!rc && c->ovr_fd >= 0)
        rc = openat_state(c, R, th, open_fd, rd_u(e.param[3], 4), rd_u(e.param[5], 4), num);
    if (!rc && close_table) {
        PyObject *key2 = PyLong_FromLongLong(close_fd);
        PyObject *r = key2 ? PyObject_CallMethodOneArg(close_table, s_remove, key2) : NULL;
        Py_XDECREF(key2);
        if (!r) rc = -1;
        Py_XDECREF(r);
    }
    if (!rc) c->count++;
out:
    if (!rc) {
        c->last_ts = e.ts;
        c->have_last_ts = 1;
    }
    c->ovr_fd = -1;
    Py_XDECREF(close_table);
    Py_XDECREF(raw);
    Py_DECREF(th);
    return rc;
}

/* ------------------------------------------------------------------------------------------- Python */

static PyObject *Core_one(Core *c, PyObject *args) {
    PyObject *raw;
    int cpu;
    if (!PyArg_ParseTuple(args, "Si", &raw, &cpu)) return NULL;
    int rc = handle(c, (const uint8_t *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), cpu, raw);
    if (rc < 0) return NULL;
    return PyBool_FromLong(rc == 0);
}

static PyObject *Core_run(Core *c, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "y*n", &buf, &pos)) return NULL;
    const uint8_t *data = buf.buf;
    Py_ssize_t end = buf.len;
    while (end - pos >= FRAME_HEAD) {
        uint16_t cpu;
        uint32_t size;
        memcpy(&cpu, data + pos, 2);
        memcpy(&size, data + pos + 18, 4);
        Py_ssize_t stop = pos + 2 + (Py_ssize_t)size;
        if (stop > end) break;
        int rc = handle(c, data + pos + 2, size, cpu, NULL);
        if (rc < 0) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        if (rc) break;
        pos = stop;
    }
    PyBuffer_Release(&buf);
    return PyLong_FromSsize_t(pos);
}

/* An EV_V1 block's event rebuilt as v2 in c->v1_buf, as the reader's inline conversion does it when
 * the param count it guesses for the type (the last one seen) fills the event exactly: 0 and its
 * length, or 1 when the guess does not fit (the reader then converts it the long way). */
static int v1_event(Core *c, const uint8_t *data, Py_ssize_t pos, uint32_t blen, uint32_t elen, uint16_t etype,
                    Py_ssize_t *len_out) {
    if (!c->v1_guess || etype == c->v1_odd[0] || etype == c->v1_odd[1] || blen < 34 ||
        etype >= PyList_GET_SIZE(c->v1_guess))
        return 1;
    PyObject *guess = PyList_GET_ITEM(c->v1_guess, etype);
    if (!PyTuple_Check(guess) || PyTuple_GET_SIZE(guess) < 1) return 1;
    long n = PyLong_AsLong(PyTuple_GET_ITEM(guess, 0));
    if (n < 0 || n > MAX_PARAMS) {
        PyErr_Clear();
        return 1;
    }
    Py_ssize_t start = pos + 10, base = start + 22, payload = (Py_ssize_t)elen - 22;
    if (2 * n > payload || base + payload > pos + (Py_ssize_t)blen) return 1;
    Py_ssize_t sum = 2 * n;
    for (long i = 0; i < n; i++) {
        uint16_t l;
        memcpy(&l, data + base + 2 * i, 2);
        sum += l;
    }
    if (sum != payload) return 1;
    uint8_t *o = c->v1_buf;
    uint32_t len = elen + 4, np = (uint32_t)n;
    memcpy(o, data + start, 16);
    memcpy(o + 16, &len, 4);
    memcpy(o + 20, &etype, 2);
    memcpy(o + 22, &np, 4);
    memcpy(o + HEADER_SIZE, data + base, payload);
    *len_out = HEADER_SIZE + payload;
    return 0;
}

/* blocks(buf, pos, end) -> pos: the events of a capture file's complete EV_V2 blocks from pos on (the
 * checks sysdig_user/scap/reader.py's inline loop makes: event length in 26..block length - 14, block
 * within the buffer and the reader's 64 KiB), and of EV_V1 blocks rebuilt as v2 as the reader would
 * (once v1_table() gave its guesses), up to the first block that is neither, is an extension type
 * (>= nrecipes) or is declined; returns its position, where the reader goes on. */
static PyObject *Core_blocks(Core *c, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t pos, end;
    if (!PyArg_ParseTuple(args, "y*nn", &buf, &pos, &end)) return NULL;
    const uint8_t *data = buf.buf;
    if (end > buf.len) end = buf.len;
    while (pos >= 0 && end - pos >= 32) {
        uint32_t btype, blen, elen;
        uint16_t cpu, etype;
        memcpy(&btype, data + pos, 4);
        memcpy(&blen, data + pos + 4, 4);
        memcpy(&cpu, data + pos + 8, 2);
        memcpy(&elen, data + pos + 26, 4);
        memcpy(&etype, data + pos + 30, 2);
        if ((Py_ssize_t)blen > end - pos || etype >= c->nrecipes) break;
        const uint8_t *ev = data + pos + 10;
        Py_ssize_t evlen = elen;
        if (btype == EV_V1) { /* the reader's own checks for its inline v1 path, then the rebuild */
            if (blen + 4 - 8 > READER_BUF_SIZE || v1_event(c, data, pos, blen, elen, etype, &evlen)) break;
            ev = c->v1_buf;
        } else if (btype != EV_V2 || elen < HEADER_SIZE || (Py_ssize_t)elen > (Py_ssize_t)blen - 14 ||
                   blen > READER_BUF_SIZE + 8) {
            break;
        }
        int rc = handle(c, ev, evlen, cpu, NULL);
        if (rc < 0) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        if (rc) break;
        pos += blen;
    }
    PyBuffer_Release(&buf);
    return PyLong_FromSsize_t(pos);
}

/* v1_table(guesses, odd): the reader's _V1_GUESS list (kept, and read as it changes) and _V1_ODD */
static PyObject *Core_v1_table(Core *c, PyObject *args) {
    PyObject *guess;
    if (!PyArg_ParseTuple(args, "O!(ii)", &PyList_Type, &guess, &c->v1_odd[0], &c->v1_odd[1])) return NULL;
    if (!c->v1_buf && !(c->v1_buf = PyMem_Malloc(READER_BUF_SIZE + 64))) return PyErr_NoMemory();
    Py_INCREF(guess);
    Py_XSETREF(c->v1_guess, guess);
    Py_RETURN_NONE;
}

static PyObject *Core_take(Core *c, PyObject *unused) {
    PyObject *data = PyBytes_FromStringAndSize(c->out, c->out_len);
    if (!data) return NULL;
    PyObject *r = Py_BuildValue("(Nn)", data, c->count);
    c->out_len = 0;
    c->count = 0;
    return r;
}

static PyObject *Core_last_ts(Core *c, PyObject *unused) {
    if (!c->have_last_ts) Py_RETURN_NONE;
    return PyLong_FromLongLong(c->last_ts);
}

/* event_blocks(data, pos, large) -> (blocks, pos, count): the complete frames of a pipelined batch
 * (u16 cpu + event) from pos on, as the scap EV_V2 blocks ScapWriter.write_event writes for them with
 * dump flags 0 (EV_V2_LARGE for the types flagged in `large`, indexed by code, and for bodies over the
 * reader's 64 KiB buffer); pos is where an incomplete frame starts, or the end. */

static PyObject *event_blocks(PyObject *self, PyObject *args) {
    Py_buffer buf, large;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "y*ny*", &buf, &pos, &large)) return NULL;
    const uint8_t *data = buf.buf, *is_large = large.buf;
    Py_ssize_t end = buf.len, need = 0, count = 0;
    for (Py_ssize_t p = pos; end - p >= FRAME_HEAD;) { /* sizes first: one allocation */
        uint32_t size;
        memcpy(&size, data + p + 18, 4);
        if (size < HEADER_SIZE || p + 2 + (Py_ssize_t)size > end) break;
        need += ((8 + 2 + (Py_ssize_t)size + 4 + 3) & ~(Py_ssize_t)3);
        p += 2 + size;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, need);
    if (!out) goto fail;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
    while (need > 0) {
        uint16_t cpu, code;
        uint32_t size;
        memcpy(&cpu, data + pos, 2);
        memcpy(&size, data + pos + 18, 4);
        memcpy(&code, data + pos + 22, 2);
        uint32_t total = (8 + 2 + size + 4 + 3) & ~3u;
        uint32_t type = (total - 8 > READER_BUF_SIZE || (code < large.len && is_large[code])) ? EV_V2_LARGE : EV_V2;
        memcpy(o, &type, 4);
        memcpy(o + 4, &total, 4);
        memcpy(o + 8, &cpu, 2);
        memcpy(o + 10, data + pos + 2, size);
        memset(o + 10 + size, 0, total - 14 - size);
        memcpy(o + total - 4, &total, 4);
        o += total;
        need -= total;
        pos += 2 + size;
        count++;
    }
    PyBuffer_Release(&buf);
    PyBuffer_Release(&large);
    return Py_BuildValue("(Nnn)", out, pos, count);
fail:
    PyBuffer_Release(&buf);
    PyBuffer_Release(&large);
    return NULL;
}

static char *dup_utf8(PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) return NULL;
    char *p = PyMem_Malloc(n + 1);
    if (!p) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(p, u, n + 1);
    return p;
}

/* a list of str or None as a C array of strings (NULL for None) */
static char **str_array(PyObject *seq, int *n) {
    PyObject *fast = PySequence_Fast(seq, "a sequence of names");
    if (!fast) return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    char **out = PyMem_Calloc(len ? len : 1, sizeof(char *));
    if (!out) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (item != Py_None && !(out[i] = dup_utf8(item))) {
            Py_DECREF(fast);
            return NULL; /* (leaks the strings so far: construction failed, which only a bug causes) */
        }
    }
    Py_DECREF(fast);
    *n = (int)len;
    return out;
}

static int copy_text(char *dst, int cap, int *len, PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) return -1;
    if (n >= cap) {
        PyErr_SetString(PyExc_ValueError, "text too long for a recipe");
        return -1;
    }
    memcpy(dst, u, n);
    *len = (int)n;
    return 0;
}

/* recipe: None, or (nparams, enter, uses_fd, handler, generic, head,
 *                   ((prefix, kind, size, signed, mask, texts, table), ...), op, op_args)
 * op_args: () or, for OP_OPENAT, (PPM_O_DIRECTORY, FdInfo, FdType.FILE_V2, FdType.DIRECTORY) */
static int load_recipe(CodeRecipe *R, PyObject *item) {
    if (item == Py_None) return 0;
    PyObject *head, *params, *op_args;
    if (!PyArg_ParseTuple(item, "iiiiiUO!iO!", &R->nparams, &R->enter, &R->uses_fd, &R->handler, &R->generic, &head,
                          &PyTuple_Type, &params, &R->op, &PyTuple_Type, &op_args))
        return -1;
    if (R->op == OP_OPENAT) {
        unsigned long long o_dir;
        if (!PyArg_ParseTuple(op_args, "KOOO", &o_dir, &R->fdinfo, &R->file_type, &R->dir_type)) return -1;
        R->o_directory = o_dir;
        R->file_type_n = (int)PyLong_AsLong(R->file_type);
        R->dir_type_n = (int)PyLong_AsLong(R->dir_type);
        if (PyErr_Occurred() || R->file_type_n < 0 || R->file_type_n >= 32 || R->dir_type_n < 0 ||
            R->dir_type_n >= 32) {
            PyErr_SetString(PyExc_ValueError, "bad fd types for OP_OPENAT");
            return -1;
        }
        Py_INCREF(R->fdinfo);
        Py_INCREF(R->file_type);
        Py_INCREF(R->dir_type);
        if (R->nparams != 6) {
            PyErr_SetString(PyExc_ValueError, "OP_OPENAT is for openat's 6-param exit");
            return -1;
        }
    } else if (R->op != OP_NONE && R->op != OP_CLOSE && R->op != OP_SKIP && R->op != OP_VM) {
        PyErr_SetString(PyExc_ValueError, "unknown op");
        return -1;
    }
    if (R->nparams > MAX_PARAMS || copy_text(R->head, sizeof R->head, &R->head_len, head) < 0) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(params);
    if (!R->generic && n != R->nparams) {
        PyErr_SetString(PyExc_ValueError, "a recipe's params do not match its count");
        return -1;
    }
    R->params = PyMem_Calloc(n ? n : 1, sizeof(ParamRecipe));
    if (!R->params) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ParamRecipe *r = &R->params[i];
        PyObject *prefix, *texts, *table, *call;
        unsigned long long mask;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(params, i), "UiipKOOOi", &prefix, &r->kind, &r->size, &r->is_signed,
                              &mask, &texts, &table, &call, &r->dirfd))
            return -1;
        if (r->dirfd >= R->nparams ||
            ((r->kind == K_PATH || r->kind == K_CALLINT || r->kind == K_PYRAW) && !PyCallable_Check(call))) {
            PyErr_SetString(PyExc_ValueError, "bad path or call recipe");
            return -1;
        }
        Py_INCREF(call);
        r->call = call;
        r->mask = mask;
        if (copy_text(r->prefix, sizeof r->prefix, &r->prefix_len, prefix) < 0) return -1;
        if (r->kind == K_FLAGS && !PyDict_Check(texts)) {
            PyErr_SetString(PyExc_TypeError, "flags need their text dict");
            return -1;
        }
        Py_INCREF(texts);
        Py_INCREF(table);
        r->texts = texts;
        r->table = table;
    }
    R->known = 1;
    return 0;
}

static void Core_dealloc(Core *c) {
    Py_XDECREF(c->inspector);
    Py_XDECREF(c->state);
    Py_XDECREF(c->clock);
    Py_XDECREF(c->event_type);
    Py_XDECREF(c->format_line);
    Py_XDECREF(c->flags_fallback);
    Py_XDECREF(c->clock_prefix);
    Py_XDECREF(c->fd_resolved);
    Py_XDECREF(c->process);
    Py_XDECREF(c->apply);
    if (c->recipes) {
        for (int i = 0; i < c->nrecipes; i++) {
            CodeRecipe *R = &c->recipes[i];
            Py_XDECREF(R->fdinfo);
            Py_XDECREF(R->file_type);
            Py_XDECREF(R->dir_type);
            if (!R->params) continue;
            int n = R->generic ? 0 : R->nparams;
            for (int k = 0; k < n; k++) {
                Py_XDECREF(R->params[k].texts);
                Py_XDECREF(R->params[k].call);
                Py_XDECREF(R->params[k].table);
            }
            PyMem_Free(R->params);
        }
        PyMem_Free(c->recipes);
    }
    if (c->sc_names) {
        for (int i = 0; i < c->n_sc; i++) PyMem_Free(c->sc_names[i]);
        PyMem_Free(c->sc_names);
    }
    if (c->errnos) {
        for (int i = 0; i < c->n_errnos; i++) PyMem_Free(c->errnos[i]);
        PyMem_Free(c->errnos);
    }
    for (int i = 0; i < 32; i++) PyMem_Free(c->fd_prefix[i]);
    PyMem_Free(c->generic_name);
    Py_XDECREF(c->v1_guess);
    PyMem_Free(c->v1_buf);
    PyMem_Free(c->declines);
    PyMem_Free(c->out);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static int Core_init(Core *c, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"inspector", "clock", "event_type", "format_line", "flags_fallback", "clock_prefix",
                             "fd_resolved", "recipes", "sc_names", "generic_name", "errno_names", "fd_prefixes",
                             "l4_types", "max_len", "silent", "declines", NULL};
    PyObject *inspector, *clock, *event_type, *format_line, *flags_fallback, *clock_prefix, *fd_resolved, *recipes,
        *sc_names, *generic_name, *errnos, *prefixes;
    unsigned long long l4;
    long max_len;
    int silent = 0;
    PyObject *declines = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOUOOKl|pO", kwlist, &inspector, &clock, &event_type,
                                     &format_line, &flags_fallback, &clock_prefix, &fd_resolved, &recipes, &sc_names,
                                     &generic_name, &errnos, &prefixes, &l4, &max_len, &silent, &declines))
        return -1;
    if (declines != Py_None && !PyBytes_Check(declines)) {
        PyErr_SetString(PyExc_TypeError, "declines: bytes (one flag per event code) or None");
        return -1;
    }
    if (c->recipes) {
        PyErr_SetString(PyExc_RuntimeError, "Core is initialised once");
        return -1;
    }
#define KEEP(field, obj) (Py_INCREF(obj), c->field = (obj))
    KEEP(inspector, inspector);
    KEEP(clock, clock);
    KEEP(event_type, event_type);
    KEEP(format_line, format_line);
    KEEP(flags_fallback, flags_fallback);
    KEEP(clock_prefix, clock_prefix);
    KEEP(fd_resolved, fd_resolved);
#undef KEEP
    if (!(c->state = PyObject_GetAttrString(inspector, "state")) ||
        !(c->process = PyObject_GetAttrString(inspector, "process")) ||
        !(c->apply = PyObject_GetAttrString(inspector, "apply")))
        return -1;
    c->l4_types = l4;
    c->max_len = max_len;
    c->silent = silent;
    if (declines != Py_None && PyBytes_GET_SIZE(declines)) {
        c->n_declines = PyBytes_GET_SIZE(declines);
        if (!(c->declines = PyMem_Malloc(c->n_declines))) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(c->declines, PyBytes_AS_STRING(declines), c->n_declines);
    }
    c->clock_sec = INT64_MIN;
    c->ovr_fd = -1;
    PyObject *fast = PySequence_Fast(recipes, "recipes: a sequence");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    c->recipes = PyMem_Calloc(n ? n : 1, sizeof(CodeRecipe));
    if (!c->recipes) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    c->nrecipes = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (load_recipe(&c->recipes[i], PySequence_Fast_GET_ITEM(fast, i)) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    if (!(c->sc_names = str_array(sc_names, &c->n_sc)) || !(c->errnos = str_array(errnos, &c->n_errnos)) ||
        !(c->generic_name = dup_utf8(generic_name)))
        return -1;
    int np = 0;
    char **pre = str_array(prefixes, &np);
    if (!pre) return -1;
    for (int i = 0; i < np; i++) {
        if (i < 32)
            c->fd_prefix[i] = pre[i];
        else
            PyMem_Free(pre[i]);
    }
    PyMem_Free(pre);
    return 0;
}

static PyMethodDef Core_methods[] = {
    {"one", (PyCFunction)Core_one, METH_VARARGS,
     "one(raw, cpu) -> True if the event was handled (its line kept for take()), False if declined"},
    {"run", (PyCFunction)Core_run, METH_VARARGS,
     "run(data, pos) -> the position of the first frame not handled (declined or incomplete)"},
    {"blocks", (PyCFunction)Core_blocks, METH_VARARGS,
     "blocks(buf, pos, end) -> the position of the first capture-file block not handled"},
    {"v1_table", (PyCFunction)Core_v1_table, METH_VARARGS,
     "v1_table(guesses, odd): let blocks() rebuild EV_V1 events with the reader's param-count guesses"},
    {"take", (PyCFunction)Core_take, METH_NOARGS, "take() -> (the lines handled since the last take, their count)"},
    {"last_ts", (PyCFunction)Core_last_ts, METH_NOARGS, "last_ts() -> the time of the last event handled, or None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sysdig_user._fastline.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The default line of the commonest events, with the Inspector's state, in C",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
};

static PyMethodDef module_methods[] = {
    {"event_blocks", event_blocks, METH_VARARGS,
     "event_blocks(data, pos, large) -> (the complete frames from pos as scap event blocks, new pos, count)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastline", NULL, -1, module_methods, NULL, NULL, NULL,
                                    NULL};

PyMODINIT_FUNC PyInit__fastline(void) {
    struct { PyObject **slot; const char *text; } names[] = {
        {&s_pending, "_pending"}, {&s_num, "num"}, {&s_first_ts, "first_ts"}, {&s_threads, "threads"},
        {&s_fdtable, "fdtable"}, {&s_fds, "fds"}, {&s_type, "type"}, {&s_name, "name"}, {&s_comm, "comm"},
        {&s_thread, "thread"}, {&s_lastevent_type, "lastevent_type"},
        {&s_last_latency_entertime, "last_latency_entertime"}, {&s_latency, "latency"},
        {&s_last_enter, "last_enter"}, {&s_lastevent_fd, "lastevent_fd"}, {&s_last_event_ts, "last_event_ts"},
        {&s_fix_sockets, "_fix_sockets"}, {&s_add, "add"}, {&s_remove, "remove"}, {&s_extra, "extra"},
        {&s_name_changed_at, "name_changed_at"}, {&s_vmsize_kb, "vmsize_kb"}, {&s_vmrss_kb, "vmrss_kb"},
        {&s_vmswap_kb, "vmswap_kb"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*names[i].slot = PyUnicode_InternFromString(names[i].text))) return NULL;
    if (PyType_Ready(&CoreType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0 ||
        PyModule_AddIntConstant(m, "VERSION", FASTLINE_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "K_DEC", K_DEC) < 0 || PyModule_AddIntConstant(m, "K_STR", K_STR) < 0 ||
        PyModule_AddIntConstant(m, "K_ERRNO", K_ERRNO) < 0 || PyModule_AddIntConstant(m, "K_FD", K_FD) < 0 ||
        PyModule_AddIntConstant(m, "K_FLAGS", K_FLAGS) < 0 || PyModule_AddIntConstant(m, "K_HEX", K_HEX) < 0 ||
        PyModule_AddIntConstant(m, "K_OCT", K_OCT) < 0 || PyModule_AddIntConstant(m, "K_SIGNED64", K_SIGNED64) < 0 ||
        PyModule_AddIntConstant(m, "K_PADDED", K_PADDED) < 0 || PyModule_AddIntConstant(m, "K_PATH", K_PATH) < 0 ||
        PyModule_AddIntConstant(m, "K_BUF", K_BUF) < 0 || PyModule_AddIntConstant(m, "K_CALLINT", K_CALLINT) < 0 ||
        PyModule_AddIntConstant(m, "K_PYRAW", K_PYRAW) < 0 || PyModule_AddIntConstant(m, "OP_OPENAT", OP_OPENAT) < 0 ||
        PyModule_AddIntConstant(m, "OP_CLOSE", OP_CLOSE) < 0 ||
        PyModule_AddIntConstant(m, "OP_SKIP", OP_SKIP) < 0 || PyModule_AddIntConstant(m, "OP_VM", OP_VM) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
