/* Device helpers shared by the CUDA kernels. */
#ifndef LSCC_CU_DEVICE_CUH
#define LSCC_CU_DEVICE_CUH

#include "cu_impl.h"

/* Grid-stride loop over [0, n). */
#define LOOP(i, n)                                                                                                   \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)
#define RED_T 1024 /* threads of a reduction block */

/* A product rounded before it is added (no FMA contraction): the CPU
 * kernels round there too, so results stay bit-equal. */
static __device__ inline float mulr(float a, float b) { return __fmul_rn(a, b); }
static __device__ inline double mulr(double a, double b) { return __dmul_rn(a, b); }

/* Fixed-order tree sums of a and b over the block (blockDim.x == RED_T),
 * returned to every thread: no atomics, bit-equal from run to run. */
static __device__ inline void block_sum2(double *a, double *b, double *sa, double *sb) {
    const unsigned t = threadIdx.x;
    sa[t] = *a, sb[t] = *b;
    __syncthreads();
    for (unsigned s = RED_T / 2; s > 0; s >>= 1) {
        if (t < s) sa[t] += sa[t + s], sb[t] += sb[t + s];
        __syncthreads();
    }
    *a = sa[0], *b = sb[0];
    __syncthreads();
}

#endif
