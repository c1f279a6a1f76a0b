/* Lowering of a planned model to kernel-level ops, weights buffers and the
 * tile arena (lower.h). */
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lower {
    lscc_prog *g;
    const lscc_plan *p;
    const lscc_graph *ir;
    lscc_diag *d;
    int nbad;
    int train_bn_affine;
    int tcap, ocap, bcap;
    int *bufmap; /* IR tensor -> buffer index */
    signed char (*perm)[4]; /* per IR tensor: stored position of each logical dim; [0] = -1 unknown */
    char *failed;           /* per IR tensor: written by a node already reported */
    char *skip;             /* nodes folded into a pattern (decomposed LayerNorm) */
} lower;

static void bad(lower *L, const lscc_node *n, const char *fmt, const char *detail) {
    for (int o = 0; o < n->noutputs; o++)
        if (n->outputs[o] >= 0) L->failed[n->outputs[o]] = 1;
    char why[400];
    snprintf(why, sizeof why, fmt, detail ? detail : "");
    if (L->nbad++ < 200) lscc_note(L->d, "node '%s' (%s): %s", n->name, n->op_type, why);
}

static int64_t cdim(const lscc_graph *g, const lscc_tensor *t, int i) {
    double v;
    if (i < 0 || i >= t->rank || !lscc_sym_get_const(g->syms, t->dims[i], &v)) return -1;
    return (int64_t)v;
}

static int ltensor(lower *L, int ir, int bb) {
    lscc_prog *g = L->g;
    if (g->tmap[ir] >= 0) return g->tmap[ir];
    if (g->nt == L->tcap) {
        L->tcap = L->tcap ? 2 * L->tcap : 64;
        lscc_ltensor *t = realloc(g->t, sizeof *t * (size_t)L->tcap);
        if (!t) return -1;
        g->t = t;
    }
    lscc_ltensor *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    t->ir = ir;
    t->bb = bb;
    const lscc_tensor *it = &L->ir->tensors[ir];
    for (int i = 0; i < 4; i++) t->perm[i] = (signed char)i;
    t->c = it->rank >= 2 ? cdim(L->ir, it, 1) : 1;
    if (bb && L->perm[ir][0] >= 0) {
        memcpy(t->perm, L->perm[ir], 4);
        for (int i = 0; i < 4; i++)
            if (t->perm[i] == 1) t->c = cdim(L->ir, it, i);
    }
    if (bb)
        for (int a = 0; a < 2; a++) t->side[a] = lscc_plan_region_side(L->p, ir, a);
    g->tmap[ir] = g->nt;
    return g->nt++;
}

static int buffer_from(lower *L, int ir, int trainable, const char *folded_bn) {
    if (L->bufmap[ir] >= 0) {
        L->g->buf[L->bufmap[ir]].readers++;
        return L->bufmap[ir];
    }
    lscc_prog *g = L->g;
    if (g->nbuf == L->bcap) {
        L->bcap = L->bcap ? 2 * L->bcap : 64;
        lscc_lbuf *b = realloc(g->buf, sizeof *b * (size_t)L->bcap);
        if (!b) return -1;
        g->buf = b;
    }
    const lscc_tensor *t = &L->ir->tensors[ir];
    lscc_lbuf *b = &g->buf[g->nbuf];
    memset(b, 0, sizeof *b);
    b->ir = ir;
    b->name = lscc_strdup(t->name);
    b->folded_bn = folded_bn;
    b->trainable = trainable && t->initializer;
    b->readers = 1;
    b->rank = t->rank > 4 ? 4 : t->rank;
    int64_t n = lscc_tensor_numel_const(L->ir, t);
    int bad = n < 0 || t->rank > 4 || !b->name;
    if (!bad) {
        for (int i = 0; i < b->rank; i++) b->dims[i] = cdim(L->ir, t, i);
        b->count = (size_t)n;
        b->vals = malloc(sizeof(double) * (b->count ? b->count : 1));
        bad = !b->vals;
        for (size_t i = 0; !bad && i < b->count; i++) bad = lscc_tensor_get(t, i, &b->vals[i]) != 0;
    }
    if (bad) { /* not counted in g->nbuf, so lscc_prog_free would not see it */
        free(b->name);
        free(b->vals);
        memset(b, 0, sizeof *b);
        return -1;
    }
    L->bufmap[ir] = g->nbuf;
    return g->nbuf++;
}

static int buffer_new(lower *L, const char *name, size_t count) {
    lscc_prog *g = L->g;
    if (g->nbuf == L->bcap) {
        L->bcap = L->bcap ? 2 * L->bcap : 64;
        lscc_lbuf *b = realloc(g->buf, sizeof *b * (size_t)L->bcap);
        if (!b) return -1;
        g->buf = b;
    }
    lscc_lbuf *b = &g->buf[g->nbuf];
    memset(b, 0, sizeof *b);
    b->ir = -1;
    b->name = lscc_strdup(name);
    b->rank = 1;
    b->dims[0] = (int64_t)count;
    b->count = count;
    b->vals = calloc(count ? count : 1, sizeof(double));
    if (!b->name || !b->vals) {
        free(b->name);
        free(b->vals);
        memset(b, 0, sizeof *b);
        return -1;
    }
    return g->nbuf++;
}

static lscc_lop *new_op(lower *L, lscc_lk kind, int node, int bb) {
    lscc_prog *g = L->g;
    if (g->nop == L->ocap) {
        L->ocap = L->ocap ? 2 * L->ocap : 64;
        lscc_lop *o = realloc(g->op, sizeof *o * (size_t)L->ocap);
        if (!o) return NULL;
        g->op = o;
    }
    lscc_lop *o = &g->op[g->nop++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->node = node;
    o->bb = bb;
    o->w = o->b = o->mean = o->invstd = -1;
    return o;
}

static int is_const(const lscc_graph *g, int t) { return t >= 0 && g->tensors[t].kind == LSCC_T_CONST; }

static int set_inputs(lower *L, lscc_lop *o, const int *ir, int n, int bb) {
    o->in = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!o->in) return -1;
    o->nin = n;
    for (int k = 0; k < n; k++)
        if ((o->in[k] = ltensor(L, ir[k], bb && L->p->reg[ir[k]].valid)) < 0) return -1;
    return 0;
}

/* Axis along which constant c broadcasts against x (right-aligned): -1 for
 * a scalar, the axis of x where c is not 1 when there is exactly one, else
 * -2 (not a per-axis constant). */
static int bcast_axis(const lscc_graph *g, const lscc_tensor *x, const lscc_tensor *c) {
    if (lscc_tensor_numel_const(g, c) == 1) return -1;
    if (c->rank > x->rank) return -2;
    int ax = -2;
    for (int i = 0; i < c->rank; i++) {
        int64_t v = cdim(g, c, i);
        if (v == 1) continue;
        if (ax != -2) return -2;
        int xi = x->rank - c->rank + i;
        int64_t xv = cdim(g, x, xi);
        if (xv != v) return -2;
        ax = xi;
    }
    return ax;
}

static int unary_kind(const char *op, lscc_un *u) {
    static const struct { const char *n; lscc_un u; } tab[] = {
        {"Relu", UN_RELU}, {"LeakyRelu", UN_LEAKY}, {"Clip", UN_CLIP}, {"Sigmoid", UN_SIGMOID},
        {"Tanh", UN_TANH}, {"HardSigmoid", UN_HSIGMOID}, {"HardSwish", UN_HSWISH}, {"Erf", UN_ERF}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(op, tab[i].n)) {
            *u = tab[i].u;
            return 1;
        }
    return 0;
}

/* A streamed tensor lscc can store: rank 4, a known layout with H and W
 * stored last, known channels. */
static int is_nchw(const lower *L, int ir) {
    const lscc_tensor *t = &L->ir->tensors[ir];
    const lscc_region *r = &L->p->reg[ir];
    const signed char *pm = L->perm[ir];
    if (t->rank != 4 || pm[0] < 0 || pm[r->dim[0]] != 2 || pm[r->dim[1]] != 3) return 0;
    for (int i = 0; i < 4; i++)
        if (pm[i] == 1) return cdim(L->ir, t, i) > 0;
    return 0;
}

static int is_identity(const lower *L, int ir) {
    const signed char *pm = L->perm[ir];
    return pm[0] == 0 && pm[1] == 1 && pm[2] == 2 && pm[3] == 3;
}

/* Stored layouts of the backbone's tensors, in op order: the image is NCHW;
 * Transpose permutes the logical dims over the same storage; everything
 * else keeps its first computed input's layout. */
static void layouts(lower *L) {
    const lscc_graph *g = L->ir;
    for (int t = 0; t < g->ntensors; t++) L->perm[t][0] = -1;
    if (g->tensors[g->image].rank == 4)
        for (int i = 0; i < 4; i++) L->perm[g->image][i] = (signed char)i;
    for (int i = 0; i < g->nnodes; i++) {
        const lscc_node *n = &g->nodes[i];
        if (n->dead || !L->p->m->split.in_backbone[i] || n->noutputs < 1 || n->outputs[0] < 0) continue;
        int src = -1;
        for (int k = 0; k < n->ninputs && src < 0; k++)
            if (n->inputs[k] >= 0 && !is_const(g, n->inputs[k]) && L->perm[n->inputs[k]][0] >= 0) src = n->inputs[k];
        int y = n->outputs[0];
        if (g->tensors[y].rank != 4) continue;
        if (src < 0) { /* after a reshape: NCHW when H and W are the last two dims */
            if (L->p->reg[y].valid && L->p->reg[y].dim[0] == 2 && L->p->reg[y].dim[1] == 3)
                for (int k = 0; k < 4; k++) L->perm[y][k] = (signed char)k;
            continue;
        }
        if (!strcmp(n->op_type, "Transpose")) {
            const int64_t *tp = NULL;
            if (lscc_attr_ints(n, "perm", &tp) != 4) continue;
            for (int k = 0; k < 4; k++) {
                if (tp[k] < 0 || tp[k] > 3) break;
                L->perm[y][k] = L->perm[src][tp[k]];
            }
        } else {
            memcpy(L->perm[y], L->perm[src], 4);
        }
    }
}

/* The decomposed LayerNorm of opset < 17 exports over one axis:
 *   m = ReduceMean(x, [a]); d = x - m; v = ReduceMean(d^2, [a]);
 *   y = d / sqrt(v + eps)
 * becomes one LK_LAYERNORM (the scale and shift after it stay per-channel
 * ops). Returns 1 when node i starts such a chain (and lowers it), 0 when
 * it does not, -1 when out of memory. */
static int only_consumer(const lscc_graph *g, int t, const char *op) {
    if (t < 0 || g->tensors[t].nconsumers != 1) return -1;
    int c = g->tensors[t].consumers[0];
    return !strcmp(g->nodes[c].op_type, op) && !g->nodes[c].dead ? c : -1;
}

static int reduce_axis(const lscc_graph *g, const lscc_node *n, const lscc_tensor *x) {
    const int64_t *ax = NULL;
    if (lscc_attr_ints(n, "axes", &ax) != 1 || !lscc_attr_int(n, "keepdims", 1)) return -1;
    (void)g;
    return (int)(ax[0] < 0 ? ax[0] + x->rank : ax[0]);
}

static int layernorm_pattern(lower *L, int i) {
    const lscc_graph *g = L->ir;
    const lscc_node *rm = &g->nodes[i];
    int x = rm->inputs[0], m = rm->outputs[0], bb = L->p->m->split.in_backbone[i];
    const lscc_tensor *tx = &g->tensors[x];
    int a = reduce_axis(g, rm, tx);
    if (a != tx->rank - 1) return 0;
    int sub = only_consumer(g, m, "Sub");
    if (sub < 0 || g->nodes[sub].inputs[0] != x || g->nodes[sub].inputs[1] != m) return 0;
    int d = g->nodes[sub].outputs[0];
    if (g->tensors[d].nconsumers != 2) return 0;
    int pw = -1, dv = -1;
    for (int k = 0; k < 2; k++) {
        int c = g->tensors[d].consumers[k];
        if (!strcmp(g->nodes[c].op_type, "Pow")) pw = c;
        if (!strcmp(g->nodes[c].op_type, "Div")) dv = c;
    }
    double two, eps;
    if (pw < 0 || dv < 0 || g->nodes[pw].inputs[0] != d || lscc_tensor_get(&g->tensors[g->nodes[pw].inputs[1]], 0, &two) ||
        two != 2 || g->nodes[dv].inputs[0] != d)
        return 0;
    int rm2 = only_consumer(g, g->nodes[pw].outputs[0], "ReduceMean");
    if (rm2 < 0 || reduce_axis(g, &g->nodes[rm2], &g->tensors[g->nodes[pw].outputs[0]]) != a) return 0;
    int add = only_consumer(g, g->nodes[rm2].outputs[0], "Add");
    if (add < 0 || !is_const(g, g->nodes[add].inputs[1]) || lscc_tensor_get(&g->tensors[g->nodes[add].inputs[1]], 0, &eps))
        return 0;
    int sq = only_consumer(g, g->nodes[add].outputs[0], "Sqrt");
    if (sq < 0 || only_consumer(g, g->nodes[sq].outputs[0], "Div") != dv || g->nodes[dv].inputs[1] != g->nodes[sq].outputs[0])
        return 0;
    int sax = bb ? L->perm[x][a] : a;
    if (bb && sax != 1) return 0;
    lscc_lop *o = new_op(L, LK_LAYERNORM, i, bb);
    if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, g->nodes[dv].outputs[0], bb)) < 0) return -1;
    o->a0 = eps;
    o->ax = sax;
    L->skip[sub] = L->skip[pw] = L->skip[rm2] = L->skip[add] = L->skip[sq] = L->skip[dv] = 1;
    return 1;
}

/* Channel shuffle as exported: Reshape [N, C, H, W] -> [N, a, b, H, W],
 * Transpose (0, 2, 1, 3, 4), Reshape back to [N, C, H, W]: a channel
 * permutation, out[i * a + j] = in[j * b + i]. Returns 1 when node i starts
 * it (and lowers it), 0 when not, -1 when out of memory. */
static int shuffle_pattern(lower *L, int i) {
    const lscc_graph *g = L->ir;
    const lscc_node *r1 = &g->nodes[i];
    int x = r1->inputs[0], t5 = r1->outputs[0];
    const lscc_tensor *tx = &g->tensors[x], *tt = &g->tensors[t5];
    if (tx->rank != 4 || tt->rank != 5 || L->perm[x][0] < 0 || !is_identity(L, x)) return 0;
    if (!lscc_sym_same(g->syms, tt->dims[0], tx->dims[0]) || !lscc_sym_same(g->syms, tt->dims[3], tx->dims[2]) ||
        !lscc_sym_same(g->syms, tt->dims[4], tx->dims[3]))
        return 0;
    int64_t c = cdim(g, tx, 1), a = cdim(g, tt, 1), b = cdim(g, tt, 2);
    if (c < 1 || a < 1 || b < 1 || a * b != c) return 0;
    int tr = only_consumer(g, t5, "Transpose");
    const int64_t *tp = NULL;
    if (tr < 0 || lscc_attr_ints(&g->nodes[tr], "perm", &tp) != 5 || tp[0] != 0 || tp[1] != 2 || tp[2] != 1 ||
        tp[3] != 3 || tp[4] != 4)
        return 0;
    int r2 = only_consumer(g, g->nodes[tr].outputs[0], "Reshape");
    if (r2 < 0) return 0;
    int y = g->nodes[r2].outputs[0];
    const lscc_tensor *ty = &g->tensors[y];
    if (ty->rank != 4) return 0;
    for (int k = 0; k < 4; k++)
        if (!lscc_sym_same(g->syms, ty->dims[k], tx->dims[k])) return 0;
    for (int k = 0; k < 4; k++) L->perm[y][k] = (signed char)k; /* NCHW again */
    lscc_lop *o = new_op(L, LK_CHANPERM, i, 1);
    if (!o || set_inputs(L, o, &x, 1, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
    o->src = malloc(sizeof(int) * (size_t)c);
    if (!o->src) return -1;
    for (int64_t k = 0; k < c; k++) o->src[k] = (int)((k % a) * b + k / a);
    L->skip[tr] = L->skip[r2] = 1;
    return 1;
}

static int lower_node(lower *L, int i) {
    const lscc_graph *g = L->ir;
    const lscc_node *n = &g->nodes[i];
    const char *op = n->op_type;
    int bb = L->p->m->split.in_backbone[i];
    int x = n->ninputs > 0 ? n->inputs[0] : -1, y = n->noutputs > 0 ? n->outputs[0] : -1;
    lscc_un un;
    if (y < 0) return 0;
    if (bb && !strcmp(op, "Reshape") && L->perm[x][0] >= 0 && L->g->tmap[x] >= 0) {
        int r = shuffle_pattern(L, i);
        if (r) return r < 0 ? -1 : 0;
    }
    if (bb) {
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0 && L->failed[n->inputs[k]]) { /* its writer is reported: no cascade */
                for (int o = 0; o < n->noutputs; o++)
                    if (n->outputs[o] >= 0) L->failed[n->outputs[o]] = 1;
                return 0;
            } else if (n->inputs[k] >= 0 && L->p->reg[n->inputs[k]].valid && !is_const(g, n->inputs[k]) &&
                (!is_nchw(L, n->inputs[k]) || L->g->tmap[n->inputs[k]] < 0)) {
                bad(L, n, "reads a streamed tensor that is not N x C x H x W in some order (reshaped layouts in "
                    "the backbone are not supported yet)%s", NULL);
                return 0;
            }
        int spatial = !strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") ||
                      !strcmp(op, "Pad") || !strcmp(op, "Concat") || !strcmp(op, "BatchNormalization");
        for (int k = 0; spatial && k < n->ninputs; k++)
            if (n->inputs[k] >= 0 && !is_const(g, n->inputs[k]) && !is_identity(L, n->inputs[k])) {
                bad(L, n, "reads a channels-last tensor; lscc needs N x C x H x W here%s", NULL);
                return 0;
            }
        if (!is_nchw(L, y)) {
            bad(L, n, "its output is not N x C x H x W (in any order of those four axes); lscc streams only such "
                "tensors%s", NULL);
            return 0;
        }
    }
    if (!strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        if (!bb) {
            bad(L, n, "only runs in the streamed backbone here%s", NULL);
            return 0;
        }
        if (op[0] == 'C' && (!is_const(g, n->inputs[1]) || (n->ninputs > 2 && n->inputs[2] >= 0 && !is_const(g, n->inputs[2])))) {
            bad(L, n, "weights computed at run time are not supported%s", NULL);
            return 0;
        }
        if (op[0] == 'M' && n->noutputs > 1 && n->outputs[1] >= 0) {
            bad(L, n, "the Indices output of MaxPool is not supported%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, op[0] == 'C' ? LK_CONV : op[0] == 'M' ? LK_MAXPOOL : LK_AVGPOOL, i, 1);
        if (!o || set_inputs(L, o, &x, 1, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
        for (int a = 0; a < 2; a++) {
            o->geo[0 + a] = n->win[a].k;
            o->geo[2 + a] = n->win[a].s;
            o->geo[4 + a] = n->win[a].d;
            o->geo[6 + a] = n->win[a].p0;
            o->geo[8 + a] = n->win[a].p1;
        }
        o->geo[10] = op[0] == 'C' ? lscc_attr_int(n, "group", 1) : 1;
        o->oc = L->g->t[o->out].c;
        o->flag = (int)lscc_attr_int(n, "count_include_pad", 0);
        if (op[0] == 'C') {
            if ((o->w = buffer_from(L, n->inputs[1], 1, NULL)) < 0) return -1;
            if (n->ninputs > 2 && n->inputs[2] >= 0 && (o->b = buffer_from(L, n->inputs[2], 1, n->folded_bn)) < 0)
                return -1;
            if (n->folded_bn) L->g->buf[o->w].folded_bn = n->folded_bn;
        }
        return 0;
    }
    if (!strcmp(op, "Pad")) {
        double fill = 0;
        if (strcmp(lscc_attr_str(n, "mode", "constant"), "constant")) {
            bad(L, n, "only constant padding is supported (mode '%s')", lscc_attr_str(n, "mode", "constant"));
            return 0;
        }
        if (n->ninputs > 2 && n->inputs[2] >= 0 && lscc_tensor_get(&g->tensors[n->inputs[2]], 0, &fill)) fill = 0;
        if (!bb || cdim(g, &g->tensors[x], 1) != cdim(g, &g->tensors[y], 1) || n->win[0].p0 < 0 || n->win[1].p0 < 0) {
            bad(L, n, "only non-negative padding of H and W in the backbone is supported%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_PAD, i, 1);
        if (!o || set_inputs(L, o, &x, 1, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
        o->geo[6] = n->win[0].p0;
        o->geo[7] = n->win[1].p0;
        o->a0 = fill;
        return 0;
    }
    if (!strcmp(op, "Concat")) {
        if (!bb || lscc_attr_int(n, "axis", 0) != 1) {
            bad(L, n, "only channel Concat (axis 1) in the backbone is supported%s", NULL);
            return 0;
        }
        for (int k = 0; k < n->ninputs; k++)
            if (is_const(g, n->inputs[k])) {
                bad(L, n, "concatenating a constant is not supported%s", NULL);
                return 0;
            }
        lscc_lop *o = new_op(L, LK_CONCAT, i, 1);
        if (!o || set_inputs(L, o, n->inputs, n->ninputs, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
        return 0;
    }
    if (!strcmp(op, "BatchNormalization")) {
        int64_t c = cdim(g, &g->tensors[x], 1);
        if (c < 1 || g->tensors[x].rank < 2) {
            bad(L, n, "unknown channel count%s", NULL);
            return 0;
        }
        double eps = lscc_attr_float(n, "epsilon", 1e-5);
        char name[700];
        if (L->train_bn_affine) {
            /* y = (x - mean) * invstd * gamma + beta: gamma and beta trainable,
               the statistics frozen */
            for (int k = 1; k < 5; k++)
                if (n->ninputs <= k || !is_const(g, n->inputs[k])) {
                    bad(L, n, "BatchNormalization needs constant parameters and statistics%s", NULL);
                    return 0;
                }
            lscc_lop *o = new_op(L, LK_AFFINE, i, bb);
            if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
            if ((o->w = buffer_from(L, n->inputs[1], 1, NULL)) < 0 || (o->b = buffer_from(L, n->inputs[2], 1, NULL)) < 0 ||
                (o->mean = buffer_from(L, n->inputs[3], 0, NULL)) < 0)
                return -1;
            snprintf(name, sizeof name, "%s::invstd", n->name);
            if ((o->invstd = buffer_new(L, name, (size_t)c)) < 0) return -1;
            for (int64_t k = 0; k < c; k++) {
                double v = 0;
                lscc_tensor_get(&g->tensors[n->inputs[4]], (size_t)k, &v);
                L->g->buf[o->invstd].vals[k] = 1 / sqrt(v + eps);
            }
            o->bc = c;
            o->flag = 1;
            return 0;
        }
        lscc_lop *o = new_op(L, LK_AFFINE, i, bb);
        if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
        snprintf(name, sizeof name, "%s::scale", n->name);
        if ((o->w = buffer_new(L, name, (size_t)c)) < 0) return -1;
        snprintf(name, sizeof name, "%s::shift", n->name);
        if ((o->b = buffer_new(L, name, (size_t)c)) < 0) return -1;
        for (int64_t k = 0; k < c; k++) {
            double v[4] = {0, 0, 0, 0};
            for (int j = 0; j < 4; j++) lscc_tensor_get(&g->tensors[n->inputs[1 + j]], (size_t)k, &v[j]);
            double s = v[0] / sqrt(v[3] + eps);
            L->g->buf[o->w].vals[k] = s;
            L->g->buf[o->b].vals[k] = v[1] - v[2] * s;
        }
        o->bc = c;
        return 0;
    }
    if (unary_kind(op, &un)) {
        lscc_lop *o = new_op(L, LK_UNARY, i, bb);
        if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
        o->un = un;
        if (un == UN_LEAKY) o->a0 = lscc_attr_float(n, "alpha", 0.01);
        if (un == UN_HSIGMOID) {
            o->a0 = lscc_attr_float(n, "alpha", 0.2);
            o->a1 = lscc_attr_float(n, "beta", 0.5);
        }
        if (un == UN_CLIP) {
            double lo = -INFINITY, hi = INFINITY, v;
            if (n->ninputs > 1 && n->inputs[1] >= 0 && !lscc_tensor_get(&g->tensors[n->inputs[1]], 0, &v)) lo = v;
            if (n->ninputs > 2 && n->inputs[2] >= 0 && !lscc_tensor_get(&g->tensors[n->inputs[2]], 0, &v)) hi = v;
            o->a0 = lscc_attr_float(n, "min", lo);
            o->a1 = lscc_attr_float(n, "max", hi);
            if (!isfinite(o->a0) || !isfinite(o->a1)) {
                bad(L, n, "Clip needs finite constant bounds%s", NULL);
                free(o->in); /* the op is dropped: lscc_prog_free no longer sees it */
                L->g->nop--;
                return 0;
            }
        }
        return 0;
    }
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) {
        int a = n->inputs[0], b = n->inputs[1];
        char bop = op[0] == 'A' ? '+' : op[0] == 'S' ? '-' : op[0] == 'M' ? '*' : '/';
        if (is_const(g, a) && is_const(g, b)) return 0; /* folded */
        if (is_const(g, a)) {
            if (bop == '-' || bop == '/') {
                bad(L, n, "a constant first operand of Sub/Div is not supported%s", NULL);
                return 0;
            }
            int t = a;
            a = b;
            b = t;
        }
        if (!is_const(g, b)) {
            const lscc_tensor *ta = &g->tensors[a], *tb = &g->tensors[b];
            int same = ta->rank == tb->rank;
            for (int k = 0; same && k < ta->rank; k++) same = lscc_sym_same(g->syms, ta->dims[k], tb->dims[k]);
            if (!same) {
                bad(L, n, "broadcasting between two computed tensors is not supported%s", NULL);
                return 0;
            }
            lscc_lop *o = new_op(L, LK_BIN, i, bb);
            int ins[2] = {a, b};
            if (!o || set_inputs(L, o, ins, 2, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
            o->bop = bop;
            return 0;
        }
        int ax = bcast_axis(g, &g->tensors[a], &g->tensors[b]);
        if (bb && ax >= 0) ax = L->perm[a][ax]; /* the stored axis */
        if (ax == -2 || (bb && ax != -1 && ax != 1)) {
            bad(L, n, "the constant operand must be a scalar or per channel%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_BINC, i, bb);
        if (!o || set_inputs(L, o, &a, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
        if ((o->w = buffer_from(L, b, 1, NULL)) < 0) return -1;
        o->bop = bop;
        o->flag = ax;
        o->ax = ax;
        return 0;
    }
    if (!strcmp(op, "Transpose")) {
        if (!bb) { /* the head: only when it keeps the memory order (size-1 dims move) */
            const lscc_tensor *tx = &g->tensors[x];
            const int64_t *tp = NULL;
            int np = lscc_attr_ints(n, "perm", &tp), last = -1, ok = np == tx->rank;
            for (int k = 0; ok && k < np; k++) {
                if (tp[k] < 0 || tp[k] >= tx->rank || cdim(g, tx, (int)tp[k]) == 1) continue;
                ok = tp[k] > last;
                last = (int)tp[k];
            }
            if (!ok) {
                bad(L, n, "a Transpose in the head that moves data is not supported%s", NULL);
                return 0;
            }
        }
        lscc_lop *o = new_op(L, LK_COPY, i, bb);
        if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
        return 0;
    }
    if (!strcmp(op, "LayerNormalization")) {
        const lscc_tensor *tx = &g->tensors[x];
        int64_t ax = lscc_attr_int(n, "axis", -1);
        if (ax < 0) ax += tx->rank;
        int sax = bb && ax >= 0 && ax < 4 ? L->perm[x][ax] : (int)ax;
        if (ax != tx->rank - 1 || (bb && sax != 1) || n->ninputs < 2 || !is_const(g, n->inputs[1]) ||
            (n->ninputs > 2 && n->inputs[2] >= 0 && !is_const(g, n->inputs[2])) ||
            (n->noutputs > 1 && n->outputs[1] >= 0) || (n->noutputs > 2 && n->outputs[2] >= 0)) {
            bad(L, n, "only LayerNormalization over the channels (the last axis), with constant scale and bias, "
                "is supported%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_LAYERNORM, i, bb);
        if (!o || set_inputs(L, o, &x, 1, bb) || (o->out = ltensor(L, y, bb)) < 0) return -1;
        if ((o->w = buffer_from(L, n->inputs[1], 1, NULL)) < 0) return -1;
        if (n->ninputs > 2 && n->inputs[2] >= 0 && (o->b = buffer_from(L, n->inputs[2], 1, NULL)) < 0) return -1;
        o->a0 = lscc_attr_float(n, "epsilon", 1e-5);
        o->ax = sax;
        return 0;
    }
    if (!strcmp(op, "ReduceMean")) {
        int r = layernorm_pattern(L, i);
        if (r) return r < 0 ? -1 : 0;
    }
    if (bb && !strcmp(op, "MatMul")) {
        /* x W^T over the channels (a Linear layer on a channels-last tensor)
           is a 1x1 convolution whose weight is W itself */
        int B = n->inputs[1], W = -1;
        const lscc_tensor *tx = &g->tensors[x];
        int pb = -1; /* the Transpose of W, folded to a constant or not */
        for (int k = 0; B >= 0 && k < g->nnodes && pb < 0; k++)
            if (g->nodes[k].noutputs > 0 && g->nodes[k].outputs[0] == B) pb = k;
        if (B >= 0 && is_const(g, B) && g->tensors[B].transpose_of > 0) W = g->tensors[B].transpose_of - 1;
        if (W < 0 && pb >= 0 && !strcmp(g->nodes[pb].op_type, "Transpose") && g->nodes[pb].ninputs > 0 &&
            is_const(g, g->nodes[pb].inputs[0]) && g->tensors[g->nodes[pb].inputs[0]].rank == 2)
            W = g->nodes[pb].inputs[0];
        if (W < 0 && B >= 0 && is_const(g, B) && g->tensors[B].rank == 2 && tx->rank == 4 && L->perm[x][3] == 1) {
            /* x W with W stored [C, K] (the constant-folded export): y = W^T x
               per pixel, a GEMM with W read transposed; its gradient stays in
               W's layout */
            lscc_lop *o = new_op(L, LK_CHANMM, i, 1);
            if (!o || set_inputs(L, o, &x, 1, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
            if ((o->w = buffer_from(L, B, 1, NULL)) < 0) return -1;
            o->k = L->g->t[o->in[0]].c;
            o->n = L->g->t[o->out].c;
            if (cdim(g, &g->tensors[B], 0) != o->k || cdim(g, &g->tensors[B], 1) != o->n) {
                bad(L, n, "the weight's shape does not match the channels%s", NULL);
                return 0;
            }
            return 0;
        }
        if (W < 0 || tx->rank != 4 || L->perm[x][3] != 1) {
            bad(L, n, "only x W^T over the channels (a Linear layer on a channels-last tensor) is supported in the "
                "backbone%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_CONV, i, 1);
        if (!o || set_inputs(L, o, &x, 1, 1) || (o->out = ltensor(L, y, 1)) < 0) return -1;
        for (int a = 0; a < 2; a++) {
            o->geo[0 + a] = o->geo[2 + a] = o->geo[4 + a] = 1;
            o->geo[6 + a] = o->geo[8 + a] = 0;
        }
        o->geo[10] = 1;
        o->oc = L->g->t[o->out].c;
        if ((o->w = buffer_from(L, W, 1, NULL)) < 0) return -1;
        if (L->g->buf[o->w].count != (size_t)(o->oc * L->g->t[o->in[0]].c)) {
            bad(L, n, "the weight's shape does not match the channels%s", NULL);
            return 0;
        }
        return 0;
    }
    if (bb) {
        bad(L, n, "this op is not supported in the streamed backbone yet%s", NULL);
        return 0;
    }
    /* ---- head (whole tensors) ---- */
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "ReduceMean")) {
        const lscc_tensor *tx = &g->tensors[x];
        if (op[0] == 'R') {
            const int64_t *ax = NULL;
            int na = lscc_attr_ints(n, "axes", &ax);
            int64_t v[2] = {-1, -1};
            if (na == 0 && n->ninputs > 1 && n->inputs[1] >= 0 && lscc_tensor_numel_const(g, &g->tensors[n->inputs[1]]) == 2) {
                double d0, d1;
                lscc_tensor_get(&g->tensors[n->inputs[1]], 0, &d0);
                lscc_tensor_get(&g->tensors[n->inputs[1]], 1, &d1);
                v[0] = (int64_t)d0;
                v[1] = (int64_t)d1;
                na = 2;
            } else if (na == 2) {
                v[0] = ax[0];
                v[1] = ax[1];
            }
            for (int k = 0; k < 2; k++)
                if (v[k] < 0) v[k] += tx->rank;
            if (na != 2 || tx->rank != 4 || !((v[0] == 2 && v[1] == 3) || (v[0] == 3 && v[1] == 2))) {
                bad(L, n, "only ReduceMean over the two spatial axes of N x C x H x W is supported%s", NULL);
                return 0;
            }
        } else if (tx->rank != 4) {
            bad(L, n, "GlobalAveragePool of a tensor that is not N x C x H x W%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_GAP, i, 0);
        if (!o || set_inputs(L, o, &x, 1, 0) || (o->out = ltensor(L, y, 0)) < 0) return -1;
        return 0;
    }
    if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        lscc_lop *o = new_op(L, LK_COPY, i, 0);
        if (!o || set_inputs(L, o, &x, 1, 0) || (o->out = ltensor(L, y, 0)) < 0) return -1;
        return 0;
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        int B = n->inputs[1], C = op[0] == 'G' && n->ninputs > 2 ? n->inputs[2] : -1;
        const lscc_tensor *ta = &g->tensors[x], *tb = &g->tensors[B];
        int ta_ = op[0] == 'G' ? (int)lscc_attr_int(n, "transA", 0) : 0;
        int tb_ = op[0] == 'G' ? (int)lscc_attr_int(n, "transB", 0) : 0;
        if (!is_const(g, B) || (C >= 0 && !is_const(g, C)) || ta->rank != 2 || tb->rank != 2 || ta_) {
            bad(L, n, "only [M, K] x constant [K, N] (+ constant C) products are supported in the head%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, op[0] == 'G' ? LK_GEMM : LK_MATMUL, i, 0);
        if (!o || set_inputs(L, o, &x, 1, 0) || (o->out = ltensor(L, y, 0)) < 0) return -1;
        if ((o->w = buffer_from(L, B, 1, NULL)) < 0) return -1;
        o->k = cdim(g, tb, tb_ ? 1 : 0);
        o->n = cdim(g, tb, tb_ ? 0 : 1);
        o->flag = tb_ << 1;
        o->a0 = op[0] == 'G' ? lscc_attr_float(n, "alpha", 1) : 1;
        o->a1 = op[0] == 'G' ? lscc_attr_float(n, "beta", 1) : 0;
        if (C >= 0) {
            const lscc_tensor *tc = &g->tensors[C];
            int64_t cn = lscc_tensor_numel_const(g, tc);
            if (!(cn == 1 || cn == o->n) || (tc->rank == 2 && cdim(g, tc, 0) != 1)) {
                bad(L, n, "Gemm's C must be a scalar or a row of N values%s", NULL);
                return 0;
            }
            if ((o->b = buffer_from(L, C, 1, NULL)) < 0) return -1;
            o->bc = cn;
        }
        return 0;
    }
    if (!strcmp(op, "Softmax")) {
        const lscc_tensor *tx = &g->tensors[x];
        int64_t ax = lscc_attr_int(n, "axis", -1);
        if (ax < 0) ax += tx->rank;
        if (ax != tx->rank - 1) {
            bad(L, n, "only Softmax over the last axis is supported%s", NULL);
            return 0;
        }
        lscc_lop *o = new_op(L, LK_SOFTMAX, i, 0);
        if (!o || set_inputs(L, o, &x, 1, 0) || (o->out = ltensor(L, y, 0)) < 0) return -1;
        return 0;
    }
    bad(L, n, "this op is not supported in the head yet%s", NULL);
    return 0;
}

/* ---- lifetimes: the runtime lays the tile arena out from them ---- */

static int plan_lifetimes(lscc_prog *g) {
    int nt = g->nt, nop = g->nop;
    for (int t = 0; t < nt; t++) g->t[t].live[0] = g->t[t].live[1] = -1;
    for (int i = 0; i < nop; i++) {
        const lscc_lop *o = &g->op[i];
        if (!o->bb) continue;
        g->t[o->out].live[0] = i;
        for (int k = 0; k < o->nin; k++)
            if (g->t[o->in[k]].bb) g->t[o->in[k]].live[1] = i;
    }
    for (int t = 0; t < nt; t++) {
        lscc_ltensor *lt = &g->t[t];
        int64_t first = lt->live[0], last = lt->live[1];
        if (t == g->split) lt->live[1] = nop;           /* read after the tile: stitched */
        else if (lt->live[1] < lt->live[0]) lt->live[1] = lt->live[0]; /* written, never read */
        /* gradient: from its last reader's backward to its producer's */
        lt->glive[0] = t == g->split ? -1 : nop - 1 - last;
        lt->glive[1] = nop - 1 - first;
        if (lt->glive[1] < lt->glive[0]) lt->glive[1] = lt->glive[0];
        lt->alias = lt->galias = -1;
    }
    /* a backbone Add reads its inputs through block moves in their own
       regions (lscc_rt_add_fwd): a residual input, whose region exceeds the
       sum's, then needs no scratch copy the size of the biggest activation */
    for (int i = 0; i < nop; i++) {
        lscc_lop *o = &g->op[i];
        o->direct = o->bb && o->kind == LK_BIN && o->nin == 2 && o->bop == '+' && g->t[o->in[0]].bb &&
                    g->t[o->in[1]].bb && g->t[o->in[0]].c == g->t[o->out].c && g->t[o->in[1]].c == g->t[o->out].c;
    }
    /* ReLU and Clip run in place when their input has no other reader: the
       input's buffer then holds the output, and backward still finds the
       right derivative there (y > 0 exactly where x > 0; lo < y < hi exactly
       where lo < x < hi). No kernel's backward reads its own output, so the
       input's producer is unaffected. This halves the stored activations
       of Conv -> ReLU chains, the bulk of a training tile. Add and Sub run in
       place in their first operand likewise (a residual block's second Conv
       output): their backward reads no values. */
    int *readers = calloc((size_t)(nt ? nt : 1), sizeof *readers);
    if (!readers) return -1;
    for (int i = 0; i < nop; i++)
        for (int k = 0; k < g->op[i].nin; k++) readers[g->op[i].in[k]]++;
    for (int i = 0; i < nop; i++) {
        const lscc_lop *o = &g->op[i];
        const int unary = o->kind == LK_UNARY && o->nin == 1 && (o->un == UN_RELU || (o->un == UN_CLIP && o->a0 < o->a1));
        /* Add / Sub in place in their first operand: backward reads no values */
        const int add = o->kind == LK_BIN && o->nin == 2 && (o->bop == '+' || o->bop == '-') && o->in[0] != o->in[1];
        if (!o->bb || !(unary || add)) continue;
        int x = o->in[0], y = o->out;
        lscc_ltensor *tx = &g->t[x], *ty = &g->t[y];
        if (!tx->bb || !ty->bb || x == g->image || x == g->split || readers[x] != 1 || tx->c != ty->c ||
            tx->side[0] != ty->side[0] || tx->side[1] != ty->side[1])
            continue;
        int root = tx->alias >= 0 ? tx->alias : x;
        ty->alias = root;
        if (ty->live[1] > g->t[root].live[1]) g->t[root].live[1] = ty->live[1];
        /* ReLU / Clip backward in place too: x's gradient (written by this op
           alone) is y's gradient buffer, masked (lscc_relu_mask_f32) */
        if (unary && tx->grad && ty->grad && y != g->split) {
            int groot = ty->galias >= 0 ? ty->galias : y;
            tx->galias = groot;
            if (tx->glive[1] > g->t[groot].glive[1]) g->t[groot].glive[1] = tx->glive[1];
        }
        /* a ReLU in place in a Conv's output, its only reader: one kernel
           (oneDNN post-op) computes both; backward is unchanged */
        for (int j = 0; j < i && unary && o->un == UN_RELU && root == x; j++)
            if (g->op[j].kind == LK_CONV && g->op[j].bb && g->op[j].out == x) g->op[j].fused = g->op[i].fused = 1;
    }
    free(readers);
    return 0;
}

int lscc_lop_reads_views(const lscc_lop *o) {
    switch (o->kind) {
    case LK_AFFINE: case LK_UNARY: case LK_BINC: case LK_COPY: case LK_CHANMM: case LK_LAYERNORM:
        return 1;
    case LK_BIN:
        return !o->direct;
    default: /* Conv and pools (windows), Pad, Concat, channel permutations: block moves; GAP: own region */
        return 0;
    }
}

lscc_status lscc_lower(const lscc_plan *p, int train_bn_affine, lscc_prog **out, lscc_diag *d) {
    *out = NULL;
    const lscc_graph *ir = p->m->g;
    lower L;
    memset(&L, 0, sizeof L);
    L.p = p;
    L.ir = ir;
    L.d = d;
    L.train_bn_affine = train_bn_affine;
    lscc_prog *g = calloc(1, sizeof *g);
    L.g = g;
    L.bufmap = malloc(sizeof(int) * (size_t)(ir->ntensors ? ir->ntensors : 1));
    if (!g || !L.bufmap || !(g->tmap = malloc(sizeof(int) * (size_t)(ir->ntensors ? ir->ntensors : 1)))) {
        free(L.bufmap);
        lscc_prog_free(g);
        return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    }
    g->p = p;
    for (int t = 0; t < ir->ntensors; t++) g->tmap[t] = L.bufmap[t] = -1;
    L.perm = malloc(sizeof *L.perm * (size_t)(ir->ntensors ? ir->ntensors : 1));
    L.skip = calloc((size_t)(ir->nnodes ? ir->nnodes : 1), 1);
    L.failed = calloc((size_t)(ir->ntensors ? ir->ntensors : 1), 1);
    if (!L.perm || !L.skip || !L.failed) {
        free(L.failed);
        free(L.bufmap);
        free(L.perm);
        free(L.skip);
        lscc_prog_free(g);
        return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    }
    layouts(&L);
    lscc_status st = LSCC_OK;
    if (ir->noutputs != 1) st = lscc_error(d, LSCC_E_UNSUPPORTED, "the model has %d outputs; lscc emits code for "
                                           "models with one output", ir->noutputs);
    if (!st && (g->image = ltensor(&L, ir->image, 1)) < 0) st = lscc_error(d, LSCC_E_NOMEM, "out of memory");
    if (!st && !is_nchw(&L, ir->image))
        st = lscc_error(d, LSCC_E_UNSUPPORTED, "the image input '%s' must be N x C x H x W with a known C",
                        ir->tensors[ir->image].name);
    lscc_diag nd;
    lscc_diag_init(&nd);
    L.d = &nd;
    for (int i = 0; i < ir->nnodes && !st; i++) {
        const lscc_node *n = &ir->nodes[i];
        if (n->dead || n->noutputs < 1 || n->outputs[0] < 0 || is_const(ir, n->outputs[0])) continue;
        if (!ir->tensors[n->outputs[0]].image_dep || L.skip[i]) continue;
        if (lower_node(&L, i)) st = lscc_error(d, LSCC_E_NOMEM, "out of memory while lowering");
    }
    L.d = d;
    if (!st && L.nbad) {
        st = lscc_error(d, LSCC_E_UNSUPPORTED, "lscc cannot generate code for %d node%s of '%s':", L.nbad,
                        L.nbad > 1 ? "s" : "", p->m->path);
        if (nd.text) lscc_note(d, "%s", nd.text);
        lscc_note(d, "remove or replace these ops, or report the model so lscc learns them");
    }
    lscc_diag_free(&nd);
    if (!st) {
        g->split = g->tmap[p->m->split.tensor];
        g->output = g->tmap[ir->outputs[0]];
        if (g->split < 0 || g->output < 0)
            st = lscc_error(d, LSCC_E_INTERNAL, "the split or output tensor was not lowered");
    }
    if (!st) {
        /* gradients: a tensor needs one when an op before it has parameters
           (or it is the image, for the input gradient) */
        g->t[g->image].grad = 1;
        for (int i = 0; i < g->nop; i++) {
            lscc_lop *o = &g->op[i];
            int need = (o->w >= 0 && g->buf[o->w].trainable) || (o->b >= 0 && g->buf[o->b].trainable);
            for (int k = 0; k < o->nin; k++) need |= g->t[o->in[k]].grad;
            g->t[o->out].grad |= need;
        }
        g->t[g->split].grad = 1;
        size_t off = 0;
        for (int k = 0; k < g->nbuf; k++) {
            g->buf[k].offset = off;
            off += g->buf[k].count;
        }
        g->weights_count = off;
        if (plan_lifetimes(g)) st = lscc_error(d, LSCC_E_NOMEM, "out of memory");
    }
    free(L.bufmap);
    free(L.perm);
    free(L.skip);
    free(L.failed);
    if (st) {
        lscc_prog_free(g);
        return st;
    }
    *out = g;
    return LSCC_OK;
}

void lscc_prog_free(lscc_prog *g) {
    if (!g) return;
    for (int i = 0; i < g->nop; i++) {
        free(g->op[i].in);
        free(g->op[i].src);
    }
    for (int k = 0; k < g->nbuf; k++) {
        free(g->buf[k].name);
        free(g->buf[k].vals);
    }
    free(g->op);
    free(g->t);
    free(g->buf);
    free(g->tmap);
    free(g);
}
