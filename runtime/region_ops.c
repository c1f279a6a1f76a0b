/* Region views, Concat and Pad over tile regions (the data movement of the
 * backbone). A tensor's buffer holds its region of the current tile,
 * n x c x rows x cols; an op reads its inputs over its output's region. */
#include <stdlib.h>
#include <string.h>

#include "rt_impl.h"

static int same_box(const lscc_rt *rt, int a, int b) {
    return !memcmp(&rt->box[4 * a], &rt->box[4 * b], 4 * sizeof(int64_t));
}

/* Moves the part of `in` under out's region, channels [0, c), to or from a
 * buffer shaped like out's region with ctot channels starting at c0, as
 * blocks of the backend. dir 0: in -> o (copy); dir 1: o -> in (accumulate);
 * dir 2: in -> o (accumulate). */
static void move(lscc_rt *rt, int in, int out, void *ib, void *ob, int64_t c, int64_t ctot, int64_t c0, int dir) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    size_t ih = (size_t)(bi[1] - bi[0]), iw = (size_t)(bi[3] - bi[2]), oh = (size_t)(bo[1] - bo[0]),
           ow = (size_t)(bo[3] - bo[2]);
    if (rt->nhwc) { /* per batch item and output row: the pixels' channel runs, contiguous when c == ctot */
        const size_t nc = (size_t)c, nt = (size_t)ctot, run = c == ctot ? ow * nc : nc, px = c == ctot ? 1 : ow;
        for (size_t b = 0; b < (size_t)rt->n; b++) {
            size_t io = ((b * ih + (size_t)(bo[0] - bi[0])) * iw + (size_t)(bo[2] - bi[2])) * nc;
            size_t oo = b * oh * ow * nt + (size_t)c0;
            lscc_rt_block k = {oh, px, run, io, iw * nc, nc, oo, ow * nt, nt};
            if (dir == 1) k = (lscc_rt_block){oh, px, run, oo, ow * nt, nt, io, iw * nc, nc};
            rt->dev->block(rt->devctx, rt->m->esize, &k, dir != 1 ? ib : ob, dir != 1 ? ob : ib, dir != 0);
        }
        return;
    }
    /* one block over all batch items when the channel counts agree */
    size_t per = ctot == c ? 1 : (size_t)rt->n, planes = (size_t)c * (ctot == c ? (size_t)rt->n : 1);
    for (size_t b = 0; b < per; b++) {
        size_t io = b * (size_t)c * ih * iw + (size_t)(bo[0] - bi[0]) * iw + (size_t)(bo[2] - bi[2]);
        size_t oo = (b * (size_t)ctot + (size_t)c0) * oh * ow;
        lscc_rt_block k = {planes, oh, ow, io, ih * iw, iw, oo, oh * ow, ow};
        if (dir == 1) k = (lscc_rt_block){planes, oh, ow, oo, oh * ow, ow, io, ih * iw, iw};
        rt->dev->block(rt->devctx, rt->m->esize, &k, dir != 1 ? ib : ob, dir != 1 ? ob : ib, dir != 0);
    }
}

/* Scratch slot `slot` with room for n elements. The arena plan sizes the
 * slots for every view the model makes, so needing more is a bug in lscc. */
static void *scratch(lscc_rt *rt, int slot, size_t n) {
    if (n > rt->scratch_cap) {
        lscc_rt_fail(&rt->err, LSCC_RT_E_INTERNAL, "%s: a region view needs %zu elements of scratch, the plan gave "
                     "%zu (a bug in lscc: please report it with the model)", rt->m->name, n, rt->scratch_cap);
        return NULL;
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
    rt->dev->fill(rt->devctx, v, n, rt->m->esize, 0.0);
    return v;
}

void lscc_rt_gview_done(lscc_rt *rt, int in, int out, void *gv) {
    if (!gv || gv == rt->g[in]) return;
    int64_t c = rt->m->tensors[in].c;
    move(rt, in, out, rt->g[in], gv, c, c, 0, 1);
}

void lscc_rt_add_fwd(lscc_rt *rt, int a, int b, int y) {
    int64_t c = rt->m->tensors[y].c;
    if (rt->b[y] == rt->b[a] && !same_box(rt, a, y)) {
        /* in place in a but over another region: never planned (an in-place
           input has the sum's region), and a view would need scratch */
        lscc_rt_fail(&rt->err, LSCC_RT_E_INTERNAL, "%s: an in-place Add's operand has another region than its "
                     "output (a bug in lscc: please report it with the model)", rt->m->name);
        return;
    }
    /* y = a, then y += b: the kernel's a[i] + b[i], bit for bit */
    if (rt->b[y] != rt->b[a]) move(rt, a, y, rt->b[a], rt->b[y], c, c, 0, 0);
    move(rt, b, y, rt->b[b], rt->b[y], c, c, 0, 2);
}

void lscc_rt_add_bwd(lscc_rt *rt, int a, int b, int y) {
    int64_t c = rt->m->tensors[y].c;
    if (rt->g[a]) move(rt, a, y, rt->g[a], rt->g[y], c, c, 0, 1);
    if (rt->g[b]) move(rt, b, y, rt->g[b], rt->g[y], c, c, 0, 1);
}

void lscc_rt_concat_fwd(lscc_rt *rt, int in, int out, int64_t c0) {
    move(rt, in, out, rt->b[in], rt->b[out], rt->m->tensors[in].c, rt->m->tensors[out].c, c0, 0);
}

void lscc_rt_concat_bwd(lscc_rt *rt, int in, int out, int64_t c0) {
    if (rt->g[in]) move(rt, in, out, rt->g[in], rt->g[out], rt->m->tensors[in].c, rt->m->tensors[out].c, c0, 1);
}

/* out position (y, x) holds in (y - pt, x - pl) when that is inside in,
 * else fill; both buffers hold their regions (in's covers what out reads).
 * The inner part is one block between the two regions. */
static int pad_block(const lscc_rt *rt, int in, int out, int64_t pt, int64_t pl, lscc_rt_block *k) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    if (bi[0] < 0) return 0;
    int64_t r0 = bo[0] - pt > bi[0] ? bo[0] - pt : bi[0], r1 = bo[1] - pt < bi[1] ? bo[1] - pt : bi[1];
    int64_t q0 = bo[2] - pl > bi[2] ? bo[2] - pl : bi[2], q1 = bo[3] - pl < bi[3] ? bo[3] - pl : bi[3];
    if (r0 >= r1 || q0 >= q1) return 0;
    size_t ih = (size_t)(bi[1] - bi[0]), iw = (size_t)(bi[3] - bi[2]), oh = (size_t)(bo[1] - bo[0]),
           ow = (size_t)(bo[3] - bo[2]), c = (size_t)rt->m->tensors[out].c;
    if (rt->nhwc) { /* per batch item: rows of (q1 - q0) pixels of c channels */
        *k = (lscc_rt_block){(size_t)rt->n, (size_t)(r1 - r0), (size_t)(q1 - q0) * c,
                             ((size_t)(r0 - bi[0]) * iw + (size_t)(q0 - bi[2])) * c, ih * iw * c, iw * c,
                             ((size_t)(r0 + pt - bo[0]) * ow + (size_t)(q0 + pl - bo[2])) * c, oh * ow * c, ow * c};
        return 1;
    }
    *k = (lscc_rt_block){(size_t)rt->n * c, (size_t)(r1 - r0), (size_t)(q1 - q0),
                         (size_t)(r0 - bi[0]) * iw + (size_t)(q0 - bi[2]), ih * iw, iw,
                         (size_t)(r0 + pt - bo[0]) * ow + (size_t)(q0 + pl - bo[2]), oh * ow, ow};
    return 1;
}

void lscc_rt_pad_fwd(lscc_rt *rt, int in, int out, int64_t pt, int64_t pl, double fill) {
    lscc_rt_block k;
    rt->dev->fill(rt->devctx, rt->b[out], lscc_rt_count(rt, out), rt->m->esize, fill);
    if (pad_block(rt, in, out, pt, pl, &k)) rt->dev->block(rt->devctx, rt->m->esize, &k, rt->b[in], rt->b[out], 0);
}

void lscc_rt_pad_bwd(lscc_rt *rt, int in, int out, int64_t pt, int64_t pl) {
    lscc_rt_block k;
    if (!rt->g[in] || !pad_block(rt, in, out, pt, pl, &k)) return;
    lscc_rt_block r = {k.planes, k.rows, k.cols, k.dst_off, k.dst_plane, k.dst_pitch, k.src_off, k.src_plane,
                       k.src_pitch};
    rt->dev->block(rt->devctx, rt->m->esize, &r, rt->g[out], rt->g[in], 1);
}

void lscc_rt_accumulate(const lscc_rt *rt, size_t n, const void *src, void *dst) {
    const lscc_rt_block k = {1, 1, n, 0, n, n, 0, n, n};
    rt->dev->block(rt->devctx, rt->m->esize, &k, src, dst, 1);
}

void lscc_rt_copy(const lscc_rt *rt, size_t n, const void *src, void *dst) {
    rt->dev->copy(rt->devctx, dst, src, n * (size_t)rt->m->esize, 0);
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
        /* tile regions: N x C x rows x cols, or channels-last N x rows x cols x C, which is
           (N * rows * cols) x C x 1 to the per-channel kernels */
        *hw = ax == 1 && !rt->nhwc ? lscc_rt_hw(rt, t) : 1;
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

/* One block per output channel: all batch items of in's channel src[k]
 * under out's region. */
static void chanperm(lscc_rt *rt, int in, int out, const int *src, int backward) {
    const int64_t *bi = &rt->box[4 * in], *bo = &rt->box[4 * out];
    size_t c = (size_t)rt->m->tensors[out].c, ih = (size_t)(bi[1] - bi[0]), iw = (size_t)(bi[3] - bi[2]),
           oh = (size_t)(bo[1] - bo[0]), ow = (size_t)(bo[3] - bo[2]);
    void *ib = backward ? rt->g[in] : rt->b[in], *ob = backward ? rt->g[out] : rt->b[out];
    if (!ib) return;
    for (size_t k = 0; k < c; k++) {
        size_t io = (size_t)src[k] * ih * iw + (size_t)(bo[0] - bi[0]) * iw + (size_t)(bo[2] - bi[2]);
        size_t oo = k * oh * ow;
        lscc_rt_block fw = {(size_t)rt->n, oh, ow, io, c * ih * iw, iw, oo, c * oh * ow, ow};
        lscc_rt_block bw = {(size_t)rt->n, oh, ow, oo, c * oh * ow, ow, io, c * ih * iw, iw};
        if (backward) rt->dev->block(rt->devctx, rt->m->esize, &bw, ob, ib, 1);
        else rt->dev->block(rt->devctx, rt->m->esize, &fw, ib, ob, 0);
    }
}

void lscc_rt_chanperm_fwd(lscc_rt *rt, int in, int out, const int *src) { chanperm(rt, in, out, src, 0); }
void lscc_rt_chanperm_bwd(lscc_rt *rt, int in, int out, const int *src) { chanperm(rt, in, out, src, 1); }
