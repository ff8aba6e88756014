/* Native speed-up for watchlist matching: the per-character fold and an Aho–Corasick scan over code points.
 *
 * `alerts.normalise` and `alerts.match` use this module when it was built and fall back to OpenCC and
 * ahocorasick_rs when it was not; both paths give the same results (tests/test_native.py compares them).
 *
 *   Folder(fold, classes)   fold: TABLE code points as native uint32 (what each code point folds to);
 *                           classes: TABLE bytes (the edge class of what each code point folds to)
 *   Folder.fold(text)       the folded string, same length (code points past the table are kept)
 *   Scanner(folder, patterns, edges)
 *                           patterns: folded strings, unique, non-empty; edges: one byte per pattern,
 *                           left class | right class << 2 | 16 when the pattern needs only the edge check
 *   Scanner.scan(text, seam, keep_all)
 *                           every place a pattern occurs in fold(text) (overlapping), as
 *                           (pattern, start, end, edges_ok) in code points, never across the character at
 *                           `seam`; unless keep_all, edge-only patterns that fail their edge are left out.
 *                           Raises UnicodeEncodeError on a lone surrogate, as ahocorasick_rs does.
 *
 * The automaton: node 0 is the root; the root's children by code point sit in a direct array, every
 * other transition in one open-addressing hash table keyed by (node, code point). `link` chains each
 * node to the next shorter suffix that ends a pattern, so overlapping matches cost one step each.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TABLE 0x30000u

/* Strings are always ready since 3.12, where PyUnicode_READY is deprecated; 3.11 may meet legacy ones. */
#if PY_VERSION_HEX < 0x030C0000
#define READY(text) PyUnicode_READY(text)
#else
#define READY(text) 0
#endif
#define EMPTY UINT64_MAX

typedef struct {
    PyObject_HEAD
    uint32_t *fold;
    uint8_t *cls;
} Folder;

typedef struct {
    PyObject_HEAD
    Folder *folder;
    int32_t *root;      /* TABLE entries: child of the root by code point, 0 for none */
    uint64_t *keys;     /* (node << 32) | code point, EMPTY for a free slot */
    int32_t *vals;
    size_t mask;
    int32_t nodes;
    int32_t *fail;
    int32_t *out;       /* the pattern ending at this node, or -1 */
    int32_t *link;      /* the nearest node down the fail chain with out >= 0, or 0 */
    int32_t *depth;
    uint8_t *edges;
    Py_ssize_t patterns;
} Scanner;

static PyTypeObject FolderType;

/* ---- Folder ------------------------------------------------------------------------------------ */

static int
folder_init(Folder *self, PyObject *args, PyObject *kwds)
{
    Py_buffer fold, cls;
    static char *names[] = {"fold", "classes", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*", names, &fold, &cls))
        return -1;
    if (self->fold != NULL) { /* scanners hold this table: it never changes once set */
        PyBuffer_Release(&fold);
        PyBuffer_Release(&cls);
        PyErr_SetString(PyExc_TypeError, "a Folder is initialised once");
        return -1;
    }
    int ok = fold.len == (Py_ssize_t)(TABLE * sizeof(uint32_t)) && cls.len == (Py_ssize_t)TABLE;
    if (ok) {
        self->fold = PyMem_Malloc(TABLE * sizeof(uint32_t));
        self->cls = PyMem_Malloc(TABLE);
        if (self->fold == NULL || self->cls == NULL) {
            PyMem_Free(self->fold);
            PyMem_Free(self->cls);
            self->fold = NULL;
            self->cls = NULL;
            PyBuffer_Release(&fold);
            PyBuffer_Release(&cls);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(self->fold, fold.buf, TABLE * sizeof(uint32_t));
        memcpy(self->cls, cls.buf, TABLE);
        for (uint32_t cp = 0; cp < TABLE; cp++) {
            if (self->fold[cp] > 0x10FFFF || self->cls[cp] > 3) {
                ok = 0;
                break;
            }
        }
    }
    PyBuffer_Release(&fold);
    PyBuffer_Release(&cls);
    if (!ok) {
        PyMem_Free(self->fold);
        PyMem_Free(self->cls);
        self->fold = NULL;
        self->cls = NULL;
        PyErr_SetString(PyExc_ValueError, "fold must hold 0x30000 code points (uint32) and classes 0x30000 bytes (0-3)");
        return -1;
    }
    return 0;
}

static void
folder_dealloc(Folder *self)
{
    PyMem_Free(self->fold);
    PyMem_Free(self->cls);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline Py_UCS4
fold_one(const uint32_t *fold, Py_UCS4 c)
{
    return c < TABLE ? fold[c] : c;
}

static PyObject *
folder_fold(Folder *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "fold() takes a str");
        return NULL;
    }
    if (self->fold == NULL) {
        PyErr_SetString(PyExc_ValueError, "Folder is not initialised");
        return NULL;
    }
    if (READY(text) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const uint32_t *fold = self->fold;
    Py_UCS4 top = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = fold_one(fold, PyUnicode_READ(kind, data, i));
        if (c > top)
            top = c;
    }
    PyObject *out = PyUnicode_New(n, top);
    if (out == NULL)
        return NULL;
    int okind = PyUnicode_KIND(out);
    void *odata = PyUnicode_DATA(out);
    switch (kind) {
    case PyUnicode_1BYTE_KIND:
        for (Py_ssize_t i = 0; i < n; i++)
            PyUnicode_WRITE(okind, odata, i, fold[((const Py_UCS1 *)data)[i]]);
        break;
    case PyUnicode_2BYTE_KIND:
        for (Py_ssize_t i = 0; i < n; i++)
            PyUnicode_WRITE(okind, odata, i, fold[((const Py_UCS2 *)data)[i]]);
        break;
    default:
        for (Py_ssize_t i = 0; i < n; i++)
            PyUnicode_WRITE(okind, odata, i, fold_one(fold, ((const Py_UCS4 *)data)[i]));
    }
    return out;
}

static PyMethodDef folder_methods[] = {
    {"fold", (PyCFunction)folder_fold, METH_O, "The folded text, one code point for one."},
    {NULL, NULL, 0, NULL},
};

/* Both types of this module: a static type made by PyType_GenericNew, set up by `init`, freed by `dealloc`. */
#define SCAN_TYPE(ctype, name, doc, init, dealloc, methods)                                         \
    {                                                                                                \
        PyVarObject_HEAD_INIT(NULL, 0) .tp_name = "wirewatch.alerts._scan." name, .tp_doc = doc,     \
        .tp_basicsize = sizeof(ctype), .tp_flags = Py_TPFLAGS_DEFAULT, .tp_new = PyType_GenericNew,  \
        .tp_init = (initproc)init, .tp_dealloc = (destructor)dealloc, .tp_methods = methods,         \
    }

static PyTypeObject FolderType = SCAN_TYPE(Folder, "Folder", "The per-code-point fold table and edge classes.",
                                           folder_init, folder_dealloc, folder_methods);

/* ---- Scanner: building --------------------------------------------------------------------------- */

static inline uint64_t
key_of(int32_t node, Py_UCS4 c)
{
    return ((uint64_t)(uint32_t)node << 32) | c;
}

static inline size_t
slot_of(uint64_t key, size_t mask)
{
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 32;
    return (size_t)key & mask;
}

static inline int32_t
child(const Scanner *s, int32_t node, Py_UCS4 c)
{
    if (node == 0 && c < TABLE)
        return s->root[c];
    uint64_t key = key_of(node, c);
    size_t i = slot_of(key, s->mask);
    for (;;) {
        uint64_t k = s->keys[i];
        if (k == key)
            return s->vals[i];
        if (k == EMPTY)
            return 0;
        i = (i + 1) & s->mask;
    }
}

static void
put_child(Scanner *s, int32_t node, Py_UCS4 c, int32_t next)
{
    if (node == 0 && c < TABLE) {
        s->root[c] = next;
        return;
    }
    uint64_t key = key_of(node, c);
    size_t i = slot_of(key, s->mask);
    while (s->keys[i] != EMPTY)
        i = (i + 1) & s->mask;
    s->keys[i] = key;
    s->vals[i] = next;
}

static void
scanner_free(Scanner *s)
{
    PyMem_Free(s->root);
    PyMem_Free(s->keys);
    PyMem_Free(s->vals);
    PyMem_Free(s->fail);
    PyMem_Free(s->out);
    PyMem_Free(s->link);
    PyMem_Free(s->depth);
    PyMem_Free(s->edges);
    s->root = NULL;
    s->keys = NULL;
    s->vals = NULL;
    s->fail = s->out = s->link = s->depth = NULL;
    s->edges = NULL;
    s->nodes = 0;
}

/* Insert every pattern, then set fail and output links breadth first. `next`/`first`/`cps` keep each
 * node's children as a list only while building (the hash table cannot be walked by node). */
static int
build(Scanner *s, PyObject *patterns)
{
    Py_ssize_t count = PyList_GET_SIZE(patterns);
    size_t total = 1;
    for (Py_ssize_t p = 0; p < count; p++) {
        PyObject *pattern = PyList_GET_ITEM(patterns, p);
        if (!PyUnicode_Check(pattern) || READY(pattern) < 0 || PyUnicode_GET_LENGTH(pattern) == 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "patterns must be non-empty str");
            return -1;
        }
        total += (size_t)PyUnicode_GET_LENGTH(pattern);
        if (total > INT32_MAX / 4) {
            PyErr_SetString(PyExc_ValueError, "too many pattern characters");
            return -1;
        }
    }
    size_t slots = 16;
    while (slots < 2 * total)
        slots <<= 1;
    s->mask = slots - 1;
    s->root = PyMem_Calloc(TABLE, sizeof(int32_t));
    s->keys = PyMem_Malloc(slots * sizeof(uint64_t));
    s->vals = PyMem_Malloc(slots * sizeof(int32_t));
    s->fail = PyMem_Calloc(total, sizeof(int32_t));
    s->out = PyMem_Malloc(total * sizeof(int32_t));
    s->link = PyMem_Calloc(total, sizeof(int32_t));
    s->depth = PyMem_Calloc(total, sizeof(int32_t));
    int32_t *first = PyMem_Calloc(total, sizeof(int32_t)); /* first child + 1, 0 for none */
    int32_t *next = PyMem_Calloc(total, sizeof(int32_t));  /* next sibling + 1 */
    Py_UCS4 *cps = PyMem_Calloc(total, sizeof(Py_UCS4));   /* the code point leading to the node */
    int32_t *queue = PyMem_Malloc(total * sizeof(int32_t));
    int rc = -1;
    if (!s->root || !s->keys || !s->vals || !s->fail || !s->out || !s->link || !s->depth || !first || !next
        || !cps || !queue) {
        PyErr_NoMemory();
        goto done;
    }
    memset(s->keys, 0xff, slots * sizeof(uint64_t));
    for (size_t i = 0; i < total; i++)
        s->out[i] = -1;
    int32_t nodes = 1;
    for (Py_ssize_t p = 0; p < count; p++) {
        PyObject *pattern = PyList_GET_ITEM(patterns, p);
        Py_ssize_t n = PyUnicode_GET_LENGTH(pattern);
        int kind = PyUnicode_KIND(pattern);
        const void *data = PyUnicode_DATA(pattern);
        int32_t node = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            int32_t to = child(s, node, c);
            if (to == 0) {
                to = nodes++;
                put_child(s, node, c, to);
                s->depth[to] = s->depth[node] + 1;
                cps[to] = c;
                next[to] = first[node];
                first[node] = to + 1;
            }
            node = to;
        }
        if (s->out[node] >= 0) {
            PyErr_Format(PyExc_ValueError, "pattern %zd repeats pattern %d", p, s->out[node]);
            goto done;
        }
        s->out[node] = (int32_t)p;
    }
    s->nodes = nodes;
    Py_ssize_t head = 0, tail = 0;
    for (int32_t v = first[0]; v; v = next[v - 1])
        queue[tail++] = v - 1; /* depth 1: fail to the root */
    while (head < tail) {
        int32_t u = queue[head++];
        for (int32_t v1 = first[u]; v1; v1 = next[v1 - 1]) {
            int32_t v = v1 - 1;
            Py_UCS4 c = cps[v];
            int32_t f = s->fail[u], to;
            for (;;) {
                to = child(s, f, c);
                if (to != 0 || f == 0)
                    break;
                f = s->fail[f];
            }
            s->fail[v] = to;
            s->link[v] = s->out[to] >= 0 ? to : s->link[to];
            queue[tail++] = v;
        }
    }
    rc = 0;
done:
    PyMem_Free(first);
    PyMem_Free(next);
    PyMem_Free(cps);
    PyMem_Free(queue);
    return rc;
}

static int
scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    PyObject *folder, *patterns;
    Py_buffer edges;
    static char *names[] = {"folder", "patterns", "edges", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!y*", names, &FolderType, &folder, &PyList_Type,
                                     &patterns, &edges))
        return -1;
    if (self->folder != NULL) { /* never free tables a scan() further up the stack may be reading */
        PyBuffer_Release(&edges);
        PyErr_SetString(PyExc_TypeError, "a Scanner is initialised once");
        return -1;
    }
    int rc = -1;
    if (((Folder *)folder)->fold == NULL) {
        PyErr_SetString(PyExc_ValueError, "Folder is not initialised");
    } else if (edges.len != PyList_GET_SIZE(patterns)) {
        PyErr_SetString(PyExc_ValueError, "edges must hold one byte per pattern");
    } else if ((self->edges = PyMem_Malloc(edges.len + 1)) == NULL) {
        PyErr_NoMemory();
    } else {
        memcpy(self->edges, edges.buf, edges.len);
        self->patterns = edges.len;
        Py_INCREF(folder);
        self->folder = (Folder *)folder;
        rc = build(self, patterns);
    }
    PyBuffer_Release(&edges);
    if (rc < 0) {
        scanner_free(self);
        Py_CLEAR(self->folder);
    }
    return rc;
}

static void
scanner_dealloc(Scanner *self)
{
    scanner_free(self);
    Py_CLEAR(self->folder);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- Scanner: scanning --------------------------------------------------------------------------- */

static inline uint8_t
class_at(const uint8_t *cls, int kind, const void *data, Py_ssize_t i)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    return c < TABLE ? cls[c] : 0;
}

static int
emit(PyObject *hits, const Scanner *s, int kind, const void *data, Py_ssize_t n, Py_ssize_t seam, int keep_all,
     int32_t pid, Py_ssize_t start, Py_ssize_t end)
{
    if (start <= seam && seam < end)
        return 0;
    uint8_t edge = s->edges[pid], left = edge & 3, right = (edge >> 2) & 3;
    const uint8_t *cls = s->folder->cls;
    int ok = 1;
    if (left && start > 0)
        ok = class_at(cls, kind, data, start - 1) != left;
    if (ok && right && end < n)
        ok = class_at(cls, kind, data, end) != right;
    if (!ok && !keep_all && (edge & 16))
        return 0;
    PyObject *hit = PyTuple_New(4);
    if (hit == NULL)
        return -1;
    PyObject *a = PyLong_FromLong(pid), *b = PyLong_FromSsize_t(start), *c = PyLong_FromSsize_t(end);
    if (a == NULL || b == NULL || c == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(c);
        Py_DECREF(hit);
        return -1;
    }
    PyTuple_SET_ITEM(hit, 0, a);
    PyTuple_SET_ITEM(hit, 1, b);
    PyTuple_SET_ITEM(hit, 2, c);
    PyTuple_SET_ITEM(hit, 3, PyBool_FromLong(ok));
    int rc = PyList_Append(hits, hit);
    Py_DECREF(hit);
    return rc;
}

static PyObject *
scanner_scan(Scanner *self, PyObject *args)
{
    PyObject *text;
    Py_ssize_t seam;
    int keep_all;
    if (!PyArg_ParseTuple(args, "Unp", &text, &seam, &keep_all))
        return NULL;
    if (self->folder == NULL) {
        PyErr_SetString(PyExc_ValueError, "Scanner is not initialised");
        return NULL;
    }
    PyObject *hits = PyList_New(0);
    if (hits == NULL)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const uint32_t *fold = self->folder->fold;
    int32_t state = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (kind != PyUnicode_1BYTE_KIND && c >= 0xD800 && c < 0xE000) {
            Py_DECREF(hits);
            PyObject *exc = PyObject_CallFunction(PyExc_UnicodeEncodeError, "sOnns", "utf-8", text, i, i + 1,
                                                  "surrogates not allowed");
            if (exc != NULL) {
                PyErr_SetObject(PyExc_UnicodeEncodeError, exc);
                Py_DECREF(exc);
            }
            return NULL;
        }
        c = fold_one(fold, c);
        for (;;) {
            int32_t to = child(self, state, c);
            if (to != 0) {
                state = to;
                break;
            }
            if (state == 0)
                break;
            state = self->fail[state];
        }
        int32_t t = self->out[state] >= 0 ? state : self->link[state];
        while (t > 0) {
            if (emit(hits, self, kind, data, n, seam, keep_all, self->out[t], i + 1 - self->depth[t], i + 1) < 0) {
                Py_DECREF(hits);
                return NULL;
            }
            t = self->link[t];
        }
    }
    return hits;
}

static PyObject *
scanner_size(Scanner *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(self->nodes);
}

static PyMethodDef scanner_methods[] = {
    {"scan", (PyCFunction)scanner_scan, METH_VARARGS,
     "Every pattern occurrence in the folded text: (pattern, start, end, edges_ok)."},
    {"nodes", (PyCFunction)scanner_size, METH_NOARGS, "The number of automaton states."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = SCAN_TYPE(Scanner, "Scanner",
                                            "An Aho–Corasick automaton over folded code points, with edge checks.",
                                            scanner_init, scanner_dealloc, scanner_methods);

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "wirewatch.alerts._scan",
    .m_doc = "Native fold and Aho–Corasick scan for watchlist matching (optional; see alerts/match.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&FolderType) < 0 || PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Folder", (PyObject *)&FolderType) < 0
        || PyModule_AddObjectRef(m, "Scanner", (PyObject *)&ScannerType) < 0
        || PyModule_AddIntConstant(m, "TABLE", TABLE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
