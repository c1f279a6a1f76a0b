/* BatchNorm with trainable gamma / beta and frozen statistics on the GPU
 * (lscc_cuda.h; CPU twin lscc_bn_fwd / _bwd in kernels/cpu/batchnorm.c):
 * y = (x - mean[c]) * (invstd[c] * gamma[c]) + beta[c] over x = n x c x hw.
 * Backward: dx += dy * invstd * gamma; dgamma += (sum of dy * (x - mean)) *
 * invstd and dbeta += sum of dy, one block per channel: each thread sums a
 * fixed stride of the channel's n * hw elements in double, then a fixed-order
 * shared-memory tree, then += (no atomics: bit-equal from run to run).
 * Products the CPU rounds before adding go through mulr (no FMA). */
#include "cu_device.cuh"




template <typename T>
static __global__ void bn_fwd(size_t total, size_t c, size_t hw, const T *x, const T *gamma, const T *beta,
                              const T *mean, const T *invstd, T *y) {
    LOOP(i, total) {
        const size_t ch = i / hw % c;
        y[i] = mulr(x[i] - mean[ch], invstd[ch] * gamma[ch]) + beta[ch];
    }
}

template <typename T>
static __global__ void bn_bwd_dx(size_t total, size_t c, size_t hw, const T *gamma, const T *invstd, const T *dy,
                                 T *dx) {
    LOOP(i, total) {
        const size_t ch = i / hw % c;
        dx[i] += mulr(dy[i], invstd[ch] * gamma[ch]);
    }
}

template <typename T>
static __global__ void __launch_bounds__(RED_T)
    bn_bwd_par(size_t n, size_t c, size_t hw, const T *x, const T *mean, const T *invstd, const T *dy, T *dgamma,
               T *dbeta) {
    __shared__ double sa[RED_T], sb[RED_T];
    const size_t m = n * hw;
    for (size_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        const T mu = mean[ch];
        double sg = 0, sd = 0;
#pragma unroll 4
        for (size_t j = threadIdx.x; j < m; j += RED_T) {
            const size_t o = (j / hw * c + ch) * hw + j % hw;
            sg += (double)dy[o] * (double)(x[o] - mu);
            sd += (double)dy[o];
        }
        block_sum2(&sg, &sd, sa, sb);
        if (threadIdx.x) continue;
        if (dgamma) dgamma[ch] += mulr((T)sg, invstd[ch]);
        if (dbeta) dbeta[ch] += (T)sd;
    }
}

template <typename T>
static void fwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *gamma,
                const T *beta, const T *mean, const T *invstd, T *y) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    bn_fwd<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, x, gamma, beta, mean, invstd,
                                                                          y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T>
static void bwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *gamma,
                const T *mean, const T *invstd, const T *dy, T *dx, T *dgamma, T *dbeta) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    if (dx) {
        bn_bwd_dx<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, gamma, invstd, dy, dx);
        LSCC_CU_LAUNCHED(cu, what);
    }
    if (dgamma || dbeta) {
        bn_bwd_par<T><<<(unsigned)(c < 65535 ? c : 65535), RED_T, 0, cu->stream>>>(n, c, hw, x, mean, invstd, dy,
                                                                                     dgamma, dbeta);
        LSCC_CU_LAUNCHED(cu, what);
    }
}

extern "C" void lscc_cu_bn_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                   const float *beta, const float *mean, const float *invstd, float *y) {
    fwd(cu, "lscc_cu_bn_fwd_f32", n, c, hw, x, gamma, beta, mean, invstd, y);
}
extern "C" void lscc_cu_bn_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *gamma,
                                   const double *beta, const double *mean, const double *invstd, double *y) {
    fwd(cu, "lscc_cu_bn_fwd_f64", n, c, hw, x, gamma, beta, mean, invstd, y);
}
extern "C" void lscc_cu_bn_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                   const float *mean, const float *invstd, const float *dy, float *dx, float *dgamma,
                                   float *dbeta) {
    bwd(cu, "lscc_cu_bn_bwd_f32", n, c, hw, x, gamma, mean, invstd, dy, dx, dgamma, dbeta);
}
extern "C" void lscc_cu_bn_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *gamma,
                                   const double *mean, const double *invstd, const double *dy, double *dx,
                                   double *dgamma, double *dbeta) {
    bwd(cu, "lscc_cu_bn_bwd_f64", n, c, hw, x, gamma, mean, invstd, dy, dx, dgamma, dbeta);
}
