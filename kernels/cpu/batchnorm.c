/* BatchNormalization with trainable gamma and beta and frozen statistics
 * (lscc --train-bn-affine): y = (x - mean) * invstd * gamma + beta per
 * channel of x = n x c x hw. Backward: dx += dy * gamma * invstd, dgamma +=
 * sum dy * (x - mean) * invstd, dbeta += sum dy; any of them may be NULL.
 * The file includes itself once per type. */
#ifndef T
#include <stddef.h>

#include "lscc_kernels.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)
#define T float
#define S f32
#include "batchnorm.c"
#undef T
#undef S
#define T double
#define S f64
#include "batchnorm.c"
#undef T
#undef S

#else

void FN(lscc_bn_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *gamma, const T *beta, const T *mean,
                        const T *invstd, T *y) {
    for (size_t b = 0; b < n; b++)
        for (size_t k = 0; k < c; k++) {
            const T *xs = x + (b * c + k) * hw;
            T *ys = y + (b * c + k) * hw, s = invstd[k] * gamma[k], m = mean[k], t = beta[k];
            for (size_t i = 0; i < hw; i++) ys[i] = (xs[i] - m) * s + t;
        }
}

void FN(lscc_bn_bwd)(size_t n, size_t c, size_t hw, const T *x, const T *gamma, const T *mean, const T *invstd,
                        const T *dy, T *dx, T *dgamma, T *dbeta) {
    for (size_t k = 0; k < c; k++) {
        T sg = 0, sb = 0, s = invstd[k] * gamma[k];
        for (size_t b = 0; b < n; b++) {
            const T *xs = x + (b * c + k) * hw, *g = dy + (b * c + k) * hw;
            T *d = dx ? dx + (b * c + k) * hw : NULL;
            for (size_t i = 0; i < hw; i++) {
                sg += g[i] * (xs[i] - mean[k]);
                sb += g[i];
                if (d) d[i] += g[i] * s;
            }
        }
        if (dgamma) dgamma[k] += sg * invstd[k];
        if (dbeta) dbeta[k] += sb;
    }
}

#endif
