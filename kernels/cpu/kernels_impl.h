/* Private helpers of the CPU kernels (not installed, not for callers). */
#ifndef LSCC_KERNELS_IMPL_H
#define LSCC_KERNELS_IMPL_H

#include <math.h>

#include "lscc_kernels.h"

/* Type-suffixed names for the per-type bodies: each kernel file includes its
 * own body twice, with T = float, S = f32 and T = double, S = f64. */
#define LSCC_CAT_(a, b) a##_##b
#define LSCC_CAT(a, b) LSCC_CAT_(a, b)
#define FN(name) LSCC_CAT(name, S)

/* The indices o in [0, on) whose position o*s + off lies in [0, in) form one
 * interval [*lo, *hi) (empty when *lo == *hi); s >= 1. Used both for the
 * outputs that a kernel tap reads inside the real region (no branch left in
 * the inner loops) and for the taps of one window that are real. */
static inline void lscc_span(int on, int s, int off, int in, int *lo, int *hi) {
    int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
    if (b > on) b = on;
    *lo = a < b ? a : b;
    *hi = b;
}

/* Divisor of an average-pool window (both layouts): its positions in
 * [lo, hi) along each axis, where [lo, hi) is the real region or, with
 * count_include_pad, the padded extent (so ceil_mode overhang beyond the
 * padding never counts). */
static inline int lscc_avg_divisor(const lscc_win2d *p, int count_include_pad, int i, int j) {
    const int rlo = count_include_pad ? -p->pt : 0, rhi = count_include_pad ? p->h + p->pb : p->h;
    const int clo = count_include_pad ? -p->pl : 0, chi = count_include_pad ? p->w + p->pr : p->w;
    int a0, a1, b0, b1;
    lscc_span(p->kh, p->dh, i * p->sh - p->pt - rlo, rhi - rlo, &a0, &a1);
    lscc_span(p->kw, p->dw, j * p->sw - p->pl - clo, chi - clo, &b0, &b1);
    return (a1 - a0) * (b1 - b0);
}

/* Hot loops that oneDNN does not run may have a second body for AVX-512,
 * picked at run time (lscc_cpu_avx512), so the library still runs on any
 * x86-64 while the baseline build has 4-wide vectors only. GCC lowers GNU C
 * vector code to scalar code unless the function that holds it has the
 * target itself (target_clones and inlining from a plain function do not
 * work), so LSCC_AVX512 goes on every function with such code, helpers
 * included (with always_inline). The bodies do the same IEEE operations in
 * wider registers (ISO C mode: no FMA contraction): results are bit for bit
 * those of the plain body. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LSCC_NO_AVX512)
#define LSCC_HAVE_AVX512 1
#define LSCC_AVX512 __attribute__((target("avx512f")))
#define LSCC_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))
static inline int lscc_cpu_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#endif

/* Threads an OpenMP loop here would get (1 without OpenMP): for kernels
 * that cut their work into one task per thread. */
#ifdef _OPENMP
#include <omp.h>
static inline int lscc_threads(void) { return omp_get_max_threads(); }
#else
static inline int lscc_threads(void) { return 1; }
#endif

/* Loops over independent elements or planes run on OpenMP threads (the
 * same pool oneDNN uses) when there is enough work; every element is still
 * computed by one thread in one order, so results do not depend on the
 * thread count. Without OpenMP the pragmas are ignored. */
#define LSCC_PRAGMA(x) _Pragma(#x)
#define LSCC_PAR_FOR(n) LSCC_PRAGMA(omp parallel for schedule(static) if ((n) > 32768))
#define LSCC_PAR_PLANES(np, plane) LSCC_PRAGMA(omp parallel for schedule(static) if ((np) > 1 && (np) * (plane) > 16384))

/* libm by type, for the per-type bodies: FN(lscc_exp)(v) and the like. */
static inline float lscc_exp_f32(float v) { return expf(v); }
static inline double lscc_exp_f64(double v) { return exp(v); }
static inline float lscc_tanh_f32(float v) { return tanhf(v); }
static inline double lscc_tanh_f64(double v) { return tanh(v); }
static inline float lscc_erf_f32(float v) { return erff(v); }
static inline double lscc_erf_f64(double v) { return erf(v); }
static inline float lscc_sqrt_f32(float v) { return sqrtf(v); }
static inline double lscc_sqrt_f64(double v) { return sqrt(v); }

#endif
