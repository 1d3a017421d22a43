/* A capture section's PL and FDL blocks, parsed in C (issue 14: reading many sections).
 *
 * sysdig_user/scap/sections.py drives this module; nothing here knows a PL version's layout on its
 * own. configure() receives, from sysdig_user/scap/metadata.py, the same per-version step table the
 * Python parser (metadata._PL_STEPS) runs: per version, the reads in file order (a group of fixed
 * numbers given by its struct format, a u16-prefixed string, a u16-prefixed NUL-separated list, each
 * with its length limit) and the fields the version lacks with their defaults. It also receives the
 * classes to build (ProcEntry, FdEntry, FdInfo) with their field names, the fd types read by name
 * only, and the name length limit.
 *
 * Objects are built without running their Python __init__: every slot the class's _fields names is
 * set here (a record class has no other state), from the parsed values or, for FdInfo, from a
 * template instance whose mutable values (dict, list) are made fresh for each object.
 *
 * Nothing here raises for a damaged block: parse_procs and parse_fds return None for any block they
 * do not take whole (an overrun, a length past its limit, an entry longer than its length, a type
 * from a newer writer), and the Python parser then reads it, with libscap's messages. So the two
 * cannot disagree on an error: only the Python one ever reports it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>

#define SECTIONS_VERSION 4
#define MAX_FIELDS 48
#define MAX_STEPS 16
#define PL_MAX_VERSION 9

enum { STEP_NUMS = 0, STEP_STR = 1, STEP_LIST = 2 };

/* A slotted class and the offsets of its fields' slots, in the order its values are given. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t n;
    Py_ssize_t off[MAX_FIELDS];
} Maker;

typedef struct {
    int kind;
    long limit;      /* STEP_STR / STEP_LIST */
    char fmt[24];    /* STEP_NUMS: struct codes (q Q i I B H), no byte order mark */
    int size;        /* STEP_NUMS: bytes */
} Step;

typedef struct {
    int nsteps;
    Step steps[MAX_STEPS];
    int nmissing;
    int midx[MAX_FIELDS];
    PyObject *mdef[MAX_FIELDS]; /* NULL: a new empty list */
} PlLayout;

static PlLayout pl[PL_MAX_VERSION + 1];
static int pl_core_fields; /* the fields before the optional trailing loginuid, exe_writable */
static Maker proc_maker, fdentry_maker, fdinfo_maker;
static PyObject *fdinfo_template[MAX_FIELDS];
static unsigned char name_types[256];
static long name_limit;
static PyObject *empty_str, *empty_bytes;
static PyObject *fd_types[256]; /* FdType members by value (NULL: none) */
static PyObject *role_client, *role_server;
/* ThreadInfo: its maker, a template for the slots no PL field gives, and per slot the ProcEntry field
 * it comes from (-1: the template's) */
static Maker thread_maker;
static PyObject *thread_template[MAX_FIELDS];
static int thread_from[MAX_FIELDS];
static int th_args = -1, th_cwd = -1, th_env = -1, th_cgroups = -1, th_flags = -1;
static long cl_active;
static PyObject *fresh_types; /* a tuple: template values of these types are cloned (fresh_clone) */
/* FdEntry's and FdInfo's field positions the fd loader reads and writes */
static int fe_fd, fe_ino, fe_type, fe_name, fe_open_flags, fe_dev, fe_sip, fe_dip, fe_sport, fe_dport, fe_l4proto,
    fe_source, fe_dest;
static int fi_fd, fi_type, fi_name, fi_open_flags, fi_dev, fi_ino, fi_role, fi_unix_source, fi_unix_dest, fi_sport;
/* load_fds: state/fdorder.py's OrderLog constants, and the attribute names it reads */
static PyObject *erase_op;
static Py_ssize_t fold_at;
static PyObject *str_fds, *str_order, *str_ops, *str_fold, *str_fd;

static inline uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static PyObject *fresh_clone(PyObject *t, PyObject *fresh);
static int clonable(PyTypeObject *type);

static int maker_init(Maker *m, PyObject *cls, PyObject *fields) {
    if (!PyType_Check(cls) || !PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) > MAX_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "configure: a class and a tuple of its field names");
        return -1;
    }
    m->type = (PyTypeObject *)cls;
    m->n = PyTuple_GET_SIZE(fields);
    for (Py_ssize_t i = 0; i < m->n; i++) {
        PyObject *descr = PyObject_GetAttr(cls, PyTuple_GET_ITEM(fields, i));
        if (descr == NULL)
            return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok)
            m->off[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "configure: %R is not a slot of %R", PyTuple_GET_ITEM(fields, i), cls);
            return -1;
        }
    }
    Py_INCREF(cls);
    return 0;
}

/* A new instance with every slot set from vals (references stolen, also on failure). NULL, with the
 * error already set, where any of vals is NULL (a value that could not be made). */
static PyObject *maker_new(Maker *m, PyObject **vals) {
    int bad = 0;
    for (Py_ssize_t i = 0; i < m->n; i++)
        bad |= vals[i] == NULL;
    PyObject *obj = bad ? NULL : m->type->tp_alloc(m->type, 0);
    if (obj == NULL) {
        for (Py_ssize_t i = 0; i < m->n; i++)
            Py_XDECREF(vals[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < m->n; i++)
        *(PyObject **)((char *)obj + m->off[i]) = vals[i];
    return obj;
}

static inline PyObject *slot(Maker *m, PyObject *obj, int i) {
    return *(PyObject **)((char *)obj + m->off[i]);
}

static int field_index(PyObject *fields, const char *name) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (PyUnicode_Check(f) && PyUnicode_CompareWithASCIIString(f, name) == 0)
            return (int)i;
    }
    PyErr_Format(PyExc_ValueError, "configure: no field %s", name);
    return -1;
}

static int fmt_size(const char *fmt) {
    int size = 0;
    for (; *fmt; fmt++) {
        switch (*fmt) {
        case 'q': case 'Q': size += 8; break;
        case 'i': case 'I': size += 4; break;
        case 'H': size += 2; break;
        case 'B': size += 1; break;
        default: return -1;
        }
    }
    return size;
}

/* entries_configured: the entry classes (configure_entries); configured: the PL step table too (configure) */
static int entries_configured, configured, state_configured;

/* configure(pl_table, pl_core_fields) from sysdig_user/scap/metadata.py, after configure_entries: what
 * parse_procs reads. pl_table: {version: (steps, missing)}; steps: ((kind, fmt or limit), ...); missing:
 * ((index, default), ...), default None for a new empty list. */
static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *table;
    int core;
    if (!PyArg_ParseTuple(args, "O!i", &PyDict_Type, &table, &core))
        return NULL;
    if (configured) /* (a module reloaded: the tables are the ones already taken) */
        Py_RETURN_NONE;
    if (!entries_configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure: after configure_entries");
        return NULL;
    }
    if (core + 2 != proc_maker.n || core > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "configure: PL fields are the core ones, loginuid and exe_writable");
        return NULL;
    }
    pl_core_fields = core;
    for (int v = 1; v <= PL_MAX_VERSION; v++) {
        PyObject *key = PyLong_FromLong(v);
        PyObject *entry = key ? PyDict_GetItemWithError(table, key) : NULL;
        Py_XDECREF(key);
        PyObject *steps, *missing;
        if (entry == NULL || !PyArg_ParseTuple(entry, "O!O!", &PyTuple_Type, &steps, &PyTuple_Type, &missing)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "configure: no PL version %d", v);
            return NULL;
        }
        PlLayout *L = &pl[v];
        L->nsteps = (int)PyTuple_GET_SIZE(steps);
        L->nmissing = (int)PyTuple_GET_SIZE(missing);
        if (L->nsteps > MAX_STEPS || L->nmissing > MAX_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "configure: PL table too large");
            return NULL;
        }
        int nvalues = L->nmissing;
        for (int i = 0; i < L->nsteps; i++) {
            Step *s = &L->steps[i];
            PyObject *arg;
            if (!PyArg_ParseTuple(PyTuple_GET_ITEM(steps, i), "iO", &s->kind, &arg))
                return NULL;
            if (s->kind == STEP_NUMS) {
                const char *fmt = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
                if (fmt == NULL || strlen(fmt) >= sizeof(s->fmt) || (s->size = fmt_size(fmt)) < 0) {
                    PyErr_Format(PyExc_ValueError, "configure: bad number format %R", arg);
                    return NULL;
                }
                strcpy(s->fmt, fmt);
                nvalues += (int)strlen(fmt);
            } else if (s->kind == STEP_STR || s->kind == STEP_LIST) {
                s->limit = PyLong_AsLong(arg);
                if (s->limit == -1 && PyErr_Occurred())
                    return NULL;
                nvalues++;
            } else {
                PyErr_Format(PyExc_ValueError, "configure: bad step kind %d", s->kind);
                return NULL;
            }
        }
        int last = -1;
        for (int i = 0; i < L->nmissing; i++) {
            PyObject *def;
            if (!PyArg_ParseTuple(PyTuple_GET_ITEM(missing, i), "iO", &L->midx[i], &def))
                return NULL;
            if (L->midx[i] <= last || L->midx[i] >= core) {
                PyErr_SetString(PyExc_ValueError, "configure: missing fields out of order");
                return NULL;
            }
            last = L->midx[i];
            L->mdef[i] = def == Py_None ? NULL : Py_NewRef(def);
        }
        if (nvalues != core) {
            PyErr_Format(PyExc_ValueError, "configure: PL version %d gives %d fields, not %d", v, nvalues, core);
            return NULL;
        }
    }
    configured = 1;
    Py_RETURN_NONE;
}

/* configure_entries(proc_cls, proc_fields, fdentry_cls, fdentry_fields, name_types, name_limit) from
 * sysdig_user/scap/entries.py: the classes parse_procs and parse_fds build and the state's loaders
 * (configure_state, configure_threads) read. */
static PyObject *configure_entries(PyObject *self, PyObject *args) {
    PyObject *proc_cls, *proc_fields, *fe_cls, *fe_fields, *ntypes;
    long nlimit;
    if (!PyArg_ParseTuple(args, "OO!OO!O!l", &proc_cls, &PyTuple_Type, &proc_fields, &fe_cls, &PyTuple_Type,
                          &fe_fields, &PyFrozenSet_Type, &ntypes, &nlimit))
        return NULL;
    if (entries_configured) /* (a module reloaded: the classes are the ones already taken) */
        Py_RETURN_NONE;
    if (maker_init(&proc_maker, proc_cls, proc_fields) < 0 || maker_init(&fdentry_maker, fe_cls, fe_fields) < 0)
        return NULL;
    if (proc_maker.n > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "configure_entries: too many ProcEntry fields");
        return NULL;
    }
    memset(name_types, 0, sizeof(name_types));
    PyObject *it = PyObject_GetIter(ntypes), *item;
    if (it == NULL)
        return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        long t = PyLong_AsLong(item);
        Py_DECREF(item);
        if (t >= 0 && t < 256)
            name_types[t] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    name_limit = nlimit;
    if ((fe_fd = field_index(fe_fields, "fd")) < 0 || (fe_ino = field_index(fe_fields, "ino")) < 0 ||
        (fe_type = field_index(fe_fields, "type")) < 0 || (fe_name = field_index(fe_fields, "name")) < 0 ||
        (fe_open_flags = field_index(fe_fields, "open_flags")) < 0 || (fe_dev = field_index(fe_fields, "dev")) < 0 ||
        (fe_sip = field_index(fe_fields, "sip")) < 0 || (fe_dip = field_index(fe_fields, "dip")) < 0 ||
        (fe_sport = field_index(fe_fields, "sport")) < 0 || (fe_dport = field_index(fe_fields, "dport")) < 0 ||
        (fe_l4proto = field_index(fe_fields, "l4proto")) < 0 ||
        (fe_source = field_index(fe_fields, "source")) < 0 || (fe_dest = field_index(fe_fields, "dest")) < 0)
        return NULL;
    if (fdentry_maker.n != 13) {
        PyErr_SetString(PyExc_ValueError, "configure_entries: FdEntry has fields this module does not know");
        return NULL;
    }
    empty_str = PyUnicode_New(0, 0);
    empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    if (empty_str == NULL || empty_bytes == NULL)
        return NULL;
    entries_configured = 1;
    Py_RETURN_NONE;
}

/* A template instance's slot values, in m's order, into out (new references); -1 with ValueError where a
 * slot is unset (who: the configure function, for the message). */
static int template_slots(Maker *m, PyObject *tmpl, PyObject **out, const char *who) {
    for (Py_ssize_t i = 0; i < m->n; i++) {
        PyObject *value = slot(m, tmpl, (int)i);
        if (value == NULL) {
            PyErr_Format(PyExc_ValueError, "%s: the template has an unset slot", who);
            return -1;
        }
        out[i] = Py_NewRef(value);
    }
    return 0;
}

/* configure_state(fdinfo_template, fdinfo_fields, fd_types, role_client, role_server) from
 * sysdig_user/state/inspector.py, after configure_entries(). fd_types: {value: FdType member}. */
static PyObject *configure_state(PyObject *self, PyObject *args) {
    PyObject *fi_tmpl, *fi_fields, *ftypes, *rclient, *rserver;
    if (!PyArg_ParseTuple(args, "OO!O!OO", &fi_tmpl, &PyTuple_Type, &fi_fields, &PyDict_Type, &ftypes, &rclient,
                          &rserver))
        return NULL;
    if (state_configured)
        Py_RETURN_NONE;
    if (!entries_configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure_state: after configure_entries");
        return NULL;
    }
    if (maker_init(&fdinfo_maker, (PyObject *)Py_TYPE(fi_tmpl), fi_fields) < 0 ||
        template_slots(&fdinfo_maker, fi_tmpl, fdinfo_template, "configure_state") < 0)
        return NULL;
    PyObject *k, *v;
    Py_ssize_t p = 0;
    while (PyDict_Next(ftypes, &p, &k, &v)) {
        long t = PyLong_AsLong(k);
        if (t == -1 && PyErr_Occurred())
            return NULL;
        if (t >= 0 && t < 256)
            fd_types[t] = Py_NewRef(v);
    }
    if ((fi_fd = field_index(fi_fields, "fd")) < 0 || (fi_type = field_index(fi_fields, "type")) < 0 ||
        (fi_name = field_index(fi_fields, "name")) < 0 || (fi_open_flags = field_index(fi_fields, "open_flags")) < 0 ||
        (fi_dev = field_index(fi_fields, "dev")) < 0 || (fi_ino = field_index(fi_fields, "ino")) < 0 ||
        (fi_role = field_index(fi_fields, "role")) < 0 ||
        (fi_unix_source = field_index(fi_fields, "unix_source")) < 0 ||
        (fi_unix_dest = field_index(fi_fields, "unix_dest")) < 0 || (fi_sport = field_index(fi_fields, "sport")) < 0)
        return NULL;
    role_client = Py_NewRef(rclient);
    role_server = Py_NewRef(rserver);
    state_configured = 1;
    Py_RETURN_NONE;
}

/* configure_threads(thread_template, thread_fields, fresh_types, cl_active) from sysdig_user/state/inspector.py,
 * after configure_entries(): each ThreadInfo slot named as a ProcEntry field takes that field's value. */
static PyObject *configure_threads(PyObject *self, PyObject *args) {
    PyObject *tmpl, *fields, *fresh;
    long active;
    if (!PyArg_ParseTuple(args, "OO!O!l", &tmpl, &PyTuple_Type, &fields, &PyTuple_Type, &fresh, &active))
        return NULL;
    if (thread_maker.type != NULL)
        Py_RETURN_NONE;
    if (!entries_configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure_threads: after configure_entries");
        return NULL;
    }
    Maker m;
    if (maker_init(&m, (PyObject *)Py_TYPE(tmpl), fields) < 0 ||
        template_slots(&m, tmpl, thread_template, "configure_threads") < 0)
        return NULL;
    for (Py_ssize_t i = 0; i < m.n; i++) {
        PyObject *name = PyTuple_GET_ITEM(fields, i);
        thread_from[i] = -1;
        PyObject *descr = PyObject_GetAttr((PyObject *)proc_maker.type, name);
        if (descr == NULL)
            PyErr_Clear();
        else if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            for (Py_ssize_t j = 0; j < proc_maker.n; j++)
                if (((PyMemberDescrObject *)descr)->d_member->offset == proc_maker.off[j])
                    thread_from[i] = (int)j;
        }
        Py_XDECREF(descr);
        if (PyUnicode_CompareWithASCIIString(name, "args") == 0)
            th_args = (int)i;
        else if (PyUnicode_CompareWithASCIIString(name, "cwd") == 0)
            th_cwd = (int)i;
        else if (PyUnicode_CompareWithASCIIString(name, "env") == 0)
            th_env = (int)i;
        else if (PyUnicode_CompareWithASCIIString(name, "cgroups") == 0)
            th_cgroups = (int)i;
        else if (PyUnicode_CompareWithASCIIString(name, "flags") == 0)
            th_flags = (int)i;
    }
    if (th_args < 0 || th_cwd < 0 || th_env < 0 || th_cgroups < 0 || th_flags < 0 || thread_from[th_args] < 0 ||
        thread_from[th_cwd] < 0 || thread_from[th_env] < 0 || thread_from[th_cgroups] < 0 ||
        thread_from[th_flags] < 0) {
        PyErr_SetString(PyExc_ValueError, "configure_threads: ThreadInfo and ProcEntry share no args/cwd/env/cgroups/flags");
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(fresh); k++) {
        PyObject *type = PyTuple_GET_ITEM(fresh, k);
        if (!PyType_Check(type) || !clonable((PyTypeObject *)type)) {
            PyErr_Format(PyExc_TypeError, "configure_threads: %R is not a class of object slots only", type);
            return NULL;
        }
    }
    fresh_types = Py_NewRef(fresh);
    cl_active = active;
    thread_maker = m;
    Py_RETURN_NONE;
}

/* The bytes decoded as UTF-8 with surrogateescape; ASCII (most names, paths, args and env entries) copied
 * straight into a new str, which is what the decoder makes of it. */
static inline PyObject *text(const unsigned char *p, Py_ssize_t n) {
    unsigned char any = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        any |= p[i];
    if (any & 0x80 || n == 0)
        return PyUnicode_DecodeUTF8((const char *)p, n, "surrogateescape");
    PyObject *s = PyUnicode_New(n, 127);
    if (s != NULL)
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
    return s;
}

/* text(p, n), or prev itself where prev is an ASCII str of those very bytes (a new reference): the entries of
 * one PL block repeat most of their env and args item for item (a process's children inherit its env). */
static inline PyObject *text_like(const unsigned char *p, Py_ssize_t n, PyObject *prev) {
    if (prev != NULL && PyUnicode_CheckExact(prev) && PyUnicode_IS_COMPACT_ASCII(prev) &&
        PyUnicode_GET_LENGTH(prev) == n && memcmp(PyUnicode_1BYTE_DATA(prev), p, (size_t)n) == 0)
        return Py_NewRef(prev);
    return text(p, n);
}

/* A NUL-separated list as metadata._pl_steps' _LIST reads it: split on NUL, a final NUL ends the last item.
 * prev (NULL: none): the previous entry's list at this step, whose equal items are shared (text_like). */
static PyObject *text_list(const unsigned char *p, Py_ssize_t n, PyObject *prev) {
    PyObject *out = PyList_New(0);
    if (out == NULL || n == 0)
        return out;
    Py_ssize_t from = 0;
    while (from < n || p[n - 1] != 0) { /* (a last item without its NUL ends at the end) */
        const unsigned char *nul = from < n ? memchr(p + from, 0, (size_t)(n - from)) : NULL;
        Py_ssize_t end = nul ? nul - p : n;
        Py_ssize_t k = PyList_GET_SIZE(out);
        PyObject *before = prev != NULL && PyList_CheckExact(prev) && k < PyList_GET_SIZE(prev)
                               ? PyList_GET_ITEM(prev, k) : NULL;
        PyObject *s = text_like(p + from, end - from, before);
        if (s == NULL || PyList_Append(out, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(s);
        if (nul == NULL)
            break;
        from = end + 1;
    }
    return out;
}

static PyObject *number(const unsigned char *p, char code) {
    switch (code) {
    case 'q': return PyLong_FromLongLong((long long)rd64(p));
    case 'Q': return PyLong_FromUnsignedLongLong(rd64(p));
    case 'i': return PyLong_FromLong((int32_t)rd32(p));
    case 'I': return PyLong_FromUnsignedLong(rd32(p));
    case 'H': return PyLong_FromLong(rd16(p));
    default: return PyLong_FromLong(p[0]);
    }
}

static int code_size(char code) { return code == 'q' || code == 'Q' ? 8 : code == 'i' || code == 'I' ? 4 : code == 'H' ? 2 : 1; }

/* parse_procs(body, version) -> [ProcEntry] or None (a block the Python parser must read). */
static PyObject *parse_procs(PyObject *self, PyObject *args) {
    const unsigned char *b;
    Py_ssize_t size;
    int version;
    if (!PyArg_ParseTuple(args, "y#i", &b, &size, &version))
        return NULL;
    if (!configured || version < 1 || version > PL_MAX_VERSION)
        Py_RETURN_NONE;
    PlLayout *L = &pl[version];
    int v9 = version >= 9;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    PyObject *got[MAX_FIELDS], *vals[MAX_FIELDS];
    /* the previous entry's values, borrowed (out holds that entry): text_like shares its equal strings */
    PyObject *prev_got[MAX_FIELDS];
    int prev_entry = 0;
    int ng = 0, failed = 0;
    Py_ssize_t pos = 0;
    while (size - pos >= 4) {
        Py_ssize_t start = pos;
        uint32_t sub_len = 0;
        if (v9) {
            sub_len = rd32(b + pos);
            pos += 4;
        }
        ng = 0;
        for (int i = 0; i < L->nsteps; i++) {
            Step *s = &L->steps[i];
            if (s->kind == STEP_NUMS) {
                if (pos + s->size > size)
                    goto decline;
                for (const char *c = s->fmt; *c; c++) {
                    if ((got[ng] = number(b + pos, *c)) == NULL)
                        goto error;
                    ng++;
                    pos += code_size(*c);
                }
                continue;
            }
            if (pos + 2 > size)
                goto decline;
            Py_ssize_t n = rd16(b + pos);
            if (n > s->limit || pos + 2 + n > size)
                goto decline;
            PyObject *before = prev_entry ? prev_got[ng] : NULL;
            got[ng] = s->kind == STEP_LIST ? text_list(b + pos + 2, n, before) : text_like(b + pos + 2, n, before);
            if (got[ng] == NULL)
                goto error;
            ng++;
            pos += 2 + n;
        }
        long loginuid = -1;
        int exe_writable = 0;
        if (sub_len && pos - start + 4 <= (Py_ssize_t)sub_len) {
            if (pos + 4 > size)
                goto decline;
            loginuid = (int32_t)rd32(b + pos);
            pos += 4;
        }
        if (sub_len && pos - start + 1 <= (Py_ssize_t)sub_len) {
            if (pos + 1 > size)
                goto decline;
            exe_writable = b[pos] != 0;
            pos += 1;
        }
        if (sub_len) {
            if (pos - start > (Py_ssize_t)sub_len || start + (Py_ssize_t)sub_len > size)
                goto decline;
            pos = start + sub_len;
        }
        int gi = 0, mi = 0;
        for (int i = 0; i < pl_core_fields; i++) {
            if (mi < L->nmissing && L->midx[mi] == i) {
                PyObject *def = L->mdef[mi++];
                vals[i] = def ? Py_NewRef(def) : PyList_New(0);
                if (vals[i] == NULL) {
                    for (int j = 0; j < i; j++)
                        Py_DECREF(vals[j]);
                    for (int j = gi; j < ng; j++)
                        Py_DECREF(got[j]);
                    ng = 0;
                    goto error;
                }
            } else {
                vals[i] = got[gi++];
            }
        }
        memcpy(prev_got, got, sizeof(PyObject *) * (size_t)gi);
        prev_entry = 0;
        ng = 0;
        vals[pl_core_fields] = PyLong_FromLong(loginuid);
        vals[pl_core_fields + 1] = PyBool_FromLong(exe_writable);
        if (vals[pl_core_fields] == NULL) {
            for (int j = 0; j < pl_core_fields; j++)
                Py_DECREF(vals[j]);
            Py_DECREF(vals[pl_core_fields + 1]);
            goto error;
        }
        PyObject *e = maker_new(&proc_maker, vals);
        if (e == NULL)
            goto error;
        int rc = PyList_Append(out, e);
        Py_DECREF(e);
        if (rc < 0)
            goto error;
        prev_entry = 1;
    }
    return out;
decline:
    failed = 1;
error:
    for (int j = 0; j < ng; j++)
        Py_DECREF(got[j]);
    Py_DECREF(out);
    if (failed && !PyErr_Occurred())
        Py_RETURN_NONE;
    return NULL;
}

/* parse_fds(body, v2) -> (tid, [FdEntry]) or None (a block the Python parser must read). */
static PyObject *parse_fds(PyObject *self, PyObject *args) {
    const unsigned char *b;
    Py_ssize_t size;
    int v2;
    if (!PyArg_ParseTuple(args, "y#p", &b, &size, &v2))
        return NULL;
    if (!entries_configured || size < 8)
        Py_RETURN_NONE;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 8;
    PyObject *vals[13];
    while (size - pos >= 4) {
        Py_ssize_t start = pos;
        uint32_t sub_len = 0;
        if (v2) {
            sub_len = rd32(b + pos);
            pos += 4;
            if (sub_len == 0)
                goto decline; /* an entry without its length: the Python parser's */
        }
        if (pos + 17 > size)
            goto decline;
        int64_t fd = (int64_t)rd64(b + pos);
        uint64_t ino = rd64(b + pos + 8);
        unsigned t = b[pos + 16];
        pos += 17;
        uint32_t open_flags = 0, dev = 0, sport = 0, dport = 0, l4proto = 0;
        uint64_t source = 0, dest = 0;
        const unsigned char *sip = NULL, *dip = NULL;
        Py_ssize_t asz = 0;
        int named = 1;
        switch (t) {
        case 3: case 4: /* IPV4_SOCK, IPV6_SOCK */
            asz = t == 3 ? 4 : 16;
            if (pos + 2 * asz + 5 > size)
                goto decline;
            sip = b + pos;
            dip = b + pos + asz;
            pos += 2 * asz;
            sport = rd16(b + pos);
            dport = rd16(b + pos + 2);
            l4proto = b[pos + 4];
            pos += 5;
            named = 0;
            break;
        case 5: case 6: /* IPV4_SERVSOCK, IPV6_SERVSOCK */
            asz = t == 5 ? 4 : 16;
            if (pos + asz + 3 > size)
                goto decline;
            sip = b + pos;
            pos += asz;
            sport = rd16(b + pos);
            l4proto = b[pos + 2];
            pos += 3;
            named = 0;
            break;
        case 8: /* UNIX_SOCK */
            if (pos + 16 > size)
                goto decline;
            source = rd64(b + pos);
            dest = rd64(b + pos + 8);
            pos += 16;
            break;
        case 16: /* FILE_V2 */
            if (pos + 4 > size)
                goto decline;
            open_flags = rd32(b + pos);
            pos += 4;
            break;
        default:
            if (!name_types[t])
                goto decline; /* a newer writer's type, or damage */
        }
        PyObject *name = empty_str;
        Py_INCREF(name);
        if (named) {
            if (pos + 2 > size)
                goto decline_name;
            Py_ssize_t n = rd16(b + pos);
            if (n > name_limit || pos + 2 + n > size)
                goto decline_name;
            Py_DECREF(name);
            if ((name = text(b + pos + 2, n)) == NULL)
                goto error;
            pos += 2 + n;
        }
        if (t == 16 && sub_len && pos - start + 4 <= (Py_ssize_t)sub_len) { /* dev: optional in FDL_V2 */
            if (pos + 4 > size)
                goto decline_name;
            dev = rd32(b + pos);
            pos += 4;
        }
        if (sub_len) {
            if (pos - start > (Py_ssize_t)sub_len || start + (Py_ssize_t)sub_len > size)
                goto decline_name;
            pos = start + sub_len;
        }
        vals[fe_fd] = PyLong_FromLongLong(fd);
        vals[fe_ino] = PyLong_FromUnsignedLongLong(ino);
        vals[fe_type] = PyLong_FromLong(t);
        vals[fe_name] = name;
        vals[fe_open_flags] = PyLong_FromUnsignedLong(open_flags);
        vals[fe_dev] = PyLong_FromUnsignedLong(dev);
        vals[fe_sip] = sip ? PyBytes_FromStringAndSize((const char *)sip, asz) : Py_NewRef(empty_bytes);
        vals[fe_dip] = dip ? PyBytes_FromStringAndSize((const char *)dip, asz) : Py_NewRef(empty_bytes);
        vals[fe_sport] = PyLong_FromUnsignedLong(sport);
        vals[fe_dport] = PyLong_FromUnsignedLong(dport);
        vals[fe_l4proto] = PyLong_FromUnsignedLong(l4proto);
        vals[fe_source] = PyLong_FromUnsignedLongLong(source);
        vals[fe_dest] = PyLong_FromUnsignedLongLong(dest);
        int bad = 0;
        for (int i = 0; i < 13; i++)
            bad |= vals[i] == NULL;
        if (bad) {
            for (int i = 0; i < 13; i++)
                Py_XDECREF(vals[i]);
            goto error;
        }
        PyObject *e = maker_new(&fdentry_maker, vals);
        if (e == NULL)
            goto error;
        int rc = PyList_Append(out, e);
        Py_DECREF(e);
        if (rc < 0)
            goto error;
        continue;
    decline_name:
        Py_DECREF(name);
        goto decline;
    }
    PyObject *tid = PyLong_FromLongLong((int64_t)rd64(b));
    if (tid == NULL)
        goto error;
    return Py_BuildValue("(NN)", tid, out);
decline:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

/* fds.sanitize: the name with only its printable ASCII characters (a new reference). */
static PyObject *sanitized(PyObject *s) {
    if (!PyUnicode_Check(s))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), kept = 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        kept += c >= 0x20 && c <= 0x7e;
    }
    if (kept == n)
        return Py_NewRef(s);
    PyObject *out = PyUnicode_New(kept, 0x7f);
    if (out == NULL)
        return NULL;
    Py_UCS1 *dst = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0x20 && c <= 0x7e)
            *dst++ = (Py_UCS1)c;
    }
    return out;
}


/* A template instance's value for a new object: a fresh empty dict or list for a dict or list, a clone
 * (fresh_clone) where the value's type is one of fresh (a tuple, or NULL: none), else the value itself (new
 * reference; NULL with the error set). */
static PyObject *template_value(PyObject *t, PyObject *fresh) {
    if (PyDict_CheckExact(t))
        return PyDict_New();
    if (PyList_CheckExact(t))
        return PyList_New(0);
    for (Py_ssize_t k = 0; fresh != NULL && k < PyTuple_GET_SIZE(fresh); k++)
        if ((PyObject *)Py_TYPE(t) == PyTuple_GET_ITEM(fresh, k))
            return fresh_clone(t, fresh);
    return Py_NewRef(t);
}

/* Whether instances of type are all slots that fresh_clone can copy: a class of object's with no __dict__,
 * every member an object slot. (configure_threads checks each fresh type.) */
static int clonable(PyTypeObject *type) {
    if (type->tp_base != &PyBaseObject_Type || type->tp_dictoffset != 0 || type->tp_members == NULL)
        return 0;
    for (PyMemberDef *m = type->tp_members; m->name != NULL; m++)
        if (m->type != T_OBJECT_EX)
            return 0;
    return 1;
}

/* A new instance of t's type made from t, an instance fresh from its class's constructor that nobody
 * changes (the ThreadInfo template's): each slot template_value of t's (an empty dict or list anew, a
 * fresh type's value cloned in turn, the rest shared), as the constructor would make them, without
 * running its Python __init__ (FdTable's, then OrderLog's: two frames a thread). */
static PyObject *fresh_clone(PyObject *t, PyObject *fresh) {
    PyTypeObject *type = Py_TYPE(t);
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL)
        return NULL;
    for (PyMemberDef *m = type->tp_members; m->name != NULL; m++) {
        PyObject *v = *(PyObject **)((char *)t + m->offset);
        if (v == NULL)
            continue;
        if ((v = template_value(v, fresh)) == NULL) {
            Py_DECREF(obj);
            return NULL;
        }
        *(PyObject **)((char *)obj + m->offset) = v;
    }
    return obj;
}

/* A new FdInfo: the template's values, fresh containers for its dict and list ones, then the given
 * slots (references stolen). */
static PyObject *fdinfo_new(PyObject *fd, PyObject *type, PyObject *name, PyObject *open_flags, PyObject *dev,
                            PyObject *ino) {
    PyObject *vals[MAX_FIELDS];
    for (Py_ssize_t i = 0; i < fdinfo_maker.n; i++)
        vals[i] = template_value(fdinfo_template[i], NULL);
#define PUT(idx, value) do { Py_XDECREF(vals[idx]); vals[idx] = (value); } while (0)
    PUT(fi_fd, fd);
    PUT(fi_type, type);
    PUT(fi_name, name);
    PUT(fi_open_flags, open_flags);
    PUT(fi_dev, dev);
    PUT(fi_ino, ino);
#undef PUT
    return maker_new(&fdinfo_maker, vals);
}

/* state/inspector.py's _fd_from_entry of one FDL entry, built here for the entries that name a file, a unix
 * socket or another non-IP fd; fallback(entry) (that same Python function) for the rest: IP sockets,
 * unknown types. A new reference (Py_None for an entry no loader takes), NULL with the error set. */
static PyObject *fd_info_of(PyObject *e, PyObject *fallback) {
    Maker *fe = &fdentry_maker;
    PyObject *info = NULL;
    long t = -1;
    int direct = Py_TYPE(e) == fe->type;
    if (direct) {
        PyObject *type = slot(fe, e, fe_type);
        t = type && PyLong_Check(type) ? PyLong_AsLong(type) : -1;
        if (t == -1 && PyErr_Occurred())
            PyErr_Clear();
        direct = t > 0 && t <= 16 && t != 3 && t != 4 && t != 5 && t != 6 && fd_types[t] != NULL;
        for (int k = 0; direct && k < fe->n; k++)
            direct = slot(fe, e, k) != NULL; /* (a record whose __init__ did not run: Python's) */
    }
    PyObject *name = direct ? sanitized(slot(fe, e, fe_name)) : NULL;
    if (name != NULL) {
        PyObject *fd = slot(fe, e, fe_fd), *ino = slot(fe, e, fe_ino);
        int unix_sock = t == 8, named = PyUnicode_GET_LENGTH(name) != 0;
        if (t == 16) {
            info = fdinfo_new(Py_NewRef(fd), Py_NewRef(fd_types[t]), name, Py_NewRef(slot(fe, e, fe_open_flags)),
                              Py_NewRef(slot(fe, e, fe_dev)), Py_NewRef(ino));
        } else {
            info = fdinfo_new(Py_NewRef(fd), Py_NewRef(fd_types[t]), name, PyLong_FromLong(0), PyLong_FromLong(0),
                              Py_NewRef(ino));
        }
        if (info != NULL && unix_sock) {
            Maker *fi = &fdinfo_maker;
            PyObject **src = (PyObject **)((char *)info + fi->off[fi_unix_source]);
            PyObject **dst = (PyObject **)((char *)info + fi->off[fi_unix_dest]);
            PyObject **role = (PyObject **)((char *)info + fi->off[fi_role]);
            Py_SETREF(*src, Py_NewRef(slot(fe, e, fe_source)));
            Py_SETREF(*dst, Py_NewRef(slot(fe, e, fe_dest)));
            Py_SETREF(*role, Py_NewRef(named ? role_server : role_client));
        }
        return info;
    }
    if (direct && PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(fallback, e);
}

/* fd_infos(entries, fallback) -> [FdInfo or None]: fd_info_of each entry. */
static PyObject *fd_infos(PyObject *self, PyObject *args) {
    PyObject *entries, *fallback;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &entries, &fallback))
        return NULL;
    if (!state_configured) {
        PyErr_SetString(PyExc_RuntimeError, "fd_infos: not configured");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(entries);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *info = fd_info_of(PyList_GET_ITEM(entries, i), fallback);
        if (info == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, info);
    }
    return out;
}

/* An OrderLog operation appended to ops (a new reference stolen), then the log folded (order.fold()) once
 * it holds fold_at operations, as OrderLog.insert and .erase do. -1 with the error set. */
static int log_op(PyObject *order, PyObject *ops, PyObject *op) {
    if (op == NULL)
        return -1;
    int rc = PyList_Append(ops, op);
    Py_DECREF(op);
    if (rc < 0)
        return -1;
    if (PyList_GET_SIZE(ops) >= fold_at) {
        PyObject *r = PyObject_CallMethodNoArgs(order, str_fold);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* load_fds(table, entries, fallback) -> None: FdTable.load(info) (state/fds.py) of each fd_info_of(entry,
 * fallback) that is not None, in the list's order: a repeated fd is erased from the table's OrderLog and
 * inserted again, a new one inserted, and the table's dict maps the fd to its new FdInfo. */
static PyObject *load_fds(PyObject *self, PyObject *args) {
    PyObject *table, *entries, *fallback;
    if (!PyArg_ParseTuple(args, "OO!O", &table, &PyList_Type, &entries, &fallback))
        return NULL;
    if (!state_configured || erase_op == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "load_fds: not configured");
        return NULL;
    }
    PyObject *fds = PyObject_GetAttr(table, str_fds);
    PyObject *order = fds ? PyObject_GetAttr(table, str_order) : NULL;
    PyObject *ops = order ? PyObject_GetAttr(order, str_ops) : NULL;
    if (ops != NULL && (!PyDict_CheckExact(fds) || !PyList_CheckExact(ops))) {
        PyErr_SetString(PyExc_TypeError, "load_fds: an FdTable (fds a dict, order.ops a list)");
        Py_CLEAR(ops);
    }
    if (ops == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *info = fd_info_of(PyList_GET_ITEM(entries, i), fallback);
        if (info == NULL)
            goto error;
        if (info == Py_None) {
            Py_DECREF(info);
            continue;
        }
        PyObject *fd = Py_TYPE(info) == fdinfo_maker.type ? Py_XNewRef(slot(&fdinfo_maker, info, fi_fd))
                                                          : PyObject_GetAttr(info, str_fd);
        if (fd == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_AttributeError, "fd");
            Py_DECREF(info);
            goto error;
        }
        int held = PyDict_Contains(fds, fd);
        int bad = held < 0 || (held && log_op(order, ops, PyNumber_Add(fd, erase_op)) < 0) ||
                  log_op(order, ops, Py_NewRef(fd)) < 0 || PyDict_SetItem(fds, fd, info) < 0;
        Py_DECREF(fd);
        Py_DECREF(info);
        if (bad)
            goto error;
    }
    Py_DECREF(ops);
    Py_DECREF(order);
    Py_DECREF(fds);
    Py_RETURN_NONE;
error:
    Py_XDECREF(ops);
    Py_XDECREF(order);
    Py_XDECREF(fds);
    return NULL;
}

/* configure_fdload(erase, fold_at) from sysdig_user/state/inspector.py: state/fdorder.py's _ERASE (added to a
 * key for an erase in an OrderLog) and _FOLD_AT (the operations an OrderLog holds before it folds them). */
static PyObject *configure_fdload(PyObject *self, PyObject *args) {
    PyObject *erase;
    Py_ssize_t at;
    if (!PyArg_ParseTuple(args, "O!n", &PyLong_Type, &erase, &at))
        return NULL;
    if (erase_op != NULL)
        Py_RETURN_NONE;
    if (at < 1) {
        PyErr_SetString(PyExc_ValueError, "configure_fdload: fold_at must be positive");
        return NULL;
    }
    str_fds = PyUnicode_InternFromString("fds");
    str_order = PyUnicode_InternFromString("order");
    str_ops = PyUnicode_InternFromString("ops");
    str_fold = PyUnicode_InternFromString("fold");
    str_fd = PyUnicode_InternFromString("fd");
    if (str_fds == NULL || str_order == NULL || str_ops == NULL || str_fold == NULL || str_fd == NULL)
        return NULL;
    fold_at = at;
    erase_op = Py_NewRef(erase);
    Py_RETURN_NONE;
}

/* A ProcEntry's cwd that _load_procs keeps as it is: absolute, printable ASCII, nothing to fold. */
static int canonical_cwd(PyObject *cwd) {
    if (!PyUnicode_Check(cwd) || !PyUnicode_IS_ASCII(cwd))
        return 0;
    const unsigned char *p = PyUnicode_1BYTE_DATA(cwd);
    Py_ssize_t n = PyUnicode_GET_LENGTH(cwd);
    if (n == 0 || p[0] != '/')
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e)
            return 0;
        if (p[i] == '/' && i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.'))
            return 0;
    }
    return 1;
}

static int has_io_cgroup(PyObject *list) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *c = PyList_GET_ITEM(list, i);
        if (!PyUnicode_Check(c))
            return 1;
        if (PyUnicode_GET_LENGTH(c) >= 3 && PyUnicode_READ_CHAR(c, 0) == 'i' && PyUnicode_READ_CHAR(c, 1) == 'o' &&
            PyUnicode_READ_CHAR(c, 2) == '=')
            return 1;
    }
    return 0;
}

/* One ThreadInfo as inspector._thread_from_entry builds it, or NULL with no error set: that entry is
 * for the Python function (a cwd to fold, an io= cgroup). */
static PyObject *thread_info(PyObject *e) {
    PyObject *args = slot(&proc_maker, e, thread_from[th_args]);
    PyObject *cwd = slot(&proc_maker, e, thread_from[th_cwd]);
    PyObject *env = slot(&proc_maker, e, thread_from[th_env]);
    PyObject *cgroups = slot(&proc_maker, e, thread_from[th_cgroups]);
    PyObject *flags = slot(&proc_maker, e, thread_from[th_flags]);
    for (Py_ssize_t i = 0; i < proc_maker.n; i++)
        if (slot(&proc_maker, e, (int)i) == NULL)
            return NULL; /* (a record whose __init__ did not run: Python's) */
    if (!PyList_CheckExact(args) || !PyList_CheckExact(env) || !PyList_CheckExact(cgroups) || !PyLong_Check(flags) ||
        !canonical_cwd(cwd) || has_io_cgroup(cgroups))
        return NULL;
    PyObject *vals[MAX_FIELDS];
    for (Py_ssize_t i = 0; i < thread_maker.n; i++) {
        PyObject *v;
        if (i == th_args || i == th_cgroups) {
            PyObject *src = i == th_args ? args : cgroups;
            v = PyList_GetSlice(src, 0, PyList_GET_SIZE(src));
        } else if (i == th_env) {
            Py_ssize_t n = PyList_GET_SIZE(env);
            while (n > 0) { /* threads.env_entries: trailing empty entries dropped */
                PyObject *last = PyList_GET_ITEM(env, n - 1);
                if (!PyUnicode_Check(last) || PyUnicode_GET_LENGTH(last) != 0)
                    break;
                n--;
            }
            v = PyList_GetSlice(env, 0, n);
        } else if (i == th_cwd) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(cwd); /* threads.normalize_cwd: a trailing '/' */
            v = PyUnicode_1BYTE_DATA(cwd)[n - 1] == '/' ? Py_NewRef(cwd) : PyUnicode_FromFormat("%U/", cwd);
        } else if (i == th_flags) {
            PyObject *bit = PyLong_FromLong(cl_active);
            v = bit ? PyNumber_Or(flags, bit) : NULL;
            Py_XDECREF(bit);
        } else if (thread_from[i] >= 0) {
            v = Py_NewRef(slot(&proc_maker, e, thread_from[i]));
        } else {
            v = template_value(thread_template[i], fresh_types);
        }
        vals[i] = v;
    }
    return maker_new(&thread_maker, vals);
}

/* thread_infos(entries, fallback) -> [ThreadInfo]: inspector._thread_from_entry of each ProcEntry, built
 * here, or by fallback(entry) (that function) for a cwd to fold or an io= cgroup. */
static PyObject *thread_infos(PyObject *self, PyObject *args) {
    PyObject *entries, *fallback;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &entries, &fallback))
        return NULL;
    if (thread_maker.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "thread_infos: not configured");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(entries);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(entries, i);
        PyObject *th = Py_TYPE(e) == proc_maker.type ? thread_info(e) : NULL;
        if (th == NULL && !PyErr_Occurred())
            th = PyObject_CallOneArg(fallback, e);
        if (th == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, th);
    }
    return out;
}

/* An FdInfo's field (a new reference): its slot, or the attribute for another class or an unset slot. */
static PyObject *fd_field(PyObject *info, int i, const char *name) {
    if (Py_TYPE(info) == fdinfo_maker.type) {
        PyObject *v = slot(&fdinfo_maker, info, i);
        if (v != NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttrString(info, name);
}

/* a == b for ip_sockets' types: two ints (an FdType member is one) compared by value without the generic
 * comparison's dispatch, when neither type overrides int's; anything else by PyObject_RichCompareBool. */
static int int_eq(PyObject *a, PyObject *b) {
    if (a == b)
        return 1;
    if (PyLong_Check(a) && PyLong_Check(b) && Py_TYPE(a)->tp_richcompare == PyLong_Type.tp_richcompare &&
        Py_TYPE(b)->tp_richcompare == PyLong_Type.tp_richcompare) {
        int oa, ob;
        long x = PyLong_AsLongAndOverflow(a, &oa), y = PyLong_AsLongAndOverflow(b, &ob);
        if (!oa && !ob)
            return x == y;
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* ip_sockets(tables, servsock, sock) -> (ports, socks): what inspector's _fix_sockets_from_proc reads from
 * every fd of the FdTables given: the set of the sport of each fd whose type == servsock, and the list of
 * the fds whose type == sock and whose role is false, in the tables' and their dicts' order. */
static PyObject *ip_sockets(PyObject *self, PyObject *args) {
    PyObject *tables, *servsock, *sock;
    if (!PyArg_ParseTuple(args, "OOO", &tables, &servsock, &sock))
        return NULL;
    if (!state_configured || str_fds == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ip_sockets: not configured");
        return NULL;
    }
    PyObject *ports = PySet_New(NULL), *socks = PyList_New(0), *it = PyObject_GetIter(tables), *table;
    if (ports == NULL || socks == NULL || it == NULL)
        goto error;
    while ((table = PyIter_Next(it)) != NULL) {
        PyObject *fds = PyObject_GetAttr(table, str_fds);
        Py_DECREF(table);
        if (fds == NULL)
            goto error;
        if (!PyDict_Check(fds)) {
            Py_DECREF(fds);
            PyErr_SetString(PyExc_TypeError, "ip_sockets: an FdTable's fds is a dict");
            goto error;
        }
        PyObject *key, *info;
        Py_ssize_t pos = 0;
        int bad = 0;
        while (!bad && PyDict_Next(fds, &pos, &key, &info)) {
            Py_INCREF(info);
            PyObject *type = fd_field(info, fi_type, "type");
            int is_serv = type ? int_eq(type, servsock) : -1;
            int is_sock = is_serv == 0 ? int_eq(type, sock) : 0;
            Py_XDECREF(type);
            if (is_serv < 0 || is_sock < 0) {
                bad = 1;
            } else if (is_serv) {
                PyObject *sport = fd_field(info, fi_sport, "sport");
                bad = sport == NULL || PySet_Add(ports, sport) < 0;
                Py_XDECREF(sport);
            } else if (is_sock) {
                PyObject *role = fd_field(info, fi_role, "role");
                int set = role ? PyObject_IsTrue(role) : -1;
                Py_XDECREF(role);
                bad = set < 0 || (!set && PyList_Append(socks, info) < 0);
            }
            Py_DECREF(info);
        }
        Py_DECREF(fds);
        if (bad)
            goto error;
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    return Py_BuildValue("(NN)", ports, socks);
error:
    Py_XDECREF(it);
    Py_XDECREF(ports);
    Py_XDECREF(socks);
    return NULL;
}

static PyMethodDef methods[] = {
    {"configure_entries", configure_entries, METH_VARARGS, "Take the entry classes to build (once)."},
    {"configure", configure, METH_VARARGS, "Take the PL step table (once, after configure_entries)."},
    {"configure_state", configure_state, METH_VARARGS, "Take the FdInfo template and constants (once)."},
    {"configure_threads", configure_threads, METH_VARARGS, "Take the ThreadInfo template (once)."},
    {"thread_infos", thread_infos, METH_VARARGS, "ProcEntry list -> ThreadInfo list, as _thread_from_entry."},
    {"parse_procs", parse_procs, METH_VARARGS, "PL body -> [ProcEntry], or None for the Python parser."},
    {"parse_fds", parse_fds, METH_VARARGS, "FDL body -> (tid, [FdEntry]), or None for the Python parser."},
    {"fd_infos", fd_infos, METH_VARARGS, "FdEntry list -> FdInfo (or None) list, as _fd_from_entry."},
    {"configure_fdload", configure_fdload, METH_VARARGS, "Take the FdTable order log's constants (once)."},
    {"load_fds", load_fds, METH_VARARGS, "FdEntry list -> into an FdTable, as FdTable.load of each FdInfo."},
    {"ip_sockets", ip_sockets, METH_VARARGS, "FdTables -> (servsock ports, unset-role socks), as _fix_sockets_from_proc."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sections", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sections(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", SECTIONS_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
