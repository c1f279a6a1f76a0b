/* Transpose: output dim i is input dim perm[i] (perm defaults to reversed).
 * Values and raw constant data are permuted. Locality: LOCAL; the spatial
 * axis tags move with their dims (ConvNeXt's NCHW <-> NHWC round trip). */
#include "op.h"

static lscc_status read_perm(lscc_graph *g, const lscc_node *n, int *perm, lscc_diag *d) {
    lscc_tensor *x = lscc_in(g, n, 0);
    const int64_t *p;
    int c = lscc_attr_ints(n, "perm", &p), seen[LSCC_MAX_RANK] = {0};
    if (c < 0) {
        for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
        return LSCC_OK;
    }
    if (c != x->rank)
        return lscc_error(d, LSCC_E_INVALID, "node '%s' (Transpose): perm has %d entries for an input of rank %d",
                          n->name, c, x->rank);
    for (int i = 0; i < c; i++) {
        int a = lscc_axis(p[i], x->rank);
        if (a < 0 || seen[a])
            return lscc_error(d, LSCC_E_INVALID, "node '%s' (Transpose): perm is not a permutation of 0..%d", n->name,
                              x->rank - 1);
        seen[a] = 1;
        perm[i] = a;
    }
    return LSCC_OK;
}

typedef struct {
    int rank, perm[LSCC_MAX_RANK];
    int64_t stride[LSCC_MAX_RANK]; /* input strides */
} perm_ctx;

static int64_t perm_index(const int64_t *oidx, const void *vctx) {
    const perm_ctx *c = vctx;
    int64_t off = 0;
    for (int i = 0; i < c->rank; i++) off += oidx[i] * c->stride[c->perm[i]];
    return off;
}

static lscc_status transpose_infer(lscc_graph *g, lscc_node *n, lscc_diag *d) {
    lscc_status st = lscc_check_in(g, n, 0, d);
    if (st) return st;
    lscc_tensor *x = lscc_in(g, n, 0), *y = lscc_out(g, n, 0);
    perm_ctx c;
    st = read_perm(g, n, c.perm, d);
    if (st) return st;
    c.rank = x->rank;
    y->dtype = x->dtype;
    y->rank = x->rank;
    for (int i = 0; i < x->rank; i++) y->dims[i] = x->dims[c.perm[i]];
    int64_t xd[LSCC_MAX_RANK];
    if (!lscc_const_dims(g, x, xd)) return LSCC_OK;
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        c.stride[i] = s;
        s *= xd[i];
    }
    if (x->initializer && x->rank == 2 && c.perm[0] == 1) y->transpose_of = 1 + n->inputs[0];
    return lscc_fold_index(g, n, 0, 0, perm_index, &c, d);
}

static void transpose_locality(lscc_graph *g, lscc_node *n) {
    lscc_tensor *x = lscc_in(g, n, 0), *y = lscc_out(g, n, 0);
    int perm[LSCC_MAX_RANK];
    if (read_perm(g, n, perm, NULL) != LSCC_OK) {
        lscc_loc_set(n, LSCC_LOC_UNSUPPORTED, "its perm is invalid");
        return;
    }
    for (int i = 0; i < y->rank; i++) y->axes[i] = (signed char)lscc_tag(x, perm[i]);
    n->loc = LSCC_LOC_LOCAL;
}

const lscc_op_desc lscc_op_Transpose = {"Transpose", 1, 1, 1, 1, transpose_infer, transpose_locality, 0};
