/* MatMul of (batches of) matrices: forward and backward, through the Gemm
 * kernels (contract in lscc_kernels.h). The file includes itself once per type
 * (T, S); the bodies are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "matmul.c"
#undef T
#undef S
#define T double
#define S f64
#include "matmul.c"
#undef T
#undef S

#else

/* Each batch item is a Gemm with alpha 1 and no C. */
void FN(lscc_matmul_fwd)(size_t batch, size_t m, size_t k, size_t n, const T *a, const T *b, T *y) {
    const lscc_gemm g = {.m = m, .n = n, .k = k, .alpha = 1};
    for (size_t t = 0; t < batch; t++) FN(lscc_gemm_fwd)(&g, a + t * m * k, b + t * k * n, NULL, y + t * m * n);
}

void FN(lscc_matmul_bwd)(size_t batch, size_t m, size_t k, size_t n, const T *a, const T *b, const T *dy, T *da,
                         T *db) {
    const lscc_gemm g = {.m = m, .n = n, .k = k, .alpha = 1};
    for (size_t t = 0; t < batch; t++)
        FN(lscc_gemm_bwd)(&g, a + t * m * k, b + t * k * n, dy + t * m * n, da ? da + t * m * k : NULL,
                          db ? db + t * k * n : NULL, NULL);
}

#endif
