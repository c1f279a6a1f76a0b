/* The streaming engine: context set-up, the tile scheduler, exact regions per
 * tile, and the forward / backward sweeps of DESIGN.md section 2. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lscc_rt.h"
#include "rt_impl.h"

int lscc_rt_fail(lscc_rt_error *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

static int64_t dim(const lscc_rt *rt, int t, int i) { return rt->dims[t * LSCC_RT_MAXRANK + i]; }

size_t lscc_rt_numel(const lscc_rt *rt, int t) {
    size_t n = 1;
    for (int i = 0; i < rt->rank[t]; i++) n *= (size_t)dim(rt, t, i);
    return n;
}

int lscc_rt_shape(const lscc_rt *rt, int t, int64_t *dims) {
    if (!rt || t < 0 || t >= rt->m->ntensors) return -1;
    for (int i = 0; i < rt->rank[t]; i++) dims[i] = dim(rt, t, i);
    return rt->rank[t];
}

size_t lscc_rt_hw(const lscc_rt *rt, int t) {
    const int64_t *b = &rt->box[4 * t];
    return (size_t)((b[1] - b[0]) * (b[3] - b[2]));
}

size_t lscc_rt_count(const lscc_rt *rt, int t) {
    if (!rt->m->tensors[t].bb || rt->box[4 * t] < 0) return lscc_rt_numel(rt, t);
    return (size_t)rt->n * (size_t)rt->m->tensors[t].c * lscc_rt_hw(rt, t);
}

void *lscc_rt_buf(const lscc_rt *rt, int k) {
    return (char *)rt->weights + rt->m->buffers[k].offset * (size_t)rt->m->esize;
}

void *lscc_rt_bufgrad(const lscc_rt *rt, int k) {
    if (!rt->m->buffers[k].trainable) return NULL;
    return (char *)rt->grads + rt->m->buffers[k].offset * (size_t)rt->m->esize;
}

/* ---- regions ---- */

static int interior(const lscc_rt *rt);

/* The exact region of every backbone tensor for the output box of the split
 * tensor: the reverse walk of DESIGN.md section 2, clipped to each tensor,
 * with the bounding box over consumers. Matches lscc_plan_regions. */
static void regions(lscc_rt *rt, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    const lscc_rt_model *m = rt->m;
    int64_t *box = rt->box;
    for (int i = 0; i < 4 * m->ntensors; i++) box[i] = -1;
    int y = m->split;
    box[4 * y] = y0;
    box[4 * y + 1] = y1;
    box[4 * y + 2] = x0;
    box[4 * y + 3] = x1;
    rt->interior = 0;
    for (int r = m->nrules - 1; r >= 0; r--) {
        const lscc_rt_rule *u = &m->rules[r];
        const int64_t *ob = &box[4 * u->out];
        if (ob[0] < 0) continue;
        int64_t nb[4];
        for (int a = 0; a < 2; a++) {
            int64_t size = dim(rt, u->in, 2 + a);
            int64_t lo = ob[2 * a] * u->s[a] - u->p0[a];
            int64_t hi = (ob[2 * a + 1] - 1) * u->s[a] - u->p0[a] + u->d[a] * (u->k[a] - 1) + 1;
            nb[2 * a] = lo < 0 ? 0 : lo;
            nb[2 * a + 1] = hi > size ? size : hi;
        }
        if (nb[0] >= nb[1] || nb[2] >= nb[3]) continue; /* reads only padding */
        int64_t *b = &box[4 * u->in];
        if (b[0] < 0) {
            memcpy(b, nb, sizeof nb);
        } else {
            if (nb[0] < b[0]) b[0] = nb[0];
            if (nb[1] > b[1]) b[1] = nb[1];
            if (nb[2] < b[2]) b[2] = nb[2];
            if (nb[3] > b[3]) b[3] = nb[3];
        }
    }
    rt->interior = interior(rt);
}

/* Interior: every region of the tile has the interior size (clipping or a
 * short last tile would make one smaller). */
static int interior(const lscc_rt *rt) {
    for (int t = 0; t < rt->m->ntensors; t++) {
        const lscc_rt_tensor *d = &rt->m->tensors[t];
        const int64_t *b = &rt->box[4 * t];
        if (d->bb && b[0] >= 0 && (b[1] - b[0] != d->side[0] || b[3] - b[2] != d->side[1])) return 0;
    }
    return 1;
}

void lscc_rt_win(const lscc_rt *rt, const lscc_rt_geo *g, const lscc_win2d *wint, int64_t oc, lscc_win2d *w) {
    if (rt->interior && wint) {
        *w = *wint;
        w->n = (int)rt->n;
        return;
    }
    const int64_t *ib = &rt->box[4 * g->in], *ob = &rt->box[4 * g->out];
    memset(w, 0, sizeof *w);
    w->n = (int)rt->n;
    w->c = (int)rt->m->tensors[g->in].c;
    w->h = (int)(ib[1] - ib[0]);
    w->w = (int)(ib[3] - ib[2]);
    w->oc = (int)oc;
    w->oh = (int)(ob[1] - ob[0]);
    w->ow = (int)(ob[3] - ob[2]);
    w->kh = g->kh;
    w->kw = g->kw;
    w->sh = g->sh;
    w->sw = g->sw;
    w->dh = g->dh;
    w->dw = g->dw;
    /* output row oy0 reads input row oy0 * s - p0: relative to the buffer
       start; negative when the buffer holds rows this op does not read */
    w->pt = (int)(ib[0] + g->p0h - ob[0] * g->sh);
    w->pl = (int)(ib[2] + g->p0w - ob[2] * g->sw);
    /* the padded extent ends at the true border only where the buffer does */
    w->pb = ib[1] == dim(rt, g->in, 2) ? g->p1h : 0;
    w->pr = ib[3] == dim(rt, g->in, 3) ? g->p1w : 0;
    w->groups = g->groups;
}

/* ---- set-up ---- */

/* Elements times bytes per element of a whole tensor, or 0 when that is
 * more than limit bytes (checked before any product can wrap). */
static size_t bytes_within(const lscc_rt *rt, int t, size_t limit) {
    size_t n = (size_t)rt->m->esize;
    for (int i = 0; i < rt->rank[t]; i++) {
        size_t d = (size_t)dim(rt, t, i);
        if (d && n > limit / d) return 0;
        n *= d;
    }
    return n;
}

/* The tensors a context holds whole (the backbone output and the head's
 * tensors) must fit in LSCC_RT_MAX_BYTES, and the image and its gradient
 * (the caller's buffers, read or written by offset) in 2^62 bytes, so that
 * no size or offset computed from them overflows. The backbone's inner
 * tensors only ever exist as tiles: any size is fine. */
static int check_sizes(lscc_rt *rt) {
    const lscc_rt_model *m = rt->m;
    for (int t = 0; t < m->ntensors; t++) {
        int whole = !m->tensors[t].bb || t == m->split;
        if (!whole && t != m->image) continue;
        size_t limit = whole ? LSCC_RT_MAX_BYTES : (size_t)1 << 62;
        if (!bytes_within(rt, t, limit))
            return lscc_rt_fail(&rt->err, LSCC_RT_E_UNSUPPORTED, "%s: a %lld x %lld x %lld image is too large for "
                                "this model: tensor '%s' would take more than %.0f TB", m->name, (long long)rt->n,
                                (long long)dim(rt, m->image, 2), (long long)dim(rt, m->image, 3), m->tensors[t].name,
                                (double)limit / 1e12);
    }
    return 0;
}

static void *zalloc(size_t n, size_t es) { return calloc(n ? n : 1, es); }

/* Context memory of the backend (device memory for GPU code), zeroed. */
static void *dalloc(lscc_rt *rt, size_t n, size_t es) {
    if (n > SIZE_MAX / es / 2) return NULL;
    return rt->dev->alloc(rt->devctx, (n ? n : 1) * es);
}

/* The backend's first failure since the last check (waits for queued work). */
static int dev_status(lscc_rt *rt) {
    if (rt->dev->host) return 0;
    int st = rt->dev->status(rt->devctx, &rt->err);
    return st ? st : rt->err.code;
}

int lscc_rt_fetch(lscc_rt *rt, void *dst, const void *src, size_t bytes) {
    if (!rt || !dst || !src) return LSCC_RT_E_ARG;
    rt->dev->copy(rt->devctx, dst, src, bytes, 2);
    return dev_status(rt);
}

int lscc_rt_init(lscc_rt *rt, const lscc_rt_model *m, const lscc_rt_options *opt, const char *weights_path) {
    memset(rt, 0, sizeof *rt);
    rt->m = m;
    rt->dev = m->dev ? m->dev : &lscc_rt_host_dev;
    if (!opt || opt->batch < 1 || opt->height < 1 || opt->width < 1)
        return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: batch, height and width must be >= 1", m->name);
    if (opt->batch > (1 << 20) || opt->height > ((int64_t)1 << 31) || opt->width > ((int64_t)1 << 31))
        return lscc_rt_fail(&rt->err, LSCC_RT_E_UNSUPPORTED, "%s: image %lld x %lld x %lld is beyond the supported "
                            "size (batch <= 2^20, sides <= 2^31)", m->name, (long long)opt->batch,
                            (long long)opt->height, (long long)opt->width);
    rt->opt = *opt;
    rt->n = opt->batch;
    rt->kept = -1;
    int nt = m->ntensors, st;
    rt->dims = zalloc((size_t)nt * LSCC_RT_MAXRANK, sizeof *rt->dims);
    rt->rank = zalloc((size_t)nt, sizeof *rt->rank);
    rt->box = zalloc((size_t)nt * 4, sizeof *rt->box);
    rt->b = zalloc((size_t)nt, sizeof *rt->b);
    rt->g = zalloc((size_t)nt, sizeof *rt->g);
    rt->head = zalloc((size_t)nt, sizeof *rt->head);
    rt->head_g = zalloc((size_t)nt, sizeof *rt->head_g);
    if (!rt->dims || !rt->rank || !rt->box || !rt->b || !rt->g || !rt->head || !rt->head_g)
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    if (m->sizes(opt->batch, opt->height, opt->width, rt->dims, rt->rank))
        return lscc_rt_fail(&rt->err, LSCC_RT_E_UNSUPPORTED, "%s: a %lld x %lld image does not fit this model (a "
                            "tensor would be empty or the model was exported for another size)", m->name,
                            (long long)opt->height, (long long)opt->width);
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < rt->rank[t]; i++)
            if (dim(rt, t, i) < 1)
                return lscc_rt_fail(&rt->err, LSCC_RT_E_UNSUPPORTED, "%s: a %lld x %lld image is too small for this "
                                    "model (tensor '%s' would be empty)", m->name, (long long)opt->height,
                                    (long long)opt->width, m->tensors[t].name);
    size_t es = (size_t)m->esize;
    if ((st = check_sizes(rt))) return st;
    if (rt->dev->create(&rt->devctx, &rt->err)) {
        rt->dev = &lscc_rt_host_dev; /* nothing of the backend to free */
        return rt->err.code ? rt->err.code : lscc_rt_fail(&rt->err, LSCC_RT_E_DEVICE, "%s: no %s device", m->name,
                                                          m->dev->name);
    }
    int ast = lscc_rt_arena(rt);
    if (ast) return ast;
    for (int t = 0; t < nt; t++) {
        if (m->tensors[t].bb && t != m->split) continue;
        size_t n = lscc_rt_numel(rt, t);
        if (t == m->split) {
            rt->y = dalloc(rt, n, es);
            rt->dy = m->dy_in_y ? rt->y : dalloc(rt, n, es);
            if (!rt->y || !rt->dy)
                return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate %.1f MB for the backbone output "
                                    "'%s' and its gradient", m->name, (m->dy_in_y ? 1 : 2) * (double)(n * es) / 1e6,
                                    m->tensors[t].name);
            continue;
        }
        rt->head[t] = dalloc(rt, n, es);
        rt->head_g[t] = dalloc(rt, n, es);
        if (!rt->head[t] || !rt->head_g[t])
            return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate %.1f MB for head tensor '%s' and its "
                                "gradient", m->name, 2 * (double)(n * es) / 1e6, m->tensors[t].name);
    }
    /* LSCC_DNNL=0 keeps float32 convolutions on the plain kernels (a
       cross-check of oneDNN's results); LSCC_LAYOUT=nchw keeps the tiles
       channels-first */
    const char *dn = getenv("LSCC_DNNL"), *lay = getenv("LSCC_LAYOUT");
    const int use_dnnl = m->esize == 4 && !(dn && !strcmp(dn, "0"));
    rt->nhwc = use_dnnl && m->nhwc_ok && rt->dev->host && !(lay && !strcmp(lay, "nchw"));
    if (!rt->dev->host || rt->nhwc) { /* staging for image and input-gradient regions (pinned on a device) */
        const int im = m->image;
        int64_t h = dim(rt, im, 2), w = dim(rt, im, 3);
        size_t side = (size_t)(m->tensors[im].side[0] < h ? m->tensors[im].side[0] : h) *
                      (size_t)(m->tensors[im].side[1] < w ? m->tensors[im].side[1] : w);
        rt->stage_bytes = (size_t)rt->n * (size_t)m->tensors[im].c * side * es;
        rt->stage = rt->dev->host_alloc(rt->devctx, rt->stage_bytes);
        rt->stage_dx = rt->dev->host_alloc(rt->devctx, rt->stage_bytes);
        if (!rt->stage || !rt->stage_dx)
            return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate %.1f MB of pinned staging memory",
                                m->name, 2 * (double)rt->stage_bytes / 1e6);
    }
    if (m->gap >= 0 && rt->dev->host) { /* the sums, and channels-last: one tile's */
        rt->gap_sum = zalloc((size_t)rt->n * (size_t)m->tensors[m->split].c * 2, sizeof *rt->gap_sum);
        if (!rt->gap_sum) return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    }
    if ((st = lscc_rt_load_weights(rt, weights_path))) return st;
    rt->grads_zero = 1; /* allocated zeroed */
    if (use_dnnl) rt->dnnl = lscc_rt_dnnl_create(rt->nhwc);
    if (!rt->dnnl) rt->nhwc = 0;
    return LSCC_RT_OK;
}

void lscc_rt_free(lscc_rt *rt) {
    if (!rt || !rt->dev) return;
    const lscc_rt_dev *d = rt->dev;
    void *x = rt->devctx;
    if (rt->head)
        for (int t = 0; t < rt->m->ntensors; t++) {
            if (rt->head[t]) d->release(x, rt->head[t]);
            if (rt->head_g[t]) d->release(x, rt->head_g[t]);
        }
    free(rt->head);
    free(rt->head_g);
    free(rt->dims);
    free(rt->rank);
    free(rt->box);
    free(rt->b);
    free(rt->g);
    free(rt->off);
    void *dev_bufs[] = {rt->arena, rt->scratch[0], rt->scratch[1], rt->scratch[2], rt->scratch[3], rt->weights,
                        rt->grads, rt->grad_snap, rt->y, rt->dy != rt->y ? rt->dy : NULL};
    for (size_t k = 0; k < sizeof dev_bufs / sizeof *dev_bufs; k++)
        if (dev_bufs[k]) d->release(x, dev_bufs[k]);
    if (rt->stage) d->host_release(x, rt->stage);
    if (rt->stage_dx) d->host_release(x, rt->stage_dx);
    free(rt->params);
    free(rt->gap_sum);
    lscc_rt_dnnl_destroy(rt->dnnl);
    d->destroy(x);
    memset(rt, 0, sizeof *rt);
}

void lscc_rt_zero_grad(lscc_rt *rt) {
    if (!rt || !rt->grads) return;
    rt->dev->fill(rt->devctx, rt->grads, rt->m->weights_count, rt->m->esize, 0.0);
    rt->grads_zero = 1;
}

/* ---- gradient transactions ----
 * A call that adds into the parameter gradients (a backward) either
 * succeeds or leaves them exactly as they were: grad_begin records how to
 * undo it, grad_end undoes it on failure. Gradients known to be zero
 * (after create or zero_grad) are restored by a fill; others from a copy
 * taken before the first tile, in a buffer of the backend allocated once. */
static int grad_begin(lscc_rt *rt) {
    if (rt->grads_zero || !rt->m->weights_count) return 0;
    size_t bytes = rt->m->weights_count * (size_t)rt->m->esize;
    if (!rt->grad_snap && !(rt->grad_snap = rt->dev->alloc(rt->devctx, bytes)))
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate %.1f MB to keep the gradients while a "
                            "backward accumulates into them", rt->m->name, (double)bytes / 1e6);
    rt->dev->copy(rt->devctx, rt->grad_snap, rt->grads, bytes, 0);
    return 0;
}

static int grad_end(lscc_rt *rt, int st) {
    if (!st) {
        rt->grads_zero = 0;
        return 0;
    }
    if (rt->grads_zero) rt->dev->fill(rt->devctx, rt->grads, rt->m->weights_count, rt->m->esize, 0.0);
    else rt->dev->copy(rt->devctx, rt->grads, rt->grad_snap, rt->m->weights_count * (size_t)rt->m->esize, 0);
    rt->kept = -1; /* the arena holds a half-done tile */
    return st;
}

/* ---- the sweeps ---- */

static int check_image(lscc_rt *rt, const lscc_image *x) {
    rt->err.code = 0; /* a new call: forget the last error */
    rt->err.msg[0] = 0;
    if (!x || !x->read) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no image source", rt->m->name);
    const int im = rt->m->image;
    if (x->n != rt->n || x->c != dim(rt, im, 1) || x->h != dim(rt, im, 2) || x->w != dim(rt, im, 3))
        return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: the image is %lld x %lld x %lld x %lld; this context was "
                            "created for %lld x %lld x %lld x %lld (N x C x H x W)", rt->m->name, (long long)x->n,
                            (long long)x->c, (long long)x->h, (long long)x->w, (long long)rt->n,
                            (long long)dim(rt, im, 1), (long long)dim(rt, im, 2), (long long)dim(rt, im, 3));
    return 0;
}

static void point_buffers(lscc_rt *rt, int train) {
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize;
    for (int t = 0; t < m->ntensors; t++) {
        const lscc_rt_tensor *d = &m->tensors[t];
        if (!d->bb) continue;
        int64_t off = rt->off[3 * t + (train ? 1 : 0)], goff = rt->off[3 * t + 2];
        rt->b[t] = off >= 0 ? (char *)rt->arena + (size_t)off * (size_t)rt->n * es : NULL;
        rt->g[t] = train && d->grad && goff >= 0 ? (char *)rt->arena + (size_t)goff * (size_t)rt->n * es : NULL;
    }
}

/* Channels-last tiles (float, host memory): copy_box between a tile's NHWC
 * buffer (from when from_tile, else to) and a whole NCHW tensor. */
static void copy_box_nhwc(const lscc_rt *rt, int64_t c, const int64_t *from_box, const float *from,
                          const int64_t *to_box, float *to, const int64_t *part, int accumulate, int from_tile) {
    const size_t fh = (size_t)(from_box[1] - from_box[0]), fw = (size_t)(from_box[3] - from_box[2]);
    const size_t th = (size_t)(to_box[1] - to_box[0]), tw = (size_t)(to_box[3] - to_box[2]), nc = (size_t)c;
    const int64_t rows = part[1] - part[0], nrows = rt->n * rows;
    /* rows on OpenMP threads (each writes its own row of `to`) */
    _Pragma("omp parallel for schedule(static) if (nrows > 1 && nrows * (part[3] - part[2]) * c > 16384)")
    for (int64_t br = 0; br < nrows; br++) {
        const size_t b = (size_t)(br / rows);
        const int64_t r = part[0] + br % rows;
        for (int64_t q = part[2]; q < part[3]; q++) {
                const size_t fp = (b * fh + (size_t)(r - from_box[0])) * fw + (size_t)(q - from_box[2]);
                const size_t tp = (b * th + (size_t)(r - to_box[0])) * tw + (size_t)(q - to_box[2]);
                for (size_t k = 0; k < nc; k++) {
                    /* pixel p of channel k: NHWC p * c + k, NCHW (b * c + k) * plane + p within the batch item */
                    const size_t fi = from_tile ? fp * nc + k : (b * nc + k) * fh * fw + (fp - b * fh * fw);
                    const size_t ti = from_tile ? (b * nc + k) * th * tw + (tp - b * th * tw) : tp * nc + k;
                    to[ti] = accumulate ? to[ti] + from[fi] : from[fi];
                }
        }
    }
}

/* Copies the rows/cols of box `part` (of a c-channel tensor) between
 * buffers holding boxes from_box and to_box (a tile region and the whole
 * tensor; from_tile: from is the tile's), through backend d; accumulate: +=. */
static void copy_box(const lscc_rt *rt, const lscc_rt_dev *d, int64_t c, const int64_t *from_box, const void *from,
                     const int64_t *to_box, void *to, const int64_t *part, int accumulate, int from_tile) {
    if (rt->nhwc) {
        copy_box_nhwc(rt, c, from_box, from, to_box, to, part, accumulate, from_tile);
        return;
    }
    size_t fh = (size_t)(from_box[1] - from_box[0]), fw = (size_t)(from_box[3] - from_box[2]);
    size_t th = (size_t)(to_box[1] - to_box[0]), tw = (size_t)(to_box[3] - to_box[2]);
    const lscc_rt_block k = {(size_t)(rt->n * c), (size_t)(part[1] - part[0]), (size_t)(part[3] - part[2]),
                             (size_t)(part[0] - from_box[0]) * fw + (size_t)(part[2] - from_box[2]), fh * fw, fw,
                             (size_t)(part[0] - to_box[0]) * tw + (size_t)(part[2] - to_box[2]), th * tw, tw};
    d->block(d == rt->dev ? rt->devctx : NULL, rt->m->esize, &k, from, to, accumulate);
}

static int tiles(const lscc_rt *rt, int64_t *ny, int64_t *nx) {
    int y = rt->m->split;
    *ny = (dim(rt, y, 2) + rt->m->out_tile[0] - 1) / rt->m->out_tile[0];
    *nx = (dim(rt, y, 3) + rt->m->out_tile[1] - 1) / rt->m->out_tile[1];
    return 0;
}

static void tile_box(const lscc_rt *rt, int64_t i, int64_t j, int64_t *tb) {
    int y = rt->m->split;
    tb[0] = i * rt->m->out_tile[0];
    tb[1] = tb[0] + rt->m->out_tile[0] < dim(rt, y, 2) ? tb[0] + rt->m->out_tile[0] : dim(rt, y, 2);
    tb[2] = j * rt->m->out_tile[1];
    tb[3] = tb[2] + rt->m->out_tile[1] < dim(rt, y, 3) ? tb[2] + rt->m->out_tile[1] : dim(rt, y, 3);
}

/* Reads the image region of the current tile into the image tensor's
 * buffer; device backends stage it in pinned memory and upload it while
 * the host goes on. */
static int read_image(lscc_rt *rt, const lscc_image *x) {
    const int im = rt->m->image;
    const int64_t *b = &rt->box[4 * im];
    if (b[0] < 0) return 0;
    void *dst = rt->b[im];
    if (!rt->dev->host) {
        rt->dev->upload_wait(rt->devctx); /* the last upload has left the staging buffer */
        dst = rt->stage;
    } else if (rt->nhwc) {
        dst = rt->stage; /* read NCHW, then made channels-last */
    }
    if (x->read(x, b[0], b[1], b[2], b[3], rt->m->esize == 4 ? LSCC_F32 : LSCC_F64, dst, &rt->err))
        return rt->err.code ? rt->err.code : lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: reading the image failed",
                                                          rt->m->name);
    int st = dev_status(rt); /* the last tile's kernels are done: its buffers may be overwritten */
    if (st) return st;
    if (!rt->dev->host) rt->dev->upload(rt->devctx, rt->b[im], rt->stage, lscc_rt_count(rt, im) * (size_t)rt->m->esize);
    else if (rt->nhwc) copy_box_nhwc(rt, rt->m->tensors[im].c, b, rt->stage, b, rt->b[im], b, 0, 0);
    return 0;
}

/* The same image source as the one the forward sweep read (its fields, so
 * a source re-pointed at other data between the calls does not count). */
static int same_image(const lscc_image *a, const lscc_image *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->read == b->read && a->data == b->data &&
           a->dtype == b->dtype && a->user == b->user;
}

static int progress(lscc_rt *rt, const char *phase, int64_t done, int64_t total) {
    if (rt->opt.progress && rt->opt.progress(rt->opt.progress_user, phase, done, total))
        return lscc_rt_fail(&rt->err, LSCC_RT_E_CANCELLED, "%s: cancelled during %s at tile %lld of %lld",
                            rt->m->name, phase, (long long)done, (long long)total);
    return 0;
}

/* Adds the sums of the split tensor's planes over the current tile to
 * rt->gap_sum (host memory: CPU code only). */
static void gap_add(lscc_rt *rt) {
    const int ys = rt->m->split;
    size_t np = (size_t)rt->n * (size_t)rt->m->tensors[ys].c, hw = lscc_rt_hw(rt, ys);
    if (rt->nhwc) { /* per channel in the same order as below, in the second half of gap_sum */
        const size_t c = (size_t)rt->m->tensors[ys].c;
        double *s = rt->gap_sum + np;
        const float *x = rt->b[ys];
        memset(s, 0, np * sizeof *s);
        for (size_t b = 0; b < (size_t)rt->n; b++)
            for (size_t k = 0; k < hw; k++)
                for (size_t ch = 0; ch < c; ch++) s[b * c + ch] += x[(b * hw + k) * c + ch];
        for (size_t p = 0; p < np; p++) rt->gap_sum[p] += s[p];
        return;
    }
    for (size_t p = 0; p < np; p++) {
        double s = 0;
        if (rt->m->esize == 4)
            for (size_t k = 0; k < hw; k++) s += ((const float *)rt->b[ys])[p * hw + k];
        else
            for (size_t k = 0; k < hw; k++) s += ((const double *)rt->b[ys])[p * hw + k];
        rt->gap_sum[p] += s;
    }
}

/* The forward sweep: stitches y, or (y NULL) pools it into head[gap]. */
static int sweep_forward(lscc_rt *rt, const lscc_image *x, void *y) {
    int st = check_image(rt, x);
    if (st) return st;
    const int ys = rt->m->split;
    size_t np = (size_t)rt->n * (size_t)rt->m->tensors[ys].c;
    if (!y) memset(rt->gap_sum, 0, np * sizeof *rt->gap_sum);
    int64_t ny, nx, full[4] = {0, dim(rt, ys, 2), 0, dim(rt, ys, 3)};
    void *yd = rt->dev->host ? y : rt->y; /* stitched in context memory */
    if (yd == rt->y) rt->have_y = 0;
    tiles(rt, &ny, &nx);
    point_buffers(rt, 0);
    rt->kept = -1;
    for (int64_t i = 0; i < ny; i++)
        for (int64_t j = 0; j < nx; j++) {
            int64_t tb[4];
            int last = i == ny - 1 && j == nx - 1 && !rt->opt.inference;
            tile_box(rt, i, j, tb);
            regions(rt, tb[0], tb[1], tb[2], tb[3]);
            if (last) point_buffers(rt, 1); /* kept for a backward sweep (the arena has room for it) */
            if ((st = read_image(rt, x)) || (st = rt->m->tile_forward(rt)) || (st = rt->err.code)) return st;
            if (last) {
                rt->kept = i * nx + j;
                rt->kept_x = *x;
            }
            if (y) copy_box(rt, rt->dev, rt->m->tensors[ys].c, tb, rt->b[ys], full, yd, tb, 0, 1);
            else gap_add(rt);
            if ((st = progress(rt, "forward", i * nx + j + 1, ny * nx))) return st;
        }
    if (!y) { /* the pooled backbone output, the head's first tensor */
        double hw = (double)dim(rt, ys, 2) * (double)dim(rt, ys, 3);
        for (size_t p = 0; p < np; p++) {
            if (rt->m->esize == 4) ((float *)rt->head[rt->m->gap])[p] = (float)(rt->gap_sum[p] / hw);
            else ((double *)rt->head[rt->m->gap])[p] = rt->gap_sum[p] / hw;
        }
        return 0;
    }
    if (yd != y) rt->dev->copy(rt->devctx, y, yd, lscc_rt_numel(rt, ys) * (size_t)rt->m->esize, 2);
    return dev_status(rt);
}

int lscc_rt_stream_forward(lscc_rt *rt, const lscc_image *x, void *y) {
    if (!y) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no output buffer", rt->m->name);
    return sweep_forward(rt, x, y);
}

/* The backward sweep, seeded with dy, or (dy NULL) with the pooled
 * output's gradient head_g[gap] / (H * W) at every position. */
static int sweep_backward(lscc_rt *rt, const lscc_image *x, const void *dy, void *dx) {
    int st = check_image(rt, x);
    if (st) return st;
    if (rt->opt.inference)
        return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: this context was created for inference (no backward)",
                            rt->m->name);
    const lscc_rt_model *m = rt->m;
    const int ys = m->split, im = m->image;
    size_t es = (size_t)m->esize;
    int64_t ny, nx, full[4] = {0, dim(rt, ys, 2), 0, dim(rt, ys, 3)};
    int64_t xfull[4] = {0, dim(rt, im, 2), 0, dim(rt, im, 3)};
    const void *dyd = dy;
    if (dy && !rt->dev->host && dy != rt->dy) {
        rt->dev->copy(rt->devctx, rt->dy, dy, lscc_rt_numel(rt, ys) * es, 1);
        dyd = rt->dy;
    }
    tiles(rt, &ny, &nx);
    point_buffers(rt, 1);
    if (!dx) rt->g[im] = NULL; /* no input gradient: the first ops skip it */
    if (dx) memset(dx, 0, lscc_rt_numel(rt, im) * es);
    /* last tile first: the forward sweep may have left it in the arena */
    int64_t kept = same_image(&rt->kept_x, x) ? rt->kept : -1;
    rt->kept = -1;
    for (int64_t k = ny * nx - 1; k >= 0; k--) {
        int64_t tb[4], i = k / nx, j = k % nx;
        tile_box(rt, i, j, tb);
        regions(rt, tb[0], tb[1], tb[2], tb[3]);
        /* recompute the tile's forward (gradient checkpointing) */
        if (k != kept && ((st = read_image(rt, x)) || (st = m->tile_forward(rt)) || (st = rt->err.code))) return st;
        /* seed with G[T]: the partial loss <G[T], Y[T]> */
        if (dy) {
            copy_box(rt, rt->dev, m->tensors[ys].c, full, dyd, tb, rt->g[ys], tb, 0, 0);
        } else {
            size_t np = (size_t)rt->n * (size_t)m->tensors[ys].c, hw = lscc_rt_hw(rt, ys);
            double area = (double)dim(rt, ys, 2) * (double)dim(rt, ys, 3);
            for (size_t p = 0; p < np && !rt->nhwc; p++) {
                double v = m->esize == 4 ? ((const float *)rt->head_g[m->gap])[p] : ((const double *)rt->head_g[m->gap])[p];
                rt->dev->fill(rt->devctx, (char *)rt->g[ys] + p * hw * es, hw, m->esize, v / area);
            }
            for (size_t p = 0; p < np && rt->nhwc; p++) { /* channel p % c of batch item p / c, at every pixel */
                const size_t c = (size_t)m->tensors[ys].c, b = p / c;
                const float v = (float)(((const float *)rt->head_g[m->gap])[p] / area);
                for (size_t k = 0; k < hw; k++) ((float *)rt->g[ys])[(b * hw + k) * c + p % c] = v;
            }
        }
        if ((st = m->tile_backward(rt, dx != NULL)) || (st = rt->err.code)) return st;
        if (dx && rt->box[4 * im] >= 0) {
            const void *gx = rt->g[im];
            if (!rt->dev->host) { /* fetch the tile's input gradient, add it on the host */
                rt->dev->copy(rt->devctx, rt->stage_dx, gx, lscc_rt_count(rt, im) * es, 2);
                if ((st = dev_status(rt))) return st;
                gx = rt->stage_dx;
            }
            copy_box(rt, &lscc_rt_host_dev, m->tensors[im].c, &rt->box[4 * im], gx, xfull, dx, &rt->box[4 * im], 1, 1);
        }
        if ((st = progress(rt, "backward", ny * nx - k, ny * nx))) return st;
    }
    return dev_status(rt);
}

int lscc_rt_stream_backward(lscc_rt *rt, const lscc_image *x, const void *dy, void *dx) {
    if (!dy) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no gradient given", rt->m->name);
    int st = grad_begin(rt);
    return st ? st : grad_end(rt, sweep_backward(rt, x, dy, dx));
}

void lscc_rt_gzero(lscc_rt *rt, int t) {
    if (rt->g[t] && rt->box[4 * t] >= 0) rt->dev->fill(rt->devctx, rt->g[t], lscc_rt_count(rt, t), rt->m->esize, 0.0);
}

static void point_head(lscc_rt *rt, const void *y, void *dy) {
    for (int t = 0; t < rt->m->ntensors; t++) {
        if (rt->m->tensors[t].bb) continue;
        rt->b[t] = rt->head[t];
        rt->g[t] = rt->head_g[t];
        rt->box[4 * t] = -1;
    }
    rt->b[rt->m->split] = (void *)(uintptr_t)y;
    rt->g[rt->m->split] = dy;
    rt->box[4 * rt->m->split] = -1;
}

/* The backbone output in context memory: y itself for CPU code, else
 * uploaded into rt->y. */
static const void *head_input(lscc_rt *rt, const void *y) {
    if (rt->dev->host || y == rt->y) return y;
    rt->have_y = 0; /* rt->y now holds the caller's y */
    rt->dev->copy(rt->devctx, rt->y, y, lscc_rt_numel(rt, rt->m->split) * (size_t)rt->m->esize, 1);
    return rt->y;
}

int lscc_rt_head_forward(lscc_rt *rt, const void *y, void *out) {
    rt->err.code = 0;
    if (!y || !out) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: NULL buffer", rt->m->name);
    const lscc_rt_model *m = rt->m;
    const void *yd = head_input(rt, y);
    point_head(rt, yd, NULL);
    int st = m->head_forward(rt);
    if (st || (st = rt->err.code)) return st;
    const void *o = m->output != m->split ? rt->b[m->output] : yd;
    if (out != o) rt->dev->copy(rt->devctx, out, o, lscc_rt_numel(rt, m->output) * (size_t)m->esize, 2);
    return dev_status(rt);
}

static int head_backward(lscc_rt *rt, const void *y, const void *dout, void *dy) {
    rt->err.code = 0;
    if (!y || !dout || !dy) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: NULL buffer", rt->m->name);
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize, ny = lscc_rt_numel(rt, m->split);
    const void *yd = head_input(rt, y);
    void *dyd = rt->dev->host ? dy : rt->dy;
    if (dyd == rt->y) rt->have_y = 0; /* its gradient is written over it */
    point_head(rt, yd, dyd);
    int st = 0;
    if (m->output == m->split) {
        rt->dev->copy(rt->devctx, dyd, dout, ny * es, 1);
    } else {
        /* the head's activations are recomputed (they are small), before dy
           is cleared: dy may share y's memory (dy_in_y) */
        if ((st = m->head_forward(rt)) || (st = rt->err.code)) return st;
        rt->dev->fill(rt->devctx, dyd, ny, m->esize, 0.0);
        for (int t = 0; t < m->ntensors; t++)
            if (!m->tensors[t].bb) rt->dev->fill(rt->devctx, rt->head_g[t], lscc_rt_numel(rt, t), m->esize, 0.0);
        rt->dev->copy(rt->devctx, rt->g[m->output], dout, lscc_rt_numel(rt, m->output) * es, 1);
        if ((st = m->head_backward(rt)) || (st = rt->err.code)) return st;
    }
    if (dyd != dy) rt->dev->copy(rt->devctx, dy, dyd, ny * es, 2);
    return dev_status(rt);
}

int lscc_rt_head_backward(lscc_rt *rt, const void *y, const void *dout, void *dy) {
    int st = grad_begin(rt);
    return st ? st : grad_end(rt, head_backward(rt, y, dout, dy));
}

/* CPU code whose head starts with a GlobalAveragePool of y: y is pooled
 * tile by tile instead of stitched (lscc_rt_model.gap). */
static int pooled(const lscc_rt *rt) { return rt->m->gap >= 0 && rt->gap_sum; }

/* The head on the pooled y: its GlobalAveragePool is skipped (y NULL). */
static int pooled_head(lscc_rt *rt, const void *dout, void *out) {
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize;
    point_head(rt, NULL, NULL);
    int st = m->head_forward(rt);
    if (st || (st = rt->err.code)) return st;
    if (out) memcpy(out, rt->b[m->output], lscc_rt_numel(rt, m->output) * es);
    if (!dout) return 0;
    for (int t = 0; t < m->ntensors; t++)
        if (!m->tensors[t].bb) memset(rt->head_g[t], 0, lscc_rt_numel(rt, t) * es);
    memcpy(rt->g[m->output], dout, lscc_rt_numel(rt, m->output) * es);
    return m->head_backward(rt);
}

int lscc_rt_forward(lscc_rt *rt, const lscc_image *x, void *out) {
    /* whatever happens below, y and the pooled y no longer hold an earlier
       image's forward (a failed sweep leaves them half written) */
    rt->have_y = rt->have_gap = 0;
    if (pooled(rt)) {
        rt->err.code = 0;
        if (!out) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: NULL buffer", rt->m->name);
        int st = sweep_forward(rt, x, NULL);
        if (st) return st;
        rt->have_gap = 1;
        return pooled_head(rt, NULL, out);
    }
    int st = lscc_rt_stream_forward(rt, x, rt->y);
    if (st) return st;
    rt->have_y = 1;
    return lscc_rt_head_forward(rt, rt->y, out);
}

static int backward(lscc_rt *rt, const lscc_image *x, const void *dout, void *dx) {
    int st;
    if (pooled(rt)) {
        rt->err.code = 0;
        if (!dout) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: NULL buffer", rt->m->name);
        if (!rt->have_gap && (st = sweep_forward(rt, x, NULL))) return st;
        rt->have_gap = 1;
        if ((st = pooled_head(rt, dout, NULL)) || (st = rt->err.code)) return st;
        return sweep_backward(rt, x, NULL, dx);
    }
    if (!rt->have_y && (st = lscc_rt_stream_forward(rt, x, rt->y))) return st;
    rt->have_y = 1;
    st = head_backward(rt, rt->y, dout, rt->dy);
    if (rt->dy == rt->y) rt->have_y = 0; /* y now holds its gradient */
    if (st) return st;
    return sweep_backward(rt, x, rt->dy, dx);
}

int lscc_rt_backward(lscc_rt *rt, const lscc_image *x, const void *dout, void *dx) {
    int st = grad_begin(rt);
    return st ? st : grad_end(rt, backward(rt, x, dout, dx));
}
