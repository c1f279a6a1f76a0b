/* Softmax over the last axis: forward and backward (contract in
 * lscc_kernels.h). The file includes itself once per type (T, S); the bodies
 * are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "softmax.c"
#undef T
#undef S
#define T double
#define S f64
#include "softmax.c"
#undef T
#undef S

#else

/* Maximum of a row (subtracted before exp so that nothing overflows) and the
 * sum of exp(v - max), in double. */
static double FN(row_stats)(size_t len, const T *x, T *mx) {
    T v = x[0];
    for (size_t i = 1; i < len; i++) v = x[i] > v ? x[i] : v;
    double s = 0;
    for (size_t i = 0; i < len; i++) s += FN(lscc_exp)(x[i] - v);
    *mx = v;
    return s;
}

void FN(lscc_softmax_fwd)(size_t outer, size_t len, const T *x, T *y) {
    if (!len) return;
    for (size_t r = 0; r < outer; r++, x += len, y += len) {
        T mx;
        const double s = FN(row_stats)(len, x, &mx);
        for (size_t i = 0; i < len; i++) y[i] = (T)(FN(lscc_exp)(x[i] - mx) / s);
    }
}

/* y is recomputed from x (twice per element, instead of a row buffer). */
void FN(lscc_softmax_bwd)(size_t outer, size_t len, const T *x, const T *dy, T *dx) {
    if (!len) return;
    for (size_t r = 0; r < outer; r++, x += len, dy += len, dx += len) {
        T mx;
        const double s = FN(row_stats)(len, x, &mx);
        double dot = 0;
        for (size_t i = 0; i < len; i++) dot += dy[i] * (FN(lscc_exp)(x[i] - mx) / s);
        for (size_t i = 0; i < len; i++) dx[i] = (T)(dx[i] + FN(lscc_exp)(x[i] - mx) / s * (dy[i] - dot));
    }
}

#endif
