/* Device and pinned host memory, fills, copies and staged uploads
 * (lscc_cuda.h), and the context's growable workspace (cu_impl.h). */
#include "cu_impl.h"

void *lscc_cu_alloc(lscc_cu *cu, size_t bytes) {
    void *p = NULL;
    if (!bytes) bytes = 1;
    if (LSCC_CU_CHECK(cu, cudaMalloc(&p, bytes))) return NULL;
    /* Zeroed on the compute stream, and waited for, so that neither stream
     * (an upload on the copy stream included) can see the memory before. */
    if (LSCC_CU_CHECK(cu, cudaMemsetAsync(p, 0, bytes, cu->stream)) ||
        LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->stream))) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

void lscc_cu_free(lscc_cu *cu, void *p) {
    if (p) LSCC_CU_CHECK(cu, cudaFree(p));
}

void *lscc_cu_host_alloc(lscc_cu *cu, size_t bytes) {
    void *p = NULL;
    if (!bytes) bytes = 1;
    if (LSCC_CU_CHECK(cu, cudaMallocHost(&p, bytes))) return NULL;
    return p;
}

void lscc_cu_host_free(lscc_cu *cu, void *p) {
    if (p) LSCC_CU_CHECK(cu, cudaFreeHost(p));
}

template <typename T> __global__ void fill_kernel(T *p, size_t n, T v) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = v;
}

void lscc_cu_fill(lscc_cu *cu, void *p, size_t n, int esize, double v) {
    if (!LSCC_CU_READY(cu) || !n) return;
    if (esize == 4)
        fill_kernel<float><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>((float *)p, n, (float)v);
    else if (esize == 8)
        fill_kernel<double><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>((double *)p, n, v);
    else {
        lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "lscc_cu_fill: element size %d is not 4 or 8", esize);
        return;
    }
    LSCC_CU_LAUNCHED(cu, "lscc_cu_fill");
}

void lscc_cu_copy(lscc_cu *cu, void *dst, const void *src, size_t bytes, int dir) {
    if (!LSCC_CU_READY(cu) || !bytes) return;
    switch (dir) {
    case LSCC_CU_D2D: LSCC_CU_CHECK(cu, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cu->stream)); break;
    case LSCC_CU_H2D: LSCC_CU_CHECK(cu, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cu->stream)); break;
    case LSCC_CU_D2H:
        if (!LSCC_CU_CHECK(cu, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cu->stream)))
            LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->stream));
        break;
    default: lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "lscc_cu_copy: bad direction %d", dir);
    }
}

void lscc_cu_upload(lscc_cu *cu, void *dst, const void *host, size_t bytes) {
    if (!LSCC_CU_READY(cu) || !bytes) return;
    if (LSCC_CU_CHECK(cu, cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, cu->copy)) ||
        LSCC_CU_CHECK(cu, cudaEventRecord(cu->copied, cu->copy)))
        return;
    LSCC_CU_CHECK(cu, cudaStreamWaitEvent(cu->stream, cu->copied, 0));
}

/* Waits even with a failure pending: the host buffer may be in a queued copy. */
void lscc_cu_upload_wait(lscc_cu *cu) { LSCC_CU_CHECK(cu, cudaEventSynchronize(cu->copied)); }

void lscc_cu_sync(lscc_cu *cu) {
    LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->copy));
    LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->stream));
}

void *lscc_cu_workspace(lscc_cu *cu, size_t bytes) {
    if (bytes <= cu->ws_bytes && cu->ws) return cu->ws;
    if (cu->ws) {
        if (LSCC_CU_CHECK(cu, cudaStreamSynchronize(cu->stream))) return NULL;
        LSCC_CU_CHECK(cu, cudaFree(cu->ws));
        cu->ws = NULL;
        cu->ws_bytes = 0;
    }
    if (bytes < 256) bytes = 256;
    if (LSCC_CU_CHECK(cu, cudaMalloc(&cu->ws, bytes))) {
        cu->ws = NULL;
        return NULL;
    }
    cu->ws_bytes = bytes;
    return cu->ws;
}
