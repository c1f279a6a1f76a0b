/* MaxPool2d and AveragePool2d on one region, channels-last (NHWC) float32:
 * forward and backward (contract in lscc_kernels.h). Every result is bit for
 * bit that of the NCHW kernels of pool2d.c on the transposed buffers: the same
 * windows (lscc_span: padding is never read), the same comparisons in the
 * same row-major tap order, the same sums divided the same way, and the
 * backward += into each dx element in the same order (outputs row-major).
 *
 * The innermost loops run over a block of up to CB channels of one pixel
 * (contiguous), so they vectorize; a window's running max / sum of a block
 * stays in a small local array across its taps. Forward runs output rows on
 * OpenMP threads; backward runs (image, channel block) pairs, since windows
 * of neighbouring output rows overlap and each dx element must receive its
 * contributions in one order. */
#include <math.h>
#include <stddef.h>

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

static win window_of(const lscc_win2d *p, int i, int j) {
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
                for (int q = 0; q < nb; q++) m[q] = (v[q] > m[q]) | (v[q] != v[q]) ? v[q] : m[q];
            else
                for (int q = 0; q < nb; q++) m[q] = (v[q] > m[q]) | ((v[q] != v[q]) & (m[q] == m[q])) ? v[q] : m[q];
        }
    for (int q = 0; q < nb; q++) yp[q] = m[q];
}

void lscc_maxpool2d_fwd_nhwc_f32(const lscc_win2d *p, const float *x, float *y) {
    const int c = p->c;
    const size_t xs = (size_t)p->h * p->w * c, rows = (size_t)p->n * p->oh, yrow = (size_t)p->ow * c;
    int ilo, ihi, jlo, jhi;
    inner_outputs(p->kh, p->dh, p->sh, p->pt, p->h, p->oh, &ilo, &ihi);
    inner_outputs(p->kw, p->dw, p->sw, p->pl, p->w, p->ow, &jlo, &jhi);
    LSCC_PAR_PLANES(rows, yrow)
    for (size_t ni = 0; ni < rows; ni++) {
        const int i = (int)(ni % (size_t)p->oh), inner_row = i >= ilo && i < ihi;
        const float *xn = x + ni / (size_t)p->oh * xs;
        float *yr = y + ni * yrow;
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
}

/* dx += dy routed, channel by channel of [0, nb), to the first maximal real
 * position of the nonempty window t (a NaN: the first NaN), as pool2d.c's
 * argmax. xb, dxb: the image from the block's first channel; dyp: the
 * output pixel's gradient from the same channel. Windows of up to MAXT real
 * taps keep the argmax as a tap number (int, like the values' float: the
 * loop vectorizes), larger ones as an offset. */
#define MAXT 64
static inline void argmax_fold(float *restrict m, int *restrict k, const float *restrict v, int u, int nb) {
    for (int q = 0; q < nb; q++) {
        const float x = v[q], y = m[q];
        const int take = (x > y) | ((x != x) & (y == y));
        m[q] = take ? x : y;
        k[q] = take ? u : k[q];
    }
}

static inline void window_max_bwd(const lscc_win2d *p, const win *t, const float *xb, const float *dyp, float *dxb,
                                  int nb) {
    float m[CB];
    const float *restrict v;
    if ((t->a1 - t->a0) * (t->b1 - t->b0) <= MAXT) {
        ptrdiff_t off[MAXT];
        int k[CB], nt = 0;
        off[0] = tap_at(p, t, t->a0, t->b0); /* rewritten below; tells the compiler t has a tap */
        for (int a = t->a0; a < t->a1; a++)
            for (int b = t->b0; b < t->b1; b++) off[nt++] = tap_at(p, t, a, b);
        v = xb + off[0];
        for (int q = 0; q < nb; q++) m[q] = v[q], k[q] = 0;
        if (nb == CB) /* a full block: fixed-length loops, which vectorize */
            for (int u = 1; u < nt; u++) argmax_fold(m, k, xb + off[u], u, CB);
        else
            for (int u = 1; u < nt; u++) argmax_fold(m, k, xb + off[u], u, nb);
        for (int q = 0; q < nb; q++) dxb[off[k[q]] + q] += dyp[q];
        return;
    }
    ptrdiff_t k[CB], o = tap_at(p, t, t->a0, t->b0);
    v = xb + o;
    for (int q = 0; q < nb; q++) m[q] = v[q], k[q] = o;
    for (int a = t->a0; a < t->a1; a++)
        for (int b = a == t->a0 ? t->b0 + 1 : t->b0; b < t->b1; b++) {
            o = tap_at(p, t, a, b);
            v = xb + o;
            for (int q = 0; q < nb; q++) {
                const int take = (v[q] > m[q]) | ((v[q] != v[q]) & (m[q] == m[q]));
                m[q] = take ? v[q] : m[q];
                k[q] = take ? o : k[q];
            }
        }
    for (int q = 0; q < nb; q++) dxb[k[q] + q] += dyp[q];
}

void lscc_maxpool2d_bwd_nhwc_f32(const lscc_win2d *p, const float *x, const float *dy, float *dx) {
    const int c = p->c, nblk = (c + CB - 1) / CB;
    const size_t xs = (size_t)p->h * p->w * c, ys = (size_t)p->oh * p->ow * c, tasks = (size_t)p->n * nblk;
    LSCC_PAR_PLANES(tasks, (size_t)p->oh * p->ow * CB)
    for (size_t nb_ = 0; nb_ < tasks; nb_++) {
        const size_t n = nb_ / (size_t)nblk;
        const int ch = (int)(nb_ % (size_t)nblk) * CB, nb = c - ch < CB ? c - ch : CB;
        const float *xb = x + n * xs + ch, *dyn = dy + n * ys + ch;
        float *dxb = dx + n * xs + ch;
        for (int i = 0; i < p->oh; i++)
            for (int j = 0; j < p->ow; j++) {
                const win t = window_of(p, i, j);
                if (t.a0 == t.a1 || t.b0 == t.b1) continue;
                window_max_bwd(p, &t, xb, dyn + ((size_t)i * p->ow + j) * c, dxb, nb);
            }
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
