/* `lscc export` (export.h): the trained weights file written back into the
 * ONNX model, through the protobuf-c reader generated from onnx.proto (the
 * whole ModelProto is unpacked, edited and packed again; fields lscc does
 * not know stay as they were). */
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../emit/lower.h"
#include "onnx.pb-c.h"
#include "weights_format.h"

#define EXPORT_TILE ((int64_t)1 << 16) /* buffers do not depend on the tile: any tile that plans */

/* ---- interned names: every tensor name of the ONNX graph gets an id ---- */

typedef struct names {
    char **s;         /* owned copies */
    int n, cap;
    int *slot;        /* open addressing: id or -1 */
    size_t nslot;
} names;

static size_t hash_str(const char *s) { return (size_t)lscc_wf_fnv1a(LSCC_WF_FNV_INIT, s, strlen(s)); }

static int names_find(const names *t, const char *s) {
    if (!t->nslot) return -1;
    for (size_t h = hash_str(s) & (t->nslot - 1);; h = (h + 1) & (t->nslot - 1)) {
        int id = t->slot[h];
        if (id < 0) return -1;
        if (!strcmp(t->s[id], s)) return id;
    }
}

static int names_grow(names *t) {
    size_t ns = t->nslot ? 2 * t->nslot : 1024;
    int *slot = malloc(sizeof(int) * ns);
    if (!slot) return -1;
    for (size_t i = 0; i < ns; i++) slot[i] = -1;
    for (int id = 0; id < t->n; id++) {
        size_t h = hash_str(t->s[id]) & (ns - 1);
        while (slot[h] >= 0) h = (h + 1) & (ns - 1);
        slot[h] = id;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = ns;
    return 0;
}

/* The id of s, added when new; -1 when out of memory. */
static int names_intern(names *t, const char *s) {
    int id = names_find(t, s);
    if (id >= 0) return id;
    if ((size_t)(t->n + 1) * 2 > t->nslot && names_grow(t)) return -1;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        char **ns = realloc(t->s, sizeof(char *) * (size_t)cap);
        if (!ns) return -1;
        t->s = ns;
        t->cap = cap;
    }
    char *c = lscc_strdup(s);
    if (!c) return -1;
    t->s[t->n] = c;
    size_t h = hash_str(s) & (t->nslot - 1);
    while (t->slot[h] >= 0) h = (h + 1) & (t->nslot - 1);
    t->slot[h] = t->n;
    return t->n++;
}

static void names_free(names *t) {
    for (int i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->slot);
}

/* ---- the export state ---- */

typedef struct ex {
    const lscc_export_options *o;
    lscc_options opt;      /* o->opt with the tile export plans with */
    lscc_export_report *r;
    lscc_diag *d;
    lscc_diag bad;         /* buffers that cannot be written: all listed at the end */
    int nbad;
    Onnx__ModelProto *mp;
    Onnx__GraphProto *gp;
    const lscc_prog *g;
    const lscc_graph *ir;
    int esize;
    const double *wv;      /* the weights file's values */
    names nm;
    int nbase;             /* ids below this are names of the original graph */
    int *prod;             /* [nbase] ONNX node writing the name, or -1 */
    int *init;             /* [nbase] initializer index, or -1 */
    char *refd;            /* [nbase] read by a node or a graph output, before any edit */
    int **in;              /* per node, per input: id of the name (-1 for "") */
    int **res;             /* the same through Identity / Dropout aliases */
    int *onnx2ir, *ir2onnx, *bn_of; /* node maps; bn_of: per IR conv, the ONNX BatchNorm folded into it */
    char *removing;        /* per ONNX node: removed by the export */
    size_t nnode0;         /* nodes of the original graph */
} ex;

static lscc_status oom(ex *E) { return lscc_error(E->d, LSCC_E_NOMEM, "out of memory while exporting"); }

static void unmappable(ex *E, const char *fmt, const char *a, const char *b) {
    if (E->nbad++ < 200) {
        char line[1600];
        snprintf(line, sizeof line, fmt, a, b ? b : "");
        lscc_note(&E->bad, "%s", line);
    }
}

static const char *str_or(const char *s) { return s ? s : ""; }

static int is_alias(const Onnx__NodeProto *n) {
    int dom = !n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx");
    return dom && n->op_type && (!strcmp(n->op_type, "Identity") || !strcmp(n->op_type, "Dropout")) &&
           n->n_input >= 1 && n->input[0][0] && n->n_output >= 1;
}

static int is_op(const Onnx__NodeProto *n, const char *op) { return n->op_type && !strcmp(n->op_type, op); }

/* The name id reaches through Identity / Dropout nodes to its source. */
static int resolve(const ex *E, int id) {
    for (size_t steps = 0; id >= 0 && id < E->nbase && steps <= E->nnode0; steps++) {
        int j = E->prod[id];
        if (j < 0 || !is_alias(E->gp->node[j])) break;
        id = E->in[j][0];
    }
    return id;
}

static int64_t tensor_count(const Onnx__TensorProto *tp) {
    int64_t c = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || (tp->dims[i] && c > ((int64_t)1 << 50) / tp->dims[i])) return -1;
        c *= tp->dims[i];
    }
    return c;
}

/* ---- reading the inputs ---- */

static lscc_status read_all(ex *E, const char *path, unsigned char **buf, size_t *len, const char *what) {
    FILE *f = fopen(path, "rb");
    if (!f) return lscc_error(E->d, LSCC_E_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    unsigned char *b = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return oom(E);
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return lscc_error(E->d, LSCC_E_IO, "cannot read %s '%s'", what, path);
    }
    *buf = b;
    *len = n;
    return LSCC_OK;
}

/* The buffer table of the model lowered with opt (layout checksum as
 * emit_c.c's write_weights computes it, for esize-byte elements). */
static lscc_status lower_model(const char *path, const lscc_options *opt, lscc_model **m, lscc_plan **p, lscc_prog **g,
                               lscc_diag *d) {
    *m = NULL;
    *p = NULL;
    *g = NULL;
    lscc_status st = lscc_model_load(path, opt, m, d);
    if (!st) st = lscc_plan_build(*m, opt, p, d);
    if (!st) st = lscc_lower(*p, opt->train_bn_affine, g, d);
    return st;
}

static uint64_t layout_of(const lscc_prog *g, int esize) {
    uint64_t h = lscc_wf_layout_begin(esize, g->weights_count);
    for (int k = 0; k < g->nbuf; k++)
        h = lscc_wf_layout_add(h, g->buf[k].name, g->buf[k].rank, g->buf[k].dims, g->buf[k].offset,
                               g->buf[k].trainable);
    return h;
}

/* Does the other --train-bn-affine setting give this layout? */
static int other_bn_matches(const lscc_export_options *o, const lscc_options *used, int esize, size_t count,
                            uint64_t layout) {
    lscc_options opt = *used;
    opt.train_bn_affine = !opt.train_bn_affine;
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_model *m;
    lscc_plan *p;
    lscc_prog *g;
    int match = !lower_model(o->model, &opt, &m, &p, &g, &d) && g->weights_count == count && layout_of(g, esize) == layout;
    lscc_prog_free(g);
    lscc_plan_free(p);
    lscc_model_free(m);
    lscc_diag_free(&d);
    return match;
}

/* Reads and checks the weights file against the lowered model. */
static lscc_status read_weights(ex *E, uint64_t model_sum, double **out) {
    const lscc_export_options *o = E->o;
    unsigned char *buf = NULL;
    size_t len = 0;
    lscc_status st = read_all(E, o->weights, &buf, &len, "weights file");
    if (st) return st;
    const unsigned char *h = buf;
    if (len < 12 || memcmp(h, LSCC_WF_MAGIC, 8)) {
        free(buf);
        return lscc_error(E->d, LSCC_E_INVALID, "'%s' is not an lscc weights file", o->weights);
    }
    uint32_t version = (uint32_t)lscc_wf_get64(h + 8);
    if (len < LSCC_WF_HEADER || version != LSCC_WF_VERSION) {
        free(buf);
        if (version != LSCC_WF_VERSION)
            return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' has format version %u; this lscc reads version %u",
                              o->weights, version, LSCC_WF_VERSION);
        return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' is truncated (%zu bytes, no whole header)", o->weights,
                          len);
    }
    uint64_t es = lscc_wf_get64(h + 8) >> 32, count = lscc_wf_get64(h + 16), layout = lscc_wf_get64(h + 24);
    uint64_t data_sum = lscc_wf_get64(h + 32), msum = lscc_wf_get64(h + 40);
    if (es != 4 && es != 8) {
        free(buf);
        return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' has %llu-byte elements; lscc writes 4 (float32) or "
                          "8 (float64)", o->weights, (unsigned long long)es);
    }
    E->esize = (int)es;
    E->r->esize = (int)es;
    if (o->esize && (uint64_t)o->esize != es) {
        free(buf);
        return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' holds %s values, but --precision %s was given: these "
                          "weights come from code generated with --precision %s", o->weights,
                          es == 8 ? "float64" : "float32", o->esize == 8 ? "f64" : "f32", es == 8 ? "f64" : "f32");
    }
    if (count > ((uint64_t)1 << 50) || len - LSCC_WF_HEADER != count * es) {
        free(buf);
        return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' is %s: %zu bytes of data, its header says %llu "
                          "values of %llu bytes", o->weights, len - LSCC_WF_HEADER < count * es ? "truncated" :
                          "longer than its header says", len - LSCC_WF_HEADER, (unsigned long long)count,
                          (unsigned long long)es);
    }
    if (lscc_wf_fnv1a(LSCC_WF_FNV_INIT, h + LSCC_WF_HEADER, count * es) != data_sum) {
        free(buf);
        return lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' is corrupt (data checksum mismatch)", o->weights);
    }
    int model_differs = msum != model_sum;
    if (count != E->g->weights_count || layout != layout_of(E->g, (int)es)) {
        free(buf);
        st = lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' does not fit '%s' as lowered with these options "
                        "(layout checksum mismatch)", o->weights, o->model);
        if (!model_differs && other_bn_matches(o, &E->opt, (int)es, (size_t)count, layout))
            lscc_note(E->d, "were these weights generated %s --train-bn-affine? They fit the model lowered %s it: %s "
                      "--train-bn-affine", o->opt.train_bn_affine ? "without" : "with",
                      o->opt.train_bn_affine ? "without" : "with", o->opt.train_bn_affine ? "drop" : "pass");
        else if (model_differs)
            lscc_note(E->d, "they were saved by code generated from another ONNX file (model checksum %016llx, "
                      "'%s' has %016llx): give the model the code was generated from",
                      (unsigned long long)msum, o->model, (unsigned long long)model_sum);
        else
            lscc_note(E->d, "give the options the code was generated with that change its weights: --split, "
                      "--train-bn-affine (and the same lscc version)");
        return st;
    }
    if (model_differs && !o->force) {
        free(buf);
        st = lscc_error(E->d, LSCC_E_INVALID, "weights file '%s' was saved by code generated from another ONNX file "
                        "(model checksum %016llx; '%s' has %016llx)", o->weights, (unsigned long long)msum, o->model,
                        (unsigned long long)model_sum);
        lscc_note(E->d, "the buffer layout agrees, so this may be the same model saved again: pass --force to export "
                  "into '%s' anyway", o->model);
        return st;
    }
    E->r->model_mismatch = model_differs;
    double *v = malloc(sizeof(double) * (count ? count : 1));
    if (!v) {
        free(buf);
        return oom(E);
    }
    for (size_t i = 0; i < count; i++) {
        if (es == 8) memcpy(&v[i], h + LSCC_WF_HEADER + 8 * i, 8);
        else {
            float f;
            memcpy(&f, h + LSCC_WF_HEADER + 4 * i, 4);
            v[i] = f;
        }
    }
    free(buf);
    *out = v;
    return LSCC_OK;
}

/* ---- the ONNX side ---- */

static void set_data(Onnx__TensorProto *tp, unsigned char *bytes, size_t len) {
    free(tp->raw_data.data);
    tp->raw_data.data = bytes;
    tp->raw_data.len = len;
    tp->has_raw_data = 1;
    free(tp->float_data);
    tp->float_data = NULL;
    tp->n_float_data = 0;
    free(tp->double_data);
    tp->double_data = NULL;
    tp->n_double_data = 0;
}

/* Protobuf files stop at 2 GiB: the export inlines external data below that. */
#define INLINE_MAX ((uint64_t)2000 << 20)

/* An initializer kept in an external file (ONNX's location / offset /
 * length, or PyTorch's one file per tensor) gets its bytes inline: the
 * output may be written anywhere. The location must stay inside the
 * model's directory, as for the loader. */
static lscc_status inline_external(ex *E, Onnx__TensorProto *tp, uint64_t *total) {
    const char *loc = NULL, *name = tp->name ? tp->name : "";
    long long off = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v) continue;
        if (!strcmp(k, "location")) loc = v;
        else if (!strcmp(k, "offset")) off = strtoll(v, NULL, 10);
        else if (!strcmp(k, "length")) length = strtoll(v, NULL, 10);
    }
    size_t es = lscc_dtype_size(tp->data_type);
    int64_t n = tensor_count(tp);
    if (!loc || !loc[0] || loc[0] == '/' || strstr(loc, "..") || off < 0 || !es || n < 0)
        return lscc_error(E->d, LSCC_E_INVALID, "initializer '%s': external data lscc cannot read (location '%s')",
                          name, loc ? loc : "");
    uint64_t want = (uint64_t)n * es;
    if (length >= 0 && (uint64_t)length != want)
        return lscc_error(E->d, LSCC_E_INVALID, "initializer '%s': external data length %lld, its shape needs %llu "
                          "bytes", name, length, (unsigned long long)want);
    *total += want;
    if (*total > INLINE_MAX)
        return lscc_error(E->d, LSCC_E_UNSUPPORTED, "the model keeps over 2 GiB of initializers in external files; lscc "
                          "export writes one ONNX file with inline data, which protobuf limits to 2 GiB");
    char path[4096];
    const char *slash = strrchr(E->o->model, '/');
    if (slash) snprintf(path, sizeof path, "%.*s/%s", (int)(slash - E->o->model), E->o->model, loc);
    else snprintf(path, sizeof path, "%s", loc);
    unsigned char *b = malloc(want ? want : 1);
    if (!b) return oom(E);
    FILE *f = fopen(path, "rb");
    int ok = f && fseek(f, (long)off, SEEK_SET) == 0 && fread(b, 1, want, f) == want;
    if (f) fclose(f);
    if (!ok) {
        free(b);
        return lscc_error(E->d, LSCC_E_IO, "initializer '%s': cannot read %llu bytes at offset %lld of external data "
                          "file '%s'", name, (unsigned long long)want, off, path);
    }
    set_data(tp, b, want);
    for (size_t i = 0; i < tp->n_external_data; i++)
        onnx__string_string_entry_proto__free_unpacked(tp->external_data[i], NULL);
    free(tp->external_data);
    tp->external_data = NULL;
    tp->n_external_data = 0;
    tp->has_data_location = 0;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
    return LSCC_OK;
}

static lscc_status index_graph(ex *E) {
    Onnx__GraphProto *gp = E->gp;
    uint64_t total = 0;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
            lscc_status st = inline_external(E, tp, &total);
            if (st) return st;
        }
        if (!tp->name || names_intern(&E->nm, tp->name) < 0) return tp->name ? oom(E) : lscc_error(E->d,
                                                                     LSCC_E_INVALID, "initializer %zu has no name", i);
    }
    for (size_t i = 0; i < gp->n_input; i++)
        if (gp->input[i]->name && names_intern(&E->nm, gp->input[i]->name) < 0) return oom(E);
    for (size_t j = 0; j < gp->n_node; j++) {
        const Onnx__NodeProto *n = gp->node[j];
        for (size_t s = 0; s < n->n_input; s++)
            if (n->input[s][0] && names_intern(&E->nm, n->input[s]) < 0) return oom(E);
        for (size_t s = 0; s < n->n_output; s++)
            if (n->output[s][0] && names_intern(&E->nm, n->output[s]) < 0) return oom(E);
    }
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name && names_intern(&E->nm, gp->output[i]->name) < 0) return oom(E);
    E->nbase = E->nm.n;
    E->nnode0 = gp->n_node;
    size_t nb = (size_t)E->nbase + 1, nn = gp->n_node + 1;
    E->prod = malloc(sizeof(int) * nb);
    E->init = malloc(sizeof(int) * nb);
    E->refd = calloc(nb, 1);
    E->in = calloc(nn, sizeof(int *));
    E->res = calloc(nn, sizeof(int *));
    E->onnx2ir = malloc(sizeof(int) * nn);
    E->removing = calloc(nn, 1);
    if (!E->prod || !E->init || !E->refd || !E->in || !E->res || !E->onnx2ir || !E->removing) return oom(E);
    for (int i = 0; i < E->nbase; i++) E->prod[i] = E->init[i] = -1;
    for (size_t i = 0; i < gp->n_initializer; i++) E->init[names_find(&E->nm, gp->initializer[i]->name)] = (int)i;
    for (size_t j = 0; j < gp->n_node; j++) {
        const Onnx__NodeProto *n = gp->node[j];
        E->onnx2ir[j] = -1;
        E->in[j] = malloc(sizeof(int) * (n->n_input + 1));
        E->res[j] = malloc(sizeof(int) * (n->n_input + 1));
        if (!E->in[j] || !E->res[j]) return oom(E);
        for (size_t s = 0; s < n->n_input; s++) {
            E->in[j][s] = n->input[s][0] ? names_find(&E->nm, n->input[s]) : -1;
            if (E->in[j][s] >= 0) E->refd[E->in[j][s]] = 1;
        }
        for (size_t s = 0; s < n->n_output; s++)
            if (n->output[s][0]) E->prod[names_find(&E->nm, n->output[s])] = (int)j;
    }
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name) E->refd[names_find(&E->nm, gp->output[i]->name)] = 1;
    for (size_t j = 0; j < gp->n_node; j++)
        for (size_t s = 0; s < gp->node[j]->n_input; s++) E->res[j][s] = resolve(E, E->in[j][s]);
    /* IR nodes -> ONNX nodes, by the name of their first output (names are
       kept by the loader and the passes); a Conv with a folded BatchNorm
       writes the BatchNorm's output, so its ONNX node is the one before it */
    const lscc_graph *ir = E->ir;
    E->ir2onnx = malloc(sizeof(int) * (size_t)(ir->nnodes + 1));
    E->bn_of = malloc(sizeof(int) * (size_t)(ir->nnodes + 1));
    if (!E->ir2onnx || !E->bn_of) return oom(E);
    for (int i = 0; i < ir->nnodes; i++) {
        const lscc_node *n = &ir->nodes[i];
        E->ir2onnx[i] = E->bn_of[i] = -1;
        int out = -1;
        for (int o = 0; o < n->noutputs && out < 0; o++) out = n->outputs[o];
        int id = out >= 0 ? names_find(&E->nm, ir->tensors[out].name) : -1;
        int j = id >= 0 && id < E->nbase ? E->prod[id] : -1;
        if (j < 0) continue;
        if (n->folded_bn) {
            if (!is_op(gp->node[j], "BatchNormalization") || gp->node[j]->n_input < 1) continue;
            int c = E->in[j][0];
            for (size_t steps = 0; c >= 0 && E->prod[c] >= 0 && is_alias(gp->node[E->prod[c]]) && steps <= E->nnode0;
                 steps++)
                c = E->in[E->prod[c]][0];
            if (c < 0 || E->prod[c] < 0 || !is_op(gp->node[E->prod[c]], "Conv")) continue;
            E->bn_of[i] = j;
            E->removing[j] = 1;
            j = E->prod[c];
        }
        E->ir2onnx[i] = j;
        E->onnx2ir[j] = i;
    }
    return LSCC_OK;
}

/* IR node i runs an op that reads buffer k. */
static int uses(const ex *E, int k, int i) {
    for (int q = 0; q < E->g->nop; q++) {
        const lscc_lop *o = &E->g->op[q];
        if (o->node == i && (o->w == k || o->b == k || o->mean == k || o->invstd == k)) return 1;
    }
    return 0;
}

/* Input slot s of IR node i is where the op reading buffer k gets it. For
 * trainable BatchNorm (gamma, beta, mean buffers; the variance is read at
 * compile time) by position, as the same initializer may fill several
 * slots; for other ops every slot holding the buffer's tensor. */
static int trained_slot(const ex *E, int k, int i, size_t s) {
    if (i < 0) return 0;
    const lscc_node *n = &E->ir->nodes[i];
    if (s >= (size_t)n->ninputs) return 0;
    for (int q = 0; q < E->g->nop; q++) {
        const lscc_lop *o = &E->g->op[q];
        if (o->node != i || !(o->w == k || o->b == k || o->mean == k || o->invstd == k)) continue;
        if (o->kind == LK_AFFINE && !strcmp(n->op_type, "BatchNormalization"))
            return (s == 1 && o->w == k) || (s == 2 && o->b == k) || (s == 3 && o->mean == k);
        return n->inputs[s] == E->g->buf[k].ir;
    }
    return 0;
}

/* Values in the initializer's element type: raw little-endian bytes. */
static unsigned char *encode(const double *v, size_t n, int dtype) {
    size_t es = dtype == LSCC_DT_F64 ? 8 : 4;
    unsigned char *b = malloc(n * es + 1);
    if (!b) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (es == 8) memcpy(b + 8 * i, &v[i], 8);
        else {
            float f = (float)v[i];
            memcpy(b + 4 * i, &f, 4);
        }
    }
    return b;
}

/* The initializer's bytes as they are (raw or typed fields), or NULL. */
static const void *original_bytes(const Onnx__TensorProto *tp, size_t n) {
    if (tp->has_raw_data) return tp->raw_data.len == n * (tp->data_type == LSCC_DT_F64 ? 8 : 4) ? tp->raw_data.data : NULL;
    if (tp->data_type == LSCC_DT_F32) return tp->n_float_data == n ? (const void *)tp->float_data : NULL;
    return tp->n_double_data == n ? (const void *)tp->double_data : NULL;
}

static int set_string(char **slot, const char *s) {
    char *c = lscc_strdup(s);
    if (!c) return -1;
    free(*slot);
    *slot = c;
    return 0;
}

/* A name no tensor of the graph has: base, else base_1, base_2, ... */
static int unique_name(ex *E, const char *base, char *out, size_t n) {
    if ((size_t)snprintf(out, n, "%s", base) >= n) return -1;
    for (int k = 1; names_find(&E->nm, out) >= 0; k++)
        if ((size_t)snprintf(out, n, "%s_%d", base, k) >= n) return -1;
    return names_intern(&E->nm, out) < 0 ? -1 : 0;
}

/* A new initializer: name, dims and type of like (or rank 1 of count), data bytes (taken). */
static Onnx__TensorProto *add_initializer(ex *E, const char *name, const Onnx__TensorProto *like, int dtype,
                                          int64_t count, unsigned char *bytes, size_t len) {
    Onnx__GraphProto *gp = E->gp;
    Onnx__TensorProto **arr = realloc(gp->initializer, sizeof *arr * (gp->n_initializer + 1));
    Onnx__TensorProto *tp = malloc(sizeof *tp);
    if (arr) gp->initializer = arr;
    if (!arr || !tp) {
        free(tp);
        free(bytes);
        return NULL;
    }
    onnx__tensor_proto__init(tp);
    size_t nd = like ? like->n_dims : 1;
    tp->dims = malloc(sizeof(int64_t) * (nd + 1));
    tp->name = lscc_strdup(name);
    if (!tp->dims || !tp->name) {
        free(tp->dims);
        free(tp->name);
        free(tp);
        free(bytes);
        return NULL;
    }
    tp->n_dims = nd;
    if (like) memcpy(tp->dims, like->dims, sizeof(int64_t) * nd);
    else tp->dims[0] = count;
    tp->has_data_type = 1;
    tp->data_type = dtype;
    tp->has_raw_data = 1;
    tp->raw_data.data = bytes;
    tp->raw_data.len = len;
    gp->initializer[gp->n_initializer++] = tp;
    E->r->added++;
    return tp;
}

/* Writes the trained bytes of buffer k (taken) where the ONNX graph reads
 * initializer xi for the ops that buffer k belongs to: in place when nothing
 * else reads xi, else as a new initializer for those ops only. */
static lscc_status place(ex *E, int k, int xi, unsigned char *bytes) {
    Onnx__GraphProto *gp = E->gp;
    Onnx__TensorProto *tp = gp->initializer[xi];
    const lscc_lbuf *b = &E->g->buf[k];
    int X = names_find(&E->nm, tp->name), frozen = 0;
    size_t len = (size_t)b->count * (tp->data_type == LSCC_DT_F64 ? 8 : 4);
    /* which readers the buffer belongs to: 1 direct, 2 through a Transpose
       (a Linear weight exported as Transpose(W): lscc reads W itself) */
    char *mine = calloc(gp->n_node + 1, 1);
    if (!mine) {
        free(bytes);
        return oom(E);
    }
    for (size_t j = 0; j < E->nnode0; j++) {
        if (E->removing[j]) continue;
        const Onnx__NodeProto *n = gp->node[j];
        for (size_t s = 0; s < n->n_input; s++) {
            if (E->res[j][s] != X || is_alias(n)) continue;
            int i = E->onnx2ir[j];
            if (i >= 0 && trained_slot(E, k, i, s)) {
                mine[j] |= 1;
                continue;
            }
            int t = is_op(n, "Transpose") && n->n_output >= 1 && n->output[0][0] ? names_find(&E->nm, n->output[0]) : -1;
            int ti = t >= 0 ? lscc_graph_find(E->ir, E->nm.s[t]) : -1;
            int readers = 0, all = ti >= 0 && E->ir->tensors[ti].transpose_of == 1 + b->ir;
            for (size_t m = 0; all && m < E->nnode0; m++) {
                if (E->removing[m] || is_alias(gp->node[m])) continue;
                for (size_t q = 0; q < gp->node[m]->n_input; q++)
                    if (E->res[m][q] == t) {
                        readers++;
                        all &= E->onnx2ir[m] >= 0 && uses(E, k, E->onnx2ir[m]);
                    }
            }
            if (all && readers) mine[j] = 2;
            else frozen = 1; /* read at compile time, or by ops of other buffers */
        }
    }
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name && resolve(E, names_find(&E->nm, gp->output[i]->name)) == X) frozen = 1;
    /* every op of the buffer must be one of those readers */
    for (int q = 0; q < E->g->nop; q++) {
        const lscc_lop *o = &E->g->op[q];
        if (!(o->w == k || o->b == k || o->mean == k || o->invstd == k)) continue;
        int j = E->ir2onnx[o->node], ok = j >= 0 && (mine[j] & 1);
        for (size_t s = 0; j >= 0 && !ok && s < gp->node[j]->n_input; s++) {
            int src = E->res[j][s], p = src >= 0 && src < E->nbase ? E->prod[src] : -1;
            ok = p >= 0 && mine[p] == 2;
        }
        if (!ok) {
            unmappable(E, "'%s': node '%s' of the generated code reads it, but in the ONNX file that node does not "
                       "read this initializer (only through ops lscc evaluated at compile time)", b->name,
                       E->ir->nodes[o->node].name);
            free(mine);
            free(bytes);
            return LSCC_OK;
        }
    }
    E->r->updated++;
    if (!frozen) {
        set_data(tp, bytes, len);
        free(mine);
        return LSCC_OK;
    }
    /* shared with readers the trained value does not belong to */
    char base[1100], name[1100];
    if (E->o->opt.train_bn_affine || !b->folded_bn) snprintf(base, sizeof base, "%.1000s.trained", tp->name);
    else snprintf(base, sizeof base, "%.1000s.folded", tp->name);
    if (E->mp->ir_version < 4) {
        free(mine);
        free(bytes);
        return lscc_error(E->d, LSCC_E_UNSUPPORTED, "'%s' needs a new initializer, and the model's IR version %lld "
                          "lists initializers among the graph inputs: re-export it with a newer exporter",
                          tp->name, (long long)E->mp->ir_version);
    }
    if (unique_name(E, base, name, sizeof name)) {
        free(mine);
        free(bytes);
        return oom(E);
    }
    Onnx__TensorProto like = *tp;
    if (!add_initializer(E, name, &like, tp->data_type, 0, bytes, len)) {
        free(mine);
        return oom(E);
    }
    for (size_t j = 0; j < E->nnode0; j++) {
        if (!mine[j]) continue;
        Onnx__NodeProto *n = gp->node[j];
        for (size_t s = 0; s < n->n_input; s++)
            if (E->res[j][s] == X && (mine[j] == 2 || trained_slot(E, k, E->onnx2ir[j], s)) &&
                set_string(&n->input[s], name)) {
                free(mine);
                return oom(E);
            }
    }
    free(mine);
    return LSCC_OK;
}

/* The initializer a trainable buffer writes into, checked; -1 when none
 * (reported). */
static int initializer_for(ex *E, int k) {
    const lscc_lbuf *b = &E->g->buf[k];
    int id = names_find(&E->nm, b->name), xi = id >= 0 && id < E->nbase ? E->init[id] : -1;
    if (xi < 0) {
        unmappable(E, "'%s': a trained buffer that is no initializer of the ONNX file%s", b->name, NULL);
        return -1;
    }
    const Onnx__TensorProto *tp = E->gp->initializer[xi];
    if (tp->data_type != LSCC_DT_F32 && tp->data_type != LSCC_DT_F64) {
        unmappable(E, "'%s': its initializer has data type %s; lscc export writes float32 and float64 ones", b->name,
                   lscc_dtype_name(tp->data_type));
        return -1;
    }
    if (tensor_count(tp) != (int64_t)b->count || !original_bytes(tp, b->count)) {
        unmappable(E, "'%s': its initializer does not hold as many values as the generated code's buffer%s", b->name,
                   NULL);
        return -1;
    }
    return xi;
}

static lscc_status plain(ex *E, int k) {
    const lscc_lbuf *b = &E->g->buf[k];
    int xi = initializer_for(E, k);
    if (xi < 0) return LSCC_OK;
    const Onnx__TensorProto *tp = E->gp->initializer[xi];
    unsigned char *bytes = encode(E->wv + b->offset, b->count, tp->data_type);
    if (!bytes) return oom(E);
    size_t len = b->count * (tp->data_type == LSCC_DT_F64 ? 8 : 4);
    if (!memcmp(bytes, original_bytes(tp, b->count), len)) { /* untrained: the file stays as it was */
        free(bytes);
        return LSCC_OK;
    }
    return place(E, k, xi, bytes);
}

/* The conv of a folded buffer k (its weight or bias): the lowered op. */
static const lscc_lop *conv_op(const ex *E, int k) {
    for (int q = 0; q < E->g->nop; q++)
        if (E->g->op[q].kind == LK_CONV && (E->g->op[q].w == k || E->g->op[q].b == k)) return &E->g->op[q];
    return NULL;
}

static lscc_status folded(ex *E, int k) {
    const lscc_lbuf *b = &E->g->buf[k];
    const lscc_lop *o = conv_op(E, k);
    int j = o ? E->ir2onnx[o->node] : -1;
    if (!o || j < 0 || E->bn_of[o->node] < 0) {
        unmappable(E, "'%s': BatchNormalization '%s' folded into it, but lscc does not find that Conv and "
                   "BatchNormalization in the ONNX file", b->name, b->folded_bn);
        return LSCC_OK;
    }
    Onnx__NodeProto *conv = E->gp->node[j];
    if (o->w == k || names_find(&E->nm, b->name) >= 0) {
        int xi = initializer_for(E, k);
        if (xi < 0) return LSCC_OK;
        unsigned char *bytes = encode(E->wv + b->offset, b->count, E->gp->initializer[xi]->data_type);
        return bytes ? place(E, k, xi, bytes) : oom(E);
    }
    /* the bias BatchNorm folding created: the Conv had none */
    if (conv->n_input >= 3 && conv->input[2][0]) {
        unmappable(E, "'%s': a bias folding created, but Conv '%s' has one in the ONNX file", b->name, str_or(conv->name));
        return LSCC_OK;
    }
    int wi = conv->n_input >= 2 && E->res[j][1] >= 0 && E->res[j][1] < E->nbase ? E->init[E->res[j][1]] : -1;
    if (wi < 0 || (E->gp->initializer[wi]->data_type != LSCC_DT_F32 && E->gp->initializer[wi]->data_type != LSCC_DT_F64)) {
        unmappable(E, "'%s': Conv '%s' has no float initializer as its weight", b->name, str_or(conv->name));
        return LSCC_OK;
    }
    if (E->mp->ir_version < 4)
        return lscc_error(E->d, LSCC_E_UNSUPPORTED, "Conv '%s' needs a new bias initializer, and the model's IR version "
                          "%lld lists initializers among the graph inputs: re-export it with a newer exporter",
                          str_or(conv->name), (long long)E->mp->ir_version);
    int dt = E->gp->initializer[wi]->data_type;
    char base[1100], name[1100];
    const char *wn = E->gp->initializer[wi]->name;
    size_t wl = strlen(wn);
    if (wl > 7 && wl < 1000 && !strcmp(wn + wl - 7, ".weight")) snprintf(base, sizeof base, "%.*s.bias", (int)(wl - 7), wn);
    else snprintf(base, sizeof base, "%.1000s.bias", wn);
    if (unique_name(E, base, name, sizeof name)) return oom(E);
    unsigned char *bytes = encode(E->wv + b->offset, b->count, dt);
    if (!bytes || !add_initializer(E, name, NULL, dt, (int64_t)b->count, bytes, b->count * (dt == LSCC_DT_F64 ? 8 : 4)))
        return oom(E);
    if (conv->n_input < 3) {
        char **in = realloc(conv->input, sizeof(char *) * 3);
        if (!in) return oom(E);
        conv->input = in;
        while (conv->n_input < 3) conv->input[conv->n_input++] = NULL;
    }
    return set_string(&conv->input[2], name) ? oom(E) : LSCC_OK;
}

/* A frozen buffer (constant, statistics, derived) must hold the model's value. */
static void frozen(ex *E, int k) {
    const lscc_lbuf *b = &E->g->buf[k];
    const double *v = E->wv + b->offset;
    for (size_t i = 0; i < b->count; i++) {
        double want = E->esize == 8 ? b->vals[i] : (double)(float)b->vals[i];
        if (v[i] == want || (v[i] != v[i] && want != want)) continue;
        char what[200];
        snprintf(what, sizeof what, "element %zu is %.9g, the model's %.9g", i, v[i], want);
        unmappable(E, "'%s': frozen in the generated code (no parameter), but the weights file changes it (%s); lscc "
                   "export writes trained parameters only", b->name, what);
        return;
    }
}

/* Removes each folded BatchNormalization: its Conv writes its output. */
static lscc_status remove_bns(ex *E) {
    Onnx__GraphProto *gp = E->gp;
    for (int i = 0; i < E->ir->nnodes; i++) {
        int bn = E->bn_of[i], j = E->ir2onnx[i];
        if (bn < 0 || j < 0) continue;
        Onnx__NodeProto *nb = gp->node[bn], *conv = gp->node[j];
        for (size_t s = 1; s < nb->n_output; s++) {
            int id = nb->output[s][0] ? names_find(&E->nm, nb->output[s]) : -1;
            if (id >= 0 && E->refd[id]) {
                unmappable(E, "BatchNormalization '%s' folded into a Conv, but its output '%s' is read", str_or(nb->name),
                           nb->output[s]);
                break;
            }
        }
        /* aliases between the Conv and the BatchNorm go too */
        for (int c = E->in[bn][0]; c >= 0 && E->prod[c] >= 0 && E->prod[c] != j;) {
            int a = E->prod[c];
            E->removing[a] = 1;
            c = E->in[a][0];
        }
        if (conv->n_output < 1 || nb->n_output < 1 || set_string(&conv->output[0], nb->output[0])) return oom(E);
        E->r->bn_removed++;
    }
    return LSCC_OK;
}

/* Drops what the export left unread that was read before (alias nodes,
 * initializers, graph-input and value_info entries of them), and the
 * removed nodes. */
static lscc_status sweep(ex *E) {
    Onnx__GraphProto *gp = E->gp;
    char *now = NULL;
    for (int changed = 1; changed;) {
        changed = 0;
        free(now);
        now = calloc((size_t)E->nm.n + 1, 1);
        if (!now) return oom(E);
        for (size_t j = 0; j < gp->n_node; j++) {
            if (j < E->nnode0 && E->removing[j]) continue;
            for (size_t s = 0; s < gp->node[j]->n_input; s++) {
                const char *in = gp->node[j]->input[s];
                int id = in && in[0] ? names_find(&E->nm, in) : -1;
                if (id >= 0) now[id] = 1;
            }
        }
        for (size_t i = 0; i < gp->n_output; i++) {
            int id = gp->output[i]->name ? names_find(&E->nm, gp->output[i]->name) : -1;
            if (id >= 0) now[id] = 1;
        }
        for (size_t j = 0; j < E->nnode0; j++) {
            if (E->removing[j] || !is_alias(gp->node[j])) continue;
            int id = names_find(&E->nm, gp->node[j]->output[0]);
            if (id >= 0 && id < E->nbase && E->refd[id] && !now[id]) E->removing[j] = 1, changed = 1;
        }
    }
    /* names that still exist: produced, initializers, graph inputs */
    char *alive = E->nm.n >= 0 ? calloc((size_t)E->nm.n + 1, 1) : NULL;
    if (!alive) {
        free(now);
        return oom(E);
    }
    size_t w = 0;
    for (size_t j = 0; j < gp->n_node; j++) {
        if (j < E->nnode0 && E->removing[j]) {
            onnx__node_proto__free_unpacked(gp->node[j], NULL);
            continue;
        }
        for (size_t s = 0; s < gp->node[j]->n_output; s++) {
            const char *o = gp->node[j]->output[s];
            int id = o && o[0] ? names_find(&E->nm, o) : -1;
            if (id >= 0) alive[id] = 1;
        }
        gp->node[w++] = gp->node[j];
    }
    gp->n_node = w;
    w = 0;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        int id = names_find(&E->nm, tp->name);
        if (id >= 0 && id < E->nbase && E->refd[id] && !now[id]) {
            for (size_t q = 0; q < gp->n_input; q++) /* IR < 4: initializers are graph inputs too */
                if (gp->input[q]->name && !strcmp(gp->input[q]->name, tp->name)) {
                    onnx__value_info_proto__free_unpacked(gp->input[q], NULL);
                    memmove(&gp->input[q], &gp->input[q + 1], sizeof *gp->input * (gp->n_input - q - 1));
                    gp->n_input--;
                    break;
                }
            onnx__tensor_proto__free_unpacked(tp, NULL);
            continue;
        }
        if (id >= 0) alive[id] = 1;
        gp->initializer[w++] = tp;
    }
    gp->n_initializer = w;
    for (size_t q = 0; q < gp->n_input; q++) {
        int id = gp->input[q]->name ? names_find(&E->nm, gp->input[q]->name) : -1;
        if (id >= 0) alive[id] = 1;
    }
    w = 0;
    for (size_t q = 0; q < gp->n_value_info; q++) {
        Onnx__ValueInfoProto *vi = gp->value_info[q];
        int id = vi->name ? names_find(&E->nm, vi->name) : -1;
        if (id >= 0 && !alive[id]) {
            onnx__value_info_proto__free_unpacked(vi, NULL);
            continue;
        }
        gp->value_info[w++] = vi;
    }
    gp->n_value_info = w;
    free(alive);
    free(now);
    return LSCC_OK;
}

static lscc_status write_model(ex *E) {
    const char *path = E->o->output;
    size_t n = onnx__model_proto__get_packed_size(E->mp);
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) return oom(E);
    onnx__model_proto__pack(E->mp, buf);
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        free(buf);
        return oom(E);
    }
    snprintf(tmp, len + 16, "%s.partial", path);
    lscc_status st = LSCC_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) st = lscc_error(E->d, LSCC_E_IO, "cannot write '%s': %s", tmp, strerror(errno));
    else {
        int bad = fwrite(buf, 1, n, f) != n;
        bad |= fflush(f) != 0;
        bad |= fclose(f) != 0;
        if (bad) st = lscc_error(E->d, LSCC_E_IO, "writing '%s' failed: %s", tmp, strerror(errno));
        else if (rename(tmp, path))
            st = lscc_error(E->d, LSCC_E_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        if (st) remove(tmp);
    }
    free(tmp);
    free(buf);
    return st;
}

lscc_status lscc_export_onnx(const lscc_export_options *o, lscc_export_report *r, lscc_diag *d) {
    ex E;
    memset(&E, 0, sizeof E);
    memset(r, 0, sizeof *r);
    E.o = o;
    E.r = r;
    E.d = d;
    lscc_diag_init(&E.bad);
    lscc_options opt = o->opt;
    if (opt.tile <= 0) opt.tile = EXPORT_TILE;
    E.opt = opt;
    lscc_model *m = NULL;
    lscc_plan *p = NULL;
    lscc_prog *g = NULL;
    unsigned char *file = NULL;
    size_t len = 0;
    double *wv = NULL;
    lscc_status st = lower_model(o->model, &opt, &m, &p, &g, d);
    if (!st) st = read_all(&E, o->model, &file, &len, "model");
    E.g = g;
    E.ir = m ? m->g : NULL;
    if (!st) st = read_weights(&E, lscc_wf_fnv1a(LSCC_WF_FNV_INIT, file, len), &wv);
    E.wv = wv;
    if (!st) {
        E.mp = onnx__model_proto__unpack(NULL, len, file);
        if (!E.mp || !E.mp->graph) st = lscc_error(d, LSCC_E_INVALID, "'%s' does not parse as an ONNX model", o->model);
        else E.gp = E.mp->graph;
    }
    free(file);
    if (!st) st = index_graph(&E);
    for (int k = 0; !st && k < g->nbuf; k++) {
        if (!g->buf[k].trainable) frozen(&E, k);
        else if (g->buf[k].folded_bn) st = folded(&E, k);
        else st = plain(&E, k);
    }
    if (!st) st = remove_bns(&E);
    if (!st && E.nbad) {
        st = lscc_error(d, LSCC_E_UNSUPPORTED, "lscc cannot write %d buffer%s of '%s' into '%s':", E.nbad,
                        E.nbad > 1 ? "s" : "", o->weights, o->model);
        if (E.bad.text && E.bad.len > 3) /* its lines, already indented */
            lscc_note(d, "%.*s", (int)(E.bad.len - 3), E.bad.text + 2);
        lscc_note(d, "nothing was written");
    }
    if (!st) st = sweep(&E);
    if (!st) st = write_model(&E);
    if (E.mp) onnx__model_proto__free_unpacked(E.mp, NULL);
    for (size_t j = 0; j < E.nnode0; j++) {
        if (E.in) free(E.in[j]);
        if (E.res) free(E.res[j]);
    }
    free(E.in);
    free(E.res);
    free(E.prod);
    free(E.init);
    free(E.refd);
    free(E.onnx2ir);
    free(E.ir2onnx);
    free(E.bn_of);
    free(E.removing);
    names_free(&E.nm);
    lscc_diag_free(&E.bad);
    free(wv);
    lscc_prog_free(g);
    lscc_plan_free(p);
    lscc_model_free(m);
    return st;
}
