/* LayerNorm over the channels of NCHW at every pixel on the GPU (lscc_cuda.h;
 * CPU twin in kernels/cpu/layernorm.c). One thread per pixel walks its c
 * channels (stride hw, so a warp reads 32 adjacent pixels at once) in the
 * CPU's order and type: two-pass mean and biased variance, then y, or dx.
 * dgamma / dbeta need every pixel's statistics: the per-pixel pass stores
 * them in a stream-ordered scratch (cudaMallocAsync), then one block per
 * channel sums in double with a fixed-order shared-memory tree and adds
 * (no atomics: bit-equal from run to run). Products the CPU rounds before
 * adding go through mulr (no FMA). */
#include "cu_device.cuh"


static __device__ inline float sqrt_(float v) { return sqrtf(v); }
static __device__ inline double sqrt_(double v) { return sqrt(v); }


/* Mean and 1 / sqrt(var + eps) of the c values xp[0], xp[hw], ... */
template <typename T> static __device__ void ln_stats(size_t c, size_t hw, T eps, const T *xp, T *mean, T *rstd) {
    T m = 0, v = 0;
    for (size_t ch = 0; ch < c; ch++) m += xp[ch * hw];
    m /= (T)c;
    for (size_t ch = 0; ch < c; ch++) {
        const T d = xp[ch * hw] - m;
        v += mulr(d, d);
    }
    *mean = m;
    *rstd = 1 / sqrt_(v / (T)c + eps);
}

template <typename T>
static __global__ void ln_fwd(size_t npix, size_t c, size_t hw, T eps, const T *x, const T *gamma, const T *beta,
                              T *y) {
    LOOP(p, npix) {
        const size_t o = p / hw * c * hw + p % hw;
        T mean, rstd;
        ln_stats(c, hw, eps, x + o, &mean, &rstd);
        for (size_t ch = 0; ch < c; ch++) {
            const T g = gamma ? gamma[ch] : 1, be = beta ? beta[ch] : 0;
            y[o + ch * hw] = mulr(mulr(x[o + ch * hw] - mean, rstd), g) + be;
        }
    }
}

/* With xh = (x - mean) * rstd and g = dy * gamma at one pixel:
 * dx += rstd * (g - mean_c(g) - xh * mean_c(g * xh)). st (or NULL) gets the
 * pixel's mean at st[p] and rstd at st[npix + p]; dx may be NULL. */
template <typename T>
static __global__ void ln_bwd_px(size_t npix, size_t c, size_t hw, T eps, const T *x, const T *gamma, const T *dy,
                                 T *dx, T *st) {
    LOOP(p, npix) {
        const size_t o = p / hw * c * hw + p % hw;
        T mean, rstd;
        ln_stats(c, hw, eps, x + o, &mean, &rstd);
        if (st) st[p] = mean, st[npix + p] = rstd;
        if (!dx) continue;
        T mg = 0, mgx = 0;
        for (size_t ch = 0; ch < c; ch++) {
            const size_t k = o + ch * hw;
            const T g = mulr(dy[k], gamma ? gamma[ch] : (T)1);
            mg += g;
            mgx += mulr(g, mulr(x[k] - mean, rstd));
        }
        mg /= (T)c, mgx /= (T)c;
        for (size_t ch = 0; ch < c; ch++) {
            const size_t k = o + ch * hw;
            const T xh = mulr(x[k] - mean, rstd), g = mulr(dy[k], gamma ? gamma[ch] : (T)1);
            dx[k] += mulr(rstd, g - mg - mulr(xh, mgx));
        }
    }
}

/* dgamma[ch] += sum of dy * (x - mean) * rstd, dbeta[ch] += sum of dy, with
 * the statistics of pixel p = b * hw + k at st[p], st[npix + p]. */
template <typename T>
static __global__ void __launch_bounds__(RED_T)
    ln_bwd_par(size_t n, size_t c, size_t hw, const T *x, const T *dy, const T *st, T *dgamma, T *dbeta) {
    __shared__ double sa[RED_T], sb[RED_T];
    const size_t npix = n * hw;
    for (size_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        double sg = 0, sd = 0;
#pragma unroll 4
        for (size_t p = threadIdx.x; p < npix; p += RED_T) {
            const size_t o = (p / hw * c + ch) * hw + p % hw;
            sg += (double)dy[o] * (double)mulr(x[o] - st[p], st[npix + p]);
            sd += (double)dy[o];
        }
        block_sum2(&sg, &sd, sa, sb);
        if (threadIdx.x) continue;
        if (dgamma) dgamma[ch] += (T)sg;
        if (dbeta) dbeta[ch] += (T)sd;
    }
}

template <typename T>
static void fwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, T eps, const T *x, const T *gamma,
                const T *beta, T *y) {
    const size_t npix = n * hw;
    if (!LSCC_CU_READY(cu) || !npix || !c) return;
    ln_fwd<T><<<lscc_cu_blocks(npix), LSCC_CU_THREADS, 0, cu->stream>>>(npix, c, hw, eps, x, gamma, beta, y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T>
static void bwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, T eps, const T *x, const T *gamma,
                const T *dy, T *dx, T *dgamma, T *dbeta) {
    const size_t npix = n * hw;
    if (!LSCC_CU_READY(cu) || !npix || !c || (!dx && !dgamma && !dbeta)) return;
    T *st = NULL;
    if ((dgamma || dbeta) && LSCC_CU_CHECK(cu, cudaMallocAsync((void **)&st, 2 * npix * sizeof(T), cu->stream)))
        return;
    ln_bwd_px<T><<<lscc_cu_blocks(npix), LSCC_CU_THREADS, 0, cu->stream>>>(npix, c, hw, eps, x, gamma, dy, dx, st);
    LSCC_CU_LAUNCHED(cu, what);
    if (!st) return;
    if (LSCC_CU_READY(cu)) {
        ln_bwd_par<T><<<(unsigned)(c < 65535 ? c : 65535), RED_T, 0, cu->stream>>>(n, c, hw, x, dy, st, dgamma,
                                                                                     dbeta);
        LSCC_CU_LAUNCHED(cu, what);
    }
    LSCC_CU_CHECK(cu, cudaFreeAsync(st, cu->stream));
}

extern "C" void lscc_cu_layernorm2d_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, float eps, const float *x,
                                            const float *gamma, const float *beta, float *y) {
    fwd(cu, "lscc_cu_layernorm2d_fwd_f32", n, c, hw, eps, x, gamma, beta, y);
}
extern "C" void lscc_cu_layernorm2d_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, double eps, const double *x,
                                            const double *gamma, const double *beta, double *y) {
    fwd(cu, "lscc_cu_layernorm2d_fwd_f64", n, c, hw, eps, x, gamma, beta, y);
}
extern "C" void lscc_cu_layernorm2d_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, float eps, const float *x,
                                            const float *gamma, const float *dy, float *dx, float *dgamma,
                                            float *dbeta) {
    bwd(cu, "lscc_cu_layernorm2d_bwd_f32", n, c, hw, eps, x, gamma, dy, dx, dgamma, dbeta);
}
extern "C" void lscc_cu_layernorm2d_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, double eps, const double *x,
                                            const double *gamma, const double *dy, double *dx, double *dgamma,
                                            double *dbeta) {
    bwd(cu, "lscc_cu_layernorm2d_bwd_f64", n, c, hw, eps, x, gamma, dy, dx, dgamma, dbeta);
}
