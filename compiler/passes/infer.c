/* Shape inference driver: calls each op's infer hook in topological order. */
#include <stdlib.h>
#include <string.h>

#include "../ops/op.h"
#include "passes.h"

/* Whether v converts to dtype without leaving its range (converting an
 * out-of-range double to an integer is undefined in C; a fuzzed model's
 * shape arithmetic reached 9e15 for an int32). Floats always fit. */
static int fits(int dtype, double v) {
    switch (dtype) {
    case LSCC_DT_I64: return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
    case LSCC_DT_I32: return v >= -2147483648.0 && v <= 2147483647.0;
    case LSCC_DT_U8: case LSCC_DT_BOOL: case LSCC_DT_I8: return v >= -128.0 && v <= 255.0;
    default: return 1;
    }
}

/* Turns a tensor whose values are all constant into a constant with data;
 * one whose values do not fit its type stays a computed tensor. */
static lscc_status materialize(lscc_graph *g, lscc_tensor *t) {
    size_t es = lscc_dtype_size(t->dtype);
    if (!t->nvals || !es || t->kind != LSCC_T_ACT) return LSCC_OK;
    for (int i = 0; i < t->nvals; i++) {
        double v;
        if (!lscc_sym_get_const(g->syms, t->vals[i], &v) || !fits(t->dtype, v)) return LSCC_OK;
    }
    unsigned char *buf = malloc(es * (size_t)t->nvals);
    if (!buf) return LSCC_E_NOMEM;
    for (int i = 0; i < t->nvals; i++) {
        double v;
        lscc_sym_get_const(g->syms, t->vals[i], &v);
        unsigned char *p = buf + es * (size_t)i;
        switch (t->dtype) {
        case LSCC_DT_F32: { float f = (float)v; memcpy(p, &f, 4); break; }
        case LSCC_DT_F64: memcpy(p, &v, 8); break;
        case LSCC_DT_I64: { int64_t x = (int64_t)v; memcpy(p, &x, 8); break; }
        case LSCC_DT_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
        case LSCC_DT_U8: case LSCC_DT_BOOL: case LSCC_DT_I8: p[0] = (unsigned char)(int)v; break;
        default: free(buf); return LSCC_OK; /* leave as a computed tensor */
        }
    }
    free(t->owned);
    t->owned = buf;
    t->data = buf;
    t->nbytes = es * (size_t)t->nvals;
    t->kind = LSCC_T_CONST;
    return LSCC_OK;
}

static lscc_status check_outputs(lscc_graph *g, lscc_node *n, lscc_diag *d) {
    for (int o = 0; o < n->noutputs; o++) {
        lscc_tensor *t = lscc_out(g, n, o);
        if (!t) continue;
        if (t->rank < 0 || t->rank > LSCC_MAX_RANK)
            return lscc_error(d, LSCC_E_INTERNAL, "node '%s' (%s): shape inference left output '%s' without a rank",
                              n->name, n->op_type, t->name);
        /* the product of the known dims: 2^56 elements keeps every byte
           count and offset of later passes and of generated code within
           int64 / size_t, whatever the element type */
        double elems = 1;
        for (int i = 0; i < t->rank; i++) {
            double v;
            if (t->dims[i] == LSCC_SYM_NONE)
                return lscc_error(d, LSCC_E_UNSUPPORTED, "node '%s' (%s): the size of dim %d of '%s' depends on tensor "
                                  "values; lscc needs sizes that follow from the input shape", n->name, n->op_type, i,
                                  t->name);
            if (lscc_sym_get_const(g->syms, t->dims[i], &v) && (v < 0 || v > (double)((int64_t)1 << 40)))
                return lscc_error(d, LSCC_E_INVALID, "node '%s' (%s): dim %d of '%s' would be %.0f", n->name,
                                  n->op_type, i, t->name, v);
            if (lscc_sym_get_const(g->syms, t->dims[i], &v)) elems *= v;
            /* an empty activation (Conv with 0 output channels): nothing to
               stream; empty integer tensors are legal in shape arithmetic */
            if (lscc_sym_get_const(g->syms, t->dims[i], &v) && v == 0 &&
                (t->dtype == LSCC_DT_F32 || t->dtype == LSCC_DT_F64 || t->dtype == LSCC_DT_F16 ||
                 t->dtype == LSCC_DT_BF16))
                return lscc_error(d, LSCC_E_UNSUPPORTED, "node '%s' (%s): output '%s' would be empty (dim %d is 0); "
                                  "lscc needs non-empty tensors", n->name, n->op_type, t->name, i);
        }
        if (elems > (double)((int64_t)1 << 56))
            return lscc_error(d, LSCC_E_UNSUPPORTED, "node '%s' (%s): output '%s' would hold %.3g elements, more than "
                              "lscc supports (2^56)", n->name, n->op_type, t->name, elems);
    }
    return LSCC_OK;
}

/* An output the op always produces must be named: ONNX allows an empty
 * name only for optional outputs, and the infer functions write to the
 * required ones (a fuzzed Cast without an output name reached one). */
static lscc_status required_outputs(lscc_graph *g, const lscc_node *n, lscc_diag *d) {
    for (int o = 0; o < n->desc->min_outputs; o++)
        if (!lscc_out(g, n, o))
            return lscc_error(d, LSCC_E_INVALID, "node '%s' (%s): output %d has no name; %s always produces it "
                              "(a malformed model: re-export it)", n->name, n->op_type, o, n->op_type);
    return LSCC_OK;
}

static int dead_code(lscc_graph *g) {
    int removed = 0;
    char *live = calloc((size_t)g->ntensors + 1, 1);
    if (!live) return -1;
    for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        lscc_node *n = &g->nodes[i];
        int used = 0;
        for (int o = 0; o < n->noutputs; o++)
            if (n->outputs[o] >= 0 && live[n->outputs[o]] && g->tensors[n->outputs[o]].kind == LSCC_T_ACT) used = 1;
        if (!used) {
            n->dead = 1;
            removed++;
            continue;
        }
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) live[n->inputs[k]] = 1;
    }
    free(live);
    return removed;
}

lscc_status lscc_infer_shapes(lscc_graph *g, lscc_diag *d) {
    lscc_status st = LSCC_OK;
    for (int i = 0; i < g->nnodes; i++) {
        lscc_node *n = &g->nodes[i];
        int ready = 1;
        for (int k = 0; k < n->ninputs; k++) {
            lscc_tensor *t = lscc_in(g, n, k);
            if (t && t->rank < 0) ready = 0; /* an earlier node failed: do not cascade */
        }
        if (!ready || !n->desc) continue;
        lscc_status s = required_outputs(g, n, d);
        if (!s) s = n->desc->infer(g, n, d);
        if (!s) s = check_outputs(g, n, d);
        if (s) {
            st = st ? st : s;
            if (s == LSCC_E_NOMEM || d->nerrors > 20) return st;
            for (int o = 0; o < n->noutputs; o++)
                if (n->outputs[o] >= 0) g->tensors[n->outputs[o]].rank = -1;
            continue;
        }
        for (int o = 0; o < n->noutputs; o++) {
            lscc_tensor *t = lscc_out(g, n, o);
            if (t && materialize(g, t)) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
        }
    }
    if (st) return st;
    int removed = dead_code(g);
    if (removed < 0) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    return removed ? lscc_graph_link(g, d) : LSCC_OK;
}

void lscc_bind_vars(const lscc_graph *g, int64_t n, int64_t h, int64_t w, double *vars) {
    int nv = lscc_sym_nvars(g->syms);
    for (int i = 0; i < nv; i++) vars[i] = 1;
    if (g->image < 0) return;
    const lscc_tensor *x = &g->tensors[g->image];
    int64_t val[4] = {n, 0, h, w};
    for (int k = 0; k < 4 && k < x->rank; k++) {
        if (k == 1) continue;
        /* a dim that is exactly a variable binds it */
        char buf[128];
        lscc_sym_print(g->syms, x->dims[k], buf, sizeof buf);
        int v = lscc_sym_find_var(g->syms, buf);
        if (v >= 0) vars[v] = (double)val[k];
    }
}
