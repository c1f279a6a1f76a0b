/* Frozen BatchNorm folding into the preceding Conv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static int is_const_float(const lscc_tensor *t) {
    return t && t->kind == LSCC_T_CONST && t->data && (t->dtype == LSCC_DT_F32 || t->dtype == LSCC_DT_F64);
}

static void put(lscc_tensor *t, unsigned char *buf, size_t i, double v) {
    if (t->dtype == LSCC_DT_F32) {
        float f = (float)v;
        memcpy(buf + 4 * i, &f, 4);
    } else {
        memcpy(buf + 8 * i, &v, 8);
    }
}

/* Folds bn (node index) into conv; 1 if folded, 0 if not applicable, -1 OOM. */
static int fold_one(lscc_graph *g, lscc_node *bn, lscc_diag *d) {
    if (bn->ninputs != 5 || bn->noutputs < 1 || lscc_attr_int(bn, "training_mode", 0) != 0) return 0;
    for (int o = 1; o < bn->noutputs; o++)
        if (bn->outputs[o] >= 0 && g->tensors[bn->outputs[o]].nconsumers) return 0;
    lscc_tensor *x = lscc_in(g, bn, 0);
    if (!x || x->producer < 0 || x->nconsumers != 1) return 0;
    for (int i = 0; i < g->noutputs; i++)
        if (&g->tensors[g->outputs[i]] == x) return 0;
    lscc_node *conv = &g->nodes[x->producer];
    if (strcmp(conv->op_type, "Conv") != 0) return 0;
    lscc_tensor *w = lscc_in(g, conv, 1), *b = lscc_in(g, conv, 2);
    lscc_tensor *sc = lscc_in(g, bn, 1), *be = lscc_in(g, bn, 2), *mu = lscc_in(g, bn, 3), *var = lscc_in(g, bn, 4);
    if (!is_const_float(w) || (b && !is_const_float(b)) || !is_const_float(sc) || !is_const_float(be) ||
        !is_const_float(mu) || !is_const_float(var))
        return 0;
    if (w->nconsumers != 1 || (b && b->nconsumers != 1)) return 0; /* shared weights: keep BN as affine */
    int64_t m = lscc_tensor_numel_const(g, sc), wn = lscc_tensor_numel_const(g, w);
    double wm;
    if (m <= 0 || wn <= 0 || !lscc_sym_get_const(g->syms, w->dims[0], &wm) || (int64_t)wm != m ||
        lscc_tensor_numel_const(g, be) != m || lscc_tensor_numel_const(g, mu) != m ||
        lscc_tensor_numel_const(g, var) != m || (b && lscc_tensor_numel_const(g, b) != m))
        return 0;
    double eps = lscc_attr_float(bn, "epsilon", 1e-5);
    size_t es = lscc_dtype_size(w->dtype);
    unsigned char *nw = malloc((size_t)wn * es), *nb = malloc((size_t)m * es);
    if (!nw || !nb) {
        free(nw);
        free(nb);
        return -1;
    }
    int64_t per = wn / m;
    for (int64_t c = 0; c < m; c++) {
        double gm, bt, mn, vr, b0 = 0, v;
        lscc_tensor_get(sc, (size_t)c, &gm);
        lscc_tensor_get(be, (size_t)c, &bt);
        lscc_tensor_get(mu, (size_t)c, &mn);
        lscc_tensor_get(var, (size_t)c, &vr);
        if (b) lscc_tensor_get(b, (size_t)c, &b0);
        double f = gm / sqrt(vr + eps);
        for (int64_t k = 0; k < per; k++) {
            lscc_tensor_get(w, (size_t)(c * per + k), &v);
            put(w, nw, (size_t)(c * per + k), v * f);
        }
        put(w, nb, (size_t)c, (b0 - mn) * f + bt);
    }
    free(w->owned);
    w->owned = nw;
    w->data = nw;
    w->nbytes = (size_t)wn * es;
    int bi;
    if (b) {
        free(b->owned);
        b->owned = nb;
        b->data = nb;
        b->nbytes = (size_t)m * es;
        b->dtype = w->dtype;
    } else {
        char name[600];
        snprintf(name, sizeof name, "%s::folded_bias", conv->name);
        int ci = (int)(conv - g->nodes);
        bi = lscc_graph_tensor(g, name);
        conv = &g->nodes[ci];
        if (bi < 0) {
            free(nb);
            return -1;
        }
        lscc_tensor *t = &g->tensors[bi];
        t->kind = LSCC_T_CONST;
        t->initializer = 1; /* a trainable bias, as the BN's beta was */
        t->dtype = w->dtype;
        t->owned = nb;
        t->data = nb;
        t->nbytes = (size_t)m * es;
        lscc_tensor_set_shape(g, t, 1, &m);
        int *in = realloc(conv->inputs, sizeof(int) * 3);
        if (!in) return -1;
        conv->inputs = in;
        if (conv->ninputs < 2) return -1;
        in[2] = bi;
        conv->ninputs = 3;
    }
    /* the conv now writes the BN's output */
    conv->outputs[0] = bn->outputs[0];
    conv->folded_bn = lscc_strdup(bn->name);
    bn->dead = 1;
    (void)d;
    return 1;
}

lscc_status lscc_fold_batchnorm(lscc_graph *g, int *nfolded, lscc_diag *d) {
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (strcmp(g->nodes[i].op_type, "BatchNormalization") != 0) continue;
        int r = fold_one(g, &g->nodes[i], d);
        if (r < 0) return lscc_error(d, LSCC_E_NOMEM, "out of memory while folding BatchNormalization");
        count += r;
    }
    if (nfolded) *nfolded = count;
    return count ? lscc_graph_link(g, d) : LSCC_OK;
}
