/* Global average pool on the GPU (lscc_cuda.h; CPU twin in
 * kernels/cpu/global_avgpool.c): y[m] = mean of x[m * hw .. (m + 1) * hw).
 * Forward is one block per m: each thread sums a fixed stride in double, then
 * a fixed-order shared-memory tree (bit-equal from run to run). Backward is
 * elementwise: dx += (T)(dy[m] / hw). */
#include "cu_device.cuh"

#define GAP_T 256 /* threads of a reduction block */

template <typename T> static __global__ void __launch_bounds__(GAP_T) gap_fwd(size_t nc, size_t hw, const T *x, T *y) {
    __shared__ double sh[GAP_T];
    const unsigned t = threadIdx.x;
    for (size_t m = blockIdx.x; m < nc; m += gridDim.x) {
        const T *xm = x + m * hw;
        double s = 0;
        for (size_t k = t; k < hw; k += GAP_T) s += xm[k];
        sh[t] = s;
        __syncthreads();
        for (unsigned h = GAP_T / 2; h > 0; h >>= 1) {
            if (t < h) sh[t] += sh[t + h];
            __syncthreads();
        }
        if (!t) y[m] = (T)(sh[0] / (double)hw);
        __syncthreads();
    }
}

template <typename T> static __global__ void gap_bwd(size_t total, size_t hw, const T *dy, T *dx) {
    LOOP(i, total) dx[i] += (T)(dy[i / hw] / (double)hw);
}

#define GAP(S, T)                                                                                                    \
    extern "C" void lscc_cu_global_avgpool_fwd_##S(lscc_cu *cu, size_t nc, size_t hw, const T *x, T *y) {            \
        if (!LSCC_CU_READY(cu) || !nc) return;                                                                       \
        gap_fwd<T><<<(unsigned)(nc < 65535 ? nc : 65535), GAP_T, 0, cu->stream>>>(nc, hw, x, y);                     \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_global_avgpool_fwd_" #S);                                                      \
    }                                                                                                                \
    extern "C" void lscc_cu_global_avgpool_bwd_##S(lscc_cu *cu, size_t nc, size_t hw, const T *dy, T *dx) {         \
        if (!LSCC_CU_READY(cu) || !nc || !hw) return;                                                                \
        gap_bwd<T><<<lscc_cu_blocks(nc * hw), LSCC_CU_THREADS, 0, cu->stream>>>(nc * hw, hw, dy, dx);                \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_global_avgpool_bwd_" #S);                                                      \
    }
GAP(f32, float)
GAP(f64, double)
