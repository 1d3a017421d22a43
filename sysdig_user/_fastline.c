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
 * table change here, through FdTable.add/remove; so do socket exits (OP_SOCKET, the fd that
 * parsers_net.socket_info makes of the paired enter's params). Memory counters (OP_VM), the sched switch
 * (OP_SWITCH) and exits whose parser only acts on some values of their enter's param (OP_ENTER_ARG:
 * fcntl, unless a dup) are done here too. Other types with a parser get an Event and
 * Inspector.process, as in Python, and only their line is built here, then the Verdict applied as
 * EventPipeline.on_event does. Anything else is declined before any state changes, and the caller
 * gives that event to the Python pipeline (after taking the lines handled so far, so the output
 * keeps its order).
 *
 * With a compiled filter (Filter, below) the event is filtered where Inspector.process filters it:
 * before its parser unless it is flagged EF_MODIFIES_STATE, and a dropped event leaves what process()
 * leaves (no pending enter); with a compiled -p format (Format) its line is the format's. Then the
 * hidden events process() does not parse (procinfo) are counted here too, and events with fewer params
 * than the table's (older versions) are taken where no default line prints their params. A silent
 * Core (the table chisels' run, fastline.chisel_core) keeps the state the same way and writes no line,
 * declining the codes in its `declines` table; it takes the hidden and short events as a filter does,
 * and runs the run's compiled Filter (counting only the events that pass) as the line's Core does.
 *
 * event_blocks(): the -w writing process's loop when nothing reads the events (fastline.passthrough):
 * the pipelined frames laid out as scap event blocks, unparsed.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* memmem */
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>

#define HEADER_SIZE 26
#define FRAME_HEAD 22 /* u16 cpu, then the event header up to its u32 length */
#define MAX_PARAMS 32
#define EV_V1 0x204 /* scap event blocks (sysdig_user/scap/blocks.py) */
#define EV_V2 0x216
#define EV_V2_LARGE 0x221
#define READER_BUF_SIZE 65536
#define FASTLINE_VERSION 14
#define PPM_CODES_MAX 65536 /* cflags covers every u16 code */

/* state changes done here for types with a parser (the rest of those go through Inspector.process);
 * OP_VM: parsers_process.vm_exit (brk/mmap/munmap exits: params 1-3 are the process's memory counters);
 * OP_SWITCH: the sched switch (process() neither pairs it nor creates its thread; switch_enter sets the
 * thread's page faults, params 1-2, and its main thread's memory counters, params 3-5);
 * OP_SOCKET: parsers_net.socket_exit (a successful socket exit paired with its enter adds the fd that
 * parsers_net.socket_info makes of the enter's domain, type and proto);
 * OP_ENTER_ARG: an exit whose parser changes nothing unless its paired enter's param has one of a few
 * values (fcntl: F_DUPFD, F_DUPFD_CLOEXEC); other values, or no paired enter, make it a pure exit */
enum { OP_NONE = 0, OP_OPENAT, OP_CLOSE, OP_VM, OP_SWITCH, OP_SOCKET, OP_ENTER_ARG };
#define EA_MAX 8

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
    int hidden;  /* with a filter or -p: a hidden event process() does not parse (1), looking its thread up (2) */
    int lined;   /* its params have recipes (the default line); a -p format's recipes have none */
    uint64_t o_directory;              /* OP_OPENAT: PPM_O_DIRECTORY */
    int open_idx[4];                   /* OP_OPENAT: the params fd, name, flags, dev (a missing dev is 0) */
    int open_paired;                   /* OP_OPENAT: open_exit needs the exit paired (the old open exit) */
    int vm_size[3];                    /* OP_VM: vm_exit's params 1-3 (unsigned), their sizes */
    int sw_size[5];                    /* OP_SWITCH: switch_enter's params 1-5 (unsigned), their sizes */
    PyObject *sock_info;               /* OP_SOCKET: parsers_net.socket_info */
    int sock_size[3];                  /* OP_SOCKET: the enter's params 0-2 (unsigned), their sizes */
    int ea_idx, ea_size, ea_n;         /* OP_ENTER_ARG: the enter's param (unsigned), its size, the values */
    uint64_t ea_vals[EA_MAX];          /* OP_ENTER_ARG: the values for which the parser runs */
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
    PyObject *begin;           /* the pipeline's begin_events(ts), or NULL: such events are declined */
    PyObject *filter, *format; /* a compiled Filter and Format (sysdig_user/output/compiled.py), or NULL */
    uint8_t *cflags;           /* per code, Inspector's _FLAGS */
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
    PyObject *ovr_info; /* OP_SOCKET: the FdInfo its exit adds (then no type and name) */
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
    /* the table chisels done here (Table, below): their codes are not declined; first_ts: the time of the
     * first event handled here, for the chisels' clock */
    PyObject *tables[8];
    int ntables;
    int64_t first_ts;
    PyObject *spare; /* a (raw, cpu, num) tuple an exit took from its thread's last_enter, for the next enter */
} Core;

static PyObject *s_pending, *s_num, *s_first_ts, *s_threads, *s_fdtable, *s_fds, *s_type, *s_name, *s_comm,
    *s_thread, *s_lastevent_type, *s_last_latency_entertime, *s_latency, *s_last_enter, *s_lastevent_fd,
    *s_last_event_ts, *s_fix_sockets, *s_add, *s_remove, *s_extra, *s_name_changed_at, *s_pf[2], *s_tid;

/* ------------------------------------------------------------------------------------ slot attributes
 *
 * GA/SA: getattr/setattr of the Python objects the core reads and updates (ThreadInfo, FdInfo, FdTable,
 * ThreadTable, State: __slots__ classes). A slot is a member descriptor of its type at a fixed offset in
 * the object: each call site caches the offset it found (_PyType_Lookup) for one type and name, keyed on
 * the type's version tag, which CPython changes whenever the type or a base is modified. Anything else (no
 * valid version tag, a type with its own __getattribute__/__getattr__/__setattr__, an attribute that is
 * not an object slot, an unset slot, a non-CPython 3.11+ build) takes PyObject_GetAttr/SetAttr.
 */
typedef struct {
    PyTypeObject *tp;
    PyObject *name; /* a reference kept, so that no other str takes its address */
    unsigned int tag;
    Py_ssize_t off; /* -1: not a slot, the generic way */
} SlotCache;

/* slot_offset past its site's cache: the lookup, and the cache refilled (out of line: slot_offset's own
 * check, inlined at each of its ~3.5M calls a 200-section read makes, is what runs nearly always) */
static Py_ssize_t __attribute__((noinline)) slot_lookup(PyTypeObject *tp, PyObject *name, SlotCache *sc, int set) {
#if PY_VERSION_HEX >= 0x030B0000 && !defined(Py_LIMITED_API) && !defined(PYPY_VERSION)
    Py_ssize_t off = -1;
    if (set ? tp->tp_setattro == PyObject_GenericSetAttr : tp->tp_getattro == PyObject_GenericGetAttr) {
        PyObject *d = _PyType_Lookup(tp, name); /* (borrowed; it may assign the version tag) */
        if (d && Py_IS_TYPE(d, &PyMemberDescr_Type) && PyType_IsSubtype(tp, PyDescr_TYPE(d))) {
            PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type == T_OBJECT_EX && !(m->flags & READONLY) && m->offset > 0) off = m->offset;
        }
    }
    if (PyType_HasFeature(tp, Py_TPFLAGS_VALID_VERSION_TAG)) {
        if (sc->name != name) {
            Py_INCREF(name);
            Py_XSETREF(sc->name, name);
        }
        sc->tp = tp;
        sc->tag = tp->tp_version_tag;
        sc->off = off;
    } else {
        sc->tp = NULL;
    }
    return off;
#else
    (void)tp, (void)name, (void)sc, (void)set;
    return -1;
#endif
}

static inline Py_ssize_t slot_offset(PyTypeObject *tp, PyObject *name, SlotCache *sc, int set) {
#if PY_VERSION_HEX >= 0x030B0000 && !defined(Py_LIMITED_API) && !defined(PYPY_VERSION)
    if (sc->tp == tp && sc->name == name && PyType_HasFeature(tp, Py_TPFLAGS_VALID_VERSION_TAG) &&
        sc->tag == tp->tp_version_tag)
        return sc->off;
#endif
    return slot_lookup(tp, name, sc, set);
}

static inline PyObject *ga_c(PyObject *o, PyObject *name, SlotCache *sc) {
    Py_ssize_t off = slot_offset(Py_TYPE(o), name, sc, 0);
    if (off > 0) {
        PyObject *v = *(PyObject **)((char *)o + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(o, name); /* (an unset slot: its AttributeError) */
}

static int sa_c(PyObject *o, PyObject *name, PyObject *v, SlotCache *sc) {
    Py_ssize_t off = slot_offset(Py_TYPE(o), name, sc, 1);
    if (off > 0 && v) {
        PyObject **slot = (PyObject **)((char *)o + off), *old = *slot;
        Py_INCREF(v);
        *slot = v;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(o, name, v);
}

/* a cache of its own for each place the macro is written (a GNU statement expression) */
#define SITE_CACHE() ({ static SlotCache site_cache_; &site_cache_; })
#define GA(o, name) ga_c((PyObject *)(o), (name), SITE_CACHE())
#define SA(o, name, v) sa_c((PyObject *)(o), (name), (v), SITE_CACHE())
#define get_i64(o, name, v) get_i64_c((o), (name), (v), SITE_CACHE())
#define set_i64(o, name, v) set_i64_c((o), (name), (v), SITE_CACHE())
#define set_u64(o, name, v) set_u64_c((o), (name), (v), SITE_CACHE())

/* -------------------------------------------------------------------------- cheap ints and lookups
 *
 * Most of what an event cost here was Python ints made and freed: every int attribute written (the
 * event number, timestamps, the latency, the fd) a new int and its old one freed, every thread and fd
 * looked up through a new int key. On CPython 3.11 (the layouts these rely on; elsewhere the plain way):
 *  - int_in_place: an int slot that already holds the value is left as it is; one holding an int no one
 *    else references (refcount 1: only the slot) with as many digits as the new value gets the new
 *    digits in place, which nobody can tell from a new int. Small ints (-5..256) stay the shared ones.
 *  - dict_int_get: a lookup by int key is remembered with the dict's version tag, which CPython changes
 *    on every change to a dict and never gives two dicts (PEP 509), so the same lookup in an unchanged
 *    dict returns the value it found (still the dict's: borrowed, as PyDict_GetItemWithError's).
 */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && !defined(Py_LIMITED_API) && \
    !defined(PYPY_VERSION) && PYLONG_BITS_IN_DIGIT == 30
#define CHEAP_INTS 1
#endif

/* 1 when the int old now holds the value (neg, mag): it did, or it was rewritten; 0: a new int is needed */
static inline int int_in_place(PyObject *old, int neg, uint64_t mag) {
#ifdef CHEAP_INTS
    if (!old || !Py_IS_TYPE(old, &PyLong_Type)) return 0;
    /* (a u64 has at most 3 digits of 30 bits; written out rather than looped over, ~20 instructions less
     * on each of the ~1M calls a 200-section read makes, callgrind) */
    digit d0 = (digit)(mag & PyLong_MASK), d1 = (digit)((mag >> PyLong_SHIFT) & PyLong_MASK),
          d2 = (digit)(mag >> (2 * PyLong_SHIFT));
    Py_ssize_t n = d2 ? 3 : d1 ? 2 : d0 ? 1 : 0;
    Py_ssize_t size = Py_SIZE(old), want = neg ? -n : n;
    digit *od = ((PyLongObject *)old)->ob_digit;
    if (size == want && (n < 1 || od[0] == d0) && (n < 2 || od[1] == d1) && (n < 3 || od[2] == d2)) return 1;
    if (Py_REFCNT(old) != 1 || (size < 0 ? -size : size) != n || (!neg && mag <= 256) || (neg && mag <= 5))
        return 0;
    switch (n) { /* (n >= 1 here: a 0 is a small int) */
    case 3: od[2] = d2; /* fall through */
    case 2: od[1] = d1; /* fall through */
    default: od[0] = d0;
    }
    Py_SET_SIZE(old, want);
    return 1;
#else
    (void)old, (void)neg, (void)mag;
    return 0;
#endif
}

/* the int slot name of o (at its cached offset) holding (neg, mag) without a new int when int_in_place can */
static inline int int_slot_kept(PyObject *o, PyObject *name, SlotCache *sc, int neg, uint64_t mag) {
    Py_ssize_t off = slot_offset(Py_TYPE(o), name, sc, 1);
    return off > 0 && int_in_place(*(PyObject **)((char *)o + off), neg, mag);
}

typedef struct {
    PyObject *dict; /* (compared, never dereferenced: the tag says whether it is the same dict, unchanged) */
    uint64_t tag;
    int64_t key;
    PyObject *value; /* borrowed from the dict; NULL: absent */
} DictCache;

/* d[key] for an int key (borrowed), NULL when absent (no error) or on an error */
static PyObject *dict_int_get(PyObject *d, int64_t k, DictCache *dc) {
#ifdef CHEAP_INTS
    uint64_t tag = ((PyDictObject *)d)->ma_version_tag;
    if (dc->dict == d && dc->tag == tag && dc->key == k) return dc->value;
#endif
    PyObject *key = PyLong_FromLongLong(k);
    if (!key) return NULL;
    PyObject *v = PyDict_GetItemWithError(d, key);
    Py_DECREF(key);
    if (!v && PyErr_Occurred()) return NULL;
#ifdef CHEAP_INTS
    if (((PyDictObject *)d)->ma_version_tag == tag) { /* (a key's __eq__ changed nothing) */
        dc->dict = d;
        dc->tag = tag;
        dc->key = k;
        dc->value = v;
    }
#endif
    return v;
}

#define DICT_INT_GET(d, k) dict_int_get((d), (k), ({ static DictCache dict_cache_; &dict_cache_; }))

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

/* v in base 2^shift (hex: 4, octal: 3), upper-case digits, after the character lead when it is not 0: as
 * snprintf's %llX and 0%llo write it, without its ~700 instructions */
static int put_radix(Core *c, uint64_t v, int shift, char lead) {
    char buf[32];
    char *e = buf + sizeof buf, *p = e;
    uint64_t mask = ((uint64_t)1 << shift) - 1;
    do {
        *--p = "0123456789ABCDEF"[v & mask];
        v >>= shift;
    } while (v);
    if (lead) *--p = lead;
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
    PyObject *table = GA(th, s_fdtable);
    if (!table) return NULL;
    PyObject *fds = GA(table, s_fds);
    if (!fds) {
        Py_DECREF(table);
        return NULL;
    }
    PyObject *info = NULL;
    if (!PyDict_Check(fds)) {
        PyErr_SetString(PyExc_TypeError, "FdTable.fds is not a dict");
    } else {
        info = DICT_INT_GET(fds, fd);
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
    PyObject *info;
    if (fd == c->ovr_fd && c->ovr_info) {
        info = c->ovr_info;
        Py_INCREF(info);
    } else if (fd == c->ovr_fd) {
        return put_fd_named(c, fd, c->ovr_type, c->ovr_name, c->ovr_len);
    } else {
        info = fd_info(th, fd, NULL);
    }
    if (!info) return PyErr_Occurred() ? -1 : put_i64(c, fd);
    int rc = 1;
    PyObject *type = GA(info, s_type);
    PyObject *name = type ? GA(info, s_name) : NULL;
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
    int n; /* params in the event: the table's count, or fewer (an old capture's) with a filter or -p */
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
        return put_radix(c, v, 4, 0); /* "%llX" */
    }
    case K_OCT: {
        uint64_t v = (r->is_signed ? (uint64_t)rd_s(p, r->size) : rd_u(p, r->size)) & r->mask;
        if (!v) return putc1(c, '0');
        return put_radix(c, v, 3, '0'); /* "0%llo" */
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
    char buf[9]; /* "%09lld" of frac (0 <= frac < 10^9), without snprintf's ~300 instructions a line */
    for (int i = 8; i >= 0; i--) {
        buf[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    if (put(c, c->clock_text, c->clock_len) < 0) return -1;
    return put(c, buf, 9);
}

/* the default line: "%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info" */
static int put_line(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    int rc;
    if (e->n > R->nparams || !R->lined) return 1;
    if (put_i64(c, num) < 0 || putc1(c, ' ') < 0) return -1;
    if ((rc = put_time(c, e->ts)) != 0) return rc;
    if (putc1(c, ' ') < 0 || put_i64(c, e->cpu) < 0 || putc1(c, ' ') < 0) return -1;
    PyObject *comm = GA(th, s_comm);
    if (!comm) return -1;
    rc = put_str(c, comm);
    Py_DECREF(comm);
    if (rc) return rc;
    if (put(c, " (", 2) < 0 || put_i64(c, e->tid) < 0 || put(c, ") ", 2) < 0) return -1;
    if (R->generic) {
        const char *name = c->generic_name;
        if (e->n && e->plen[0] == 2) {
            unsigned sc = (unsigned)rd_u(e->param[0], 2);
            if ((int)sc < c->n_sc) name = c->sc_names[sc];
        } else {
            return 1;
        }
        if (put(c, R->head, R->head_len) < 0 || put(c, name, strlen(name)) < 0 || putc1(c, ' ') < 0) return -1;
    } else {
        if (put(c, R->head, R->head_len) < 0) return -1;
        for (int i = 0; i < e->n; i++) {
            ParamRecipe *r = &R->params[i];
            if (put(c, r->prefix, r->prefix_len) < 0) return -1;
            if ((rc = put_param(c, r, e->param[i], e->plen[i], th, e)) != 0) return rc;
            if (putc1(c, ' ') < 0) return -1;
        }
    }
    return putc1(c, '\n');
}

static inline int set_i64_c(PyObject *o, PyObject *name, int64_t v, SlotCache *sc) {
    Py_ssize_t off = slot_offset(Py_TYPE(o), name, sc, 1);
    if (off > 0) { /* (int_slot_kept, then sa_c's write, with one lookup) */
        PyObject **slot = (PyObject **)((char *)o + off), *old = *slot;
        if (int_in_place(old, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v)) return 0;
        PyObject *x = PyLong_FromLongLong(v);
        if (!x) return -1;
        *slot = x;
        Py_XDECREF(old);
        return 0;
    }
    PyObject *x = PyLong_FromLongLong(v);
    if (!x) return -1;
    int rc = PyObject_SetAttr(o, name, x);
    Py_DECREF(x);
    return rc;
}

static int set_u64_c(PyObject *o, PyObject *name, uint64_t v, SlotCache *sc) {
    if (int_slot_kept(o, name, sc, 0, v)) return 0;
    PyObject *x = PyLong_FromUnsignedLongLong(v);
    if (!x) return -1;
    int rc = sa_c(o, name, x, sc);
    Py_DECREF(x);
    return rc;
}

/* an int attribute as int64; one past the int64 range (a damaged capture's u64 timestamp, which the Python
 * side keeps unsigned) wraps to the int64 that e->ts holds for the same bytes, not an OverflowError */
static inline int get_i64_c(PyObject *o, PyObject *name, int64_t *v, SlotCache *sc) {
    PyObject *x = ga_c(o, name, sc);
    if (!x) return -1;
    int overflow = 0;
    long long r = PyLong_AsLongLongAndOverflow(x, &overflow);
    if (overflow) r = (long long)PyLong_AsUnsignedLongLongMask(x);
    Py_DECREF(x);
    *v = r;
    return r == -1 && PyErr_Occurred() ? -1 : 0;
}

/* ---------------------------------------------------------------- compiled filters and -p formats
 *
 * A filter or -p format whose every field has an accessor here is run in C (Filter, Format). Which
 * registry field each accessor stands for, and the tables the values come from (evt.type per code,
 * the codes fd fields apply to, the fd fields that depend on the fd's type and role alone, probed
 * from their Python extractors) are built by sysdig_user/output/compiled.py from the field registry.
 * The value of a field is read from a Ctx: the event's header, and its thread and fd as
 * Inspector.process leaves them when the filter runs. An accessor that cannot give the value from
 * what it has (fd.name of an exit without an fd, which the exit's own params name; a string that is
 * not strict UTF-8; an event type past the table) answers NEED: over an Event the field's Python
 * extractor (or the check's Python predicate) answers; in Core's loop the event takes the Event path
 * (handle_parsed) instead, before any state changes.
 */
#include <arpa/inet.h>

enum { A_NUM = 1, A_CPU, A_TID, A_TYPE, A_DIR, A_COMM, A_PID, A_FDNUM, A_FDNAME, A_FDPROBE, A_TIME, A_RES, A_USER, A_IO,
       A_FAILED, A_FDL4 };
enum { P_NEED = 0, P_NA, P_INT, P_STR, P_ATTR_INT, P_ATTR_IP, P_ATTR_STR };
enum { V_NA = 0, V_INT, V_STR, V_IP };
enum { O_EQ = 1, O_NE, O_LT, O_LE, O_GT, O_GE, O_CONTAINS, O_STARTSWITH, O_ENDSWITH, O_IN, O_EXISTS };
enum { I_TEST = 1, I_JF, I_JT, I_NOT };
#define NEED 2
#define NOLINE 3
#define PROBE_TYPES 32
#define PROBE_ROLES 4
/* Inspector's per-code flags (sysdig_user/state/inspector.py _FLAGS), given to Core as bytes */
#define CF_ENTER 1
#define CF_USES_FD 2
#define CF_FD_EVENT 4
#define CF_MODIFIES 64

static PyObject *s_shown_l4proto;
static PyObject *s_uid, *s_users, *s_user, *s__state, *s_vm[3], *s_pid, *s_role, *s_fdinfo, *s_fdnum, *s_raw, *s_cpu, *s_filtered_out;

typedef struct {
    int mode;
    PyObject *attr; /* P_ATTR_*: the FdInfo attribute holding the value */
    int64_t i;      /* P_INT */
    char *s;        /* P_STR */
    Py_ssize_t n;
} Probe;

typedef struct {
    PyObject_HEAD
    int ncodes;
    char **type_names; /* evt.type per code; NULL where it is not the code's alone */
    int n_sc;
    char **sc_names; /* the generic events' syscall names */
    uint8_t *fd_event; /* per code: the fd fields apply (fields/fd.py fd_of) */
    uint8_t *io;       /* per code: evt.is_io_read's flag (1), evt.is_io_write's (2); NULL: Python's */
    uint8_t *name_py;  /* per code: fd.name may come from the event's params though it has an fd (1),
                        * or without one (2) */
    int nprobes;
    Probe *probes; /* nprobes x PROBE_TYPES x PROBE_ROLES */
    int virt_role; /* the role of a new file's FdInfo */
    int8_t (*res)[6]; /* per code: evt.res's param (index, size, signed), then the fd-creating exit's
                       * fallback one; index -1: none, size 0: not a fixed-size integer (Python's) */
    int n_errnos;
    char **errno_texts; /* evt.res of -k, by k (NULL: Python's) */
    int n_l4;
    char **l4_names; /* fd.l4proto per shown_l4proto value (NULL entries: l4_default) */
    char *l4_default; /* NULL: fd.l4proto is Python's */
} Fields;

typedef struct {
    int code, cpu;
    int64_t ts, tid, num;
    const uint8_t *p0; /* param 0 (a generic event's syscall id), NULL if none */
    Py_ssize_t p0len;
    int n; /* the params, when known (n >= 0; -1: not read) */
    const uint8_t *param[MAX_PARAMS];
    Py_ssize_t plen[MAX_PARAMS];
    PyObject *th; /* a new reference, NULL: no thread */
    int64_t fdnum;
    PyObject *fdinfo; /* a new reference, NULL: none */
    int virt;         /* an openat's new fd, before its FdInfo exists: vtype, vname */
    int vtype;
    const char *vname;
    Py_ssize_t vlen;
    PyObject *evt; /* the Event (borrowed), NULL in Core's loop */
    PyObject *state; /* the Inspector's State (a new reference), NULL: none */
} Ctx;

typedef struct {
    int kind;
    int64_t i;
    const char *s;
    Py_ssize_t n;
    PyObject *own; /* keeps s alive */
} Val;

/* a Ctx zeroed but for its param and plen arrays, of which every reader reads the first n only (x->n, which
 * ctx_from_event and core_ctx set with them): zeroing the arrays (512 bytes) was most of a filtered event's
 * core_ctx */
_Static_assert(offsetof(Ctx, param) < offsetof(Ctx, plen) && offsetof(Ctx, plen) < offsetof(Ctx, th),
               "Ctx: param and plen lie between n and th");
static inline void ctx_clear(Ctx *x) {
    memset(x, 0, offsetof(Ctx, param));
    memset((char *)x + offsetof(Ctx, th), 0, sizeof *x - offsetof(Ctx, th));
}

static void ctx_release(Ctx *x) {
    Py_CLEAR(x->state);
    Py_CLEAR(x->th);
    Py_CLEAR(x->fdinfo);
}

/* a str value (strict UTF-8; else NEED); steals o */
static int str_val(PyObject *o, Val *v) {
    if (!PyUnicode_Check(o)) {
        Py_DECREF(o);
        return NEED;
    }
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(o, &n);
    if (!u) {
        PyErr_Clear();
        Py_DECREF(o);
        return NEED;
    }
    v->kind = V_STR;
    v->s = u;
    v->n = n;
    v->own = o;
    return 0;
}

/* an int value; steals o */
static int int_val(PyObject *o, Val *v) {
    if (!PyLong_Check(o)) {
        Py_DECREF(o);
        return NEED;
    }
    int overflow = 0;
    long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
    Py_DECREF(o);
    if (overflow) return NEED;
    if (i == -1 && PyErr_Occurred()) return -1;
    v->kind = V_INT;
    v->i = i;
    return 0;
}

static int attr_val(PyObject *obj, PyObject *name, int mode, Val *v) {
    PyObject *o = GA(obj, name);
    if (!o) return -1;
    if (o == Py_None) {
        Py_DECREF(o);
        return 0;
    }
    if (mode == P_ATTR_INT) return int_val(o, v);
    if (mode == P_ATTR_STR) return str_val(o, v);
    if (!PyBytes_Check(o) || (PyBytes_GET_SIZE(o) != 4 && PyBytes_GET_SIZE(o) != 16)) {
        Py_DECREF(o);
        return NEED;
    }
    v->kind = V_IP;
    v->s = PyBytes_AS_STRING(o);
    v->n = PyBytes_GET_SIZE(o);
    v->own = o;
    return 0;
}

static int fd_applies(Fields *F, Ctx *x) { return x->th && F->fd_event[x->code]; }

/* the value of accessor acc (probe: which probed field) for x: 0 (v set, V_NA when missing), NEED, -1 */
static int get_value(Fields *F, int acc, int probe, Ctx *x, Val *v) {
    v->kind = V_NA;
    v->own = NULL;
    switch (acc) {
    case A_NUM: v->kind = V_INT; v->i = x->num; return 0;
    case A_CPU: v->kind = V_INT; v->i = x->cpu; return 0;
    case A_TID: v->kind = V_INT; v->i = x->tid; return 0;
    case A_DIR: v->kind = V_STR; v->s = x->code & 1 ? "<" : ">"; v->n = 1; return 0;
    default: break;
    }
    if (x->code >= F->ncodes) return NEED;
    switch (acc) {
    case A_TYPE: {
        const char *name = F->type_names[x->code];
        if (!name) {
            if (x->code >= 2 || !x->p0 || x->p0len != 2) return NEED;
            unsigned sc = (unsigned)rd_u(x->p0, 2);
            if ((int)sc >= F->n_sc || !F->sc_names[sc]) return NEED;
            name = F->sc_names[sc];
        }
        v->kind = V_STR;
        v->s = name;
        v->n = strlen(name);
        return 0;
    }
    case A_USER: { /* fields/user.py: the state's user of the thread's uid, its name */
        if (!x->th || !x->state) return 0;
        PyObject *users = GA(x->state, s_users), *uid = NULL, *u = NULL;
        int rc = -1;
        if (users && (uid = GA(x->th, s_uid)) && (u = PyObject_CallMethodOneArg(users, s_user, uid)))
            rc = u == Py_None ? 0 : attr_val(u, s_name, P_ATTR_STR, v);
        Py_XDECREF(u);
        Py_XDECREF(uid);
        Py_XDECREF(users);
        return rc;
    }
    case A_COMM:
        if (!x->th) return 0;
        return attr_val(x->th, s_comm, P_ATTR_STR, v);
    case A_PID:
        if (!x->th) return 0;
        return attr_val(x->th, s_pid, P_ATTR_INT, v);
    case A_IO: /* fields/evt.py _is_io, _is_io_read, _is_io_write (probe: which flags): a bool, as 0 or 1 */
        if (!F->io) return NEED;
        v->kind = V_INT;
        v->i = (F->io[x->code] & probe) != 0;
        return 0;
    case A_FAILED: /* fields/evt.py _failed: return_value below 0, a bool as 0 or 1 */
    case A_RES: { /* fields/evt.py return_value, then "SUCCESS", the errno's name or the number */
        if (x->n < 0 || !F->res) return NEED;
        int8_t *r = F->res[x->code];
        int64_t res = 0;
        int found = 0;
        for (int k = 0; k < 6 && !found; k += 3) {
            int idx = r[k], size = r[k + 1];
            if (idx < 0 || idx >= x->n) continue;
            if (!size || x->plen[idx] != size) return NEED;
            res = r[k + 2] ? rd_s(x->param[idx], size) : (int64_t)rd_u(x->param[idx], size);
            found = 1;
        }
        if (acc == A_FAILED) {
            v->kind = V_INT;
            v->i = found && res < 0;
            return 0;
        }
        if (!found) return 0;
        v->kind = V_STR;
        if (res >= 0) {
            v->s = "SUCCESS";
            v->n = 7;
            return 0;
        }
        if (res <= -F->n_errnos || !F->errno_texts[-res]) return NEED;
        v->s = F->errno_texts[-res];
        v->n = strlen(v->s);
        return 0;
    }
    case A_FDNUM:
        if (!fd_applies(F, x)) return 0;
        v->kind = V_INT;
        v->i = x->fdnum;
        return 0;
    case A_FDNAME:
        if (!fd_applies(F, x)) return 0;
        if (x->virt) {
            v->kind = V_STR;
            v->s = x->vname;
            v->n = x->vlen;
            return 0;
        }
        if (!x->fdinfo) { /* fields/fd.py creator_name: nothing for an enter, its params for a creating exit */
            if (!(x->code & 1)) return 0;
            if (F->name_py[x->code] & 2) return NEED;
            v->kind = V_STR;
            v->s = "";
            v->n = 0;
            return 0;
        }
        if (F->name_py[x->code] & 1) return NEED;
        return attr_val(x->fdinfo, s_name, P_ATTR_STR, v);
    case A_FDL4: { /* fields/fd.py _l4proto: the name of the fd's shown_l4proto */
        if (!fd_applies(F, x) || (!x->fdinfo && !x->virt)) return 0;
        if (x->virt || !F->l4_default) return NEED;
        PyObject *o = GA(x->fdinfo, s_shown_l4proto);
        if (!o) return -1;
        long proto = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
        Py_DECREF(o);
        if (proto < 0) return PyErr_Occurred() ? -1 : NEED;
        v->kind = V_STR;
        v->s = proto < F->n_l4 && F->l4_names[proto] ? F->l4_names[proto] : F->l4_default;
        v->n = strlen(v->s);
        return 0;
    }
    case A_FDPROBE: {
        if (!fd_applies(F, x) || (!x->fdinfo && !x->virt)) return 0;
        long type = x->vtype, role = F->virt_role;
        if (!x->virt) {
            PyObject *t = GA(x->fdinfo, s_type), *r = t ? GA(x->fdinfo, s_role) : NULL;
            type = t ? PyLong_AsLong(t) : -1;
            role = r ? PyLong_AsLong(r) : -1;
            Py_XDECREF(t);
            Py_XDECREF(r);
            if (PyErr_Occurred()) return -1;
        }
        if (probe < 0 || probe >= F->nprobes || type < 0 || type >= PROBE_TYPES || role < 0 || role >= PROBE_ROLES)
            return NEED;
        Probe *p = &F->probes[(probe * PROBE_TYPES + type) * PROBE_ROLES + role];
        switch (p->mode) {
        case P_NA: return 0;
        case P_INT: v->kind = V_INT; v->i = p->i; return 0;
        case P_STR: v->kind = V_STR; v->s = p->s; v->n = p->n; return 0;
        case P_ATTR_INT: case P_ATTR_IP: case P_ATTR_STR:
            if (x->virt) return NEED;
            return attr_val(x->fdinfo, p->attr, p->mode, v);
        }
        return NEED;
    }
    }
    return NEED;
}

/* ------------------------------------------------------------------------------------------ Fields */

static void Fields_dealloc(Fields *F) {
    if (F->type_names) {
        for (int i = 0; i < F->ncodes; i++) PyMem_Free(F->type_names[i]);
        PyMem_Free(F->type_names);
    }
    if (F->sc_names) {
        for (int i = 0; i < F->n_sc; i++) PyMem_Free(F->sc_names[i]);
        PyMem_Free(F->sc_names);
    }
    PyMem_Free(F->fd_event);
    PyMem_Free(F->name_py);
    PyMem_Free(F->io);
    PyMem_Free(F->res);
    if (F->errno_texts) {
        for (int i = 0; i < F->n_errnos; i++) PyMem_Free(F->errno_texts[i]);
        PyMem_Free(F->errno_texts);
    }
    if (F->l4_names) {
        for (int i = 0; i < F->n_l4; i++) PyMem_Free(F->l4_names[i]);
        PyMem_Free(F->l4_names);
    }
    PyMem_Free(F->l4_default);
    if (F->probes) {
        for (int i = 0; i < F->nprobes * PROBE_TYPES * PROBE_ROLES; i++) {
            Py_XDECREF(F->probes[i].attr);
            PyMem_Free(F->probes[i].s);
        }
        PyMem_Free(F->probes);
    }
    Py_TYPE(F)->tp_free((PyObject *)F);
}

static char **str_array(PyObject *seq, int *n);
static char *dup_utf8(PyObject *s);

static uint8_t *code_bytes(PyObject *b, int ncodes) {
    uint8_t *out = PyMem_Calloc(ncodes ? ncodes : 1, 1);
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    memcpy(out, PyBytes_AS_STRING(b), n < ncodes ? n : ncodes);
    return out;
}

/* Fields(type_names, sc_names, fd_events, name_py, probes, virt_role, res, errno_texts[, io[, l4_names,
 * l4_default]]): probes is a list per probed field of PROBE_TYPES * PROBE_ROLES (mode, attr, int, str); res
 * per code a 6-tuple; l4_names fd.l4proto's text per protocol number (None: l4_default) */
static int Fields_init(Fields *F, PyObject *args, PyObject *kwds) {
    PyObject *type_names, *sc_names, *fd_events, *name_py, *probes, *res, *errno_texts, *io = NULL, *l4 = NULL,
             *l4_default = NULL;
    if (F->type_names || F->l4_names) { /* (l4_names is filled first: a failed first call may have set it) */
        PyErr_SetString(PyExc_RuntimeError, "Fields is initialised once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOSSO!iO!O|SOU", &type_names, &sc_names, &fd_events, &name_py, &PyList_Type, &probes,
                          &F->virt_role, &PyList_Type, &res, &errno_texts, &io, &l4, &l4_default))
        return -1;
    if (l4_default && (!(F->l4_names = str_array(l4, &F->n_l4)) || !(F->l4_default = dup_utf8(l4_default))))
        return -1;
    if (!(F->type_names = str_array(type_names, &F->ncodes)) || !(F->sc_names = str_array(sc_names, &F->n_sc)) ||
        !(F->fd_event = code_bytes(fd_events, F->ncodes)) || !(F->name_py = code_bytes(name_py, F->ncodes)) ||
        !(F->errno_texts = str_array(errno_texts, &F->n_errnos)) || (io && !(F->io = code_bytes(io, F->ncodes))))
        return -1;
    Py_ssize_t nres = PyList_GET_SIZE(res); /* (empty: no evt.res here, Python's) */
    if (nres && (nres != F->ncodes || !(F->res = PyMem_Calloc(F->ncodes + 1, sizeof *F->res)))) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "evt.res's params per code");
        return -1;
    }
    for (int i = 0; i < (nres ? F->ncodes : 0); i++) {
        int v[6];
        if (!PyArg_ParseTuple(PyList_GET_ITEM(res, i), "iiiiii", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5])) return -1;
        for (int k = 0; k < 6; k++) {
            if (v[k] < -1 || v[k] > MAX_PARAMS || (k % 3 == 1 && v[k] != 0 && v[k] != 1 && v[k] != 2 && v[k] != 4 &&
                                                      v[k] != 8)) {
                PyErr_SetString(PyExc_ValueError, "bad evt.res param");
                return -1;
            }
            F->res[i][k] = (int8_t)v[k];
        }
    }
    F->nprobes = (int)PyList_GET_SIZE(probes);
    int per = PROBE_TYPES * PROBE_ROLES;
    F->probes = PyMem_Calloc(F->nprobes * per + 1, sizeof(Probe));
    if (!F->probes) {
        PyErr_NoMemory();
        return -1;
    }
    for (int k = 0; k < F->nprobes; k++) {
        PyObject *rows = PyList_GET_ITEM(probes, k);
        if (!PyList_Check(rows) || PyList_GET_SIZE(rows) != per) {
            PyErr_SetString(PyExc_ValueError, "a probe table per fd type and role");
            return -1;
        }
        for (int i = 0; i < per; i++) {
            Probe *p = &F->probes[k * per + i];
            PyObject *attr, *s;
            long long iv;
            if (!PyArg_ParseTuple(PyList_GET_ITEM(rows, i), "iOLO", &p->mode, &attr, &iv, &s)) return -1;
            p->i = iv;
            if (attr != Py_None) {
                if (!PyUnicode_Check(attr)) {
                    PyErr_SetString(PyExc_TypeError, "a probe's attribute is a str");
                    return -1;
                }
                Py_INCREF(attr);
                PyUnicode_InternInPlace(&attr);
                p->attr = attr;
            } else if (p->mode >= P_ATTR_INT) {
                PyErr_SetString(PyExc_ValueError, "an attribute probe needs its attribute");
                return -1;
            }
            if (s != Py_None) {
                if (!(p->s = dup_utf8(s))) return -1;
                p->n = strlen(p->s);
            } else if (p->mode == P_STR) {
                PyErr_SetString(PyExc_ValueError, "a text probe needs its text");
                return -1;
            }
        }
    }
    return 0;
}

static PyTypeObject FieldsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sysdig_user._fastline.Fields",
    .tp_basicsize = sizeof(Fields),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The tables the compiled fields read (sysdig_user/output/compiled.py)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Fields_init,
    .tp_dealloc = (destructor)Fields_dealloc,
};

/* the Ctx of an Event after Inspector.process: fields/fd.py fd_of's fd (evt.fdinfo, else the thread's
 * table entry of evt.fdnum) */
static int ctx_from_event(Ctx *x, PyObject *evt) {
    ctx_clear(x);
    x->evt = evt;
    PyObject *raw = GA(evt, s_raw);
    if (!raw) return -1;
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) < HEADER_SIZE) {
        Py_DECREF(raw);
        PyErr_SetString(PyExc_TypeError, "an Event's raw bytes");
        return -1;
    }
    const uint8_t *ev = (const uint8_t *)PyBytes_AS_STRING(raw);
    Py_ssize_t len = PyBytes_GET_SIZE(raw);
    uint16_t code;
    uint32_t nparams;
    memcpy(&x->ts, ev, 8);
    memcpy(&x->tid, ev + 8, 8);
    memcpy(&code, ev + 20, 2);
    memcpy(&nparams, ev + 22, 4);
    x->code = code;
    x->n = -1; /* (running past the end: not read; u32 lengths read as u16 are read by no accessor: the
                * large-payload codes have no evt.res param in Fields) */
    if (nparams <= MAX_PARAMS && HEADER_SIZE + 2 * (Py_ssize_t)nparams <= len) {
        Py_ssize_t at = HEADER_SIZE + 2 * (Py_ssize_t)nparams;
        uint32_t i;
        for (i = 0; i < nparams; i++) {
            uint16_t n;
            memcpy(&n, ev + HEADER_SIZE + 2 * i, 2);
            if (at + n > len) break;
            x->param[i] = ev + at;
            x->plen[i] = n;
            at += n;
        }
        if (i == nparams) {
            x->n = (int)nparams;
            if (nparams) {
                x->p0 = x->param[0];
                x->p0len = x->plen[0];
            }
        }
    }
    Py_DECREF(raw); /* (the Event keeps its bytes) */
    int64_t cpu;
    if (get_i64(evt, s_num, &x->num) < 0 || get_i64(evt, s_cpu, &cpu) < 0 || get_i64(evt, s_fdnum, &x->fdnum) < 0)
        return -1;
    x->cpu = (int)cpu;
    PyObject *th = GA(evt, s_thread);
    if (!th) return -1;
    if (th == Py_None)
        Py_DECREF(th);
    else
        x->th = th;
    PyObject *st = GA(evt, s__state);
    if (!st) return -1;
    if (st == Py_None)
        Py_DECREF(st);
    else
        x->state = st;
    PyObject *info = GA(evt, s_fdinfo);
    if (!info) return -1;
    if (info != Py_None) {
        x->fdinfo = info;
    } else {
        Py_DECREF(info);
        if (x->th && x->fdnum != -1) {
            x->fdinfo = fd_info(x->th, x->fdnum, NULL);
            if (!x->fdinfo && PyErr_Occurred()) return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ Filter */

typedef struct {
    int acc, probe, op, kind, nlits;
    int64_t *ints;
    char **strs;
    Py_ssize_t *lens;
    PyObject *py; /* the check as a Python predicate: what answers over an Event when the accessor cannot */
} FCheck;

typedef struct {
    PyObject_HEAD
    Fields *fields;
    FCheck *checks;
    int nchecks;
    int *code; /* (instruction, argument) pairs */
    int ncode;
    PyObject *event_types;
} Filter;

static int str_cmp(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r) return r;
    return an < bn ? -1 : an > bn;
}

/* an address against an IP literal as sinsp's flt_compare meets them (filter/compile.py _ip_literals):
 * a 4-byte address with the literal's first 4 bytes, a 16-byte one with the literal followed by zeros */
static int ip_meets(const char *a, Py_ssize_t an, const char *l, Py_ssize_t ln) {
    if (an == 4) return ln >= 4 && !memcmp(a, l, 4);
    if (an != 16 || ln > 16 || memcmp(a, l, ln)) return 0;
    for (Py_ssize_t i = ln; i < 16; i++)
        if (a[i]) return 0;
    return 1;
}

static int test_value(FCheck *k, Val *v) {
    if (k->op == O_EXISTS) return v->kind != V_NA;
    if (v->kind == V_NA) return 0;
    if (v->kind != k->kind) return NEED;
    if (k->kind == V_IP && (k->op == O_EQ || k->op == O_NE || k->op == O_IN)) {
        int hit = 0, m = k->op == O_IN ? k->nlits : k->nlits > 0;
        for (int i = 0; i < m && !hit; i++) hit = ip_meets(v->s, v->n, k->strs[i], k->lens[i]);
        return k->op == O_NE ? !hit : hit;
    }
    if (k->kind == V_INT) {
        int64_t a = v->i, b = k->nlits ? k->ints[0] : 0;
        switch (k->op) {
        case O_EQ: return a == b;
        case O_NE: return a != b;
        case O_LT: return a < b;
        case O_LE: return a <= b;
        case O_GT: return a > b;
        case O_GE: return a >= b;
        case O_IN:
            for (int i = 0; i < k->nlits; i++)
                if (a == k->ints[i]) return 1;
            return 0;
        }
        return NEED;
    }
    const char *s = v->s;
    Py_ssize_t n = v->n;
    const char *l = k->nlits ? k->strs[0] : "";
    Py_ssize_t ln = k->nlits ? k->lens[0] : 0;
    switch (k->op) {
    case O_EQ: return n == ln && !memcmp(s, l, n);
    case O_NE: return !(n == ln && !memcmp(s, l, n));
    case O_IN:
        for (int i = 0; i < k->nlits; i++)
            if (n == k->lens[i] && !memcmp(s, k->strs[i], n)) return 1;
        return 0;
    default: break;
    }
    if (k->kind != V_STR) return NEED;
    switch (k->op) {
    case O_LT: return str_cmp(s, n, l, ln) < 0;
    case O_LE: return str_cmp(s, n, l, ln) <= 0;
    case O_GT: return str_cmp(s, n, l, ln) > 0;
    case O_GE: return str_cmp(s, n, l, ln) >= 0;
    case O_CONTAINS: return !ln || (n >= ln && memmem(s, n, l, ln) != NULL);
    case O_STARTSWITH: return n >= ln && !memcmp(s, l, ln);
    case O_ENDSWITH: return n >= ln && !memcmp(s + n - ln, l, ln);
    }
    return NEED;
}

/* 1 true, 0 false, NEED, -1 error */
static int eval_check(Filter *f, FCheck *k, Ctx *x) {
    Val v;
    int rc = get_value(f->fields, k->acc, k->probe, x, &v);
    if (!rc) rc = test_value(k, &v);
    Py_XDECREF(v.own);
    if (rc == NEED && x->evt) {
        PyObject *r = PyObject_CallOneArg(k->py, x->evt);
        if (!r) return -1;
        rc = PyObject_IsTrue(r);
        Py_DECREF(r);
    }
    return rc;
}

static int run_filter(Filter *f, Ctx *x) {
    int acc = 0;
    for (int i = 0; i < f->ncode; i++) {
        int arg = f->code[2 * i + 1];
        switch (f->code[2 * i]) {
        case I_TEST:
            acc = eval_check(f, &f->checks[arg], x);
            if (acc < 0 || acc == NEED) return acc;
            break;
        case I_JF:
            if (!acc) i = arg - 1;
            break;
        case I_JT:
            if (acc) i = arg - 1;
            break;
        case I_NOT:
            acc = !acc;
            break;
        }
    }
    return acc;
}

static int filter_event(Filter *f, PyObject *evt) {
    Ctx x;
    int rc = ctx_from_event(&x, evt);
    if (!rc) rc = run_filter(f, &x);
    ctx_release(&x);
    return rc;
}

static PyObject *Filter_call(Filter *f, PyObject *args, PyObject *kwds) {
    PyObject *evt;
    if (!PyArg_ParseTuple(args, "O", &evt)) return NULL;
    int rc = filter_event(f, evt);
    if (rc < 0) return NULL;
    return PyBool_FromLong(rc);
}

static void Filter_dealloc(Filter *f) {
    if (f->checks) {
        for (int i = 0; i < f->nchecks; i++) {
            FCheck *k = &f->checks[i];
            if (k->strs)
                for (int j = 0; j < k->nlits; j++) PyMem_Free(k->strs[j]);
            PyMem_Free(k->strs);
            PyMem_Free(k->lens);
            PyMem_Free(k->ints);
            Py_XDECREF(k->py);
        }
        PyMem_Free(f->checks);
    }
    PyMem_Free(f->code);
    Py_XDECREF(f->fields);
    Py_XDECREF(f->event_types);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

/* Filter(fields, checks, code): checks are (accessor, probe, op, kind, literals, python predicate), the
 * literals ints (V_INT) or bytes (V_STR, V_IP); code is a sequence of (instruction, argument) */
static int Filter_init(Filter *f, PyObject *args, PyObject *kwds) {
    PyObject *checks, *code;
    Fields *fields;
    if (f->fields) {
        PyErr_SetString(PyExc_RuntimeError, "Filter is initialised once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!O!O!", &FieldsType, &fields, &PyTuple_Type, &checks, &PyTuple_Type, &code))
        return -1;
    Py_INCREF(fields);
    f->fields = fields;
    f->nchecks = (int)PyTuple_GET_SIZE(checks);
    f->checks = PyMem_Calloc(f->nchecks + 1, sizeof(FCheck));
    f->ncode = (int)PyTuple_GET_SIZE(code);
    f->code = PyMem_Calloc(2 * f->ncode + 2, sizeof(int));
    if (!f->checks || !f->code) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < f->nchecks; i++) {
        FCheck *k = &f->checks[i];
        PyObject *lits, *py;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(checks, i), "iiiiO!O", &k->acc, &k->probe, &k->op, &k->kind,
                              &PyTuple_Type, &lits, &py))
            return -1;
        Py_INCREF(py);
        k->py = py;
        int n = (int)PyTuple_GET_SIZE(lits);
        k->ints = PyMem_Calloc(n + 1, sizeof(int64_t));
        k->strs = PyMem_Calloc(n + 1, sizeof(char *));
        k->lens = PyMem_Calloc(n + 1, sizeof(Py_ssize_t));
        if (!k->ints || !k->strs || !k->lens) {
            PyErr_NoMemory();
            return -1;
        }
        k->nlits = n;
        for (int j = 0; j < n; j++) {
            PyObject *lit = PyTuple_GET_ITEM(lits, j);
            if (k->kind == V_INT) {
                k->ints[j] = PyLong_AsLongLong(lit);
                if (k->ints[j] == -1 && PyErr_Occurred()) return -1;
            } else {
                if (!PyBytes_Check(lit)) {
                    PyErr_SetString(PyExc_TypeError, "text literals are bytes");
                    return -1;
                }
                Py_ssize_t len = PyBytes_GET_SIZE(lit);
                if (!(k->strs[j] = PyMem_Malloc(len + 1))) {
                    PyErr_NoMemory();
                    return -1;
                }
                memcpy(k->strs[j], PyBytes_AS_STRING(lit), len + 1);
                k->lens[j] = len;
            }
        }
    }
    for (int i = 0; i < f->ncode; i++) {
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(code, i), "ii", &f->code[2 * i], &f->code[2 * i + 1])) return -1;
        int op = f->code[2 * i], arg = f->code[2 * i + 1];
        if ((op == I_TEST && (arg < 0 || arg >= f->nchecks)) ||
            ((op == I_JF || op == I_JT) && (arg <= i || arg > f->ncode)) || op < I_TEST || op > I_NOT) {
            PyErr_SetString(PyExc_ValueError, "bad filter code");
            return -1;
        }
    }
    return 0;
}

static PyMemberDef Filter_members[] = {
    {"event_types", T_OBJECT, offsetof(Filter, event_types), 0,
     "the evt.type names the filter can be true for, None for any (filter.compile's event_types)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject FilterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sysdig_user._fastline.Filter",
    .tp_basicsize = sizeof(Filter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled filter: filter(evt) -> bool, as the Python predicate it was compiled from",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Filter_init,
    .tp_dealloc = (destructor)Filter_dealloc,
    .tp_call = (ternaryfunc)Filter_call,
    .tp_members = Filter_members,
};

/* ------------------------------------------------------------------------------------------ Format */

typedef struct {
    char *lit;
    Py_ssize_t litlen;
    int acc, probe, width;
    PyObject *extract, *to_text; /* the field's own, for what the accessor cannot give */
} FToken;

typedef struct {
    PyObject_HEAD
    Fields *fields;
    FToken *tokens;
    int ntokens;
    char *tail;
    Py_ssize_t taillen;
    int require_all;
    PyObject *clock_prefix; /* for Format(evt), which has no Core's clock */
} Format;

static int put_time(Core *c, int64_t ts);

/* the text from `start` on cut or padded to `width` characters, as str[:width].ljust(width) */
static int fit_width(Core *c, Py_ssize_t start, int width) {
    Py_ssize_t chars = 0, i = start;
    for (; i < c->out_len; i++) {
        if (((unsigned char)c->out[i] & 0xC0) == 0x80) continue;
        if (chars == width) break;
        chars++;
    }
    c->out_len = i;
    for (; chars < width; chars++)
        if (putc1(c, ' ') < 0) return -1;
    return 0;
}

static int put_ip(Core *c, const char *ip, Py_ssize_t n) {
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, ip, buf, sizeof buf)) return NEED;
    return put(c, buf, strlen(buf));
}

/* the Python field's text over an Event: extract, then to_text; 0 done, NOLINE missing with no `*` */
static int put_py_token(Core *c, Format *f, FToken *t, PyObject *evt) {
    PyObject *v = PyObject_CallOneArg(t->extract, evt);
    if (!v) return -1;
    PyObject *text;
    if (v == Py_None) {
        Py_DECREF(v);
        if (f->require_all) return NOLINE;
        text = PyUnicode_FromString("<NA>");
    } else {
        text = PyObject_CallOneArg(t->to_text, v);
        Py_DECREF(v);
    }
    if (!text) return -1;
    if (!PyUnicode_Check(text)) {
        PyObject *s = PyObject_Str(text);
        Py_DECREF(text);
        if (!(text = s)) return -1;
    }
    if (t->width) {
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        PyObject *cut = PyUnicode_Substring(text, 0, t->width < len ? t->width : len);
        Py_DECREF(text);
        if (!cut) return -1;
        text = cut;
    }
    PyObject *b = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape");
    Py_ssize_t chars = PyUnicode_GET_LENGTH(text);
    Py_DECREF(text);
    if (!b) return -1;
    int rc = put(c, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    for (; rc == 0 && chars < t->width; chars++) rc = putc1(c, ' ');
    return rc;
}

/* the line of x (and its '\n') appended: 0, NOLINE (nothing appended), NEED (nothing appended), -1 */
static int format_into(Core *c, Format *f, Ctx *x) {
    Py_ssize_t mark = c->out_len;
    int rc = 0;
    for (int i = 0; i < f->ntokens && !rc; i++) {
        FToken *t = &f->tokens[i];
        if (put(c, t->lit, t->litlen) < 0) return -1;
        Py_ssize_t start = c->out_len;
        if (t->acc == A_TIME) {
            rc = put_time(c, x->ts);
            if (rc == 1) rc = NEED;
            continue;
        }
        Val v;
        rc = get_value(f->fields, t->acc, t->probe, x, &v);
        if (!rc) {
            switch (v.kind) {
            case V_NA:
                if (f->require_all)
                    rc = NOLINE;
                else
                    rc = put(c, "<NA>", 4);
                break;
            case V_INT: rc = put_i64(c, v.i); break;
            case V_STR: rc = put(c, v.s, v.n); break;
            case V_IP: rc = put_ip(c, v.s, v.n); break;
            }
        }
        Py_XDECREF(v.own);
        if (rc == NEED && x->evt) {
            c->out_len = start;
            rc = put_py_token(c, f, t, x->evt);
            continue;
        }
        if (!rc && t->width) rc = fit_width(c, start, t->width);
    }
    if (!rc && (put(c, f->tail, f->taillen) < 0 || putc1(c, '\n') < 0)) rc = -1;
    if (rc > 0) c->out_len = mark;
    return rc;
}

static PyObject *Format_call(Format *f, PyObject *args, PyObject *kwds) {
    PyObject *evt;
    if (!PyArg_ParseTuple(args, "O", &evt)) return NULL;
    Core scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.clock_prefix = f->clock_prefix;
    scratch.clock_sec = INT64_MIN;
    Ctx x;
    int rc = ctx_from_event(&x, evt);
    if (!rc) rc = format_into(&scratch, f, &x);
    ctx_release(&x);
    PyObject *r = NULL;
    if (rc == 0)
        r = PyUnicode_DecodeUTF8(scratch.out, scratch.out_len - 1, "surrogateescape");
    else if (rc > 0)
        r = (Py_INCREF(Py_None), Py_None);
    PyMem_Free(scratch.out);
    return r;
}

static void Format_dealloc(Format *f) {
    if (f->tokens) {
        for (int i = 0; i < f->ntokens; i++) {
            PyMem_Free(f->tokens[i].lit);
            Py_XDECREF(f->tokens[i].extract);
            Py_XDECREF(f->tokens[i].to_text);
        }
        PyMem_Free(f->tokens);
    }
    PyMem_Free(f->tail);
    Py_XDECREF(f->fields);
    Py_XDECREF(f->clock_prefix);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

static char *dup_bytes(PyObject *b, Py_ssize_t *n) {
    *n = PyBytes_GET_SIZE(b);
    char *p = PyMem_Malloc(*n + 1);
    if (!p) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(p, PyBytes_AS_STRING(b), *n + 1);
    return p;
}

/* Format(fields, tokens, tail, require_all, clock_prefix): tokens are (literal bytes, accessor, probe,
 * width, extract, to_text) */
static int Format_init(Format *f, PyObject *args, PyObject *kwds) {
    PyObject *tokens, *tail, *clock_prefix;
    Fields *fields;
    if (f->fields) {
        PyErr_SetString(PyExc_RuntimeError, "Format is initialised once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!O!SpO", &FieldsType, &fields, &PyTuple_Type, &tokens, &tail, &f->require_all,
                          &clock_prefix))
        return -1;
    Py_INCREF(fields);
    f->fields = fields;
    Py_INCREF(clock_prefix);
    f->clock_prefix = clock_prefix;
    if (!(f->tail = dup_bytes(tail, &f->taillen))) return -1;
    f->ntokens = (int)PyTuple_GET_SIZE(tokens);
    f->tokens = PyMem_Calloc(f->ntokens + 1, sizeof(FToken));
    if (!f->tokens) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < f->ntokens; i++) {
        FToken *t = &f->tokens[i];
        PyObject *lit, *extract, *to_text;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(tokens, i), "SiiiOO", &lit, &t->acc, &t->probe, &t->width, &extract,
                              &to_text))
            return -1;
        Py_INCREF(extract);
        Py_INCREF(to_text);
        t->extract = extract;
        t->to_text = to_text;
        if (!(t->lit = dup_bytes(lit, &t->litlen))) return -1;
    }
    return 0;
}

static PyTypeObject FormatType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sysdig_user._fastline.Format",
    .tp_basicsize = sizeof(Format),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled -p format: format(evt) -> the line (None: not printed), as the Python formatter's",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Format_init,
    .tp_dealloc = (destructor)Format_dealloc,
    .tp_call = (ternaryfunc)Format_call,
};

/* ------------------------------------------------------------------------------------------- Table
 *
 * A table chisel's sum per key (sysdig_user/chisels/builtin/table_generator.py on_event) done in Core's
 * loop: for an event its filter passes, the key (one field's value, or several joined by "\x01\x01" as
 * table_key joins them) gets the value field's value added, when that is a number above 0. The keys'
 * accessors and the filter are the compiled ones (output/compiled.py native_table builds them from the
 * chisel's own fields and filter); the value is a param read by name (evt.rawarg.NAME: per code its
 * index and integer size), the latency Inspector.process gives the thread (evt.latency), or 1
 * (evt.count). Anything an accessor cannot give (NEED) declines the whole event to the Python pipeline,
 * where the chisel's Python on_event adds to the same dict: the dict sees the events in their order. */
#define TABLE_KEYS 8
#define CORE_TABLES 8
enum { TV_PARAM = 1, TV_LATENCY, TV_ONE };

typedef struct {
    PyObject_HEAD
    Fields *fields;
    PyObject *filter; /* a Filter, NULL: none */
    int nkeys;
    int key_acc[TABLE_KEYS], key_probe[TABLE_KEYS];
    int value;      /* TV_* */
    int ncodes;
    uint8_t *codes; /* per code: the filter may pass it */
    int8_t (*param)[3]; /* TV_PARAM: per code (index, size, signed); index -1 no such param, size 0 Python's */
    uint8_t *internal;  /* TV_LATENCY: per code, an internal event (1: evt.latency has no value; 2: Python's) */
    PyObject *table;    /* the chisel's dict */
    PyObject *on_event; /* the chisel's Python on_event, for an Event already processed (NULL: none) */
} Table;

/* a key part's value as a str (a field's own str object, or the C text decoded) */
static PyObject *val_str(Val *v) {
    if (v->own && PyUnicode_Check(v->own)) {
        Py_INCREF(v->own);
        return v->own;
    }
    return PyUnicode_DecodeUTF8(v->s, v->n, "surrogateescape");
}

/* lua_tostring of an int: %d below 10^14, else the double's %.14g */
static int int_text(int64_t i, char *buf, size_t cap) {
    if (i > -100000000000000LL && i < 100000000000000LL) return snprintf(buf, cap, "%lld", (long long)i);
    return PyOS_snprintf(buf, cap, "%.14g", (double)i);
}

/* the table's key for x: 0 (key set, NULL when a field has no value), NEED, -1 */
static int table_key(Table *t, Ctx *x, PyObject **key) {
    *key = NULL;
    Val v;
    if (t->nkeys == 1) {
        int rc = get_value(t->fields, t->key_acc[0], t->key_probe[0], x, &v);
        if (!rc) {
            if (v.kind == V_INT) /* a Lua number is a double */
                *key = v.i > (1LL << 53) || v.i < -(1LL << 53) ? PyFloat_FromDouble((double)v.i) : PyLong_FromLongLong(v.i);
            else if (v.kind == V_STR)
                *key = val_str(&v);
            else if (v.kind != V_NA)
                rc = NEED;
            if (v.kind != V_NA && rc != NEED && !*key) rc = -1;
        }
        Py_XDECREF(v.own);
        return rc;
    }
    char small[512];
    char *buf = small;
    Py_ssize_t len = 0, cap = sizeof small;
    int rc = 0;
    for (int i = 0; i < t->nkeys && !rc; i++) {
        rc = get_value(t->fields, t->key_acc[i], t->key_probe[i], x, &v);
        if (rc) break;
        char num[40];
        const char *s = num;
        Py_ssize_t n = 0;
        if (v.kind == V_INT) {
            n = int_text(v.i, num, sizeof num);
        } else if (v.kind == V_STR) {
            s = v.s;
            n = v.n;
        } else {
            rc = v.kind == V_NA ? 3 : NEED; /* (3: no key) */
        }
        if (!rc) {
            Py_ssize_t need = len + n + 2;
            if (need > cap) {
                Py_ssize_t ncap = need * 2;
                char *nb = PyMem_Malloc(ncap);
                if (!nb) {
                    PyErr_NoMemory();
                    rc = -1;
                } else {
                    memcpy(nb, buf, len);
                    if (buf != small) PyMem_Free(buf);
                    buf = nb;
                    cap = ncap;
                }
            }
            if (!rc) {
                if (i) {
                    buf[len++] = '\x01';
                    buf[len++] = '\x01';
                }
                memcpy(buf + len, s, n);
                len += n;
            }
        }
        Py_XDECREF(v.own);
    }
    if (!rc && !(*key = PyUnicode_DecodeUTF8(buf, len, "surrogateescape"))) rc = -1;
    if (rc == 3) rc = 0;
    if (buf != small) PyMem_Free(buf);
    return rc;
}

/* whether table t adds events of this code */
static inline int table_wants(Table *t, int code) { return code < t->ncodes && t->codes[code]; }

/* whether any of the Core's tables adds events of this code */
static int tables_want(Core *c, int code) {
    for (int i = 0; i < c->ntables; i++)
        if (table_wants((Table *)c->tables[i], code)) return 1;
    return 0;
}

/* what the table adds for x: 0 (*key NULL: nothing), NEED, -1; latency: evt.latency's value */
static int table_entry(Table *t, Ctx *x, int64_t latency, PyObject **key, int64_t *value) {
    *key = NULL;
    if (!table_wants(t, x->code)) return 0;
    if (t->filter) {
        int rc = run_filter((Filter *)t->filter, x);
        if (rc < 0 || rc == NEED || !rc) return rc;
    }
    int64_t v = 1; /* (the value first: a key with nothing to add changes nothing) */
    if (t->value == TV_LATENCY) {
        if (t->internal[x->code]) return t->internal[x->code] == 2 ? NEED : 0; /* (2: a generic event's) */
        v = latency;
    } else if (t->value == TV_PARAM) {
        int idx = t->param[x->code][0], size = t->param[x->code][1];
        if (idx < 0 || x->n < 0 || idx >= x->n) return idx < 0 || x->n >= 0 ? 0 : NEED;
        if (!size || x->plen[idx] != size) return NEED;
        if (t->param[x->code][2]) {
            v = rd_s(x->param[idx], size);
        } else {
            uint64_t u = rd_u(x->param[idx], size);
            if (u > (uint64_t)INT64_MAX) return NEED;
            v = (int64_t)u;
        }
    }
    if (v <= 0) return 0;
    *value = v;
    return table_key(t, x, key);
}

static int table_add(Table *t, PyObject *key, int64_t value) {
    PyObject *old = PyDict_GetItemWithError(t->table, key), *sum;
    if (!old && PyErr_Occurred()) return -1;
    PyObject *add = PyLong_FromLongLong(value);
    if (!add) return -1;
    if (old) {
        sum = PyNumber_Add(old, add);
        Py_DECREF(add);
    } else {
        sum = add;
    }
    if (!sum) return -1;
    int rc = PyDict_SetItem(t->table, key, sum);
    Py_DECREF(sum);
    return rc;
}

/* a thread's latency attribute (evt.latency): 0, NEED (not an int), -1 */
static int thread_latency(PyObject *th, int64_t *latency) {
    PyObject *lat = GA(th, s_latency);
    if (!lat) return -1;
    int rc = PyLong_Check(lat) ? 0 : NEED;
    if (!rc) *latency = PyLong_AsLongLong(lat);
    Py_DECREF(lat);
    return !rc && *latency == -1 && PyErr_Occurred() ? -1 : rc;
}

/* the latency Inspector.process left the thread of x: 0, NEED (not an int, no thread), -1 */
static int processed_latency(Ctx *x, int64_t *latency) {
    *latency = 0;
    return x->th ? thread_latency(x->th, latency) : NEED;
}

/* one table over an Event Inspector.process has processed (x from ctx_from_event): 0 done, NEED, -1 */
static int table_processed(Table *t, Ctx *x) {
    PyObject *key = NULL;
    int64_t value = 0, latency = 0;
    int rc = t->value == TV_LATENCY ? processed_latency(x, &latency) : 0;
    if (!rc) rc = table_entry(t, x, latency, &key, &value);
    if (!rc && key) rc = table_add(t, key, value);
    Py_XDECREF(key);
    return rc;
}

/* Table.add(evt) -> True if added, None if the Python on_event must run: the same over an Event after
 * Inspector.process (the thread's latency as it left it), for the C-vs-Python tests */
static PyObject *Table_add(Table *t, PyObject *args) {
    PyObject *evt;
    if (!PyArg_ParseTuple(args, "O", &evt)) return NULL;
    Ctx x;
    int rc = ctx_from_event(&x, evt);
    x.evt = NULL; /* (the loop's view: no Python answers) */
    if (!rc) rc = table_processed(t, &x);
    ctx_release(&x);
    if (rc < 0) return NULL;
    if (rc == NEED) Py_RETURN_NONE;
    Py_RETURN_TRUE;
}

static void Table_dealloc(Table *t) {
    Py_XDECREF(t->fields);
    Py_XDECREF(t->filter);
    Py_XDECREF(t->table);
    Py_XDECREF(t->on_event);
    PyMem_Free(t->codes);
    PyMem_Free(t->param);
    PyMem_Free(t->internal);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* Table(fields, filter, keys, value, codes, params, internal, table[, on_event]): keys (accessor, probe) pairs,
 * value a TV_*, codes bytes per code, params (index, size, signed) per code (TV_PARAM), internal bytes per
 * code (TV_LATENCY), table the dict, on_event the chisel's on_event (without it a Core declines the events
 * of types with a parser to the pipeline) */
static int Table_init(Table *t, PyObject *args, PyObject *kwds) {
    Fields *fields;
    PyObject *filter, *keys, *codes, *params, *internal, *table, *on_event = Py_None;
    if (t->fields) {
        PyErr_SetString(PyExc_RuntimeError, "Table is initialised once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!OO!iSO!SO!|O", &FieldsType, &fields, &filter, &PyTuple_Type, &keys, &t->value,
                          &codes, &PyTuple_Type, &params, &internal, &PyDict_Type, &table, &on_event))
        return -1;
    if (filter != Py_None && !PyObject_TypeCheck(filter, &FilterType)) {
        PyErr_SetString(PyExc_TypeError, "filter: a Filter or None");
        return -1;
    }
    t->nkeys = (int)PyTuple_GET_SIZE(keys);
    t->ncodes = (int)PyBytes_GET_SIZE(codes);
    if (t->nkeys < 1 || t->nkeys > TABLE_KEYS || t->value < TV_PARAM || t->value > TV_ONE ||
        (t->value == TV_PARAM && PyTuple_GET_SIZE(params) != t->ncodes) ||
        (t->value == TV_LATENCY && PyBytes_GET_SIZE(internal) != t->ncodes)) {
        PyErr_SetString(PyExc_ValueError, "Table: 1-8 keys, a value kind, its per-code tables");
        return -1;
    }
    Py_INCREF(fields);
    t->fields = fields; /* (from here on a second __init__ is refused: nothing below is set twice) */
    if (on_event != Py_None) t->on_event = (Py_INCREF(on_event), on_event);
    if (filter != Py_None) t->filter = (Py_INCREF(filter), filter);
    Py_INCREF(table);
    t->table = table;
    for (int i = 0; i < t->nkeys; i++)
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(keys, i), "ii", &t->key_acc[i], &t->key_probe[i])) return -1;
    t->codes = PyMem_Malloc(t->ncodes + 1);
    t->internal = PyMem_Calloc(t->ncodes + 1, 1);
    t->param = PyMem_Calloc(t->ncodes + 1, sizeof t->param[0]);
    if (!t->codes || !t->internal || !t->param) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(t->codes, PyBytes_AS_STRING(codes), t->ncodes);
    if (t->value == TV_LATENCY) memcpy(t->internal, PyBytes_AS_STRING(internal), t->ncodes);
    for (int i = 0; i < t->ncodes; i++) {
        int idx = -1, size = 0, sign = 0;
        if (t->value == TV_PARAM && !PyArg_ParseTuple(PyTuple_GET_ITEM(params, i), "iii", &idx, &size, &sign))
            return -1;
        if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8) size = 0;
        t->param[i][0] = (int8_t)(idx < 0 || idx >= MAX_PARAMS ? -1 : idx);
        t->param[i][1] = (int8_t)size;
        t->param[i][2] = (int8_t)(sign != 0);
    }
    return 0;
}

static PyMethodDef Table_methods[] = {
    {"add", (PyCFunction)Table_add, METH_VARARGS,
     "add(evt) -> True: added to the table (or nothing to add); None: only the Python on_event can say"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Table_members[] = {
    {"table", T_OBJECT, offsetof(Table, table), READONLY, "the dict the sums go to"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sysdig_user._fastline.Table",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A table chisel's sum of a value per key, over the events of a silent Core",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Table_init,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_methods = Table_methods,
    .tp_members = Table_members,
};

/* Inspector.process's pairing for an exit: is the thread's last event this exit's enter */
static int paired(PyObject *th, int code, int *yes) {
    int64_t last_type;
    if (get_i64(th, s_lastevent_type, &last_type) < 0) return -1;
    *yes = code == last_type + 1;
    return 0;
}

/* th.last_enter = (raw, cpu, num), the core's unbuilt enter, in the tuple a paired exit took from its thread
 * (take_stash) when there is one: refilled (its num int_in_place's way) rather than a new tuple and new ints
 * per enter. Only the core holds that tuple, so no one sees it change. */
static int set_stash(Core *c, PyObject *th, PyObject *raw, int cpu, int64_t num) {
    PyObject *t = c->spare;
    if (!t) {
        PyObject *stash = Py_BuildValue("(OiL)", raw, cpu, (long long)num);
        if (!stash) return -1;
        int rc = SA(th, s_last_enter, stash);
        Py_DECREF(stash);
        return rc;
    }
    c->spare = NULL;
    PyObject *n = PyTuple_GET_ITEM(t, 2), *k;
    if (!int_in_place(n, num < 0, num < 0 ? (uint64_t)0 - (uint64_t)num : (uint64_t)num)) {
        if (!(n = PyLong_FromLongLong(num))) goto fail;
        Py_SETREF(((PyTupleObject *)t)->ob_item[2], n);
    }
    if (!(k = PyLong_FromLong(cpu))) goto fail;
    Py_SETREF(((PyTupleObject *)t)->ob_item[1], k);
    Py_INCREF(raw);
    Py_SETREF(((PyTupleObject *)t)->ob_item[0], raw);
    int rc = SA(th, s_last_enter, t);
    Py_DECREF(t);
    return rc;
fail:
    Py_DECREF(t);
    return -1;
}

/* th.last_enter = None, its (raw, cpu, num) tuple kept as the core's spare when nothing else references it */
static int take_stash(Core *c, PyObject *th) {
    static SlotCache sc;
    Py_ssize_t off = slot_offset(Py_TYPE(th), s_last_enter, &sc, 1);
    PyObject **slot = off > 0 ? (PyObject **)((char *)th + off) : NULL, *old = slot ? *slot : NULL;
    if (!c->spare && old && PyTuple_CheckExact(old) && PyTuple_GET_SIZE(old) == 3 && Py_REFCNT(old) == 1) {
        Py_INCREF(Py_None);
        *slot = Py_None;
        c->spare = old; /* (the slot's reference) */
        return 0;
    }
    return sa_c(th, s_last_enter, Py_None, &sc);
}

/* what Inspector.process does to a known thread for an event type without a parser */
static int pure_state(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, PyObject *raw, int64_t num) {
    if (set_i64(c->inspector, s_num, num) < 0) return -1;
    if (R->enter) {
        int64_t fd = R->uses_fd ? rd_s(e->param[0], 8) : -1;
        if (set_stash(c, th, raw, e->cpu, num) < 0 || set_i64(th, s_lastevent_type, e->code) < 0 ||
            set_i64(th, s_last_latency_entertime, e->ts) < 0 || set_i64(th, s_latency, 0) < 0 ||
            set_i64(th, s_lastevent_fd, fd) < 0)
            return -1;
    } else {
        int64_t entered;
        int yes;
        if (get_i64(th, s_last_latency_entertime, &entered) < 0) return -1;
        if (entered && set_i64(th, s_latency, e->ts - entered) < 0) return -1;
        if (paired(th, e->code, &yes) < 0) return -1;
        if (yes && take_stash(c, th) < 0) return -1;
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
    /* fewer params than the table's (an older event version, as the old 4-param open exit): the default
     * line prints the ones it has, as render.py's per-count args function does; handle() gives such
     * events of a type with a parser to the parser, unless its OP reads them as the parser does */
    if (!R->known || nparams > MAX_PARAMS || (int)nparams > R->nparams) return 1;
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
    for (int i = (int)nparams; i < R->nparams; i++) { /* missing: no value, a length no param has */
        e->param[i] = NULL;
        e->plen[i] = -1;
    }
    e->n = (int)nparams;
    e->ev = ev;
    e->code = code;
    *out = R;
    return 0;
}

/* the Inspector in a state where an event may skip process(): 1 if not (yet) */
static int ready(Core *c) {
    if (c->started) return 0;
    PyObject *first = GA(c->state, s_first_ts);
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

/* ---------------------------------------------------------------------- fd tables (state/fds.py) */

/* FdTable.add(info) and FdTable.remove(fd) of state/fds.py, done here for a table of exactly that class
 * whose order is exactly an OrderLog (configure_fdtables gives the classes and state/fdorder.py's ERASE and
 * FOLD_AT): the dict updated and the operation appended to the log (folded at FOLD_AT operations), as the
 * Python methods do, without a Python call per open and close. Any other table: its own method. */
static PyTypeObject *fdt_table_type, *fdt_log_type;
static PyObject *fdt_erase, *s_order, *s_ops, *s_fold;
static Py_ssize_t fdt_fold_at;

static int fdi_configure(PyObject *template, PyObject *fields);

static PyObject *configure_fdtables(PyObject *self, PyObject *args) {
    PyObject *table_type, *log_type, *erase, *template = NULL, *fields = NULL;
    Py_ssize_t fold_at;
    if (!PyArg_ParseTuple(args, "O!O!O!n|OO!", &PyType_Type, &table_type, &PyType_Type, &log_type, &PyLong_Type,
                          &erase, &fold_at, &template, &PyTuple_Type, &fields))
        return NULL;
    if (template && (!fields || fdi_configure(template, fields) < 0)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "configure_fdtables: an FdInfo and its fields");
        return NULL;
    }
    if (fold_at <= 0) {
        PyErr_SetString(PyExc_ValueError, "configure_fdtables: fold_at must be positive");
        return NULL;
    }
    if (!s_order && (!(s_order = PyUnicode_InternFromString("order")) || !(s_ops = PyUnicode_InternFromString("ops")) ||
                     !(s_fold = PyUnicode_InternFromString("fold"))))
        return NULL;
    Py_INCREF(table_type);
    Py_XSETREF(fdt_table_type, (PyTypeObject *)table_type);
    Py_INCREF(log_type);
    Py_XSETREF(fdt_log_type, (PyTypeObject *)log_type);
    Py_INCREF(erase);
    Py_XSETREF(fdt_erase, erase);
    fdt_fold_at = fold_at;
    Py_RETURN_NONE;
}

/* The OrderLog operation `op` (a new reference, stolen; NULL: an error already set) logged in `order`. */
static int fdt_log(PyObject *order, PyObject *op) {
    if (!op) return -1;
    PyObject *ops = PyObject_GetAttr(order, s_ops);
    int rc = ops && PyList_CheckExact(ops) ? PyList_Append(ops, op) : -1;
    if (ops && !rc && PyList_GET_SIZE(ops) >= fdt_fold_at) {
        PyObject *r = PyObject_CallMethodNoArgs(order, s_fold);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    if (ops && rc && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "OrderLog.ops is not a list");
    Py_XDECREF(ops);
    Py_DECREF(op);
    return rc;
}

/* New FdInfos (OP_OPENAT) made here, as _sections.c's fdinfo_new does: every slot from a template FdInfo
 * that Python made with the class's defaults (a fresh dict or list for a container), then fd, type, name,
 * open_flags and dev; instead of calling the class, whose __init__ sets 16 attributes in Python. */
#define FDI_MAX 48
static PyTypeObject *fdi_type;
static PyObject *fdi_template[FDI_MAX];
static Py_ssize_t fdi_off[FDI_MAX], fdi_n;
static int fdi_at[5]; /* the slots of fd, type, name, open_flags, dev: __init__'s first five parameters */

static int fdi_configure(PyObject *template, PyObject *fields) {
    PyTypeObject *type = Py_TYPE(template);
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    static const char *const first[5] = {"fd", "type", "name", "open_flags", "dev"};
    int at[5] = {-1, -1, -1, -1, -1};
    if (n > FDI_MAX) {
        PyErr_SetString(PyExc_ValueError, "configure_fdtables: too many FdInfo fields");
        return -1;
    }
    Py_ssize_t off[FDI_MAX];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        PyObject *d = PyUnicode_Check(f) ? _PyType_Lookup(type, f) : NULL; /* borrowed */
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type) || !PyType_IsSubtype(type, PyDescr_TYPE(d)) ||
                ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "configure_fdtables: %R is not a slot of %R", f, (PyObject *)type);
            return -1;
        }
        off[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        if (!*(PyObject **)((char *)template + off[i])) {
            PyErr_Format(PyExc_ValueError, "configure_fdtables: the template has no %R", f);
            return -1;
        }
        for (int k = 0; k < 5; k++)
            if (PyUnicode_CompareWithASCIIString(f, first[k]) == 0) at[k] = (int)i;
    }
    for (int k = 0; k < 5; k++)
        if (at[k] < 0) {
            PyErr_Format(PyExc_ValueError, "configure_fdtables: FdInfo has no field %s", first[k]);
            return -1;
        }
    for (Py_ssize_t i = 0; i < fdi_n; i++)
        Py_CLEAR(fdi_template[i]);
    for (Py_ssize_t i = 0; i < n; i++) {
        fdi_template[i] = Py_NewRef(*(PyObject **)((char *)template + off[i]));
        fdi_off[i] = off[i];
    }
    memcpy(fdi_at, at, sizeof at);
    fdi_n = n;
    Py_INCREF(type);
    Py_XSETREF(fdi_type, type);
    return 0;
}

/* cls(fd, type, name, open_flags, dev): made here when cls is the configured FdInfo, else called. */
static PyObject *fdinfo_make(PyObject *cls, int64_t fd, PyObject *type, PyObject *name, uint64_t open_flags,
                             uint64_t dev) {
    if ((PyTypeObject *)cls != fdi_type)
        return PyObject_CallFunction(cls, "LOOKK", (long long)fd, type, name, (unsigned long long)open_flags,
                                     (unsigned long long)dev);
    PyObject *given[5] = {PyLong_FromLongLong(fd), Py_NewRef(type), Py_NewRef(name),
                          PyLong_FromUnsignedLongLong(open_flags), PyLong_FromUnsignedLongLong(dev)};
    PyObject *obj = given[0] && given[3] && given[4] ? fdi_type->tp_alloc(fdi_type, 0) : NULL;
    for (Py_ssize_t i = 0; obj && i < fdi_n; i++) {
        PyObject *v = NULL, *t = fdi_template[i];
        for (int k = 0; k < 5; k++)
            if (fdi_at[k] == i) v = given[k], given[k] = NULL;
        if (!v)
            v = PyDict_CheckExact(t) ? PyDict_Copy(t) : PyList_CheckExact(t) ? PyList_GetSlice(t, 0, PY_SSIZE_T_MAX)
                                                                            : Py_NewRef(t);
        if (!v) Py_CLEAR(obj); /* (the slots set so far go with it) */
        else *(PyObject **)((char *)obj + fdi_off[i]) = v;
    }
    for (int k = 0; k < 5; k++)
        Py_XDECREF(given[k]);
    return obj;
}

/* table.add(info) for fd `fd` (info != NULL) or table.remove(fd): 0, or -1 with the error set. */
static int fdtable_op(PyObject *table, int64_t fd, PyObject *info) {
    if (!fdt_table_type || Py_TYPE(table) != fdt_table_type) {
        PyObject *arg = info ? Py_NewRef(info) : PyLong_FromLongLong(fd);
        PyObject *r = arg ? PyObject_CallMethodOneArg(table, info ? s_add : s_remove, arg) : NULL;
        Py_XDECREF(arg);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    PyObject *fds = PyObject_GetAttr(table, s_fds), *order = fds ? PyObject_GetAttr(table, s_order) : NULL;
    PyObject *key = order ? PyLong_FromLongLong(fd) : NULL;
    int rc = -1;
    if (!key) goto done;
    if (!PyDict_CheckExact(fds) || Py_TYPE(order) != fdt_log_type) {
        PyErr_SetString(PyExc_TypeError, "FdTable: fds is not a dict or order not an OrderLog");
        goto done;
    }
    int held = PyDict_Contains(fds, key);
    if (held < 0) goto done;
    if (info) /* a new fd is inserted in the order, one already there overwritten in place */
        rc = (!held && fdt_log(order, Py_NewRef(key)) < 0) || PyDict_SetItem(fds, key, info) < 0 ? -1 : 0;
    else /* (an fd not in the table: nothing) */
        rc = held && (PyDict_DelItem(fds, key) < 0 || fdt_log(order, PyNumber_Add(key, fdt_erase)) < 0) ? -1 : 0;
done:
    Py_XDECREF(key);
    Py_XDECREF(order);
    Py_XDECREF(fds);
    return rc;
}

/* OP_OPENAT's state change (open_exit for a successful openat of a clean absolute name): the new
 * FdInfo in the table, the thread's lastevent_fd, and fd.name_changed's mark (a new fd's name differs
 * from its empty old name) */
static int openat_state(Core *c, CodeRecipe *R, PyObject *th, int64_t fd, uint64_t flags, uint64_t dev,
                        int64_t num) {
    int is_dir = (flags & R->o_directory) != 0;
    PyObject *name = PyUnicode_DecodeASCII(c->ovr_name, c->ovr_len, NULL);
    if (!name) return -1;
    PyObject *info = fdinfo_make(R->fdinfo, fd, is_dir ? R->dir_type : R->file_type, name, flags, dev);
    Py_DECREF(name);
    if (!info) return -1;
    int rc = -1;
    PyObject *table = GA(th, s_fdtable), *extra = NULL, *n = NULL;
    if (!table) goto done;
    if (fdtable_op(table, fd, info) < 0) goto done;
    if (set_i64(th, s_lastevent_fd, fd) < 0) goto done;
    if (!(extra = GA(info, s_extra)) || !(n = PyLong_FromLongLong(num))) goto done;
    rc = PyObject_SetItem(extra, s_name_changed_at, n);
done:
    Py_XDECREF(n);
    Py_XDECREF(extra);
    Py_XDECREF(table);
    Py_DECREF(info);
    return rc;
}

/* the thread table's thread of a tid (a new reference), NULL when there is none (or an error) */
static PyObject *thread_of(Core *c, int64_t tid) {
    PyObject *table = GA(c->state, s_threads);
    if (!table) return NULL;
    PyObject *threads = GA(table, s_threads);
    Py_DECREF(table);
    if (!threads) return NULL;
    PyObject *th = PyDict_Check(threads) ? DICT_INT_GET(threads, tid) : NULL;
    Py_XINCREF(th);
    Py_DECREF(threads);
    return th;
}

/* OP_SWITCH: what process() and switch_enter do to a known thread (no pairing) */
static int switch_state(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    if (set_i64(c->inspector, s_num, num) < 0) return -1;
    for (int k = 0; k < 2; k++)
        if (set_u64(th, s_pf[k], rd_u(e->param[k + 1], R->sw_size[k])) < 0) return -1;
    int64_t pid, tid;
    if (get_i64(th, s_pid, &pid) < 0 || get_i64(th, s_tid, &tid) < 0) return -1;
    PyObject *main = th;
    Py_INCREF(main);
    if (pid != tid) {
        Py_DECREF(main);
        main = thread_of(c, pid);
        if (!main && PyErr_Occurred()) return -1;
    }
    int rc = 0;
    for (int k = 0; main && k < 3 && !rc; k++)
        rc = set_u64(main, s_vm[k], rd_u(e->param[k + 3], R->sw_size[k + 2]));
    Py_XDECREF(main);
    return rc < 0 ? -1 : set_i64(th, s_last_event_ts, e->ts);
}

/* the enter process() pairs an exit with (its last_enter: a stash (raw, cpu, num) or an Event), as raw
 * bytes in *raw (a new reference): 0 found, 1 none (the parser sees no enter), 2 one to leave to Python */
static int paired_enter(PyObject *th, int code, PyObject **raw) {
    int yes;
    *raw = NULL;
    if (paired(th, code, &yes) < 0) return -1;
    if (!yes) return 1;
    PyObject *ent = GA(th, s_last_enter);
    if (!ent) return -1;
    if (ent == Py_None) {
        Py_DECREF(ent);
        return 1;
    }
    PyObject *b = NULL;
    if (PyTuple_Check(ent) && PyTuple_GET_SIZE(ent) == 3) {
        b = PyTuple_GET_ITEM(ent, 0);
        Py_INCREF(b);
    } else if (!(b = GA(ent, s_raw))) {
        PyErr_Clear();
    }
    Py_DECREF(ent);
    if (!b || !PyBytes_Check(b) || PyBytes_GET_SIZE(b) < HEADER_SIZE) {
        Py_XDECREF(b);
        return 2;
    }
    uint16_t got;
    memcpy(&got, PyBytes_AS_STRING(b) + 20, 2);
    if (got != code - 1) { /* (process(): not its enter, so none) */
        Py_DECREF(b);
        return 1;
    }
    *raw = b;
    return 0;
}

/* param idx of an event's raw bytes as an unsigned number of this size: 0, or 1 when the event has no such
 * param (too few, another size, lengths that do not add up) */
static int raw_param(PyObject *raw, int idx, int size, uint64_t *v) {
    const uint8_t *ev = (const uint8_t *)PyBytes_AS_STRING(raw);
    Py_ssize_t len = PyBytes_GET_SIZE(raw);
    uint32_t nparams;
    memcpy(&nparams, ev + 22, 4);
    if (idx < 0 || (uint32_t)idx >= nparams || nparams > MAX_PARAMS) return 1;
    Py_ssize_t pos = HEADER_SIZE + 2 * (Py_ssize_t)nparams, at = -1;
    if (pos > len) return 1;
    for (uint32_t i = 0; i < nparams; i++) {
        uint16_t n;
        memcpy(&n, ev + HEADER_SIZE + 2 * i, 2);
        if ((int)i == idx) {
            if (n != size) return 1;
            at = pos;
        }
        pos += n;
    }
    if (pos != len || at < 0) return 1;
    *v = rd_u(ev + at, size);
    return 0;
}

/* OP_SOCKET, before the line: the FdInfo a paired socket exit of fd adds (c->ovr_info; none when the
 * parser adds nothing); 0, 1 the parser's way (Python), -1 */
static int socket_fd(Core *c, CodeRecipe *R, PyObject *th, int code, int64_t fd) {
    PyObject *raw;
    int rc = paired_enter(th, code, &raw);
    if (rc) return rc < 0 ? -1 : rc == 1 ? 0 : 1;
    uint64_t v[3];
    for (int k = 0; k < 3; k++)
        if (raw_param(raw, k, R->sock_size[k], &v[k])) {
            Py_DECREF(raw);
            return 1;
        }
    Py_DECREF(raw);
    PyObject *info = PyObject_CallFunction(R->sock_info, "LKKK", (long long)fd, (unsigned long long)v[0],
                                           (unsigned long long)v[1], (unsigned long long)v[2]);
    if (!info) return -1;
    if (info == Py_None) {
        Py_DECREF(info);
        return 0;
    }
    c->ovr_fd = fd;
    c->ovr_info = info;
    return 0;
}

/* OP_SOCKET, after the line: st.add_fd of the new FdInfo (the table, the thread's lastevent_fd) and the
 * mark of fd.name_changed when its name is not the empty old name of a new fd */
static int socket_state(Core *c, PyObject *th, int64_t num) {
    PyObject *table = GA(th, s_fdtable), *name = NULL;
    int rc = -1;
    if (!table || fdtable_op(table, c->ovr_fd, c->ovr_info) < 0) goto done;
    if (set_i64(th, s_lastevent_fd, c->ovr_fd) < 0 || !(name = GA(c->ovr_info, s_name))) goto done;
    int named = PyObject_IsTrue(name);
    if (named < 0) goto done;
    rc = 0;
    if (named) {
        PyObject *extra = GA(c->ovr_info, s_extra), *n = PyLong_FromLongLong(num);
        rc = extra && n ? PyObject_SetItem(extra, s_name_changed_at, n) : -1;
        Py_XDECREF(extra);
        Py_XDECREF(n);
    }
done:
    Py_XDECREF(name);
    Py_XDECREF(table);
    return rc;
}

/* OP_ENTER_ARG: 0 a pure exit (no paired enter, or its param's value is not one the parser acts on), 1 the
 * parser's (Python), -1 */
static int enter_arg(CodeRecipe *R, PyObject *th, int code) {
    PyObject *raw;
    int rc = paired_enter(th, code, &raw);
    if (rc) return rc < 0 ? -1 : rc == 1 ? 0 : 1;
    uint64_t v;
    rc = raw_param(raw, R->ea_idx, R->ea_size, &v);
    Py_DECREF(raw);
    if (rc) return 1;
    for (int k = 0; k < R->ea_n; k++)
        if (v == R->ea_vals[k]) return 1;
    return 0;
}

/* an event of a type with a parser and no OP: the Event and Inspector.process, as in Python; the
 * line here when it can be, else the Python formatter's; then the Verdict applied */
static int core_tables_processed(Core *c, int code, PyObject *evt);

/* an event handled here at time ts: the chisels' clock (first_ts, last_ts) */
static inline void core_took(Core *c, int64_t ts) {
    if (!c->have_last_ts) c->first_ts = ts;
    c->last_ts = ts;
    c->have_last_ts = 1;
}

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
    int pass = 1;
    if (c->filter) { /* process() ran it before parsing (filtered_out set), or it runs now */
        PyObject *fo = GA(evt, s_filtered_out);
        if (!fo) {
            rc = -1;
            goto out;
        }
        pass = fo == Py_None ? filter_event((Filter *)c->filter, evt) : !PyObject_IsTrue(fo);
        Py_DECREF(fo);
        if (pass < 0) {
            rc = -1;
            goto out;
        }
    }
    if (!pass) goto apply;
    c->count++;
    core_took(c, e->ts);
    int64_t num;
    if (!(th = GA(evt, s_thread)) || get_i64(evt, s_num, &num) < 0) {
        rc = -1;
        goto out;
    }
    if (c->silent) {
        rc = c->ntables ? core_tables_processed(c, e->code, evt) : 0; /* (no line; the tables) */
        if (rc < 0) goto out;
    } else if (c->format) {
        Ctx x;
        rc = ctx_from_event(&x, evt);
        if (!rc) rc = format_into(c, (Format *)c->format, &x);
        ctx_release(&x);
        if (rc < 0) goto out;
        if (rc == NOLINE) rc = 0;
        if (!rc) goto apply;
        rc = 1; /* (NEED: the Python formatter's line) */
    } else {
        rc = th == Py_None ? 1 : put_line(c, R, e, th, num);
    }
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
apply:
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

/* what process() leaves of an event the filter drops before parsing it (not EF_MODIFIES_STATE): the
 * pairing's changes, then no pending enter, so the following exit is unpaired */
static int filtered_state(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    if (set_i64(c->inspector, s_num, num) < 0) return -1;
    if (R->op == OP_SWITCH) return 0; /* (never paired: process() leaves its thread as it was) */
    if (R->enter) {
        int64_t fd = R->uses_fd ? rd_s(e->param[0], 8) : -1;
        if (set_i64(th, s_last_latency_entertime, e->ts) < 0 || set_i64(th, s_latency, 0) < 0 ||
            set_i64(th, s_lastevent_fd, fd) < 0)
            return -1;
    } else {
        int64_t entered;
        if (get_i64(th, s_last_latency_entertime, &entered) < 0) return -1;
        if (entered && set_i64(th, s_latency, e->ts - entered) < 0) return -1;
    }
    if (set_i64(th, s_lastevent_type, -1) < 0) return -1;
    return SA(th, s_last_enter, Py_None);
}

/* the Ctx of an event in Core's loop, as process() leaves the thread and fd when it filters: an enter
 * using an fd names it in param 0, an exit uses the thread's last one; the table's FdInfo for it */
static int core_ctx(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num, Ctx *x) {
    ctx_clear(x);
    x->code = e->code;
    x->cpu = e->cpu;
    x->ts = e->ts;
    x->tid = e->tid;
    x->num = num;
    x->n = e->n;
    memcpy(x->param, e->param, sizeof(e->param[0]) * e->n);
    memcpy(x->plen, e->plen, sizeof(e->plen[0]) * e->n);
    if (e->n) {
        x->p0 = e->param[0];
        x->p0len = e->plen[0];
    }
    if (th) {
        Py_INCREF(th);
        x->th = th;
    }
    Py_INCREF(c->state);
    x->state = c->state;
    x->fdnum = -1;
    if (!th || !(c->cflags[e->code] & CF_FD_EVENT)) return 0;
    if (c->ovr_fd >= 0 && c->ovr_info) { /* OP_SOCKET: the new fd's FdInfo, before it is in the table */
        x->fdnum = c->ovr_fd;
        Py_INCREF(c->ovr_info);
        x->fdinfo = c->ovr_info;
        return 0;
    }
    if (c->ovr_fd >= 0) { /* OP_OPENAT: the new fd, before its FdInfo exists */
        x->fdnum = c->ovr_fd;
        x->virt = 1;
        x->vtype = c->ovr_type;
        x->vname = c->ovr_name;
        x->vlen = c->ovr_len;
        return 0;
    }
    if (R->enter)
        x->fdnum = R->uses_fd ? rd_s(e->param[0], 8) : -1;
    else if (get_i64(th, s_lastevent_fd, &x->fdnum) < 0)
        return -1;
    if (x->fdnum != -1) {
        x->fdinfo = fd_info(th, x->fdnum, NULL);
        if (!x->fdinfo && PyErr_Occurred()) return -1;
    }
    return 0;
}

/* the Core's tables (Table) for an event of a type without a parser, before its state changes: each one's
 * key and value as the chisel's on_event would find them after Inspector.process (the latency is the
 * one pure_state gives the thread), then added; 0, 1 declined (nothing added), -1 */
static int core_tables(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    if (!tables_want(c, e->code)) return 0;
    int64_t latency = 0;
    if (!R->enter) { /* pure_state: ts minus the enter's time, else the thread's latency as it was */
        int64_t entered;
        if (get_i64(th, s_last_latency_entertime, &entered) < 0) return -1;
        if (entered) {
            latency = e->ts - entered;
        } else {
            int got = thread_latency(th, &latency);
            if (got) return got == NEED ? 1 : -1;
        }
    }
    Ctx x;
    PyObject *keys[CORE_TABLES] = {NULL};
    int64_t values[CORE_TABLES];
    int rc = core_ctx(c, R, e, th, num, &x);
    for (int i = 0; i < c->ntables && !rc; i++)
        rc = table_entry((Table *)c->tables[i], &x, latency, &keys[i], &values[i]);
    ctx_release(&x);
    if (rc == NEED) rc = 1;
    for (int i = 0; i < c->ntables; i++) {
        if (!rc && keys[i]) rc = table_add((Table *)c->tables[i], keys[i], values[i]);
        Py_XDECREF(keys[i]);
    }
    return rc;
}

/* the compiled filter on an event of Core's loop: 1 passes, 0 fails, NEED, -1 */
static int core_filter(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    Ctx x;
    int rc = core_ctx(c, R, e, th, num, &x);
    if (!rc) rc = run_filter((Filter *)c->filter, &x);
    ctx_release(&x);
    return rc;
}

/* the event's line: the -p format's or the default one; 0, 1 declined, -1 */
static int core_line(Core *c, CodeRecipe *R, Parsed *e, PyObject *th, int64_t num) {
    if (!c->format) return put_line(c, R, e, th, num);
    Ctx x;
    int rc = core_ctx(c, R, e, th, num, &x);
    if (!rc) rc = format_into(c, (Format *)c->format, &x);
    ctx_release(&x);
    if (rc == NOLINE) return 0;
    return rc == NEED ? 1 : rc;
}

/* a hidden event process() does not parse (procinfo...): numbered, counted if it passes the filter,
 * never printed */
static int handle_hidden(Core *c, CodeRecipe *R, Parsed *e) {
    int64_t num;
    if (get_i64(c->inspector, s_num, &num) < 0) return -1;
    num += 1;
    if (c->filter) {
        PyObject *th = NULL;
        if (R->hidden == 2) { /* process() gives procinfo its thread, when there is one */
            PyObject *table = GA(c->state, s_threads);
            PyObject *threads = table ? GA(table, s_threads) : NULL;
            Py_XDECREF(table);
            if (!threads) return -1;
            th = PyDict_Check(threads) ? DICT_INT_GET(threads, e->tid) : NULL;
            Py_XINCREF(th);
            Py_DECREF(threads);
            if (!th && PyErr_Occurred()) return -1;
        }
        int pass = core_filter(c, R, e, th, num);
        Py_XDECREF(th);
        if (pass < 0 || pass == NEED) return pass < 0 ? -1 : 1;
        if (set_i64(c->inspector, s_num, num) < 0) return -1;
        if (pass) c->count++;
        return 0;
    }
    if (set_i64(c->inspector, s_num, num) < 0) return -1;
    c->count++;
    return 0;
}

/* a code some table may add to whose state changes are not pure_state's (a parser, an op, hidden): the
 * Python pipeline's */
static int core_table_code(Core *c, CodeRecipe *R, int code) {
    if (!R->handler && R->op == OP_NONE && !R->hidden) return 0;
    int after = R->handler && R->op == OP_NONE && !R->hidden; /* (handle_parsed: the tables after process()) */
    for (int i = 0; i < c->ntables; i++) {
        Table *t = (Table *)c->tables[i];
        if (table_wants(t, code) && (!after || !t->on_event)) return 1;
    }
    return 0;
}

/* the Core's tables over an Event of a type with a parser, once Inspector.process has processed it (as the
 * pipeline runs the chisels): each one's filter (its Python checks answering where C cannot), key and
 * value; where a key or value needs Python, the chisel's own on_event adds it. 0, -1 */
static int core_tables_processed(Core *c, int code, PyObject *evt) {
    if (!tables_want(c, code)) return 0;
    Ctx x;
    int rc = ctx_from_event(&x, evt);
    for (int i = 0; i < c->ntables && rc >= 0; i++) {
        Table *t = (Table *)c->tables[i];
        if (!table_wants(t, code)) continue;
        rc = table_processed(t, &x);
        if (rc == NEED) { /* (its filter passed: a Python check answered for what C could not) */
            PyObject *r = t->on_event ? PyObject_CallOneArg(t->on_event, evt) : NULL;
            if (!t->on_event) PyErr_SetString(PyExc_RuntimeError, "a table without on_event");
            rc = r ? 0 : -1;
            Py_XDECREF(r);
        }
    }
    ctx_release(&x);
    return rc;
}

/* one event: 0 handled (its line appended), 1 declined (nothing changed), -1 error */
static int handle(Core *c, const uint8_t *ev, Py_ssize_t len, int cpu, PyObject *rawobj) {
    Parsed e;
    CodeRecipe *R;
    int rc = parse(c, ev, len, &e, &R);
    if (rc) return rc;
    if (e.code < c->n_declines && c->declines[e.code]) return 1;
    if (c->ntables && core_table_code(c, R, e.code)) return 1; /* (the Python on_event after process()) */
    e.cpu = cpu;
    if (R->enter && R->uses_fd && !R->hidden && (!e.n || e.plen[0] != 8)) return 1;
    /* the capture's first event (and the first after new metadata): what process() and on_event do before
     * it (the pipeline's begin_events) once the previous removals are applied, then the event as any other;
     * without begin_events, declined to them */
    int begin = ready(c);
    if (begin < 0) return -1;
    PyObject *flag = GA(c->inspector, s_fix_sockets);
    if (!flag) return -1;
    int fix = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    if (fix < 0) return -1;
    begin = begin || fix;
    if (begin && !c->begin) return 1;
    PyObject *pending = GA(c->inspector, s_pending);
    if (!pending) return -1;
    if (pending != Py_None) { /* what process() does first */
        PyObject *r = PyObject_CallOneArg(c->apply, pending);
        Py_DECREF(pending);
        if (!r) return -1;
        Py_DECREF(r);
    } else {
        Py_DECREF(pending);
    }
    if (begin) {
        PyObject *r = PyObject_CallFunction(c->begin, "L", (long long)e.ts);
        if (!r) return -1;
        Py_DECREF(r);
        if ((rc = ready(c)) != 0) return rc;
    }
    if (R->hidden) { /* process(): counted (and filtered), nothing else */
        rc = handle_hidden(c, R, &e);
        if (!rc) {
            core_took(c, e.ts);
        }
        return rc;
    }
    PyObject *table = GA(c->state, s_threads);
    if (!table) return -1;
    PyObject *threads = GA(table, s_threads);
    Py_DECREF(table);
    if (!threads) return -1;
    PyObject *th = PyDict_Check(threads) ? DICT_INT_GET(threads, e.tid) : NULL;
    Py_XINCREF(th);
    Py_DECREF(threads);
    if (!th) return PyErr_Occurred() ? -1 : 1;
    Py_ssize_t mark = c->out_len;
    PyObject *raw = NULL, *close_table = NULL;
    int64_t num, open_fd = -1, close_fd = -1;
    int modifies = c->cflags[e.code] & CF_MODIFIES, pass = 1;
    if (get_i64(c->inspector, s_num, &num) < 0) {
        rc = -1;
        goto out;
    }
    num += 1;
    if (c->filter && !modifies) { /* process() filters it before parsing */
        pass = core_filter(c, R, &e, th, num);
        if (pass < 0) {
            rc = -1;
            goto out;
        }
        if (pass == NEED) {
            rc = handle_parsed(c, R, &e, ev, len, rawobj);
            goto out;
        }
        if (!pass) {
            rc = filtered_state(c, R, &e, th, num);
            goto out;
        }
    }
    /* (a short event: its parser reads it, but for open and close exits, whose OPs read what they have
     * as open_exit and close_exit do: a missing fd, name or flags leaves it to the parser or changes nothing) */
    if (R->handler && (R->op == OP_NONE || (e.n < R->nparams && R->op != OP_OPENAT && R->op != OP_CLOSE))) {
        rc = handle_parsed(c, R, &e, ev, len, rawobj);
        goto out;
    }
    int *oi = R->open_idx;
    if (R->op == OP_OPENAT && e.n > oi[0] && e.plen[oi[0]] == 8 && (open_fd = rd_s(e.param[oi[0]], 8)) >= 0) {
        int yes = 1;
        if (R->open_paired && paired(th, e.code, &yes) < 0) {
            rc = -1;
            goto out;
        }
        Py_ssize_t n = yes && e.n > oi[1] && e.n > oi[2] ? clean_absolute(e.param[oi[1]], e.plen[oi[1]]) : 0;
        if (!n || e.plen[oi[2]] != 4 || (e.n > oi[3] && e.plen[oi[3]] != 4)) {
            rc = handle_parsed(c, R, &e, ev, len, rawobj); /* a name to resolve: parsers_files does it */
            goto out;
        }
        uint64_t flags = rd_u(e.param[oi[2]], 4);
        c->ovr_fd = open_fd;
        c->ovr_type = flags & R->o_directory ? R->dir_type_n : R->file_type_n;
        c->ovr_name = (const char *)e.param[oi[1]];
        c->ovr_len = n;
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
    } else if (R->op == OP_OPENAT && c->filter) { /* a failed openat: open_exit's own way */
        rc = handle_parsed(c, R, &e, ev, len, rawobj);
        goto out;
    } else if (R->op == OP_VM && e.n >= 4 &&
               (e.plen[1] != R->vm_size[0] || e.plen[2] != R->vm_size[1] || e.plen[3] != R->vm_size[2])) {
        rc = handle_parsed(c, R, &e, ev, len, rawobj); /* (values the Python decoders pad) */
        goto out;
    } else if (R->op == OP_SWITCH) {
        for (int k = 0; k < 5; k++)
            if (e.plen[k + 1] != R->sw_size[k]) {
                rc = handle_parsed(c, R, &e, ev, len, rawobj);
                goto out;
            }
    } else if (R->op == OP_SOCKET || R->op == OP_ENTER_ARG) {
        /* (socket_exit: nothing for a failed call; fcntl_exit: nothing without its enter's dup command) */
        if (e.plen[0] != 8) {
            rc = handle_parsed(c, R, &e, ev, len, rawobj);
            goto out;
        }
        if (R->op == OP_ENTER_ARG || rd_s(e.param[0], 8) >= 0) {
            rc = R->op == OP_SOCKET ? socket_fd(c, R, th, e.code, rd_s(e.param[0], 8)) : enter_arg(R, th, e.code);
            if (rc) {
                if (rc > 0) rc = handle_parsed(c, R, &e, ev, len, rawobj);
                goto out;
            }
        }
    }
    if (c->filter && modifies) { /* filtered after its parser: its state changes are made below */
        pass = core_filter(c, R, &e, th, num);
        if (pass < 0 || pass == NEED) {
            rc = pass < 0 ? -1 : handle_parsed(c, R, &e, ev, len, rawobj);
            goto out;
        }
    }
    rc = pass && !c->silent ? core_line(c, R, &e, th, num) : 0;
    if (!rc && pass && c->ntables) rc = core_tables(c, R, &e, th, num);
    if (rc) {
        c->out_len = mark;
        goto out;
    }
    if (R->op == OP_SWITCH) {
        rc = switch_state(c, R, &e, th, num);
        if (!rc && pass) c->count++;
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
    if (!rc && R->op == OP_VM && e.n >= 4) /* vm_exit: the process memory counters */
        for (int k = 0; k < 3 && !rc; k++)
            rc = set_i64(th, s_vm[k], (int64_t)rd_u(e.param[k + 1], R->vm_size[k]));
    if (!rc && c->ovr_info)
        rc = socket_state(c, th, num);
    else if (!rc && c->ovr_fd >= 0)
        rc = openat_state(c, R, th, open_fd, rd_u(e.param[oi[2]], 4), e.n > oi[3] ? rd_u(e.param[oi[3]], 4) : 0,
                          num);
    if (!rc && close_table && fdtable_op(close_table, close_fd, NULL) < 0)
        rc = -1;
    if (!rc && pass) c->count++;
out:
    if (!rc) {
        core_took(c, e.ts);
    }
    c->ovr_fd = -1;
    Py_CLEAR(c->ovr_info);
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

static PyObject *Core_first_ts(Core *c, PyObject *unused) {
    if (!c->have_last_ts) Py_RETURN_NONE;
    return PyLong_FromLongLong(c->first_ts);
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
 * op_args: () or, for OP_OPENAT, (PPM_O_DIRECTORY, FdInfo, FdType.FILE_V2, FdType.DIRECTORY[, (fd, name, flags, dev
 * params), paired]); for OP_VM, the sizes of params 1-3 */
static int load_recipe(CodeRecipe *R, PyObject *item) {
    if (item == Py_None) return 0;
    PyObject *head, *params, *op_args;
    if (!PyArg_ParseTuple(item, "iiiiiUO!iO!|i", &R->nparams, &R->enter, &R->uses_fd, &R->handler, &R->generic, &head,
                          &PyTuple_Type, &params, &R->op, &PyTuple_Type, &op_args, &R->hidden))
        return -1;
    if (R->op == OP_OPENAT) {
        unsigned long long o_dir;
        int *ix = R->open_idx;
        ix[0] = 0, ix[1] = 2, ix[2] = 3, ix[3] = 5; /* openat's exit */
        if (!PyArg_ParseTuple(op_args, "KOOO|(iiii)p", &o_dir, &R->fdinfo, &R->file_type, &R->dir_type, &ix[0], &ix[1],
                              &ix[2], &ix[3], &R->open_paired))
            return -1;
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
        for (int k = 0; k < 4; k++)
            if (R->open_idx[k] < 0 || R->open_idx[k] >= R->nparams) {
                PyErr_SetString(PyExc_ValueError, "OP_OPENAT's params are the event's");
                return -1;
            }
    } else if (R->op == OP_VM) {
        if (!PyArg_ParseTuple(op_args, "iii", &R->vm_size[0], &R->vm_size[1], &R->vm_size[2])) return -1;
        for (int k = 0; k < 3; k++)
            if (R->vm_size[k] != 1 && R->vm_size[k] != 2 && R->vm_size[k] != 4 && R->vm_size[k] != 8) {
                PyErr_SetString(PyExc_ValueError, "OP_VM's params are fixed-size integers");
                return -1;
            }
        if (R->nparams < 4) {
            PyErr_SetString(PyExc_ValueError, "OP_VM reads params 1-3");
            return -1;
        }
    } else if (R->op == OP_SWITCH) {
        int *z = R->sw_size;
        if (!PyArg_ParseTuple(op_args, "iiiii", &z[0], &z[1], &z[2], &z[3], &z[4])) return -1;
        for (int k = 0; k < 5; k++)
            if (z[k] != 1 && z[k] != 2 && z[k] != 4 && z[k] != 8) {
                PyErr_SetString(PyExc_ValueError, "OP_SWITCH's params are fixed-size integers");
                return -1;
            }
        if (R->nparams != 6) {
            PyErr_SetString(PyExc_ValueError, "OP_SWITCH reads params 1-5");
            return -1;
        }
    } else if (R->op == OP_SOCKET) {
        int *z = R->sock_size;
        if (!PyArg_ParseTuple(op_args, "O(iii)", &R->sock_info, &z[0], &z[1], &z[2])) return -1;
        if (!PyCallable_Check(R->sock_info)) {
            PyErr_SetString(PyExc_TypeError, "OP_SOCKET needs socket_info");
            R->sock_info = NULL;
            return -1;
        }
        Py_INCREF(R->sock_info);
        for (int k = 0; k < 3; k++)
            if (z[k] != 1 && z[k] != 2 && z[k] != 4 && z[k] != 8) {
                PyErr_SetString(PyExc_ValueError, "OP_SOCKET's enter params are fixed-size integers");
                return -1;
            }
        if (R->nparams < 1 || R->enter) {
            PyErr_SetString(PyExc_ValueError, "OP_SOCKET reads an exit's param 0");
            return -1;
        }
    } else if (R->op == OP_ENTER_ARG) {
        PyObject *vals;
        if (!PyArg_ParseTuple(op_args, "iiO!", &R->ea_idx, &R->ea_size, &PyTuple_Type, &vals)) return -1;
        Py_ssize_t nv = PyTuple_GET_SIZE(vals);
        if (nv > EA_MAX || R->ea_idx < 0 || R->ea_idx >= MAX_PARAMS || R->nparams < 1 || R->enter ||
            (R->ea_size != 1 && R->ea_size != 2 && R->ea_size != 4 && R->ea_size != 8)) {
            PyErr_SetString(PyExc_ValueError, "OP_ENTER_ARG: an exit, a fixed-size enter param, a few values");
            return -1;
        }
        for (Py_ssize_t k = 0; k < nv; k++) {
            R->ea_vals[k] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(vals, k));
            if (PyErr_Occurred()) return -1;
        }
        R->ea_n = (int)nv;
    } else if (R->op != OP_NONE && R->op != OP_CLOSE) {
        PyErr_SetString(PyExc_ValueError, "unknown op");
        return -1;
    }
    if (R->nparams > MAX_PARAMS || copy_text(R->head, sizeof R->head, &R->head_len, head) < 0) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(params);
    if (!R->generic && n != R->nparams && n) {
        PyErr_SetString(PyExc_ValueError, "a recipe's params do not match its count");
        return -1;
    }
    R->lined = R->generic || n == R->nparams;
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
    Py_XDECREF(c->spare);
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
    Py_XDECREF(c->begin);
    Py_XDECREF(c->filter);
    Py_XDECREF(c->format);
    Py_XDECREF(c->ovr_info);
    PyMem_Free(c->cflags);
    if (c->recipes) {
        for (int i = 0; i < c->nrecipes; i++) {
            CodeRecipe *R = &c->recipes[i];
            Py_XDECREF(R->fdinfo);
            Py_XDECREF(R->file_type);
            Py_XDECREF(R->dir_type);
            Py_XDECREF(R->sock_info);
            if (!R->params) continue;
            int n = R->generic || !R->lined ? 0 : R->nparams;
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
    for (int i = 0; i < c->ntables; i++) Py_XDECREF(c->tables[i]);
    PyMem_Free(c->out);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static int Core_init(Core *c, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"inspector", "clock", "event_type", "format_line", "flags_fallback", "clock_prefix",
                             "fd_resolved", "recipes", "sc_names", "generic_name", "errno_names", "fd_prefixes",
                             "l4_types", "max_len", "silent", "declines", "code_flags", "filter", "format", "tables",
                             "begin", NULL};
    PyObject *inspector, *clock, *event_type, *format_line, *flags_fallback, *clock_prefix, *fd_resolved, *recipes,
        *sc_names, *generic_name, *errnos, *prefixes, *cflags = NULL, *filter = Py_None, *format = Py_None,
        *tables = NULL, *begin = Py_None;
    unsigned long long l4;
    long max_len;
    int silent = 0;
    PyObject *declines = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOUOOKl|pOSOOO!O", kwlist, &inspector, &clock, &event_type,
                                     &format_line, &flags_fallback, &clock_prefix, &fd_resolved, &recipes, &sc_names,
                                     &generic_name, &errnos, &prefixes, &l4, &max_len, &silent, &declines, &cflags,
                                     &filter, &format, &PyTuple_Type, &tables, &begin))
        return -1;
    if (declines != Py_None && !PyBytes_Check(declines)) {
        PyErr_SetString(PyExc_TypeError, "declines: bytes (one flag per event code) or None");
        return -1;
    }
    if (tables && (!silent || PyTuple_GET_SIZE(tables) > CORE_TABLES)) {
        PyErr_SetString(PyExc_ValueError, "tables: up to 8, in a silent Core");
        return -1;
    }
    for (Py_ssize_t i = 0; tables && i < PyTuple_GET_SIZE(tables); i++)
        if (!PyObject_TypeCheck(PyTuple_GET_ITEM(tables, i), &TableType)) {
            PyErr_SetString(PyExc_TypeError, "tables: Table objects");
            return -1;
        }
    if (silent && format != Py_None) {
        PyErr_SetString(PyExc_ValueError, "a silent Core prints no line");
        return -1;
    }
    if ((filter != Py_None && !PyObject_TypeCheck(filter, &FilterType)) ||
        (format != Py_None && !PyObject_TypeCheck(format, &FormatType)) ||
        ((filter != Py_None || format != Py_None) && !cflags)) {
        PyErr_SetString(PyExc_TypeError, "filter: a Filter, format: a Format, and the code flags with them");
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
    if (begin != Py_None) c->begin = (Py_INCREF(begin), begin);
    if (filter != Py_None) c->filter = (Py_INCREF(filter), filter);
    if (format != Py_None) c->format = (Py_INCREF(format), format);
    for (Py_ssize_t i = 0; tables && i < PyTuple_GET_SIZE(tables); i++) {
        c->tables[i] = PyTuple_GET_ITEM(tables, i);
        Py_INCREF(c->tables[i]);
        c->ntables = (int)i + 1;
    }
    c->cflags = PyMem_Calloc(PPM_CODES_MAX, 1);
    if (!c->cflags) {
        PyErr_NoMemory();
        return -1;
    }
    if (cflags) {
        Py_ssize_t nf = PyBytes_GET_SIZE(cflags);
        memcpy(c->cflags, PyBytes_AS_STRING(cflags), nf < PPM_CODES_MAX ? nf : PPM_CODES_MAX);
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
    {"first_ts", (PyCFunction)Core_first_ts, METH_NOARGS, "first_ts() -> the time of the first event handled, or None"},
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
    {"configure_fdtables", configure_fdtables, METH_VARARGS,
     "configure_fdtables(FdTable, OrderLog, erase, fold_at[, fdinfo_template, fdinfo_fields]): state/fds.py's add,\n"
     "remove and FdInfo() done in C"},
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
        {&s_name_changed_at, "name_changed_at"}, {&s_pf[0], "pfmajor"}, {&s_pf[1], "pfminor"}, {&s_tid, "tid"},
        {&s_vm[0], "vmsize_kb"}, {&s_vm[1], "vmrss_kb"},
        {&s_vm[2], "vmswap_kb"}, {&s_pid, "pid"}, {&s_uid, "uid"}, {&s_users, "users"},
        {&s_user, "user"}, {&s__state, "_state"}, {&s_role, "role"}, {&s_fdinfo, "fdinfo"},
        {&s_fdnum, "fdnum"}, {&s_raw, "raw"}, {&s_cpu, "cpu"}, {&s_filtered_out, "filtered_out"},
        {&s_shown_l4proto, "shown_l4proto"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*names[i].slot = PyUnicode_InternFromString(names[i].text))) return NULL;
    if (PyType_Ready(&CoreType) < 0 || PyType_Ready(&FieldsType) < 0 || PyType_Ready(&FilterType) < 0 ||
        PyType_Ready(&FormatType) < 0 || PyType_Ready(&TableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    struct { const char *name; int value; } consts[] = {
        {"A_NUM", A_NUM}, {"A_CPU", A_CPU}, {"A_TID", A_TID}, {"A_TYPE", A_TYPE}, {"A_DIR", A_DIR},
        {"A_COMM", A_COMM}, {"A_PID", A_PID}, {"A_FDNUM", A_FDNUM}, {"A_FDNAME", A_FDNAME},
        {"A_FDPROBE", A_FDPROBE}, {"A_TIME", A_TIME}, {"A_RES", A_RES}, {"A_USER", A_USER}, {"A_IO", A_IO}, {"A_FAILED", A_FAILED}, {"A_FDL4", A_FDL4}, {"P_NEED", P_NEED}, {"P_NA", P_NA}, {"P_INT", P_INT},
        {"P_STR", P_STR}, {"P_ATTR_INT", P_ATTR_INT}, {"P_ATTR_IP", P_ATTR_IP}, {"P_ATTR_STR", P_ATTR_STR},
        {"V_INT", V_INT}, {"V_STR", V_STR}, {"V_IP", V_IP}, {"O_EQ", O_EQ}, {"O_NE", O_NE}, {"O_LT", O_LT},
        {"O_LE", O_LE}, {"O_GT", O_GT}, {"O_GE", O_GE}, {"O_CONTAINS", O_CONTAINS},
        {"O_STARTSWITH", O_STARTSWITH}, {"O_ENDSWITH", O_ENDSWITH}, {"O_IN", O_IN}, {"O_EXISTS", O_EXISTS},
        {"I_TEST", I_TEST}, {"I_JF", I_JF}, {"I_JT", I_JT}, {"I_NOT", I_NOT},
        {"PROBE_TYPES", PROBE_TYPES}, {"PROBE_ROLES", PROBE_ROLES},
        {"TV_PARAM", TV_PARAM}, {"TV_LATENCY", TV_LATENCY}, {"TV_ONE", TV_ONE}, {"CORE_TABLES", CORE_TABLES},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    Py_INCREF(&CoreType);
    Py_INCREF(&FieldsType);
    Py_INCREF(&FilterType);
    Py_INCREF(&FormatType);
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "Fields", (PyObject *)&FieldsType) < 0 ||
        PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0 ||
        PyModule_AddObject(m, "Filter", (PyObject *)&FilterType) < 0 ||
        PyModule_AddObject(m, "Format", (PyObject *)&FormatType) < 0 ||
        PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0 ||
        PyModule_AddIntConstant(m, "VERSION", FASTLINE_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "K_DEC", K_DEC) < 0 || PyModule_AddIntConstant(m, "K_STR", K_STR) < 0 ||
        PyModule_AddIntConstant(m, "K_ERRNO", K_ERRNO) < 0 || PyModule_AddIntConstant(m, "K_FD", K_FD) < 0 ||
        PyModule_AddIntConstant(m, "K_FLAGS", K_FLAGS) < 0 || PyModule_AddIntConstant(m, "K_HEX", K_HEX) < 0 ||
        PyModule_AddIntConstant(m, "K_OCT", K_OCT) < 0 || PyModule_AddIntConstant(m, "K_SIGNED64", K_SIGNED64) < 0 ||
        PyModule_AddIntConstant(m, "K_PADDED", K_PADDED) < 0 || PyModule_AddIntConstant(m, "K_PATH", K_PATH) < 0 ||
        PyModule_AddIntConstant(m, "K_BUF", K_BUF) < 0 || PyModule_AddIntConstant(m, "K_CALLINT", K_CALLINT) < 0 ||
        PyModule_AddIntConstant(m, "K_PYRAW", K_PYRAW) < 0 || PyModule_AddIntConstant(m, "OP_OPENAT", OP_OPENAT) < 0 ||
        PyModule_AddIntConstant(m, "OP_CLOSE", OP_CLOSE) < 0 || PyModule_AddIntConstant(m, "OP_VM", OP_VM) < 0 ||
        PyModule_AddIntConstant(m, "OP_SWITCH", OP_SWITCH) < 0 ||
        PyModule_AddIntConstant(m, "OP_SOCKET", OP_SOCKET) < 0 ||
        PyModule_AddIntConstant(m, "OP_ENTER_ARG", OP_ENTER_ARG) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
