/* Per-channel affine map (frozen BatchNorm): forward and backward (contract in
 * lscc_kernels.h). The file includes itself once per type (T, S); the bodies
 * are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "affine.c"
#undef T
#undef S
#define T double
#define S f64
#include "affine.c"
#undef T
#undef S

#else

void FN(lscc_affine_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *scale, const T *shift, T *y) {
    LSCC_PAR_PLANES(n * c, hw)
    for (size_t m = 0; m < n * c; m++) {
        const T a = scale[m % c], b = shift[m % c];
        for (size_t k = m * hw; k < (m + 1) * hw; k++) y[k] = x[k] * a + b;
    }
}

/* dscale and dshift are summed over n and the pixels in locals first. */
void FN(lscc_affine_bwd)(size_t n, size_t c, size_t hw, const T *x, const T *scale, const T *dy, T *dx, T *dscale,
                         T *dshift) {
    if (dx)
        LSCC_PAR_PLANES(n * c, hw)
        for (size_t m = 0; m < n * c; m++) {
            const T a = scale[m % c];
            for (size_t k = m * hw; k < (m + 1) * hw; k++) dx[k] += dy[k] * a;
        }
    if (!dscale && !dshift) return;
    LSCC_PAR_PLANES(c, n * hw)
    for (size_t ch = 0; ch < c; ch++) {
        T ss = 0, sb = 0;
        for (size_t b = 0; b < n; b++) {
            const size_t o = (b * c + ch) * hw;
            for (size_t k = 0; k < hw; k++) {
                ss += dy[o + k] * x[o + k];
                sb += dy[o + k];
            }
        }
        if (dscale) dscale[ch] += ss;
        if (dshift) dshift[ch] += sb;
    }
}

#endif
