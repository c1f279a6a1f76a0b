/* Private to the CUDA kernels: the context and the checking macros. */
#ifndef LSCC_CU_IMPL_H
#define LSCC_CU_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "lscc_cuda.h"

/* One cached cuDNN algorithm choice: the key is every number that shapes
 * the descriptors (window, element size, which pass). */
typedef struct lscc_cu_algo {
    int key[24];
    int algo;
    size_t ws;
    int path; /* conv2d_cudnn.cu: strided view of the caller's buffer or padded copy */
    int math; /* cudnnMathType_t the algorithm was chosen with */
    int rank; /* its place in cuDNN's heuristics list (the next is tried if it is refused) */
} lscc_cu_algo;

struct lscc_cu {
    int device;
    int deterministic;
    cudaStream_t stream; /* compute: every kernel, cuBLAS and cuDNN call */
    cudaStream_t copy;   /* host -> device staging of tile regions */
    cudaEvent_t copied;  /* recorded on copy, waited for by stream */
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    void *ws;            /* cuDNN workspace, grown on a new shape only */
    size_t ws_bytes;
    lscc_cu_algo *algos; /* chosen algorithms, by key */
    size_t nalgos, algos_cap;
    int status;          /* first failure since lscc_cu_status, 0 if none */
    char msg[512];
};

/* Element-wise launch shape: enough blocks for n threads, capped (the
 * kernels use grid-stride loops). */
#define LSCC_CU_THREADS 256
static inline unsigned lscc_cu_blocks(size_t n) {
    size_t b = (n + LSCC_CU_THREADS - 1) / LSCC_CU_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65535u * 8u ? 65535u * 8u : b);
}

/* Skip the call when a failure is pending (the tile is lost anyway). */
#define LSCC_CU_READY(cu) ((cu)->status == 0)
/* Checks a kernel launch. */
#define LSCC_CU_LAUNCHED(cu, what)                                                                                   \
    do {                                                                                                             \
        cudaError_t e_ = cudaGetLastError();                                                                         \
        if (e_ != cudaSuccess) lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "%s: %s", what, cudaGetErrorString(e_));          \
    } while (0)
/* Checks a CUDA runtime call; evaluates to nonzero on failure. */
#define LSCC_CU_CHECK(cu, call)                                                                                      \
    lscc_cu_check_rt(cu, (call), #call, __FILE__, __LINE__)
#define LSCC_CUBLAS_CHECK(cu, call) lscc_cu_check_blas(cu, (call), #call, __FILE__, __LINE__)
#define LSCC_CUDNN_CHECK(cu, call) lscc_cu_check_dnn(cu, (call), #call, __FILE__, __LINE__)

#ifdef __cplusplus
extern "C" {
#endif
int lscc_cu_check_rt(lscc_cu *cu, cudaError_t e, const char *call, const char *file, int line);
int lscc_cu_check_blas(lscc_cu *cu, cublasStatus_t e, const char *call, const char *file, int line);
int lscc_cu_check_dnn(lscc_cu *cu, cudnnStatus_t e, const char *call, const char *file, int line);
/* The context's workspace, grown to at least bytes (after waiting for the
 * compute stream, which may still use the old one); NULL with a pending
 * failure if it cannot grow. Valid until the next call; kernels that use it
 * must be queued on cu->stream. */
void *lscc_cu_workspace(lscc_cu *cu, size_t bytes);
/* Row-major C = alpha * op(P) op(Q) + beta * C on cu->stream through cuBLAS,
 * batch times with element strides sp, sq, sc (gemm.cu). op(P) is r x q: P
 * stored r x q, or q x r when tp; op(Q) is q x c: Q stored q x c, or c x q
 * when tq; ldp, ldq, ldc are the stored row lengths. esize 4: float, 8:
 * double; alpha and beta are converted to it. beta == 0 with q == 0 zeroes
 * C, which must then be contiguous (ldc == c, sc == r * c). */
void lscc_cu_gemm_rm(lscc_cu *cu, int esize, int tp, int tq, size_t r, size_t c, size_t q, double alpha,
                     const void *pm, size_t ldp, size_t sp, const void *qm, size_t ldq, size_t sq, double beta, void *cm,
                     size_t ldc, size_t sc, size_t batch);
#ifdef __cplusplus
}
#endif

#endif
