/* Conv2d on one region, the slow reference: direct loops, no BLAS, no
 * allocation (lscc_conv2d_*_ref_* in lscc_kernels.h). The fast kernels
 * (conv2d.c) fall back to these when they cannot allocate their column buffer,
 * and the tests compare the fast kernels against them. The file includes
 * itself once per type (T, S); the bodies are after the #else.
 *
 * Loop order: n, output channel, input channel of its group, kernel tap (a, b),
 * output row, output column. For a tap the outputs that read real pixels form
 * a rectangle [i0, i1) x [j0, j1) (lscc_span), so the two inner loops have no
 * branch and the innermost walks y contiguously and x with stride sw. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "conv2d_ref.c"
#undef T
#undef S
#define T double
#define S f64
#include "conv2d_ref.c"
#undef T
#undef S

#else

void FN(lscc_conv2d_fwd_ref)(const lscc_win2d *p, const T *x, const T *w, const T *bias, T *y) {
    const int cg = p->c / p->groups, og = p->oc / p->groups;
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    for (int n = 0; n < p->n; n++)
        for (int o = 0; o < p->oc; o++) {
            T *yo = y + ((size_t)n * p->oc + o) * ys;
            const T b0 = bias ? bias[o] : 0;
            for (size_t k = 0; k < ys; k++) yo[k] = b0;
            const T *xg = x + ((size_t)n * p->c + (size_t)(o / og) * cg) * xs;
            const T *wo = w + (size_t)o * cg * p->kh * p->kw;
            for (int ic = 0; ic < cg; ic++)
                for (int a = 0; a < p->kh; a++) {
                    const int roff = a * p->dh - p->pt;
                    int i0, i1;
                    lscc_span(p->oh, p->sh, roff, p->h, &i0, &i1);
                    for (int b = 0; b < p->kw; b++) {
                        const int coff = b * p->dw - p->pl;
                        int j0, j1;
                        lscc_span(p->ow, p->sw, coff, p->w, &j0, &j1);
                        const T wv = wo[((size_t)ic * p->kh + a) * p->kw + b];
                        for (int i = i0; i < i1; i++) {
                            const T *xr = xg + ic * xs + (size_t)(i * p->sh + roff) * p->w;
                            T *yr = yo + (size_t)i * p->ow;
                            for (int j = j0; j < j1; j++) yr[j] += wv * xr[j * p->sw + coff];
                        }
                    }
                }
        }
}

void FN(lscc_conv2d_bwd_data_ref)(const lscc_win2d *p, const T *dy, const T *w, T *dx) {
    const int cg = p->c / p->groups, og = p->oc / p->groups;
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    for (int n = 0; n < p->n; n++)
        for (int o = 0; o < p->oc; o++) {
            const T *dyo = dy + ((size_t)n * p->oc + o) * ys;
            T *dxg = dx + ((size_t)n * p->c + (size_t)(o / og) * cg) * xs;
            const T *wo = w + (size_t)o * cg * p->kh * p->kw;
            for (int ic = 0; ic < cg; ic++)
                for (int a = 0; a < p->kh; a++) {
                    const int roff = a * p->dh - p->pt;
                    int i0, i1;
                    lscc_span(p->oh, p->sh, roff, p->h, &i0, &i1);
                    for (int b = 0; b < p->kw; b++) {
                        const int coff = b * p->dw - p->pl;
                        int j0, j1;
                        lscc_span(p->ow, p->sw, coff, p->w, &j0, &j1);
                        const T wv = wo[((size_t)ic * p->kh + a) * p->kw + b];
                        for (int i = i0; i < i1; i++) {
                            T *dxr = dxg + ic * xs + (size_t)(i * p->sh + roff) * p->w;
                            const T *dyr = dyo + (size_t)i * p->ow;
                            for (int j = j0; j < j1; j++) dxr[j * p->sw + coff] += wv * dyr[j];
                        }
                    }
                }
        }
}

/* Here the batch loop is inside the tap loops, so each weight's gradient is
 * summed in a local before it is added to dw. */
void FN(lscc_conv2d_bwd_weight_ref)(const lscc_win2d *p, const T *x, const T *dy, T *dw, T *db) {
    const int cg = p->c / p->groups, og = p->oc / p->groups;
    const size_t xs = (size_t)p->h * p->w, ys = (size_t)p->oh * p->ow;
    for (int o = 0; o < p->oc; o++) {
        if (db) {
            T s = 0;
            for (int n = 0; n < p->n; n++) {
                const T *dyo = dy + ((size_t)n * p->oc + o) * ys;
                for (size_t k = 0; k < ys; k++) s += dyo[k];
            }
            db[o] += s;
        }
        T *dwo = dw + (size_t)o * cg * p->kh * p->kw;
        for (int ic = 0; ic < cg; ic++)
            for (int a = 0; a < p->kh; a++) {
                const int roff = a * p->dh - p->pt;
                int i0, i1;
                lscc_span(p->oh, p->sh, roff, p->h, &i0, &i1);
                for (int b = 0; b < p->kw; b++) {
                    const int coff = b * p->dw - p->pl;
                    int j0, j1;
                    lscc_span(p->ow, p->sw, coff, p->w, &j0, &j1);
                    T s = 0;
                    for (int n = 0; n < p->n; n++) {
                        const T *xc = x + ((size_t)n * p->c + (size_t)(o / og) * cg + ic) * xs;
                        const T *dyo = dy + ((size_t)n * p->oc + o) * ys;
                        for (int i = i0; i < i1; i++) {
                            const T *xr = xc + (size_t)(i * p->sh + roff) * p->w;
                            const T *dyr = dyo + (size_t)i * p->ow;
                            for (int j = j0; j < j1; j++) s += xr[j * p->sw + coff] * dyr[j];
                        }
                    }
                    dwo[((size_t)ic * p->kh + a) * p->kw + b] += s;
                }
            }
    }
}

#endif
