/* ONNX Gemm through cuBLAS (contract in lscc_kernels.h), and the row-major
 * product helper that matmul.cu shares. cuBLAS is column-major: a row-major
 * r x c matrix is its column-major transpose, so row-major C = op(P) op(Q)
 * is the column-major C^T = op(Q)^T op(P)^T, a gemm with the operands
 * swapped and the same transpose flags. */
#include <limits.h>

#include "cu_impl.h"

void lscc_cu_gemm_rm(lscc_cu *cu, int esize, int tp, int tq, size_t r, size_t c, size_t q, double alpha,
                     const void *pm, size_t ldp, size_t sp, const void *qm, size_t ldq, size_t sq, double beta, void *cm,
                     size_t ldc, size_t sc, size_t batch) {
    if (!LSCC_CU_READY(cu) || !r || !c || !batch) return;
    if (!q) {
        if (beta == 0) LSCC_CU_CHECK(cu, cudaMemsetAsync(cm, 0, batch * r * c * (size_t)esize, cu->stream));
        return;
    }
    if (r > INT_MAX || c > INT_MAX || q > INT_MAX || ldp > INT_MAX || ldq > INT_MAX || ldc > INT_MAX ||
        batch > INT_MAX) {
        lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "gemm: %zu x %zu x %zu (batch %zu) is too large for cuBLAS", r, c, q, batch);
        return;
    }
    const cublasOperation_t oq = tq ? CUBLAS_OP_T : CUBLAS_OP_N, op = tp ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int ir = (int)r, ic = (int)c, iq = (int)q, lp = (int)ldp, lq = (int)ldq, lc = (int)ldc, nb = (int)batch;
    if (esize == 4) {
        const float a = (float)alpha, b = (float)beta;
        const float *P = (const float *)pm, *Q = (const float *)qm;
        float *C = (float *)cm;
        if (batch == 1)
            LSCC_CUBLAS_CHECK(cu, cublasSgemm(cu->blas, oq, op, ic, ir, iq, &a, Q, lq, P, lp, &b, C, lc));
        else
            LSCC_CUBLAS_CHECK(cu, cublasSgemmStridedBatched(cu->blas, oq, op, ic, ir, iq, &a, Q, lq, (long long)sq, P,
                                                            lp, (long long)sp, &b, C, lc, (long long)sc, nb));
    } else {
        const double a = alpha, b = beta;
        const double *P = (const double *)pm, *Q = (const double *)qm;
        double *C = (double *)cm;
        if (batch == 1)
            LSCC_CUBLAS_CHECK(cu, cublasDgemm(cu->blas, oq, op, ic, ir, iq, &a, Q, lq, P, lp, &b, C, lc));
        else
            LSCC_CUBLAS_CHECK(cu, cublasDgemmStridedBatched(cu->blas, oq, op, ic, ir, iq, &a, Q, lq, (long long)sq, P,
                                                            lp, (long long)sp, &b, C, lc, (long long)sc, nb));
    }
}

/* y(i, j) += beta * c(i * ci + j * cj), in double as on the CPU. */
template <typename T>
__global__ void add_c_kernel(size_t m, size_t n, double beta, const T *c, size_t ci, size_t cj, T *y) {
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < m * n; t += (size_t)gridDim.x * blockDim.x) {
        const size_t i = t / n, j = t % n;
        y[t] = (T)((double)y[t] + beta * (double)c[i * ci + j * cj]);
    }
}

/* dc(x, z) += beta * the sum of dy over the rows and columns that C(x, z)
 * was broadcast to: rows [x, x + 1) when cm > 1 else [0, m), and likewise
 * columns. One block per element of dc, summed in double in a fixed order. */
template <typename T>
__global__ void dc_kernel(size_t m, size_t n, size_t cm, size_t cn, double beta, const T *dy, T *dc) {
    __shared__ double part[LSCC_CU_THREADS];
    for (size_t e = blockIdx.x; e < cm * cn; e += gridDim.x) {
        const size_t x = e / cn, z = e % cn;
        const size_t nr = cm > 1 ? 1 : m, nc = cn > 1 ? 1 : n, r0 = cm > 1 ? x : 0, c0 = cn > 1 ? z : 0;
        double s = 0;
        for (size_t t = threadIdx.x; t < nr * nc; t += blockDim.x) s += (double)dy[(r0 + t / nc) * n + c0 + t % nc];
        part[threadIdx.x] = s;
        __syncthreads();
        for (unsigned h = LSCC_CU_THREADS / 2; h > 0; h /= 2) {
            if (threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
            __syncthreads();
        }
        if (threadIdx.x == 0) dc[e] = (T)((double)dc[e] + beta * part[0]);
        __syncthreads();
    }
}

/* Elementwise dc += beta * dy when C is the full m x n (nothing summed). */
template <typename T> __global__ void dc_full_kernel(size_t mn, double beta, const T *dy, T *dc) {
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < mn; t += (size_t)gridDim.x * blockDim.x)
        dc[t] = (T)((double)dc[t] + beta * (double)dy[t]);
}

template <typename T> static void gemm_fwd(lscc_cu *cu, const lscc_gemm *g, const T *a, const T *b, const T *c, T *y) {
    if (!LSCC_CU_READY(cu) || !g->m || !g->n) return;
    const size_t m = g->m, n = g->n, k = g->k, lda = g->trans_a ? m : k, ldb = g->trans_b ? k : n;
    lscc_cu_gemm_rm(cu, (int)sizeof(T), g->trans_a, g->trans_b, m, n, k, g->alpha, a, lda, 0, b, ldb, 0, 0, y, n, 0,
                    1);
    if (!c || !LSCC_CU_READY(cu)) return;
    const size_t ci = g->cm > 1 ? g->cn : 0, cj = g->cn > 1 ? 1 : 0;
    add_c_kernel<T><<<lscc_cu_blocks(m * n), LSCC_CU_THREADS, 0, cu->stream>>>(m, n, g->beta, c, ci, cj, y);
    LSCC_CU_LAUNCHED(cu, "gemm: + beta * C");
}

/* dA' = alpha dY B'^T and dB' = alpha A'^T dY, written in A's and B's own
 * stored layouts (dA = dA'^T when trans_a, dB = dB'^T when trans_b). */
template <typename T>
static void gemm_bwd(lscc_cu *cu, const lscc_gemm *g, const T *a, const T *b, const T *dy, T *da, T *db, T *dc) {
    if (!LSCC_CU_READY(cu)) return;
    const size_t m = g->m, n = g->n, k = g->k, lda = g->trans_a ? m : k, ldb = g->trans_b ? k : n;
    const int es = (int)sizeof(T);
    if (da) {
        if (!g->trans_a) /* dA (m x k) += alpha dY B'^T */
            lscc_cu_gemm_rm(cu, es, 0, !g->trans_b, m, k, n, g->alpha, dy, n, 0, b, ldb, 0, 1, da, k, 0, 1);
        else /* dA (k x m) += alpha B' dY^T */
            lscc_cu_gemm_rm(cu, es, g->trans_b, 1, k, m, n, g->alpha, b, ldb, 0, dy, n, 0, 1, da, m, 0, 1);
    }
    if (db) {
        if (!g->trans_b) /* dB (k x n) += alpha A'^T dY */
            lscc_cu_gemm_rm(cu, es, !g->trans_a, 0, k, n, m, g->alpha, a, lda, 0, dy, n, 0, 1, db, n, 0, 1);
        else /* dB (n x k) += alpha dY^T A' */
            lscc_cu_gemm_rm(cu, es, 1, g->trans_a, n, k, m, g->alpha, dy, n, 0, a, lda, 0, 1, db, k, 0, 1);
    }
    if (!dc || !LSCC_CU_READY(cu) || !g->cm || !g->cn) return;
    if ((g->cm > 1 || m == 1) && (g->cn > 1 || n == 1))
        dc_full_kernel<T><<<lscc_cu_blocks(m * n), LSCC_CU_THREADS, 0, cu->stream>>>(m * n, g->beta, dy, dc);
    else {
        const size_t nb = g->cm * g->cn;
        dc_kernel<T><<<(unsigned)(nb < 65535u * 8u ? nb : 65535u * 8u), LSCC_CU_THREADS, 0, cu->stream>>>(
            m, n, g->cm, g->cn, g->beta, dy, dc);
    }
    LSCC_CU_LAUNCHED(cu, "gemm: dC");
}

extern "C" {
void lscc_cu_gemm_fwd_f32(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *c, float *y) {
    gemm_fwd<float>(cu, g, a, b, c, y);
}
void lscc_cu_gemm_fwd_f64(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *c,
                          double *y) {
    gemm_fwd<double>(cu, g, a, b, c, y);
}
void lscc_cu_gemm_bwd_f32(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *dy, float *da,
                          float *db, float *dc) {
    gemm_bwd<float>(cu, g, a, b, dy, da, db, dc);
}
void lscc_cu_gemm_bwd_f64(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *dy,
                          double *da, double *db, double *dc) {
    gemm_bwd<double>(cu, g, a, b, dy, da, db, dc);
}
}
