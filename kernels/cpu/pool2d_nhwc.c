/* MaxPool2d and AveragePool2d on one region, channels-last (NHWC) float32:
 * forward and backward (contract in lscc_kernels.h). Every result is bit for
 * bit that of the NCHW kernels of pool2d.c on the transposed buffers: the same
 * windows (lscc_span: padding is never read), the same comparisons in the
 * same row-major tap order, the same sums divided the same way, and the
 * backward += into each dx element in the same order (outputs row-major).
 *
 * The innermost loops run over a block of up to CB channels of one pixel
 * (contiguous); a window's running max / sum of a block stays in a small
 * local array across its taps. Forward runs output rows on OpenMP threads;
 * backward runs (image, channel range) tasks, since windows of neighbouring
 * output rows overlap and each dx element must receive its contributions in
 * one order. MaxPool has a second body for AVX-512 CPUs (see below). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define CB 16 /* channels per block: one 64-byte line of floats */

/* Outputs [*lo, *hi) along one axis whose windows lie inside the region,
 * computed as pool2d.c's max forward does (there they take its tap-by-tap
 * row loop, whose NaN rule differs from its argmax's; see window_max). */
static void inner_outputs(int k, int d, int s, int pad, int in, int on, int *lo, int *hi) {
    int l = (pad + s - 1) / s, h = in - 1 - (k - 1) * d + pad;
    h = h < 0 ? 0 : h / s + 1;
    h = h > on ? on : h;
    *lo = l > h ? h : l;
    *hi = h;
}

/* One output pixel's window: real taps rows [a0, a1) from input row r0 and
 * columns [b0, b1) from column c0 (step dh, dw). */
typedef struct win {
    int r0, a0, a1, c0, b0, b1;
} win;

static inline win window_of(const lscc_win2d *p, int i, int j) {
    win t;
    t.r0 = i * p->sh - p->pt;
    t.c0 = j * p->sw - p->pl;
    lscc_span(p->kh, p->dh, t.r0, p->h, &t.a0, &t.a1);
    lscc_span(p->kw, p->dw, t.c0, p->w, &t.b0, &t.b1);
    return t;
}

/* Element offset in one image of tap (a, b) of window t, channel 0. */
static inline ptrdiff_t tap_at(const lscc_win2d *p, const win *t, int a, int b) {
    return ((ptrdiff_t)(t->r0 + a * p->dh) * p->w + t->c0 + b * p->dw) * p->c;
}

/* Max of the nonempty window t over channels [0, nb) of xb (the image from
 * the block's first channel) into yp. pool2d.c takes the first maximal value
 * in row-major tap order; for a NaN its argmax (border windows) keeps the
 * first NaN, its row loop (inner windows, last_nan) the last one. Called with
 * nb == CB (constant after inlining: fixed-length loops) or the tail. */
static inline void window_max(const lscc_win2d *p, const win *t, const float *xb, int last_nan, float *restrict yp,
                              int nb) {
    float m[CB];
    const float *restrict v = xb + tap_at(p, t, t->a0, t->b0);
    for (int q = 0; q < nb; q++) m[q] = v[q];
    for (int a = t->a0; a < t->a1; a++)
        for (int b = a == t->a0 ? t->b0 + 1 : t->b0; b < t->b1; b++) {
            v = xb + tap_at(p, t, a, b);
            if (last_nan)
                for (int q = 0; q < nb; q++) m[q] = ((v[q] > m[q]) | (v[q] != v[q])) ? v[q] : m[q];
            else
                for (int q = 0; q < nb; q++) m[q] = ((v[q] > m[q]) | ((v[q] != v[q]) & (m[q] == m[q]))) ? v[q] : m[q];
        }
    for (int q = 0; q < nb; q++) yp[q] = m[q];
}

/* The plain bodies: window by window, the loops above. */
static void maxpool_fwd_row(const lscc_win2d *p, int i, int inner_row, int jlo, int jhi, const float *xn, float *yr) {
    const int c = p->c;
    for (int j = 0; j < p->ow; j++) {
        const win t = window_of(p, i, j);
        float *yp = yr + (size_t)j * c;
        if (t.a0 == t.a1 || t.b0 == t.b1) {
            for (int q = 0; q < c; q++) yp[q] = -INFINITY;
            continue;
        }
        const int last_nan = inner_row && j >= jlo && j < jhi;
        int ch = 0;
        for (; ch + CB <= c; ch += CB) window_max(p, &t, xn + ch, last_nan, yp + ch, CB);
        if (ch < c) window_max(p, &t, xn + ch, last_nan, yp + ch, c - ch);
    }
}

/* dx += dy, channel by channel of [0, nb), at the first maximal real tap of
 * the nonempty window t (a NaN: the first NaN), as pool2d.c's argmax. xb,
 * dxb: the image from the block's first channel; dyp: the output pixel's
 * gradient from the same channel. Two passes over the taps: the window's
 * maximum (the argmax rule, so the first NaN wins), then, in row-major tap
 * order, dy added where a tap equals it and no earlier tap did (a NaN
 * matches a NaN maximum). Blends instead of a scatter: both passes
 * vectorize; the taps not chosen are stored back unchanged (-0 stays -0). */
static inline void window_max_bwd(const lscc_win2d *p, const win *t, const float *xb, const float *dyp, float *dxb,
                                  int nb) {
    float m[CB];
    int done[CB];
    const float *restrict v = xb + tap_at(p, t, t->a0, t->b0);
    for (int q = 0; q < nb; q++) m[q] = v[q], done[q] = 0;
    for (int a = t->a0; a < t->a1; a++)
        for (int b = a == t->a0 ? t->b0 + 1 : t->b0; b < t->b1; b++) {
            v = xb + tap_at(p, t, a, b);
            for (int q = 0; q < nb; q++) m[q] = ((v[q] > m[q]) | ((v[q] != v[q]) & (m[q] == m[q]))) ? v[q] : m[q];
        }
    for (int a = t->a0; a < t->a1; a++)
        for (int b = t->b0; b < t->b1; b++) {
            const ptrdiff_t o = tap_at(p, t, a, b);
            const float *restrict u = xb + o;
            float *restrict d = dxb + o;
            for (int q = 0; q < nb; q++) {
                const int hit = (done[q] == 0) & ((u[q] == m[q]) | ((u[q] != u[q]) & (m[q] != m[q])));
                d[q] = hit ? d[q] + dyp[q] : d[q];
                done[q] |= hit;
            }
        }
}

static void maxpool_bwd_block(const lscc_win2d *p, const float *xb, const float *dyn, float *dxb, int nb) {
    for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
            const win t = window_of(p, i, j);
            if (t.a0 == t.a1 || t.b0 == t.b1) continue;
            const float *dyp = dyn + ((size_t)i * p->ow + j) * p->c;
            if (nb == CB) /* a full block: fixed-length loops */
                window_max_bwd(p, &t, xb, dyp, dxb, CB);
            else
                window_max_bwd(p, &t, xb, dyp, dxb, nb);
        }
}

/* The AVX-512 bodies: a full block of CB channels is one GNU C vector (the
 * compiler leaves the loops above scalar: compare-and-select over a local
 * array), and a window's taps are a list of offsets, shared by all windows
 * wholly inside the region (recomputing each window's taps cost more than
 * its maximum). Lane for lane the same comparisons and selections. */
#ifdef LSCC_HAVE_AVX512
#define MAXT 64 /* taps of the windows the offset lists serve */
typedef float vf __attribute__((vector_size(CB * sizeof(float))));
typedef int vi __attribute__((vector_size(CB * sizeof(int))));
/* Macros, not functions: vectors by value draw GCC's ABI notes. */
#define VLOAD(v, ptr) memcpy(&(v), (ptr), sizeof(vf))
#define VSTORE(ptr, v) memcpy((ptr), &(v), sizeof(vf))
#define VSEL(k, a, b) ((vf)(((vi)(a) & (k)) | ((vi)(b) & ~(k))))

/* window_max over the taps xb + off[0..nt) for a full block. */
LSCC_AVX512_INLINE void taps_max_vec(const float *xb, const ptrdiff_t *off, int nt, int last_nan, float *yp) {
    vf m, v;
    VLOAD(m, xb + off[0]);
    for (int u = 1; u < nt; u++) {
        VLOAD(v, xb + off[u]);
        const vi take = last_nan ? (v > m) | (v != v) : (v > m) | ((v != v) & (m == m));
        m = VSEL(take, v, m);
    }
    VSTORE(yp, m);
}

/* window_max_bwd over the taps xb + off[0..nt) for a full block. */
LSCC_AVX512_INLINE void taps_max_bwd_vec(const float *xb, const ptrdiff_t *off, int nt, const float *dyp, float *dxb) {
    float mx[CB];
    vf m, g, u, d;
    vi done = {0};
    taps_max_vec(xb, off, nt, 0, mx);
    VLOAD(m, mx);
    VLOAD(g, dyp);
    for (int k = 0; k < nt; k++) {
        VLOAD(u, xb + off[k]);
        VLOAD(d, dxb + off[k]);
        const vi hit = ~done & ((u == m) | ((u != u) & (m != m)));
        const vf r = VSEL(hit, d + g, d);
        VSTORE(dxb + off[k], r);
        done |= hit;
    }
}

/* Offsets of the real taps of window t (row-major) from channel 0 of the
 * image; their number, or 0 when there are more than MAXT. */
static inline int taps_of(const lscc_win2d *p, const win *t, ptrdiff_t *off) {
    if ((t->a1 - t->a0) * (t->b1 - t->b0) > MAXT) return 0;
    int n = 0;
    for (int a = t->a0; a < t->a1; a++)
        for (int b = t->b0; b < t->b1; b++) off[n++] = tap_at(p, t, a, b);
    return n;
}

/* Offsets of all kh x kw taps of a window from its first tap; their number,
 * or 0 when there are more than MAXT. */
static int full_taps(const lscc_win2d *p, ptrdiff_t *off) {
    if (p->kh * p->kw > MAXT) return 0;
    int n = 0;
    for (int a = 0; a < p->kh; a++)
        for (int b = 0; b < p->kw; b++) off[n++] = ((ptrdiff_t)a * p->dh * p->w + (ptrdiff_t)b * p->dw) * p->c;
    return n;
}

/* Element offset of window (i, j)'s first tap, real or not. */
static inline ptrdiff_t origin_of(const lscc_win2d *p, int i, int j) {
    return ((ptrdiff_t)(i * p->sh - p->pt) * p->w + (j * p->sw - p->pl)) * p->c;
}

/* maxpool_fwd_row; columns [jlo, jhi) of an inner row take full. */
LSCC_AVX512 static void maxpool_fwd_row_avx512(const lscc_win2d *p, int i, int inner_row, int jlo, int jhi,
                                               const ptrdiff_t *full, int nfull, const float *xn, float *yr) {
    const int c = p->c;
    for (int j = 0; j < p->ow; j++) {
        float *yp = yr + (size_t)j * c;
        const int last_nan = inner_row && j >= jlo && j < jhi;
        int ch = 0;
        if (last_nan && nfull) {
            const float *o = xn + origin_of(p, i, j);
            for (; ch + CB <= c; ch += CB) taps_max_vec(o + ch, full, nfull, 1, yp + ch);
            if (ch == c) continue;
        }
        const win t = window_of(p, i, j);
        if (t.a0 == t.a1 || t.b0 == t.b1) {
            for (int q = 0; q < c; q++) yp[q] = -INFINITY;
            continue;
        }
        ptrdiff_t off[MAXT];
        const int nt = ch + CB <= c ? taps_of(p, &t, off) : 0;
        if (nt)
            for (; ch + CB <= c; ch += CB) taps_max_vec(xn + ch, off, nt, last_nan, yp + ch);
        for (; ch + CB <= c; ch += CB) window_max(p, &t, xn + ch, last_nan, yp + ch, CB);
        if (ch < c) window_max(p, &t, xn + ch, last_nan, yp + ch, c - ch);
    }
}

/* maxpool_bwd_block for the full blocks [0, nblk) from xb, dyn, dxb (the
 * image's channel 0 of a block range); windows (i, j) in [ilo, ihi) x
 * [jlo, jhi) take full. A task holds several blocks so that it reads whole
 * cache lines of a pixel's channels, not one in four. */
LSCC_AVX512 static void maxpool_bwd_blocks_avx512(const lscc_win2d *p, const int *inner, const ptrdiff_t *full,
                                                  int nfull, const float *xb, const float *dyn, float *dxb, int nblk) {
    for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
            const float *dyp = dyn + ((size_t)i * p->ow + j) * p->c;
            if (nfull && i >= inner[0] && i < inner[1] && j >= inner[2] && j < inner[3]) {
                const ptrdiff_t o = origin_of(p, i, j);
                for (int k = 0; k < nblk; k++) taps_max_bwd_vec(xb + o + k * CB, full, nfull, dyp + k * CB, dxb + o + k * CB);
                continue;
            }
            const win t = window_of(p, i, j);
            if (t.a0 == t.a1 || t.b0 == t.b1) continue;
            ptrdiff_t off[MAXT];
            const int nt = taps_of(p, &t, off);
            for (int k = 0; k < nblk; k++)
                if (nt)
                    taps_max_bwd_vec(xb + k * CB, off, nt, dyp + k * CB, dxb + k * CB);
                else
                    window_max_bwd(p, &t, xb + k * CB, dyp + k * CB, dxb + k * CB, CB);
        }
}
#endif

void lscc_maxpool2d_fwd_nhwc_f32(const lscc_win2d *p, const float *x, float *y) {
    const int c = p->c;
    const size_t xs = (size_t)p->h * p->w * c, rows = (size_t)p->n * p->oh, yrow = (size_t)p->ow * c;
    int ilo, ihi, jlo, jhi;
    inner_outputs(p->kh, p->dh, p->sh, p->pt, p->h, p->oh, &ilo, &ihi);
    inner_outputs(p->kw, p->dw, p->sw, p->pl, p->w, p->ow, &jlo, &jhi);
#ifdef LSCC_HAVE_AVX512
    if (lscc_cpu_avx512()) {
        ptrdiff_t full[MAXT];
        const int nfull = full_taps(p, full);
        LSCC_PAR_PLANES(rows, yrow)
        for (size_t ni = 0; ni < rows; ni++) {
            const int i = (int)(ni % (size_t)p->oh);
            maxpool_fwd_row_avx512(p, i, i >= ilo && i < ihi, jlo, jhi, full, nfull, x + ni / (size_t)p->oh * xs,
                                   y + ni * yrow);
        }
        return;
    }
#endif
    LSCC_PAR_PLANES(rows, yrow)
    for (size_t ni = 0; ni < rows; ni++) {
        const int i = (int)(ni % (size_t)p->oh);
        maxpool_fwd_row(p, i, i >= ilo && i < ihi, jlo, jhi, x + ni / (size_t)p->oh * xs, y + ni * yrow);
    }
}

void lscc_maxpool2d_bwd_nhwc_f32(const lscc_win2d *p, const float *x, const float *dy, float *dx) {
    const int c = p->c, nblk = (c + CB - 1) / CB;
    const size_t xs = (size_t)p->h * p->w * c, ys = (size_t)p->oh * p->ow * c, tasks = (size_t)p->n * nblk;
#ifdef LSCC_HAVE_AVX512
    if (lscc_cpu_avx512()) {
        int inner[4];
        ptrdiff_t full[MAXT];
        const int nfull = full_taps(p, full);
        inner_outputs(p->kh, p->dh, p->sh, p->pt, p->h, p->oh, &inner[0], &inner[1]);
        inner_outputs(p->kw, p->dw, p->sw, p->pl, p->w, p->ow, &inner[2], &inner[3]);
        /* per image: the full blocks in nsplit contiguous ranges, then the tail */
        const int nfb = c / CB, nsplit = nfb < lscc_threads() ? (nfb ? nfb : 1) : lscc_threads();
        const size_t t2 = (size_t)p->n * (size_t)(nsplit + (c % CB != 0));
        LSCC_PAR_PLANES(t2, (size_t)p->oh * p->ow * CB)
        for (size_t k = 0; k < t2; k++) {
            const size_t n = k / (size_t)(nsplit + (c % CB != 0));
            const int r = (int)(k % (size_t)(nsplit + (c % CB != 0)));
            if (r < nsplit) {
                const int b0 = nfb * r / nsplit, b1 = nfb * (r + 1) / nsplit, ch = b0 * CB;
                if (b1 > b0)
                    maxpool_bwd_blocks_avx512(p, inner, full, nfull, x + n * xs + ch, dy + n * ys + ch,
                                              dx + n * xs + ch, b1 - b0);
            } else {
                const int ch = nfb * CB;
                maxpool_bwd_block(p, x + n * xs + ch, dy + n * ys + ch, dx + n * xs + ch, c - ch);
            }
        }
        return;
    }
#endif
    LSCC_PAR_PLANES(tasks, (size_t)p->oh * p->ow * CB)
    for (size_t nb_ = 0; nb_ < tasks; nb_++) {
        const size_t n = nb_ / (size_t)nblk;
        const int ch = (int)(nb_ % (size_t)nblk) * CB, nb = c - ch < CB ? c - ch : CB;
        maxpool_bwd_block(p, x + n * xs + ch, dy + n * ys + ch, dx + n * xs + ch, nb);
    }
}

/* Sum of the window t's real taps over channels [0, nb), from 0 in row-major
 * tap order, divided by d (0 when d is 0), as pool2d.c. */
static inline void window_avg(const lscc_win2d *p, const win *t, const float *xb, int d, float *restrict yp, int nb) {
    float s[CB];
    for (int q = 0; q < nb; q++) s[q] = 0;
    for (int a = t->a0; a < t->a1; a++)
        for (int b = t->b0; b < t->b1; b++) {
            const float *restrict v = xb + tap_at(p, t, a, b);
            for (int q = 0; q < nb; q++) s[q] += v[q];
        }
    for (int q = 0; q < nb; q++) yp[q] = d ? s[q] / (float)d : 0;
}

void lscc_avgpool2d_fwd_nhwc_f32(const lscc_win2d *p, int count_include_pad, const float *x, float *y) {
    const int c = p->c;
    const size_t xs = (size_t)p->h * p->w * c, rows = (size_t)p->n * p->oh, yrow = (size_t)p->ow * c;
    LSCC_PAR_PLANES(rows, yrow)
    for (size_t ni = 0; ni < rows; ni++) {
        const int i = (int)(ni % (size_t)p->oh);
        const float *xn = x + ni / (size_t)p->oh * xs;
        float *yr = y + ni * yrow;
        for (int j = 0; j < p->ow; j++) {
            const win t = window_of(p, i, j);
            const int d = lscc_avg_divisor(p, count_include_pad, i, j);
            float *yp = yr + (size_t)j * c;
            int ch = 0;
            for (; ch + CB <= c; ch += CB) window_avg(p, &t, xn + ch, d, yp + ch, CB);
            if (ch < c) window_avg(p, &t, xn + ch, d, yp + ch, c - ch);
        }
    }
}

/* dx += dy / d at every real tap of the window t, channels [0, nb). */
static inline void window_avg_bwd(const lscc_win2d *p, const win *t, const float *dyp, int d, float *dxb, int nb) {
    float g[CB];
    for (int q = 0; q < nb; q++) g[q] = dyp[q] / (float)d;
    for (int a = t->a0; a < t->a1; a++)
        for (int b = t->b0; b < t->b1; b++) {
            float *restrict v = dxb + tap_at(p, t, a, b);
            for (int q = 0; q < nb; q++) v[q] += g[q];
        }
}

void lscc_avgpool2d_bwd_nhwc_f32(const lscc_win2d *p, int count_include_pad, const float *dy, float *dx) {
    const int c = p->c, nblk = (c + CB - 1) / CB;
    const size_t xs = (size_t)p->h * p->w * c, ys = (size_t)p->oh * p->ow * c, tasks = (size_t)p->n * nblk;
    LSCC_PAR_PLANES(tasks, (size_t)p->oh * p->ow * CB)
    for (size_t nb_ = 0; nb_ < tasks; nb_++) {
        const size_t n = nb_ / (size_t)nblk;
        const int ch = (int)(nb_ % (size_t)nblk) * CB, nb = c - ch < CB ? c - ch : CB;
        const float *dyn = dy + n * ys + ch;
        float *dxb = dx + n * xs + ch;
        for (int i = 0; i < p->oh; i++)
            for (int j = 0; j < p->ow; j++) {
                const int d = lscc_avg_divisor(p, count_include_pad, i, j);
                if (!d) continue;
                const win t = window_of(p, i, j);
                const float *dyp = dyn + ((size_t)i * p->ow + j) * c;
                if (nb == CB)
                    window_avg_bwd(p, &t, dyp, d, dxb, CB);
                else
                    window_avg_bwd(p, &t, dyp, d, dxb, nb);
            }
    }
}
