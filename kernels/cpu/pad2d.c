/* Constant spatial Pad: forward and backward (contract in lscc_kernels.h). The
 * file includes itself once per type (T, S); the bodies are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "pad2d.c"
#undef T
#undef S
#define T double
#define S f64
#include "pad2d.c"
#undef T
#undef S

#else

void FN(lscc_pad2d_fwd)(const lscc_pad2d *p, T fill, const T *x, T *y) {
    for (size_t m = 0; m < p->n * p->c; m++, x += p->h * p->w, y += p->oh * p->ow)
        for (size_t i = 0; i < p->oh; i++) {
            T *row = y + i * p->ow;
            const int inside = i >= p->pt && i < p->pt + p->h;
            const size_t l = inside ? p->pl : p->ow, r = inside ? p->pl + p->w : p->ow;
            for (size_t j = 0; j < l; j++) row[j] = fill;
            for (size_t j = l; j < r; j++) row[j] = x[(i - p->pt) * p->w + j - p->pl];
            for (size_t j = r; j < p->ow; j++) row[j] = fill;
        }
}

void FN(lscc_pad2d_bwd)(const lscc_pad2d *p, const T *dy, T *dx) {
    for (size_t m = 0; m < p->n * p->c; m++, dx += p->h * p->w, dy += p->oh * p->ow)
        for (size_t i = 0; i < p->h; i++)
            for (size_t j = 0; j < p->w; j++) dx[i * p->w + j] += dy[(i + p->pt) * p->ow + j + p->pl];
}

#endif
