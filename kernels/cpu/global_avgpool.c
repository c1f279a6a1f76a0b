/* Global average pooling over the pixels (GlobalAveragePool, ReduceMean over
 * H and W): forward and backward (contract in lscc_kernels.h). The file
 * includes itself once per type (T, S); the bodies are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "global_avgpool.c"
#undef T
#undef S
#define T double
#define S f64
#include "global_avgpool.c"
#undef T
#undef S

#else

/* The sum is in double: hw may be a whole image's pixels. */
void FN(lscc_global_avgpool_fwd)(size_t nc, size_t hw, const T *x, T *y) {
    for (size_t m = 0; m < nc; m++, x += hw) {
        double s = 0;
        for (size_t k = 0; k < hw; k++) s += x[k];
        y[m] = (T)(s / (double)hw);
    }
}

void FN(lscc_global_avgpool_bwd)(size_t nc, size_t hw, const T *dy, T *dx) {
    for (size_t m = 0; m < nc; m++, dx += hw) {
        const T g = (T)(dy[m] / (double)hw);
        for (size_t k = 0; k < hw; k++) dx[k] += g;
    }
}

#endif
