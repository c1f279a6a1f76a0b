/* Region analysis: closed-form interior regions, the tile size, bytes per
 * tile, and exact clipped regions for any output box. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static int is_bb(const lscc_tensor *t) { return t->image_dep && !t->global_dep; }

int64_t lscc_plan_dim(const lscc_plan *p, const lscc_tensor *t, int i, int64_t n, int64_t h, int64_t w) {
    double vars[256], v;
    const lscc_graph *g = p->m->g;
    if (lscc_sym_nvars(g->syms) > 256 || i < 0 || i >= t->rank) return -1;
    lscc_bind_vars(g, n, h, w, vars);
    if (lscc_sym_eval(g->syms, t->dims[i], vars, &v) || v < 0) return -1;
    return (int64_t)v;
}

/* Folds the input window of one op into the consumer-side region. */
/* Geometry beyond this is refused: no image is that large, and it keeps
 * every product below in 64-bit range. */
#define GEOM_LIMIT ((int64_t)1 << 40)

/* Saturating arithmetic for byte counts of absurd (hostile) models. */
static int64_t sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static void widen(lscc_region *in, const lscc_region *out, const lscc_node *n, int *conflict, int *huge) {
    for (int a = 0; a < 2; a++) {
        const lscc_window *w = &n->win[a];
        if (w->s < 1 || w->k < 1 || w->d < 1 || out->S[a] > GEOM_LIMIT || w->s > GEOM_LIMIT || w->k > GEOM_LIMIT || w->d > GEOM_LIMIT ||
            llabs(w->p0) > GEOM_LIMIT || llabs(out->lo[a]) > GEOM_LIMIT || llabs(out->hi[a]) > GEOM_LIMIT) {
            *huge = 1;
            return;
        }
        /* operands below 2^40 and factors below 2^20 in practice; checked anyway */
        int64_t S = sat_mul(out->S[a], w->s), lo = sat_mul(out->lo[a], w->s) - w->p0;
        int64_t hi = sat_add(sat_add(sat_mul(out->hi[a] - 1, w->s) - w->p0, sat_mul(w->d, w->k - 1)), 1);
        if (S > GEOM_LIMIT || llabs(lo) > GEOM_LIMIT || hi > GEOM_LIMIT) {
            *huge = 1;
            return;
        }
        if (!in->valid) {
            in->S[a] = S;
            in->lo[a] = lo;
            in->hi[a] = hi;
        } else {
            if (in->S[a] != S) *conflict = 1;
            if (lo < in->lo[a]) in->lo[a] = lo;
            if (hi > in->hi[a]) in->hi[a] = hi;
        }
    }
    in->valid = 1;
}

static int spatial_dims(const lscc_tensor *t, int dim[2]) {
    dim[0] = dim[1] = -1;
    for (int i = 0; i < t->rank; i++) {
        if (t->axes[i] == LSCC_AX_H) dim[0] = i;
        if (t->axes[i] == LSCC_AX_W) dim[1] = i;
    }
    return dim[0] >= 0 && dim[1] >= 0;
}

int64_t lscc_plan_region_side(const lscc_plan *p, int t, int axis) {
    const lscc_region *r = &p->reg[t];
    return sat_add(sat_mul(p->out_tile[axis] - 1, r->S[axis]), r->hi[axis] - r->lo[axis]);
}

int64_t lscc_plan_region_bytes(const lscc_plan *p, int ti) {
    const lscc_tensor *t = &p->m->g->tensors[ti];
    const lscc_region *r = &p->reg[ti];
    int64_t e = p->esize;
    for (int i = 0; i < t->rank; i++) {
        int64_t v;
        if (i == r->dim[0] || i == r->dim[1]) {
            v = lscc_plan_region_side(p, ti, i == r->dim[1]);
        } else {
            v = lscc_plan_dim(p, t, i, p->opt.batch, p->in_tile[0], p->in_tile[1]);
            if (v < 0) v = 1;
        }
        e = sat_mul(e, v);
    }
    return e;
}

static void count_bytes(lscc_plan *p) {
    lscc_graph *g = p->m->g;
    const char *inbb = p->m->split.in_backbone;
    int64_t *bytes = calloc((size_t)g->ntensors, sizeof *bytes);
    int *left = calloc((size_t)g->ntensors, sizeof *left);
    if (!bytes || !left) {
        free(bytes);
        free(left);
        return;
    }
    int64_t all = 0;
    for (int t = 0; t < g->ntensors; t++) {
        if (!p->reg[t].valid) continue;
        bytes[t] = lscc_plan_region_bytes(p, t);
        all = sat_add(all, bytes[t]);
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (!inbb[i]) continue;
        const lscc_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int t = n->inputs[k];
            if (t < 0) continue;
            if (p->reg[t].valid) left[t]++;
            else if (g->tensors[t].kind == LSCC_T_CONST && lscc_dtype_is_float(g->tensors[t].dtype))
                p->bytes_params = sat_add(p->bytes_params, (int64_t)g->tensors[t].nbytes);
        }
    }
    /* inference: a tensor lives from its producer to its last reader */
    int64_t live = bytes[g->image], peak = live;
    for (int i = 0; i < g->nnodes; i++) {
        if (!inbb[i]) continue;
        const lscc_node *n = &g->nodes[i];
        for (int o = 0; o < n->noutputs; o++)
            if (n->outputs[o] >= 0) live = sat_add(live, bytes[n->outputs[o]]);
        if (live > peak) peak = live;
        for (int k = 0; k < n->ninputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && p->reg[t].valid && --left[t] == 0 && t != p->m->split.tensor) live -= bytes[t];
        }
    }
    p->bytes_infer = peak;
    /* training: every activation is kept for the backward sweep; gradients
       live from their first (reverse) reader to their producer */
    char *has = calloc((size_t)g->ntensors, 1);
    int64_t glive = bytes[p->m->split.tensor], gpeak = glive;
    for (int i = g->nnodes - 1; i >= 0 && has; i--) {
        if (!inbb[i]) continue;
        const lscc_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && p->reg[t].valid && is_bb(&g->tensors[t]) && !has[t]) {
                has[t] = 1;
                glive = sat_add(glive, bytes[t]);
            }
        }
        if (glive > gpeak) gpeak = glive;
        for (int o = 0; o < n->noutputs; o++)
            if (n->outputs[o] >= 0) glive -= bytes[n->outputs[o]];
    }
    p->bytes_train = sat_add(all, gpeak);
    free(has);
    free(bytes);
    free(left);
}

lscc_status lscc_plan_build(lscc_model *m, const lscc_options *opt, lscc_plan **out, lscc_diag *d) {
    *out = NULL;
    lscc_graph *g = m->g;
    lscc_plan *p = calloc(1, sizeof *p);
    if (!p) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    p->m = m;
    p->opt = *opt;
    if (p->opt.batch < 1) p->opt.batch = 1;
    p->esize = 4;
    p->reg = calloc((size_t)g->ntensors, sizeof *p->reg);
    if (!p->reg) {
        free(p);
        return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    }
    int y = m->split.tensor, conflict = 0, huge = 0;
    lscc_region *ry = &p->reg[y];
    ry->valid = 1;
    for (int a = 0; a < 2; a++) {
        ry->S[a] = 1;
        ry->lo[a] = 0;
        ry->hi[a] = 1;
    }
    for (int i = g->nnodes - 1; i >= 0; i--) {
        if (!m->split.in_backbone[i]) continue;
        const lscc_node *n = &g->nodes[i];
        for (int o = 0; o < n->noutputs; o++) {
            int to = n->outputs[o];
            if (to < 0 || !p->reg[to].valid) continue;
            for (int k = 0; k < n->ninputs; k++) {
                int ti = n->inputs[k];
                if (ti < 0 || !is_bb(&g->tensors[ti])) continue;
                int before = conflict;
                widen(&p->reg[ti], &p->reg[to], n, &conflict, &huge);
                if (conflict && !before)
                    lscc_error(d, LSCC_E_UNSUPPORTED, "tensor '%s' is read at two different strides relative to the "
                               "output (paths through node '%s' disagree); lscc needs one tile grid per tensor",
                               g->tensors[ti].name, n->name);
            }
        }
    }
    if (huge)
        lscc_error(d, LSCC_E_UNSUPPORTED, "the backbone's cumulative stride or receptive field exceeds 2^40 pixels");
    lscc_status st = conflict || huge ? LSCC_E_UNSUPPORTED : LSCC_OK;
    for (int t = 0; t < g->ntensors && !st; t++) {
        if (!p->reg[t].valid) continue;
        if (!spatial_dims(&g->tensors[t], p->reg[t].dim))
            st = lscc_error(d, LSCC_E_INTERNAL, "backbone tensor '%s' lost its spatial axes", g->tensors[t].name);
    }
    if (!st && !p->reg[g->image].valid) st = lscc_error(d, LSCC_E_INTERNAL, "the image is not in the backbone");
    if (st) {
        lscc_plan_free(p);
        return st;
    }
    /* largest output tile whose every region fits in opt->tile */
    p->min_tile = 1;
    for (int a = 0; a < 2; a++) {
        int64_t best = INT64_MAX;
        for (int t = 0; t < g->ntensors; t++) {
            const lscc_region *r = &p->reg[t];
            if (!r->valid) continue;
            int64_t span = r->hi[a] - r->lo[a];
            if (span > p->min_tile) p->min_tile = span;
            const int64_t lim = a == 0 || opt->tile_w <= 0 ? opt->tile : opt->tile_w;
            int64_t fit = lim >= span ? (lim - span) / r->S[a] + 1 : 0;
            if (fit < best) best = fit;
        }
        p->out_tile[a] = best;
    }
    if (p->out_tile[0] < 1 || p->out_tile[1] < 1) {
        char tb[48];
        lscc_tile_str(opt, tb, sizeof tb);
        st = lscc_error(d, LSCC_E_UNSUPPORTED, "--tile %s is smaller than the receptive field: one output position "
                        "of '%s' reads %lld x %lld image pixels; use --tile %lld or more",
                        tb, g->tensors[y].name, (long long)(p->reg[g->image].hi[0] - p->reg[g->image].lo[0]),
                        (long long)(p->reg[g->image].hi[1] - p->reg[g->image].lo[1]), (long long)p->min_tile);
        lscc_plan_free(p);
        return st;
    }
    if (opt->image_h > 0 && opt->image_w > 0) {
        const lscc_tensor *ty = &g->tensors[y];
        for (int a = 0; a < 2; a++) {
            int64_t size = lscc_plan_dim(p, ty, p->reg[y].dim[a], p->opt.batch, opt->image_h, opt->image_w);
            if (size < 1) {
                st = lscc_error(d, LSCC_E_UNSUPPORTED, "a %lld x %lld image is too small for this model (the split "
                                "tensor '%s' would be empty)", (long long)opt->image_h, (long long)opt->image_w,
                                ty->name);
                lscc_plan_free(p);
                return st;
            }
            if (p->out_tile[a] > size) p->out_tile[a] = size;
        }
    }
    const lscc_region *rx = &p->reg[g->image];
    for (int a = 0; a < 2; a++) {
        p->in_tile[a] = lscc_plan_region_side(p, g->image, a);
        p->rf[a] = rx->hi[a] - rx->lo[a];
    }
    count_bytes(p);
    *out = p;
    return LSCC_OK;
}

void lscc_tile_str(const lscc_options *opt, char *buf, size_t n) {
    if (opt->tile_w > 0 && opt->tile_w != opt->tile)
        snprintf(buf, n, "%lldx%lld", (long long)opt->tile, (long long)opt->tile_w);
    else
        snprintf(buf, n, "%lld", (long long)opt->tile);
}

void lscc_plan_free(lscc_plan *p) {
    if (!p) return;
    free(p->reg);
    free(p);
}

int lscc_plan_regions(const lscc_plan *p, int64_t n, int64_t h, int64_t w, int64_t y0, int64_t y1, int64_t x0,
                      int64_t x1, int64_t *box) {
    const lscc_graph *g = p->m->g;
    int y = p->m->split.tensor;
    for (int t = 0; t < g->ntensors * 4; t++) box[t] = -1;
    int64_t hy = lscc_plan_dim(p, &g->tensors[y], p->reg[y].dim[0], n, h, w);
    int64_t wy = lscc_plan_dim(p, &g->tensors[y], p->reg[y].dim[1], n, h, w);
    if (hy < 1 || wy < 1 || y0 < 0 || x0 < 0 || y1 > hy || x1 > wy || y0 >= y1 || x0 >= x1) return -1;
    box[y * 4 + 0] = y0;
    box[y * 4 + 1] = y1;
    box[y * 4 + 2] = x0;
    box[y * 4 + 3] = x1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        if (!p->m->split.in_backbone[i]) continue;
        const lscc_node *nd = &g->nodes[i];
        for (int o = 0; o < nd->noutputs; o++) {
            int to = nd->outputs[o];
            if (to < 0 || box[to * 4] < 0) continue;
            for (int k = 0; k < nd->ninputs; k++) {
                int ti = nd->inputs[k];
                if (ti < 0 || !p->reg[ti].valid) continue;
                int64_t nb[4];
                for (int a = 0; a < 2; a++) {
                    const lscc_window *wn = &nd->win[a];
                    int64_t size = lscc_plan_dim(p, &g->tensors[ti], p->reg[ti].dim[a], n, h, w);
                    if (size < 0) return -1;
                    int64_t A = box[to * 4 + 2 * a], B = box[to * 4 + 2 * a + 1];
                    int64_t lo = A * wn->s - wn->p0, hi = (B - 1) * wn->s - wn->p0 + wn->d * (wn->k - 1) + 1;
                    nb[2 * a] = lo < 0 ? 0 : lo;
                    nb[2 * a + 1] = hi > size ? size : hi;
                }
                if (nb[0] >= nb[1] || nb[2] >= nb[3]) continue; /* reads only padding */
                int64_t *b = &box[ti * 4];
                if (b[0] < 0) {
                    memcpy(b, nb, sizeof nb);
                } else {
                    if (nb[0] < b[0]) b[0] = nb[0];
                    if (nb[1] > b[1]) b[1] = nb[1];
                    if (nb[2] < b[2]) b[2] = nb[2];
                    if (nb[3] > b[3]) b[3] = nb[3];
                }
            }
        }
    }
    return 0;
}
