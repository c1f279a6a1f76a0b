/* MaxPool2d and AveragePool2d on one region on the GPU (lscc_cuda.h; CPU
 * twins in kernels/cpu/pool2d.c), lscc_win2d windows with virtual per-side
 * padding. Forward: one thread per output, over the window's real taps (a
 * rectangle, span()), in the CPU's order. Backward GATHERS: one thread per
 * input position visits, in row-major order, the outputs whose window holds
 * it (cover()), recomputes that window's argmax (max) or divisor (average)
 * and adds its share to dx in the CPU's order: no atomics, no races where
 * windows overlap, and the CPU's sums bit for bit. */
#include <math.h>

#include "cu_device.cuh"


/* The indices o in [0, on) whose position o*s + off lies in [0, in): [*lo, *hi)
 * (lscc_span of kernels_impl.h). */
static __device__ void span(int on, int s, int off, int in, int *lo, int *hi) {
    const int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
    if (b > on) b = on;
    *lo = a < b ? a : b;
    *hi = b;
}

/* The outputs o in [*lo, *hi) whose window (k taps of dilation d, stride s,
 * padding pad before) may reach input position q; the tap is real only where
 * d divides q + pad - o * s. */
static __device__ void cover(int q, int pad, int s, int d, int k, int on, int *lo, int *hi) {
    const int t = q + pad - (k - 1) * d;
    *lo = t <= 0 ? 0 : (t + s - 1) / s;
    *hi = min(on, (q + pad) / s + 1);
}

/* Divisor of average window (i, j) (avg_divisor of pool2d.c). */
static __device__ int divisor(const lscc_win2d &p, int cip, int i, int j) {
    const int rlo = cip ? -p.pt : 0, rhi = cip ? p.h + p.pb : p.h;
    const int clo = cip ? -p.pl : 0, chi = cip ? p.w + p.pr : p.w;
    int a0, a1, b0, b1;
    span(p.kh, p.dh, i * p.sh - p.pt - rlo, rhi - rlo, &a0, &a1);
    span(p.kw, p.dw, j * p.sw - p.pl - clo, chi - clo, &b0, &b1);
    return (a1 - a0) * (b1 - b0);
}

/* Index in the plane xc of the first maximal real position of window (i, j)
 * (a NaN wins at its first occurrence); -1 when the window has none. */
template <typename T> static __device__ ptrdiff_t argmax(const lscc_win2d &p, const T *xc, int i, int j) {
    int a0, a1, b0, b1;
    span(p.kh, p.dh, i * p.sh - p.pt, p.h, &a0, &a1);
    span(p.kw, p.dw, j * p.sw - p.pl, p.w, &b0, &b1);
    ptrdiff_t best = -1;
    T m = 0;
    for (int a = a0; a < a1; a++) {
        const ptrdiff_t row = (ptrdiff_t)(i * p.sh - p.pt + a * p.dh) * p.w;
        for (int b = b0; b < b1; b++) {
            const ptrdiff_t k = row + j * p.sw - p.pl + b * p.dw;
            const T v = xc[k];
            if (best < 0 || v > m || (v != v && m == m)) best = k, m = v;
        }
    }
    return best;
}

template <typename T> static __global__ void maxpool_fwd(lscc_win2d p, size_t total, const T *x, T *y) {
    LOOP(t, total) {
        const int j = (int)(t % p.ow), i = (int)(t / p.ow % p.oh);
        const T *xc = x + t / ((size_t)p.oh * p.ow) * ((size_t)p.h * p.w);
        const ptrdiff_t k = argmax(p, xc, i, j);
        y[t] = k < 0 ? (T)-INFINITY : xc[k];
    }
}

/* One thread per input position (yy, xx) of plane nc. */
template <typename T> static __global__ void maxpool_bwd(lscc_win2d p, size_t total, const T *x, const T *dy, T *dx) {
    LOOP(t, total) {
        const int xx = (int)(t % p.w), yy = (int)(t / p.w % p.h);
        const size_t nc = t / ((size_t)p.h * p.w);
        const T *xc = x + nc * ((size_t)p.h * p.w), *dyc = dy + nc * ((size_t)p.oh * p.ow);
        const ptrdiff_t me = (ptrdiff_t)yy * p.w + xx;
        int i0, i1, j0, j1;
        cover(yy, p.pt, p.sh, p.dh, p.kh, p.oh, &i0, &i1);
        cover(xx, p.pl, p.sw, p.dw, p.kw, p.ow, &j0, &j1);
        bool any = false;
        T acc = 0;
        for (int i = i0; i < i1; i++) {
            if ((yy + p.pt - i * p.sh) % p.dh) continue;
            for (int j = j0; j < j1; j++) {
                if ((xx + p.pl - j * p.sw) % p.dw || argmax(p, xc, i, j) != me) continue;
                if (!any) acc = dx[t], any = true;
                acc += dyc[(size_t)i * p.ow + j];
            }
        }
        if (any) dx[t] = acc;
    }
}

template <typename T> static __global__ void avgpool_fwd(lscc_win2d p, int cip, size_t total, const T *x, T *y) {
    LOOP(t, total) {
        const int j = (int)(t % p.ow), i = (int)(t / p.ow % p.oh);
        const T *xc = x + t / ((size_t)p.oh * p.ow) * ((size_t)p.h * p.w);
        int a0, a1, b0, b1;
        span(p.kh, p.dh, i * p.sh - p.pt, p.h, &a0, &a1);
        span(p.kw, p.dw, j * p.sw - p.pl, p.w, &b0, &b1);
        T s = 0;
        for (int a = a0; a < a1; a++) {
            const T *xr = xc + (size_t)(i * p.sh - p.pt + a * p.dh) * p.w;
            for (int b = b0; b < b1; b++) s += xr[j * p.sw - p.pl + b * p.dw];
        }
        const int d = divisor(p, cip, i, j);
        y[t] = d ? s / (T)d : 0;
    }
}

template <typename T> static __global__ void avgpool_bwd(lscc_win2d p, int cip, size_t total, const T *dy, T *dx) {
    LOOP(t, total) {
        const int xx = (int)(t % p.w), yy = (int)(t / p.w % p.h);
        const T *dyc = dy + t / ((size_t)p.h * p.w) * ((size_t)p.oh * p.ow);
        int i0, i1, j0, j1;
        cover(yy, p.pt, p.sh, p.dh, p.kh, p.oh, &i0, &i1);
        cover(xx, p.pl, p.sw, p.dw, p.kw, p.ow, &j0, &j1);
        bool any = false;
        T acc = 0;
        for (int i = i0; i < i1; i++) {
            if ((yy + p.pt - i * p.sh) % p.dh) continue;
            for (int j = j0; j < j1; j++) {
                if ((xx + p.pl - j * p.sw) % p.dw) continue;
                const int d = divisor(p, cip, i, j);
                if (!d) continue;
                if (!any) acc = dx[t], any = true;
                acc += dyc[(size_t)i * p.ow + j] / (T)d;
            }
        }
        if (any) dx[t] = acc;
    }
}

/* Threads: one per output (forward) or per input position (backward). */
static size_t outs(const lscc_win2d *p) { return (size_t)p->n * p->c * p->oh * p->ow; }
static size_t ins(const lscc_win2d *p) { return (size_t)p->n * p->c * p->h * p->w; }
#define GRID(n) lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream

#define POOL(S, T)                                                                                                   \
    extern "C" void lscc_cu_maxpool2d_fwd_##S(lscc_cu *cu, const lscc_win2d *p, const T *x, T *y) {                  \
        const size_t n = outs(p);                                                                                    \
        if (!LSCC_CU_READY(cu) || !n) return;                                                                        \
        maxpool_fwd<T><<<GRID(n)>>>(*p, n, x, y);                                                                    \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_maxpool2d_fwd_" #S);                                                           \
    }                                                                                                                \
    extern "C" void lscc_cu_maxpool2d_bwd_##S(lscc_cu *cu, const lscc_win2d *p, const T *x, const T *dy, T *dx) {    \
        const size_t n = ins(p);                                                                                     \
        if (!LSCC_CU_READY(cu) || !n || !outs(p)) return;                                                            \
        maxpool_bwd<T><<<GRID(n)>>>(*p, n, x, dy, dx);                                                               \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_maxpool2d_bwd_" #S);                                                           \
    }                                                                                                                \
    extern "C" void lscc_cu_avgpool2d_fwd_##S(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const T *x,   \
                                              T *y) {                                                                \
        const size_t n = outs(p);                                                                                    \
        if (!LSCC_CU_READY(cu) || !n) return;                                                                        \
        avgpool_fwd<T><<<GRID(n)>>>(*p, count_include_pad, n, x, y);                                                 \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_avgpool2d_fwd_" #S);                                                           \
    }                                                                                                                \
    extern "C" void lscc_cu_avgpool2d_bwd_##S(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const T *dy,  \
                                              T *dx) {                                                               \
        const size_t n = ins(p);                                                                                     \
        if (!LSCC_CU_READY(cu) || !n || !outs(p)) return;                                                            \
        avgpool_bwd<T><<<GRID(n)>>>(*p, count_include_pad, n, dy, dx);                                              \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_avgpool2d_bwd_" #S);                                                           \
    }
POOL(f32, float)
POOL(f64, double)
