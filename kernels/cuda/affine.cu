/* Per-channel affine map on the GPU (lscc_cuda.h; CPU twin in
 * kernels/cpu/affine.c): y = x * scale[c] + shift[c] over x = n x c x hw,
 * and its backward. dscale / dshift are one block per channel: each thread
 * sums a fixed stride of the channel's n * hw elements in double, then a
 * fixed-order shared-memory tree, then += (no atomics: bit-equal from run to
 * run). Products the CPU rounds before adding go through mulr (no FMA). */
#include "cu_device.cuh"




template <typename T>
static __global__ void affine_fwd(size_t total, size_t c, size_t hw, const T *x, const T *scale, const T *shift,
                                  T *y) {
    LOOP(i, total) {
        const size_t ch = i / hw % c;
        y[i] = mulr(x[i], scale[ch]) + shift[ch];
    }
}

template <typename T>
static __global__ void affine_bwd_dx(size_t total, size_t c, size_t hw, const T *scale, const T *dy, T *dx) {
    LOOP(i, total) dx[i] += mulr(dy[i], scale[i / hw % c]);
}

/* dscale[ch] += sum of dy * x, dshift[ch] += sum of dy (either may be NULL). */
template <typename T>
static __global__ void __launch_bounds__(RED_T)
    affine_bwd_par(size_t n, size_t c, size_t hw, const T *x, const T *dy, T *dscale, T *dshift) {
    __shared__ double sa[RED_T], sb[RED_T];
    const size_t m = n * hw;
    for (size_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        double ss = 0, sd = 0;
#pragma unroll 4
        for (size_t j = threadIdx.x; j < m; j += RED_T) {
            const size_t o = (j / hw * c + ch) * hw + j % hw;
            ss += (double)dy[o] * (double)x[o];
            sd += (double)dy[o];
        }
        block_sum2(&ss, &sd, sa, sb);
        if (threadIdx.x) continue;
        if (dscale) dscale[ch] += (T)ss;
        if (dshift) dshift[ch] += (T)sd;
    }
}

template <typename T>
static void fwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *scale,
                const T *shift, T *y) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    affine_fwd<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, x, scale, shift, y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T>
static void bwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *scale,
                const T *dy, T *dx, T *dscale, T *dshift) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    if (dx) {
        affine_bwd_dx<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, scale, dy, dx);
        LSCC_CU_LAUNCHED(cu, what);
    }
    if (dscale || dshift) {
        affine_bwd_par<T><<<(unsigned)(c < 65535 ? c : 65535), RED_T, 0, cu->stream>>>(n, c, hw, x, dy, dscale,
                                                                                         dshift);
        LSCC_CU_LAUNCHED(cu, what);
    }
}

extern "C" void lscc_cu_affine_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *scale,
                                       const float *shift, float *y) {
    fwd(cu, "lscc_cu_affine_fwd_f32", n, c, hw, x, scale, shift, y);
}
extern "C" void lscc_cu_affine_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x,
                                       const double *scale, const double *shift, double *y) {
    fwd(cu, "lscc_cu_affine_fwd_f64", n, c, hw, x, scale, shift, y);
}
extern "C" void lscc_cu_affine_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *scale,
                                       const float *dy, float *dx, float *dscale, float *dshift) {
    bwd(cu, "lscc_cu_affine_bwd_f32", n, c, hw, x, scale, dy, dx, dscale, dshift);
}
extern "C" void lscc_cu_affine_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x,
                                       const double *scale, const double *dy, double *dx, double *dscale,
                                       double *dshift) {
    bwd(cu, "lscc_cu_affine_bwd_f64", n, c, hw, x, scale, dy, dx, dscale, dshift);
}
