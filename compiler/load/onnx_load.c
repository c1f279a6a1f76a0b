#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ops/op.h"
#include "onnx.pb-c.h"
#include "wire.h"

/* Largest dimension / element count lscc accepts: far above any real image,
 * far below what overflows 64-bit byte counts. */
#define MAX_DIM ((int64_t)1 << 40)
#define MAX_BYTES ((uint64_t)1 << 50)

typedef struct loader {
    lscc_graph *g;
    lscc_diag *d;
    char dir[PATH_MAX]; /* directory of the model, for external data */
    struct ext {        /* mapped external files */
        char *path;
        const unsigned char *addr;
        size_t len;
    } *ext;
    int next;
    const unsigned char *file; /* the mapped model: initializer bytes stay here */
    int no_external;           /* external data refused (in-memory models without a directory) */
    lscc_wire_result wire;
} loader;

/* Optional protobuf strings are NULL when absent. */
static const char *str_or_empty(const char *s) { return s ? s : ""; }

static lscc_status oom(loader *L) { return lscc_error(L->d, LSCC_E_NOMEM, "out of memory while loading the model"); }

static lscc_status map_file(loader *L, const char *path, const unsigned char **addr, size_t *len, int keep) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lscc_error(L->d, LSCC_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lscc_error(L->d, LSCC_E_IO, "'%s' is not a regular file", path);
    }
    *len = (size_t)st.st_size;
    *addr = NULL;
    if (st.st_size == 0) {
        close(fd);
        return LSCC_OK;
    }
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return lscc_error(L->d, LSCC_E_IO, "cannot map '%s': %s", path, strerror(errno));
    if (keep) {
        struct lscc_map *m = realloc(L->g->maps, sizeof *m * (size_t)(L->g->nmaps + 1));
        if (!m) {
            munmap(p, *len);
            return oom(L);
        }
        L->g->maps = m;
        m[L->g->nmaps].addr = p;
        m[L->g->nmaps].len = *len;
        L->g->nmaps++;
    }
    *addr = p;
    return LSCC_OK;
}

/* Element count of dims, or -1 when a dim is negative or the count absurd. */
static int64_t count_elems(const int64_t *dims, size_t n) {
    uint64_t c = 1;
    for (size_t i = 0; i < n; i++) {
        if (dims[i] < 0 || dims[i] > MAX_DIM) return -1;
        if (dims[i] && c > MAX_BYTES / (uint64_t)dims[i]) return -1; /* before the product can wrap */
        c *= (uint64_t)dims[i];
    }
    return (int64_t)c;
}

/* External data: location is relative to the model's directory and may not
 * leave it (a hostile model must not make lscc read arbitrary files). */
static lscc_status load_external(loader *L, const Onnx__TensorProto *tp, lscc_tensor *t, size_t want) {
    const char *loc = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v) continue;
        char *end;
        if (strcmp(k, "location") == 0) loc = v;
        else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || *end || x < 0)
                return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s': external data %s '%s' is not a byte count",
                                  t->name, k, v);
            if (k[0] == 'o') offset = x;
            else length = x;
        }
    }
    if (!loc || !loc[0])
        return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s' has external data without a location", t->name);
    if (L->no_external)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "tensor '%s' has external data, but the model was given in memory "
                          "without a directory", t->name);
    if (loc[0] == '/' || strstr(loc, "..") != NULL)
        return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s': external data location '%s' must be a path inside the "
                          "model's directory", t->name, loc);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", L->dir, loc) >= sizeof path)
        return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s': external data path too long", t->name);
    int e;
    for (e = 0; e < L->next; e++)
        if (strcmp(L->ext[e].path, path) == 0) break;
    if (e == L->next) {
        struct ext *x = realloc(L->ext, sizeof *x * (size_t)(L->next + 1));
        if (!x) return oom(L);
        L->ext = x;
        x[e].path = lscc_strdup(path);
        if (!x[e].path) return oom(L);
        lscc_status st = map_file(L, path, &x[e].addr, &x[e].len, 1);
        if (st) {
            free(x[e].path);
            return lscc_error(L->d, st, "tensor '%s': cannot read its external data", t->name);
        }
        L->next++;
    }
    if (length >= 0 && (uint64_t)length != want)
        return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s': external data length %lld, but its shape needs %zu bytes",
                          t->name, (long long)length, want);
    if ((uint64_t)offset > L->ext[e].len || L->ext[e].len - (uint64_t)offset < want)
        return lscc_error(L->d, LSCC_E_INVALID, "tensor '%s': external file '%s' is too short (%zu bytes, need %zu at "
                          "offset %lld)", t->name, loc, L->ext[e].len, want, (long long)offset);
    t->data = L->ext[e].addr + offset;
    t->nbytes = want;
    return LSCC_OK;
}

/* Fills tensor t (already named) from a TensorProto. raw_data is taken over;
 * raw, when given, locates raw_data that the wire pre-pass left in the file. */
static lscc_status load_tensor(loader *L, Onnx__TensorProto *tp, lscc_tensor *t, const lscc_wire_raw *raw) {
    lscc_graph *g = L->g;
    t->kind = LSCC_T_CONST;
    t->dtype = tp->data_type;
    if (tp->n_dims > LSCC_MAX_RANK)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "constant '%s' has rank %zu; lscc handles rank <= %d", t->name,
                          tp->n_dims, LSCC_MAX_RANK);
    int64_t n = count_elems(tp->dims, tp->n_dims);
    if (n < 0)
        return lscc_error(L->d, LSCC_E_INVALID, "constant '%s' has a negative or absurd dimension", t->name);
    lscc_tensor_set_shape(g, t, (int)tp->n_dims, tp->dims);
    size_t es = lscc_dtype_size(t->dtype);
    if (!es) return LSCC_OK; /* strings etc.: shape only */
    size_t want = (size_t)n * es;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return load_external(L, tp, t, want);
    if (raw && raw->present && !tp->has_raw_data) {
        if (raw->len != want)
            return lscc_error(L->d, LSCC_E_INVALID, "constant '%s' holds %zu bytes of raw data, its shape needs %zu",
                              t->name, raw->len, want);
        t->data = L->file + raw->offset;
        t->nbytes = want;
        return LSCC_OK;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != want)
            return lscc_error(L->d, LSCC_E_INVALID, "constant '%s' holds %zu bytes of raw data, its shape needs %zu",
                              t->name, tp->raw_data.len, want);
        t->owned = tp->raw_data.data; /* steal: the parser's copy becomes ours */
        tp->raw_data.data = NULL;
        tp->raw_data.len = 0;
        t->data = t->owned;
        t->nbytes = want;
        return LSCC_OK;
    }
    /* typed fields */
    size_t have;
    switch (t->dtype) {
    case LSCC_DT_F32: have = tp->n_float_data; break;
    case LSCC_DT_F64: have = tp->n_double_data; break;
    case LSCC_DT_I64: have = tp->n_int64_data; break;
    case LSCC_DT_U32: case LSCC_DT_U64: have = tp->n_uint64_data; break;
    default: have = tp->n_int32_data; break;
    }
    if (have != (size_t)n)
        return lscc_error(L->d, LSCC_E_INVALID, "constant '%s' holds %zu values, its shape needs %lld", t->name, have,
                          (long long)n);
    unsigned char *buf = malloc(want ? want : 1);
    if (!buf) return oom(L);
    for (size_t i = 0; i < (size_t)n; i++) {
        unsigned char *p = buf + i * es;
        switch (t->dtype) {
        case LSCC_DT_F32: memcpy(p, &tp->float_data[i], 4); break;
        case LSCC_DT_F64: memcpy(p, &tp->double_data[i], 8); break;
        case LSCC_DT_I64: memcpy(p, &tp->int64_data[i], 8); break;
        case LSCC_DT_U64: memcpy(p, &tp->uint64_data[i], 8); break;
        case LSCC_DT_U32: {
            uint32_t v = (uint32_t)tp->uint64_data[i];
            memcpy(p, &v, 4);
            break;
        }
        case LSCC_DT_I32: memcpy(p, &tp->int32_data[i], 4); break;
        case LSCC_DT_I16: case LSCC_DT_U16: case LSCC_DT_F16: case LSCC_DT_BF16: {
            uint16_t v = (uint16_t)tp->int32_data[i];
            memcpy(p, &v, 2);
            break;
        }
        default: p[0] = (unsigned char)tp->int32_data[i]; break;
        }
    }
    t->owned = buf;
    t->data = buf;
    t->nbytes = want;
    return LSCC_OK;
}

/* A tensor for a node attribute (Constant value, ConstantOfShape value). */
static int attr_tensor(loader *L, const char *node, const char *attr, Onnx__TensorProto *tp, lscc_status *st) {
    char name[512];
    snprintf(name, sizeof name, "%s::%s#%d", node, attr, L->g->ntensors);
    int ti = lscc_graph_tensor(L->g, name);
    if (ti < 0) {
        *st = oom(L);
        return -1;
    }
    *st = load_tensor(L, tp, &L->g->tensors[ti], NULL);
    return ti;
}

static lscc_status load_attrs(loader *L, Onnx__NodeProto *np, lscc_node *n, const char *node_name) {
    n->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n->attrs);
    if (!n->attrs) return oom(L);
    for (size_t i = 0; i < np->n_attribute; i++) {
        Onnx__AttributeProto *ap = np->attribute[i];
        lscc_attr *a = &n->attrs[n->nattrs++];
        a->tensor = -1;
        a->name = lscc_strdup(str_or_empty(ap->name));
        if (!a->name) return oom(L);
        a->type = (lscc_attr_type)ap->type;
        switch (ap->type) {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: a->f = ap->f; break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: a->i = ap->i; break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            a->s = malloc(ap->s.len + 1);
            if (!a->s) return oom(L);
            if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
            a->s[ap->s.len] = 0;
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
            a->n = (int)ap->n_ints;
            a->ints = malloc(sizeof(int64_t) * (ap->n_ints ? ap->n_ints : 1));
            if (!a->ints) return oom(L);
            if (ap->n_ints) memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
            a->n = (int)ap->n_floats;
            a->floats = malloc(sizeof(double) * (ap->n_floats ? ap->n_floats : 1));
            if (!a->floats) return oom(L);
            for (size_t k = 0; k < ap->n_floats; k++) a->floats[k] = ap->floats[k];
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
            if (!ap->t) return lscc_error(L->d, LSCC_E_INVALID, "node '%s': tensor attribute '%s' is empty", node_name,
                                          a->name);
            lscc_status st;
            a->tensor = attr_tensor(L, node_name, a->name, ap->t, &st);
            if (st) return st;
            break;
        }
        default: break; /* graphs, strings lists...: kept as a typed name only */
        }
    }
    return LSCC_OK;
}

/* Constant node -> constant tensor. */
static lscc_status load_constant(loader *L, Onnx__NodeProto *np, const char *name) {
    if (np->n_output != 1 || !np->output[0][0])
        return lscc_error(L->d, LSCC_E_INVALID, "Constant node '%s' must have one output", name);
    int ti = lscc_graph_tensor(L->g, np->output[0]);
    if (ti < 0) return oom(L);
    lscc_tensor *t = &L->g->tensors[ti];
    if (t->kind == LSCC_T_CONST || t->kind == LSCC_T_INPUT)
        return lscc_error(L->d, LSCC_E_INVALID, "Constant node '%s' writes '%s', which is already defined", name,
                          t->name);
    if (np->n_attribute != 1)
        return lscc_error(L->d, LSCC_E_INVALID, "Constant node '%s' must have exactly one value attribute", name);
    Onnx__AttributeProto *ap = np->attribute[0];
    if (ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && ap->t) {
        lscc_status st = load_tensor(L, ap->t, &L->g->tensors[ti], NULL);
        if (!st) lscc_tensor_vals_from_data(L->g, &L->g->tensors[ti]);
        return st;
    }
    int64_t n1 = 1;
    size_t count;
    int dt;
    const void *src;
    int64_t iv;
    float fv;
    if (strcmp(str_or_empty(ap->name), "value_int") == 0) { iv = ap->i; src = &iv; count = 1; dt = LSCC_DT_I64; }
    else if (strcmp(str_or_empty(ap->name), "value_float") == 0) { fv = ap->f; src = &fv; count = 1; dt = LSCC_DT_F32; }
    else if (strcmp(str_or_empty(ap->name), "value_ints") == 0) { src = ap->ints; count = ap->n_ints; dt = LSCC_DT_I64; }
    else if (strcmp(str_or_empty(ap->name), "value_floats") == 0) { src = ap->floats; count = ap->n_floats; dt = LSCC_DT_F32; }
    else
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "Constant node '%s': attribute '%s' is not supported (use a dense "
                          "tensor value)", name, str_or_empty(ap->name));
    size_t es = lscc_dtype_size(dt);
    t->owned = malloc(count * es + 1);
    if (!t->owned) return oom(L);
    if (count) memcpy(t->owned, src, count * es);
    t->data = t->owned;
    t->nbytes = count * es;
    t->kind = LSCC_T_CONST;
    t->dtype = dt;
    int64_t dims1 = (int64_t)count;
    if (strcmp(ap->name, "value_ints") == 0 || strcmp(ap->name, "value_floats") == 0) lscc_tensor_set_shape(L->g, t, 1, &dims1);
    else lscc_tensor_set_shape(L->g, t, 0, &n1);
    return lscc_tensor_vals_from_data(L->g, t) ? oom(L) : LSCC_OK;
}

static lscc_status load_input(loader *L, Onnx__ValueInfoProto *vi) {
    lscc_graph *g = L->g;
    if (!vi->name || !vi->name[0]) return lscc_error(L->d, LSCC_E_INVALID, "a graph input has no name");
    int ti = lscc_graph_tensor(g, vi->name);
    if (ti < 0) return oom(L);
    lscc_tensor *t = &g->tensors[ti];
    if (t->kind == LSCC_T_CONST) return LSCC_OK; /* initializer listed as input (IR < 4) */
    if (t->kind == LSCC_T_INPUT)
        return lscc_error(L->d, LSCC_E_INVALID, "graph input '%s' is listed twice", str_or_empty(vi->name));
    t->kind = LSCC_T_INPUT;
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "graph input '%s' is not a tensor", str_or_empty(vi->name));
    Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    t->dtype = tt->elem_type;
    if (!tt->shape)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "graph input '%s' has no shape; lscc needs its rank", str_or_empty(vi->name));
    if (tt->shape->n_dim > LSCC_MAX_RANK)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "graph input '%s' has rank %zu; lscc handles rank <= %d",
                          str_or_empty(vi->name), tt->shape->n_dim, LSCC_MAX_RANK);
    t->rank = (int)tt->shape->n_dim;
    for (int k = 0; k < t->rank; k++) {
        Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[k];
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dm->dim_value < 0)
                return lscc_error(L->d, LSCC_E_INVALID, "graph input '%s': dimension %d is %lld; sizes cannot be "
                                  "negative", str_or_empty(vi->name), k, (long long)dm->dim_value);
            if (dm->dim_value < 1 || dm->dim_value > MAX_DIM)
                return lscc_error(L->d, LSCC_E_UNSUPPORTED, "graph input '%s': dimension %d is %lld; lscc handles "
                                  "sizes from 1 to 2^40", str_or_empty(vi->name), k, (long long)dm->dim_value);
            t->dims[k] = lscc_sym_const(g->syms, (double)dm->dim_value);
        } else {
            char name[256];
            if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param[0])
                snprintf(name, sizeof name, "%s", dm->dim_param);
            else if (t->rank == 4 && lscc_dtype_is_float(t->dtype))
                snprintf(name, sizeof name, "%s", k == 0 ? "N" : k == 1 ? "C" : k == 2 ? "H" : "W");
            else
                snprintf(name, sizeof name, "%s_%d", str_or_empty(vi->name), k);
            t->dims[k] = lscc_sym_var(g->syms, name);
        }
        if (t->dims[k] < 0) return oom(L);
    }
    int *in = realloc(g->inputs, sizeof(int) * (size_t)(g->ninputs + 1));
    if (!in) return oom(L);
    g->inputs = in;
    in[g->ninputs++] = ti;
    return LSCC_OK;
}

static lscc_status load_node(loader *L, Onnx__NodeProto *np, size_t index) {
    lscc_graph *g = L->g;
    char fallback[64];
    const char *name = np->name && np->name[0] ? np->name : (snprintf(fallback, sizeof fallback, "#%zu", index), fallback);
    if (!np->op_type || !np->op_type[0])
        return lscc_error(L->d, LSCC_E_INVALID, "node '%s' has no op_type", name);
    int default_domain = !np->domain || !np->domain[0] || strcmp(np->domain, "ai.onnx") == 0;
    if (default_domain && strcmp(np->op_type, "Constant") == 0) return load_constant(L, np, name);
    int ni = lscc_graph_add_node(g, name, np->op_type, np->domain ? np->domain : "");
    if (ni < 0) return oom(L);
    lscc_node *n = &g->nodes[ni];
    n->inputs = malloc(sizeof(int) * (np->n_input + 1));
    n->outputs = malloc(sizeof(int) * (np->n_output + 1));
    if (!n->inputs || !n->outputs) return oom(L);
    for (size_t i = 0; i < np->n_input; i++) {
        int ti = np->input[i][0] ? lscc_graph_tensor(g, np->input[i]) : -1;
        if (np->input[i][0] && ti < 0) return oom(L);
        g->nodes[ni].inputs[g->nodes[ni].ninputs++] = ti;
    }
    for (size_t i = 0; i < np->n_output; i++) {
        int ti = np->output[i][0] ? lscc_graph_tensor(g, np->output[i]) : -1;
        if (np->output[i][0] && ti < 0) return oom(L);
        g->nodes[ni].outputs[g->nodes[ni].noutputs++] = ti;
    }
    n = &g->nodes[ni];
    n->desc = lscc_op_find(n->domain, n->op_type);
    return load_attrs(L, np, &g->nodes[ni], name);
}

/* Identity and inference Dropout forward their input: rewire readers. */
static lscc_status remove_aliases(loader *L) {
    lscc_graph *g = L->g;
    int *alias = malloc(sizeof(int) * ((size_t)g->ntensors + 1)), changed = 0;
    if (!alias) return oom(L);
    for (int i = 0; i < g->ntensors; i++) alias[i] = i;
    for (int i = 0; i < g->nnodes; i++) { /* topological order: chains resolve */
        lscc_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) n->inputs[k] = alias[n->inputs[k]];
        int identity = strcmp(n->op_type, "Identity") == 0, dropout = strcmp(n->op_type, "Dropout") == 0;
        if (!n->desc || !(identity || dropout) || n->ninputs < 1 || n->inputs[0] < 0 || n->noutputs < 1 ||
            n->outputs[0] < 0)
            continue;
        if (dropout && n->noutputs > 1 && n->outputs[1] >= 0 && g->tensors[n->outputs[1]].nconsumers > 0)
            continue; /* mask used: keep the node (unsupported later) */
        alias[n->outputs[0]] = n->inputs[0];
        n->dead = 1;
        changed = 1;
    }
    for (int i = 0; i < g->noutputs; i++) g->outputs[i] = alias[g->outputs[i]];
    free(alias);
    return changed ? lscc_graph_link(g, L->d) : LSCC_OK;
}

/* ONNX's required inputs come first: an omitted one ("") among them is an error. */
static int missing_required(const lscc_node *n) {
    for (int k = 0; k < n->desc->min_inputs && k < n->ninputs; k++)
        if (n->inputs[k] < 0) return 1;
    return 0;
}

static lscc_status load_graph(loader *L, Onnx__ModelProto *mp) {
    lscc_graph *g = L->g;
    Onnx__GraphProto *gp = mp->graph;
    lscc_status st = LSCC_OK;
    g->name = lscc_strdup(gp->name && gp->name[0] ? gp->name : "model");
    char prod[256];
    snprintf(prod, sizeof prod, "%s %s", mp->producer_name ? mp->producer_name : "",
             mp->producer_version ? mp->producer_version : "");
    g->producer = lscc_strdup(prod);
    g->ir_version = mp->ir_version;
    if (!g->name || !g->producer) return oom(L);
    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        Onnx__OperatorSetIdProto *op = mp->opset_import[i];
        if (!op->domain || !op->domain[0] || strcmp(op->domain, "ai.onnx") == 0) g->opset = op->version;
    }
    if (g->opset < 0 && mp->n_opset_import == 0 && mp->ir_version <= 2) g->opset = 1;
    if (g->opset < LSCC_OPSET_MIN || g->opset > LSCC_OPSET_MAX)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "the model uses ONNX opset %lld; lscc reads opsets %d to %d "
                          "(re-export, e.g. torch.onnx.export(..., opset_version=14))",
                          (long long)g->opset, LSCC_OPSET_MIN, LSCC_OPSET_MAX);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0]) return lscc_error(L->d, LSCC_E_INVALID, "initializer %zu has no name", i);
        int ti = lscc_graph_find(g, tp->name);
        if (ti >= 0) return lscc_error(L->d, LSCC_E_INVALID, "initializer '%s' is defined twice", tp->name);
        ti = lscc_graph_tensor(g, tp->name);
        if (ti < 0) return oom(L);
        lscc_status s = load_tensor(L, tp, &g->tensors[ti], i < L->wire.nraw ? &L->wire.raw[i] : NULL);
        g->tensors[ti].initializer = 1;
        if (!s && lscc_tensor_vals_from_data(g, &g->tensors[ti])) s = oom(L);
        if (s) st = s;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        lscc_status s = load_input(L, gp->input[i]);
        if (s) st = s;
    }
    if (st) return st;
    for (size_t i = 0; i < gp->n_node; i++) {
        lscc_status s = load_node(L, gp->node[i], i);
        if (s) st = s;
        if (s == LSCC_E_NOMEM) return s;
    }
    if (st) return st;
    g->outputs = malloc(sizeof(int) * (gp->n_output + 1));
    if (!g->outputs) return oom(L);
    for (size_t i = 0; i < gp->n_output; i++) {
        int ti = lscc_graph_find(g, gp->output[i]->name ? gp->output[i]->name : "");
        if (ti < 0) return lscc_error(L->d, LSCC_E_INVALID, "graph output '%s' is never produced", str_or_empty(gp->output[i]->name));
        g->outputs[g->noutputs++] = ti;
    }
    if (g->noutputs == 0) return lscc_error(L->d, LSCC_E_INVALID, "the graph has no outputs");
    st = lscc_graph_link(g, L->d);
    if (st) return st;
    for (int i = 0; i < g->noutputs; i++) {
        lscc_tensor *t = &g->tensors[g->outputs[i]];
        if (t->kind == LSCC_T_ACT && t->producer < 0)
            return lscc_error(L->d, LSCC_E_INVALID, "graph output '%s' is never produced", t->name);
    }
    /* every node lscc does not know, all at once */
    int unknown = 0;
    for (int i = 0; i < g->nnodes; i++) {
        lscc_node *n = &g->nodes[i];
        if (n->desc) {
            if (n->ninputs < n->desc->min_inputs || n->ninputs > n->desc->max_inputs ||
                n->noutputs < n->desc->min_outputs || n->noutputs > n->desc->max_outputs ||
                missing_required(n))
                st = lscc_error(L->d, LSCC_E_INVALID, "node '%s' (%s) has %d inputs and %d outputs, or omits a required input; the operator takes "
                                "%d-%d inputs (the first %d required) and %d-%d outputs", n->name, n->op_type, n->ninputs, n->noutputs,
                                n->desc->min_inputs, n->desc->max_inputs, n->desc->min_inputs,
                                n->desc->min_outputs, n->desc->max_outputs);
            continue;
        }
        if (!unknown++)
            lscc_error(L->d, LSCC_E_UNSUPPORTED, "the model uses operators lscc does not know:");
        lscc_note(L->d, "node '%s': op type '%s'%s%s", n->name, n->op_type, n->domain[0] ? " in domain " : "",
                  n->domain);
    }
    if (unknown) {
        lscc_note(L->d, "what to do: re-export the model with standard ONNX operators in their place (lscc must know "
                  "every op to infer sizes, also in the head)");
        return LSCC_E_UNSUPPORTED;
    }
    if (st) return st;
    st = remove_aliases(L);
    if (st) return st;
    /* the image: the first floating-point graph input of rank 4 */
    for (int i = 0; i < g->ninputs && g->image < 0; i++) {
        lscc_tensor *t = &g->tensors[g->inputs[i]];
        if (t->rank == 4 && lscc_dtype_is_float(t->dtype)) g->image = g->inputs[i];
    }
    if (g->image < 0)
        return lscc_error(L->d, LSCC_E_UNSUPPORTED, "no graph input is an image (a float tensor of rank 4, N x C x H "
                          "x W)");
    return LSCC_OK;
}

/* Parses the model bytes buf[0, len) (which must outlive the graph). */
static lscc_status load_buffer(loader *L, const unsigned char *buf, size_t len, const char *what) {
    L->file = buf;
    Onnx__ModelProto *mp = NULL;
    if (len && lscc_wire_strip(buf, len, &L->wire) == 0)
        mp = onnx__model_proto__unpack(NULL, L->wire.len, L->wire.buf);
    free(L->wire.buf); /* the parser copied what it keeps */
    L->wire.buf = NULL;
    lscc_status st;
    if (!mp) {
        st = lscc_error(L->d, LSCC_E_INVALID, "'%s' is not an ONNX model: %s", what,
                        len ? "it does not parse as an ONNX protobuf (truncated or another format)"
                            : "the file is empty");
    } else if (!mp->graph || !mp->has_ir_version || mp->graph->n_node == 0) {
        st = lscc_error(L->d, LSCC_E_INVALID, "'%s' is not an ONNX model: it has no %s", what,
                        !mp->graph ? "graph" : !mp->has_ir_version ? "IR version" : "nodes");
    } else {
        st = load_graph(L, mp);
    }
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    lscc_wire_free(&L->wire);
    for (int e = 0; e < L->next; e++) free(L->ext[e].path);
    free(L->ext);
    return st;
}

lscc_status lscc_load_onnx(const char *path, lscc_graph **out, lscc_diag *d) {
    *out = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.d = d;
    L.g = lscc_graph_new();
    if (!L.g) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(L.dir, sizeof L.dir, "%.*s", (int)(slash - path), path);
    else snprintf(L.dir, sizeof L.dir, ".");
    if (slash == path) snprintf(L.dir, sizeof L.dir, "/");
    const unsigned char *buf;
    size_t len;
    /* kept mapped for the graph's lifetime: initializers point into it */
    lscc_status st = map_file(&L, path, &buf, &len, 1);
    if (!st) st = load_buffer(&L, buf, len, path);
    if (st) {
        lscc_graph_free(L.g);
        return st;
    }
    *out = L.g;
    return LSCC_OK;
}

lscc_status lscc_load_onnx_memory(const void *buf, size_t len, const char *dir, lscc_graph **out, lscc_diag *d) {
    *out = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.d = d;
    L.no_external = !dir;
    snprintf(L.dir, sizeof L.dir, "%s", dir ? dir : ".");
    L.g = lscc_graph_new();
    if (!L.g) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    lscc_status st = load_buffer(&L, buf, len, "<memory>");
    if (st) {
        lscc_graph_free(L.g);
        return st;
    }
    *out = L.g;
    return LSCC_OK;
}
