/* Region views, Concat and Pad over tile regions (the data movement of the
 * backbone). A tensor's buffer holds its region of the current tile,
 * n x c x rows x cols; an op reads its inputs over its output's region. */
#include <stdlib.h>
#include <string.h>

#include "rt_impl.h"

void lscc_rt_add(int esize, size_t n, const void *src, void *dst) {
    if (esize == 4) {
        const float *s = src;
        float *d = dst;
        for (size_t i = 0; i < n; i++) d[i] += s[i];
    } else {
        const double *s = src;
        double *d = dst;
        for (size_t i = 0; i < n; i++) d[i] += s[i];
    }
}

static int same_box(const lscc_rt *rt, int a, int b) {
    return !memcmp(&rt->box[4 * a], &rt->box[4 * b], 4 * sizeof(int64_t));
}

/* Moves the part of `in` under out's region, channels [0, c), to or from a
 * buffer shaped like out's region with ctot channels starting at c0, with the
 * region-copy kernels. dir 0: in -> o (copy); dir 1: o -> in (accumulate). */
static void move(lscc_rt *rt, int in, int out, void *ib, void *ob, int64_t c, int64_t ctot, int64_t c0, int dir) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    const lscc_region_copy r = {(size_t)rt->n, (size_t)c, (size_t)c, 0, (size_t)(bi[1] - bi[0]), (size_t)(bi[3] - bi[2]),
                                (size_t)(bo[0] - bi[0]), (size_t)(bo[2] - bi[2]), (size_t)ctot, (size_t)c0,
                                (size_t)(bo[1] - bo[0]), (size_t)(bo[3] - bo[2])};
    if (rt->m->esize == 4) {
        if (dir == 0) lscc_copy_region_f32(&r, ib, ob);
        else lscc_copy_region_acc_f32(&r, ob, ib);
    } else {
        if (dir == 0) lscc_copy_region_f64(&r, ib, ob);
        else lscc_copy_region_acc_f64(&r, ob, ib);
    }
}

/* Scratch slot `slot` with room for n elements. The arena plan sizes the
 * slots for every view the model makes; growing is a safety net that keeps
 * results right should a tile ever need more. */
static void *scratch(lscc_rt *rt, int slot, size_t n) {
    if (n > rt->scratch_cap) {
        for (int k = 0; k < 4; k++) {
            void *p = realloc(rt->scratch[k], n * (size_t)rt->m->esize);
            if (!p) {
                lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory growing the tile scratch", rt->m->name);
                return NULL;
            }
            rt->scratch[k] = p;
        }
        rt->scratch_cap = n;
    }
    return rt->scratch[slot];
}

void *lscc_rt_view(lscc_rt *rt, int in, int out, int slot) {
    if (!rt->m->tensors[in].bb || !rt->m->tensors[out].bb || rt->box[4 * in] < 0 || same_box(rt, in, out))
        return rt->b[in];
    int64_t c = rt->m->tensors[in].c;
    void *v = scratch(rt, slot, (size_t)rt->n * (size_t)c * lscc_rt_hw(rt, out));
    if (!v) return rt->b[in]; /* rt->err is set: the sweep stops after this tile */
    move(rt, in, out, rt->b[in], v, c, c, 0, 0);
    return v;
}

void *lscc_rt_gview(lscc_rt *rt, int in, int out, int slot) {
    if (!rt->g[in]) return NULL;
    if (!rt->m->tensors[in].bb || !rt->m->tensors[out].bb || rt->box[4 * in] < 0 || same_box(rt, in, out))
        return rt->g[in];
    size_t n = (size_t)rt->n * (size_t)rt->m->tensors[in].c * lscc_rt_hw(rt, out);
    void *v = scratch(rt, slot, n);
    if (!v) return rt->g[in];
    memset(v, 0, n * (size_t)rt->m->esize);
    return v;
}

void lscc_rt_gview_done(lscc_rt *rt, int in, int out, void *gv) {
    if (!gv || gv == rt->g[in]) return;
    int64_t c = rt->m->tensors[in].c;
    move(rt, in, out, rt->g[in], gv, c, c, 0, 1);
}

void lscc_rt_concat_fwd(lscc_rt *rt, int in, int out, int64_t c0) {
    move(rt, in, out, rt->b[in], rt->b[out], rt->m->tensors[in].c, rt->m->tensors[out].c, c0, 0);
}

void lscc_rt_concat_bwd(lscc_rt *rt, int in, int out, int64_t c0) {
    if (rt->g[in]) move(rt, in, out, rt->g[in], rt->g[out], rt->m->tensors[in].c, rt->m->tensors[out].c, c0, 1);
}

/* out position (y, x) holds in (y - pt, x - pl) when that is inside in,
 * else fill; both buffers hold their regions (in's covers what out reads). */
void lscc_rt_pad_fwd(lscc_rt *rt, int in, int out, int64_t pt, int64_t pl, double fill) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    int64_t c = rt->m->tensors[out].c, H = rt->dims[in * LSCC_RT_MAXRANK + 2], W = rt->dims[in * LSCC_RT_MAXRANK + 3];
    int64_t ih = bi[0] < 0 ? 0 : bi[1] - bi[0], iw = bi[0] < 0 ? 0 : bi[3] - bi[2];
    int64_t oh = bo[1] - bo[0], ow = bo[3] - bo[2];
    for (int64_t p = 0; p < rt->n * c; p++)
        for (int64_t r = 0; r < oh; r++)
            for (int64_t q = 0; q < ow; q++) {
                int64_t y = bo[0] + r - pt, x = bo[2] + q - pl;
                int inside = y >= 0 && y < H && x >= 0 && x < W;
                size_t o = (size_t)((p * oh + r) * ow + q), i = inside ? (size_t)((p * ih + y - bi[0]) * iw + x - bi[2]) : 0;
                if (rt->m->esize == 4) ((float *)rt->b[out])[o] = inside ? ((float *)rt->b[in])[i] : (float)fill;
                else ((double *)rt->b[out])[o] = inside ? ((double *)rt->b[in])[i] : fill;
            }
}

void lscc_rt_pad_bwd(lscc_rt *rt, int in, int out, int64_t pt, int64_t pl) {
    if (!rt->g[in] || rt->box[4 * in] < 0) return;
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    int64_t c = rt->m->tensors[out].c, H = rt->dims[in * LSCC_RT_MAXRANK + 2], W = rt->dims[in * LSCC_RT_MAXRANK + 3];
    int64_t ih = bi[1] - bi[0], iw = bi[3] - bi[2], oh = bo[1] - bo[0], ow = bo[3] - bo[2];
    for (int64_t p = 0; p < rt->n * c; p++)
        for (int64_t r = 0; r < oh; r++)
            for (int64_t q = 0; q < ow; q++) {
                int64_t y = bo[0] + r - pt, x = bo[2] + q - pl;
                if (y < 0 || y >= H || x < 0 || x >= W) continue;
                size_t o = (size_t)((p * oh + r) * ow + q), i = (size_t)((p * ih + y - bi[0]) * iw + x - bi[2]);
                if (rt->m->esize == 4) ((float *)rt->g[in])[i] += ((float *)rt->g[out])[o];
                else ((double *)rt->g[in])[i] += ((double *)rt->g[out])[o];
            }
}

void lscc_rt_accumulate(const lscc_rt *rt, size_t n, const void *src, void *dst) {
    lscc_rt_add(rt->m->esize, n, src, dst);
}

void lscc_rt_bcast(const lscc_rt *rt, int t, int ax, size_t *n, size_t *c, size_t *hw) {
    size_t count = lscc_rt_count(rt, t);
    if (ax < 0) {
        *n = 1;
        *c = 1;
        *hw = count;
        return;
    }
    const int64_t *d = &rt->dims[t * LSCC_RT_MAXRANK];
    if (rt->m->tensors[t].bb && rt->box[4 * t] >= 0) {
        *hw = ax == 1 ? lscc_rt_hw(rt, t) : 1; /* tile regions: N x C x rows x cols */
    } else {
        *hw = 1;
        for (int i = ax + 1; i < rt->rank[t]; i++) *hw *= (size_t)d[i];
    }
    *c = (size_t)d[ax];
    *n = count / (*c * *hw);
}

int lscc_rt_dim(double v, int64_t *out) {
    if (!(v >= 1 && v <= 9007199254740992.0) || v != (double)(int64_t)v) return 0;
    *out = (int64_t)v;
    return 1;
}

static void chanperm(lscc_rt *rt, int in, int out, const int *src, int backward) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    size_t es = (size_t)rt->m->esize;
    int64_t c = rt->m->tensors[out].c, ih = bi[1] - bi[0], iw = bi[3] - bi[2], oh = bo[1] - bo[0], ow = bo[3] - bo[2];
    char *ib = backward ? rt->g[in] : rt->b[in], *ob = backward ? rt->g[out] : rt->b[out];
    if (!ib) return;
    for (int64_t n = 0; n < rt->n; n++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t r = 0; r < oh; r++) {
                char *s = ib + (size_t)(((n * c + src[k]) * ih + r + bo[0] - bi[0]) * iw + bo[2] - bi[2]) * es;
                char *d = ob + (size_t)(((n * c + k) * oh + r) * ow) * es;
                if (backward) lscc_rt_add(rt->m->esize, (size_t)ow, d, s);
                else memcpy(d, s, (size_t)ow * es);
            }
}

void lscc_rt_chanperm_fwd(lscc_rt *rt, int in, int out, const int *src) { chanperm(rt, in, out, src, 0); }
void lscc_rt_chanperm_bwd(lscc_rt *rt, int in, int out, const int *src) { chanperm(rt, in, out, src, 1); }
