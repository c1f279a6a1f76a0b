/* MaxPool2d and AveragePool2d on one region: forward and backward (contract in
 * lscc_kernels.h). The file includes itself once per type (T, S); the bodies
 * are after the #else. For output (i, j) the window taps that land on real
 * pixels form a rectangle [a0, a1) x [b0, b1) (lscc_span), so padding is never
 * read: it is -inf for max (cannot win) and 0 for average (adds nothing). */
#ifndef T
#include <math.h>
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

/* Real taps of output (i, j): rows [*a0, *a1), columns [*b0, *b1). */
static void real_taps(const lscc_win2d *p, int i, int j, int *a0, int *a1, int *b0, int *b1) {
    lscc_span(p->kh, p->dh, i * p->sh - p->pt, p->h, a0, a1);
    lscc_span(p->kw, p->dw, j * p->sw - p->pl, p->w, b0, b1);
}

#define T float
#define S f32
#include "pool2d.c"
#undef T
#undef S
#define T double
#define S f64
#include "pool2d.c"
#undef T
#undef S

#else

/* Index in the plane xc of the first maximal real position of the window
 * whose real taps are rows [a0, a1) from row r0 and columns [b0, b1) from
 * column c0 (a NaN wins at its first occurrence); -1 when it has none. */
static ptrdiff_t FN(argmax)(const lscc_win2d *p, const T *xc, int r0, int a0, int a1, int c0, int b0, int b1) {
    ptrdiff_t best = -1;
    T m = 0;
    for (int a = a0; a < a1; a++) {
        const ptrdiff_t row = (ptrdiff_t)(r0 + a * p->dh) * p->w + c0;
        for (int b = b0; b < b1; b++) {
            const ptrdiff_t k = row + b * p->dw;
            const T v = xc[k];
            if (best < 0 || v > m || (v != v && m == m)) best = k, m = v;
        }
    }
    return best;
}

/* Calls body(k, o) for every output o = i * ow + j of one plane with k the
 * argmax of its window. The real taps of a row are computed once per row;
 * columns whose window lies inside the region (all but a few at the
 * borders) take all kw taps without computing their span. */
#define FOR_ARGMAX(p, xc, body)                                                                                       \
    do {                                                                                                              \
        int jlo_ = ((p)->pl + (p)->sw - 1) / (p)->sw, jhi_ = (p)->w - 1 - ((p)->kw - 1) * (p)->dw + (p)->pl;         \
        jhi_ = jhi_ < 0 ? 0 : jhi_ / (p)->sw + 1;                                                                     \
        if (jhi_ > (p)->ow) jhi_ = (p)->ow;                                                                           \
        if (jlo_ > jhi_) jlo_ = jhi_;                                                                                 \
        for (int i_ = 0; i_ < (p)->oh; i_++) {                                                                        \
            int a0_, a1_;                                                                                             \
            const int r0_ = i_ * (p)->sh - (p)->pt;                                                                   \
            lscc_span((p)->kh, (p)->dh, r0_, (p)->h, &a0_, &a1_);                                                     \
            for (int j_ = 0; j_ < (p)->ow; j_++) {                                                                    \
                int b0_ = 0, b1_ = (p)->kw;                                                                           \
                const int c0_ = j_ * (p)->sw - (p)->pl;                                                               \
                if (j_ < jlo_ || j_ >= jhi_) lscc_span((p)->kw, (p)->dw, c0_, (p)->w, &b0_, &b1_);                    \
                const ptrdiff_t k = FN(argmax)(p, xc, r0_, a0_, a1_, c0_, b0_, b1_);                                  \
                const size_t o = (size_t)i_ * (p)->ow + j_;                                                           \
                body;                                                                                                 \
            }                                                                                                         \
        }                                                                                                             \
    } while (0)

/* Maximum of the windows of output row i, columns [j0, j1), all of whose
 * taps are real: tap by tap over the row, so the loop over j vectorizes.
 * A NaN, once taken, stays (v > NaN is false); ties keep the first value. */
static void FN(maxrow)(const lscc_win2d *p, const T *xc, int i, int j0, int j1, T *yr) {
    const int r0 = i * p->sh - p->pt;
    for (int a = 0; a < p->kh; a++)
        for (int b = 0; b < p->kw; b++) {
            const T *xr = xc + (ptrdiff_t)(r0 + a * p->dh) * p->w + b * p->dw - p->pl;
            if (a == 0 && b == 0) {
                for (int j = j0; j < j1; j++) yr[j] = xr[(ptrdiff_t)j * p->sw];
                continue;
            }
            for (int j = j0; j < j1; j++) {
                const T v = xr[(ptrdiff_t)j * p->sw];
                yr[j] = v > yr[j] || v != v ? v : yr[j];
            }
        }
}

void FN(lscc_maxpool2d_fwd)(const lscc_win2d *p, const T *x, T *y) {
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    /* rows and columns whose windows lie inside the region */
    int ilo = (p->pt + p->sh - 1) / p->sh, ihi = p->h - 1 - (p->kh - 1) * p->dh + p->pt;
    int jlo = (p->pl + p->sw - 1) / p->sw, jhi = p->w - 1 - (p->kw - 1) * p->dw + p->pl;
    ihi = ihi < 0 ? 0 : ihi / p->sh + 1;
    jhi = jhi < 0 ? 0 : jhi / p->sw + 1;
    ihi = ihi > p->oh ? p->oh : ihi;
    jhi = jhi > p->ow ? p->ow : jhi;
    ilo = ilo > ihi ? ihi : ilo;
    jlo = jlo > jhi ? jhi : jlo;
    LSCC_PAR_PLANES((size_t)p->n * p->c, xs)
    for (size_t nc = 0; nc < (size_t)p->n * p->c; nc++) {
        const T *xc = x + nc * xs;
        T *yc = y + nc * ys;
        for (int i = ilo; i < ihi; i++) FN(maxrow)(p, xc, i, jlo, jhi, yc + (size_t)i * p->ow);
        /* the border: windows that may hold padding */
        for (int i = 0; i < p->oh; i++) {
            int a0, a1;
            const int r0 = i * p->sh - p->pt, inner = i >= ilo && i < ihi;
            lscc_span(p->kh, p->dh, r0, p->h, &a0, &a1);
            for (int j = 0; j < p->ow; j++) {
                if (inner && j == jlo && jhi > jlo) j = jhi; /* done by maxrow */
                if (j >= p->ow) break;
                int b0, b1;
                const int c0 = j * p->sw - p->pl;
                lscc_span(p->kw, p->dw, c0, p->w, &b0, &b1);
                const ptrdiff_t k = FN(argmax)(p, xc, r0, a0, a1, c0, b0, b1);
                yc[(size_t)i * p->ow + j] = k < 0 ? (T)-INFINITY : xc[k];
            }
        }
    }
}

void FN(lscc_maxpool2d_bwd)(const lscc_win2d *p, const T *x, const T *dy, T *dx) {
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    LSCC_PAR_PLANES((size_t)p->n * p->c, xs)
    for (size_t nc = 0; nc < (size_t)p->n * p->c; nc++) {
        const T *xc = x + nc * xs, *dyc = dy + nc * ys;
        T *dxc = dx + nc * xs;
        FOR_ARGMAX(p, xc, if (k >= 0) dxc[k] += dyc[o]);
    }
}

void FN(lscc_avgpool2d_fwd)(const lscc_win2d *p, int count_include_pad, const T *x, T *y) {
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    LSCC_PAR_PLANES((size_t)p->n * p->c, xs)
    for (size_t nc = 0; nc < (size_t)p->n * p->c; nc++) {
        const T *xc = x + nc * xs;
        T *yc = y + nc * ys;
        for (int i = 0; i < p->oh; i++)
            for (int j = 0; j < p->ow; j++) {
                int a0, a1, b0, b1;
                real_taps(p, i, j, &a0, &a1, &b0, &b1);
                T s = 0;
                for (int a = a0; a < a1; a++) {
                    const T *xr = xc + (size_t)(i * p->sh - p->pt + a * p->dh) * p->w;
                    for (int b = b0; b < b1; b++) s += xr[j * p->sw - p->pl + b * p->dw];
                }
                const int d = lscc_avg_divisor(p, count_include_pad, i, j);
                yc[(size_t)i * p->ow + j] = d ? s / (T)d : 0;
            }
    }
}

void FN(lscc_avgpool2d_bwd)(const lscc_win2d *p, int count_include_pad, const T *dy, T *dx) {
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    LSCC_PAR_PLANES((size_t)p->n * p->c, xs)
    for (size_t nc = 0; nc < (size_t)p->n * p->c; nc++) {
        const T *dyc = dy + nc * ys;
        T *dxc = dx + nc * xs;
        for (int i = 0; i < p->oh; i++)
            for (int j = 0; j < p->ow; j++) {
                const int d = lscc_avg_divisor(p, count_include_pad, i, j);
                if (!d) continue;
                const T g = dyc[(size_t)i * p->ow + j] / (T)d;
                int a0, a1, b0, b1;
                real_taps(p, i, j, &a0, &a1, &b0, &b1);
                for (int a = a0; a < a1; a++) {
                    T *dxr = dxc + (size_t)(i * p->sh - p->pt + a * p->dh) * p->w;
                    for (int b = b0; b < b1; b++) dxr[j * p->sw - p->pl + b * p->dw] += g;
                }
            }
    }
}

#endif
