/* ONNX Gemm, Y = alpha * A' B' + beta * C: forward and backward (contract in
 * lscc_kernels.h). The file includes itself once per type (T, S); the bodies
 * are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "gemm.c"
#undef T
#undef S
#define T double
#define S f64
#include "gemm.c"
#undef T
#undef S

#else

/* y(i, j) = alpha * sum_p a(i, p) * b(p, j) for i < m, j < n, p < k, plus
 * y(i, j)'s old value when acc. Operands are strided: a(i, p) is
 * a[i * ai + p * ap], b(p, j) is b[p * bp + j * bj], y(i, j) is
 * y[i * yi + j * yj], so that transposes cost nothing. The sum is in double.
 * Dot-product order: the inner loop is contiguous when a is read by rows and b
 * by columns, which is the exported Linear (transB = 1). */
static void FN(gemm_strided)(size_t m, size_t k, size_t n, double alpha, const T *a, size_t ai, size_t ap,
                             const T *b, size_t bp, size_t bj, T *y, size_t yi, size_t yj, int acc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const T *ar = a + i * ai, *bc = b + j * bj;
            double s = 0;
            for (size_t p = 0; p < k; p++) s += (double)ar[p * ap] * bc[p * bp];
            T *o = y + i * yi + j * yj;
            *o = (T)(acc ? *o + alpha * s : alpha * s);
        }
}

/* A'(i, p) is a[i * ai + p * ap] and B'(p, j) is b[p * bp + j * bj]. */
void FN(lscc_gemm_fwd)(const lscc_gemm *g, const T *a, const T *b, const T *c, T *y) {
    const size_t m = g->m, n = g->n, k = g->k;
    const size_t ai = g->trans_a ? 1 : k, ap = g->trans_a ? m : 1, bp = g->trans_b ? 1 : n, bj = g->trans_b ? k : 1;
    FN(gemm_strided)(m, k, n, g->alpha, a, ai, ap, b, bp, bj, y, n, 1, 0);
    if (!c) return;
    const size_t ci = g->cm > 1 ? g->cn : 0, cj = g->cn > 1 ? 1 : 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) y[i * n + j] = (T)(y[i * n + j] + g->beta * c[i * ci + j * cj]);
}

/* dA'(i, p) = alpha * sum_j dY(i, j) B'(p, j) and dB'(p, j) = alpha * sum_i
 * A'(i, p) dY(i, j), written through the same strides as A and B; dC sums
 * beta * dY over the broadcast rows and columns. */
void FN(lscc_gemm_bwd)(const lscc_gemm *g, const T *a, const T *b, const T *dy, T *da, T *db, T *dc) {
    const size_t m = g->m, n = g->n, k = g->k;
    const size_t ai = g->trans_a ? 1 : k, ap = g->trans_a ? m : 1, bp = g->trans_b ? 1 : n, bj = g->trans_b ? k : 1;
    if (da) FN(gemm_strided)(m, n, k, g->alpha, dy, n, 1, b, bj, bp, da, ai, ap, 1);
    if (db) FN(gemm_strided)(k, m, n, g->alpha, a, ap, ai, dy, n, 1, db, bp, bj, 1);
    if (!dc) return;
    const size_t cm = g->cm, cn = g->cn;
    for (size_t x = 0; x < cm; x++)
        for (size_t z = 0; z < cn; z++) {
            double s = 0;
            for (size_t i = cm > 1 ? x : 0; i < (cm > 1 ? x + 1 : m); i++)
                for (size_t j = cn > 1 ? z : 0; j < (cn > 1 ? z + 1 : n); j++) s += dy[i * n + j];
            dc[x * cn + z] = (T)(dc[x * cn + z] + g->beta * s);
        }
}

#endif
