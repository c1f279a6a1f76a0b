/* The CUDA context (lscc_cuda.h): streams, event, cuBLAS and cuDNN handles,
 * and the sticky first-failure status that every checked call feeds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_impl.h"

/* Copies the pending message (or "") into msg. */
static void put_msg(const lscc_cu *cu, char *msg, size_t msglen) {
    if (msg && msglen) snprintf(msg, msglen, "%s", cu->status ? cu->msg : "");
}

int lscc_cu_create(lscc_cu **out, int deterministic, char *msg, size_t msglen) {
    int ndev = 0;
    *out = NULL;
    if (msg && msglen) msg[0] = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev <= 0) {
        if (msg && msglen)
            snprintf(msg, msglen, "no CUDA device: %s",
                     e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
        cudaGetLastError();
        return LSCC_CU_E_DEVICE;
    }
    lscc_cu *cu = (lscc_cu *)calloc(1, sizeof *cu);
    if (!cu) {
        if (msg && msglen) snprintf(msg, msglen, "out of host memory for the CUDA context");
        return LSCC_CU_E_NOMEM;
    }
    cu->deterministic = deterministic != 0;
    if (LSCC_CU_CHECK(cu, cudaGetDevice(&cu->device)) ||
        LSCC_CU_CHECK(cu, cudaStreamCreateWithFlags(&cu->stream, cudaStreamNonBlocking)) ||
        LSCC_CU_CHECK(cu, cudaStreamCreateWithFlags(&cu->copy, cudaStreamNonBlocking)) ||
        LSCC_CU_CHECK(cu, cudaEventCreateWithFlags(&cu->copied, cudaEventDisableTiming)) ||
        LSCC_CUBLAS_CHECK(cu, cublasCreate(&cu->blas)) || LSCC_CUBLAS_CHECK(cu, cublasSetStream(cu->blas, cu->stream)) ||
        LSCC_CUBLAS_CHECK(cu, cublasSetPointerMode(cu->blas, CUBLAS_POINTER_MODE_HOST)) ||
        (cu->deterministic && LSCC_CUBLAS_CHECK(cu, cublasSetAtomicsMode(cu->blas, CUBLAS_ATOMICS_NOT_ALLOWED))) ||
        LSCC_CUDNN_CHECK(cu, cudnnCreate(&cu->dnn)) || LSCC_CUDNN_CHECK(cu, cudnnSetStream(cu->dnn, cu->stream))) {
        const int rc = cu->status;
        put_msg(cu, msg, msglen);
        lscc_cu_destroy(cu);
        return rc;
    }
    *out = cu;
    return 0;
}

/* Tears down whatever lscc_cu_create got to; errors are ignored. */
void lscc_cu_destroy(lscc_cu *cu) {
    if (!cu) return;
    if (cu->stream) cudaStreamSynchronize(cu->stream);
    if (cu->copy) cudaStreamSynchronize(cu->copy);
    if (cu->ws) cudaFree(cu->ws);
    free(cu->algos);
    if (cu->dnn) cudnnDestroy(cu->dnn);
    if (cu->blas) cublasDestroy(cu->blas);
    if (cu->copied) cudaEventDestroy(cu->copied);
    if (cu->copy) cudaStreamDestroy(cu->copy);
    if (cu->stream) cudaStreamDestroy(cu->stream);
    cudaGetLastError();
    free(cu);
}

int lscc_cu_status(lscc_cu *cu, char *msg, size_t msglen) {
    LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->stream));
    LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->copy));
    LSCC_CU_CHECK(cu, cudaGetLastError()); /* a launch nobody checked */
    const int rc = cu->status;
    put_msg(cu, msg, msglen);
    cu->status = 0;
    cu->msg[0] = 0;
    return rc;
}

int lscc_cu_fail(lscc_cu *cu, int code, const char *fmt, ...) {
    if (code && !cu->status) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cu->msg, sizeof cu->msg, fmt, ap);
        va_end(ap);
        cu->status = code;
    }
    return code;
}

static const char *base(const char *file) {
    const char *s = strrchr(file, '/');
    return s ? s + 1 : file;
}

int lscc_cu_check_rt(lscc_cu *cu, cudaError_t e, const char *call, const char *file, int line) {
    if (e == cudaSuccess) return 0;
    cudaGetLastError(); /* so that a later launch check does not see it again */
    lscc_cu_fail(cu, e == cudaErrorMemoryAllocation ? LSCC_CU_E_NOMEM : LSCC_CU_E_DEVICE, "%s:%d: %s: %s",
                 base(file), line, call, cudaGetErrorString(e));
    return 1;
}

int lscc_cu_check_blas(lscc_cu *cu, cublasStatus_t e, const char *call, const char *file, int line) {
    if (e == CUBLAS_STATUS_SUCCESS) return 0;
    cudaGetLastError();
    lscc_cu_fail(cu, e == CUBLAS_STATUS_ALLOC_FAILED ? LSCC_CU_E_NOMEM : LSCC_CU_E_DEVICE, "%s:%d: %s: %s",
                 base(file), line, call, cublasGetStatusString(e));
    return 1;
}

int lscc_cu_check_dnn(lscc_cu *cu, cudnnStatus_t e, const char *call, const char *file, int line) {
    if (e == CUDNN_STATUS_SUCCESS) return 0;
    char detail[256];
    detail[0] = 0;
    cudnnGetLastErrorString(detail, sizeof detail);
    cudaGetLastError();
    const int nomem = e == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                      e == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
    lscc_cu_fail(cu, nomem ? LSCC_CU_E_NOMEM : LSCC_CU_E_DEVICE, "%s:%d: %s: %s%s%s%s", base(file), line, call,
                 cudnnGetErrorString(e), detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    return 1;
}
