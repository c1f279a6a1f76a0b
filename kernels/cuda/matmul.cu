/* MatMul of (batches of) row-major matrices through cuBLAS strided-batched
 * gemm (contract in lscc_kernels.h; the row-major helper is in gemm.cu). */
#include "cu_impl.h"

template <typename T>
static void matmul_fwd(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const T *a, const T *b, T *y) {
    /* y[t] (m x n) = a[t] (m x k) b[t] (k x n) */
    lscc_cu_gemm_rm(cu, (int)sizeof(T), 0, 0, m, n, k, 1, a, k, m * k, b, n, k * n, 0, y, n, m * n, batch);
}

template <typename T>
static void matmul_bwd(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const T *a, const T *b, const T *dy,
                       T *da, T *db) {
    const int es = (int)sizeof(T);
    if (da) /* da[t] (m x k) += dy[t] (m x n) b[t]^T */
        lscc_cu_gemm_rm(cu, es, 0, 1, m, k, n, 1, dy, n, m * n, b, n, k * n, 1, da, k, m * k, batch);
    if (db) /* db[t] (k x n) += a[t]^T dy[t] */
        lscc_cu_gemm_rm(cu, es, 1, 0, k, n, m, 1, a, k, m * k, dy, n, m * n, 1, db, n, k * n, batch);
}

extern "C" {
void lscc_cu_matmul_fwd_f32(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b,
                            float *y) {
    matmul_fwd<float>(cu, batch, m, k, n, a, b, y);
}
void lscc_cu_matmul_fwd_f64(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const double *a,
                            const double *b, double *y) {
    matmul_fwd<double>(cu, batch, m, k, n, a, b, y);
}
void lscc_cu_matmul_bwd_f32(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b,
                            const float *dy, float *da, float *db) {
    matmul_bwd<float>(cu, batch, m, k, n, a, b, dy, da, db);
}
void lscc_cu_matmul_bwd_f64(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const double *a,
                            const double *b, const double *dy, double *da, double *db) {
    matmul_bwd<double>(cu, batch, m, k, n, a, b, dy, da, db);
}
}
