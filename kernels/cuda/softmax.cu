/* Softmax over the last axis on the GPU (lscc_cuda.h; CPU twin in
 * kernels/cpu/softmax.c): rows of len contiguous elements, y = exp(x - max) /
 * sum, the sums in double as on the CPU. One block per row: each thread
 * takes a fixed stride of the row, then fixed-order shared-memory trees for
 * the maximum and the sums (bit-equal from run to run). Backward recomputes
 * y from x: dx += y * (dy - sum(dy * y)). */
#include <math.h>

#include "cu_impl.h"

#define RED_T 256 /* threads of a row block */

static __device__ inline float exp_(float v) { return expf(v); }
static __device__ inline double exp_(double v) { return exp(v); }

/* Fixed-order tree over the block (blockDim.x == RED_T) of the sum, or with
 * mx the maximum, returned to every thread. */
static __device__ double block_red(double v, double *sh, bool mx) {
    const unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = RED_T / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] = mx ? (sh[t + s] > sh[t] ? sh[t + s] : sh[t]) : sh[t] + sh[t + s];
        __syncthreads();
    }
    v = sh[0];
    __syncthreads();
    return v;
}

/* Row maximum (exact in double, so cast back unchanged) and the sum of
 * exp(x - max) in double. */
template <typename T> static __device__ double row_stats(size_t len, const T *xr, T *mx, double *sh) {
    T m = -INFINITY;
    for (size_t k = threadIdx.x; k < len; k += RED_T) m = xr[k] > m ? xr[k] : m;
    *mx = (T)block_red(m, sh, true);
    double s = 0;
    for (size_t k = threadIdx.x; k < len; k += RED_T) s += exp_(xr[k] - *mx);
    return block_red(s, sh, false);
}

template <typename T> static __global__ void __launch_bounds__(RED_T) sm_fwd(size_t outer, size_t len, const T *x, T *y) {
    __shared__ double sh[RED_T];
    for (size_t r = blockIdx.x; r < outer; r += gridDim.x) {
        const T *xr = x + r * len;
        T *yr = y + r * len;
        T mx;
        const double s = row_stats(len, xr, &mx, sh);
        for (size_t k = threadIdx.x; k < len; k += RED_T) yr[k] = (T)(exp_(xr[k] - mx) / s);
    }
}

template <typename T>
static __global__ void __launch_bounds__(RED_T) sm_bwd(size_t outer, size_t len, const T *x, const T *dy, T *dx) {
    __shared__ double sh[RED_T];
    for (size_t r = blockIdx.x; r < outer; r += gridDim.x) {
        const T *xr = x + r * len, *dyr = dy + r * len;
        T *dxr = dx + r * len;
        T mx;
        const double s = row_stats(len, xr, &mx, sh);
        double dot = 0;
        for (size_t k = threadIdx.x; k < len; k += RED_T) dot += dyr[k] * (exp_(xr[k] - mx) / s);
        dot = block_red(dot, sh, false);
        for (size_t k = threadIdx.x; k < len; k += RED_T)
            dxr[k] = (T)(dxr[k] + __dmul_rn(exp_(xr[k] - mx) / s, dyr[k] - dot));
    }
}

#define SOFTMAX(S, T)                                                                                                \
    extern "C" void lscc_cu_softmax_fwd_##S(lscc_cu *cu, size_t outer, size_t len, const T *x, T *y) {               \
        if (!LSCC_CU_READY(cu) || !outer || !len) return;                                                            \
        sm_fwd<T><<<(unsigned)(outer < 65535 ? outer : 65535), RED_T, 0, cu->stream>>>(outer, len, x, y);            \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_softmax_fwd_" #S);                                                             \
    }                                                                                                                \
    extern "C" void lscc_cu_softmax_bwd_##S(lscc_cu *cu, size_t outer, size_t len, const T *x, const T *dy, T *dx) { \
        if (!LSCC_CU_READY(cu) || !outer || !len) return;                                                            \
        sm_bwd<T><<<(unsigned)(outer < 65535 ? outer : 65535), RED_T, 0, cu->stream>>>(outer, len, x, dy, dx);       \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_softmax_bwd_" #S);                                                             \
    }
SOFTMAX(f32, float)
SOFTMAX(f64, double)
