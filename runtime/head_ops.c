/* Head ops on whole tensors for generated code: global average pooling,
 * Gemm / MatMul with a constant right operand, and Softmax over the last
 * axis, forward and backward (gradients accumulate), float and double. The
 * file includes itself once per type. */
#ifndef T
#include <math.h>
#include <stddef.h>

#include "lscc_rt.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)
#define T float
#define S f32
#include "head_ops.c"
#undef T
#undef S
#define T double
#define S f64
#include "head_ops.c"
#undef T
#undef S

#else

/* y[i] = mean of x[i * hw .. (i + 1) * hw) for nc planes. */
void FN(lscc_rt_gap_fwd)(size_t nc, size_t hw, const T *x, T *y) {
    for (size_t i = 0; i < nc; i++) {
        T s = 0;
        for (size_t k = 0; k < hw; k++) s += x[i * hw + k];
        y[i] = s / (T)hw;
    }
}

void FN(lscc_rt_gap_bwd)(size_t nc, size_t hw, const T *dy, T *dx) {
    for (size_t i = 0; i < nc; i++)
        for (size_t k = 0; k < hw; k++) dx[i * hw + k] += dy[i] / (T)hw;
}

/* y[m, n] = alpha * sum_k a[m, k] * B[k, n] + beta * c[n or 0], with B = w
 * ([K, N]) or w^T (w is [N, K], transb). cn: 0 no C, 1 scalar, N a row. */
void FN(lscc_rt_gemm_fwd)(size_t M, size_t K, size_t N, int transb, T alpha, const T *a, const T *w, T beta,
                          const T *c, size_t cn, T *y) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            T s = 0;
            for (size_t k = 0; k < K; k++) s += a[m * K + k] * (transb ? w[n * K + k] : w[k * N + n]);
            y[m * N + n] = alpha * s + (cn ? beta * c[cn == 1 ? 0 : n] : 0);
        }
}

void FN(lscc_rt_gemm_bwd)(size_t M, size_t K, size_t N, int transb, T alpha, const T *a, const T *w, T beta,
                          size_t cn, const T *dy, T *da, T *dw, T *dc) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            T g = dy[m * N + n];
            if (dc && cn) dc[cn == 1 ? 0 : n] += beta * g;
            g *= alpha;
            for (size_t k = 0; k < K; k++) {
                size_t wi = transb ? n * K + k : k * N + n;
                if (da) da[m * K + k] += g * w[wi];
                if (dw) dw[wi] += g * a[m * K + k];
            }
        }
}

/* Softmax over rows of length len; backward from the forward input x. */
void FN(lscc_rt_softmax_fwd)(size_t rows, size_t len, const T *x, T *y) {
    for (size_t r = 0; r < rows; r++) {
        const T *xr = x + r * len;
        T *yr = y + r * len, mx = xr[0], s = 0;
        for (size_t i = 1; i < len; i++) mx = xr[i] > mx ? xr[i] : mx;
        for (size_t i = 0; i < len; i++) s += yr[i] = (T)exp(xr[i] - mx);
        for (size_t i = 0; i < len; i++) yr[i] /= s;
    }
}

void FN(lscc_rt_softmax_bwd)(size_t rows, size_t len, const T *x, const T *dy, T *dx, T *tmp) {
    FN(lscc_rt_softmax_fwd)(rows, len, x, tmp);
    for (size_t r = 0; r < rows; r++) {
        const T *yr = tmp + r * len, *g = dy + r * len;
        T dot = 0;
        for (size_t i = 0; i < len; i++) dot += g[i] * yr[i];
        for (size_t i = 0; i < len; i++) dx[r * len + i] += yr[i] * (g[i] - dot);
    }
}

#endif
