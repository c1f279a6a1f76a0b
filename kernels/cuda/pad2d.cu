/* Constant spatial Pad on the GPU (lscc_cuda.h; CPU twin in
 * kernels/cpu/pad2d.c): x (n x c x h x w) at rows [pt, pt + h) and columns
 * [pl, pl + w) of y (n x c x oh x ow), fill elsewhere; backward dx += the
 * inner part of dy. One thread per element of y (forward) or of x
 * (backward). */
#include "cu_device.cuh"


template <typename T> static __global__ void pad_fwd(lscc_pad2d p, size_t total, T fill, const T *x, T *y) {
    LOOP(t, total) {
        const size_t j = t % p.ow, q = t / p.ow, i = q % p.oh, m = q / p.oh;
        const bool in = i >= p.pt && i < p.pt + p.h && j >= p.pl && j < p.pl + p.w;
        y[t] = in ? x[(m * p.h + i - p.pt) * p.w + j - p.pl] : fill;
    }
}

template <typename T> static __global__ void pad_bwd(lscc_pad2d p, size_t total, const T *dy, T *dx) {
    LOOP(t, total) {
        const size_t j = t % p.w, q = t / p.w, i = q % p.h, m = q / p.h;
        dx[t] += dy[(m * p.oh + i + p.pt) * p.ow + j + p.pl];
    }
}

#define PAD(S, T)                                                                                                    \
    extern "C" void lscc_cu_pad2d_fwd_##S(lscc_cu *cu, const lscc_pad2d *p, T fill, const T *x, T *y) {              \
        const size_t total = p->n * p->c * p->oh * p->ow;                                                            \
        if (!LSCC_CU_READY(cu) || !total) return;                                                                    \
        pad_fwd<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(*p, total, fill, x, y);                \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_pad2d_fwd_" #S);                                                               \
    }                                                                                                                \
    extern "C" void lscc_cu_pad2d_bwd_##S(lscc_cu *cu, const lscc_pad2d *p, const T *dy, T *dx) {                    \
        const size_t total = p->n * p->c * p->h * p->w;                                                              \
        if (!LSCC_CU_READY(cu) || !total) return;                                                                    \
        pad_bwd<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(*p, total, dy, dx);                    \
        LSCC_CU_LAUNCHED(cu, "lscc_cu_pad2d_bwd_" #S);                                                               \
    }
PAD(f32, float)
PAD(f64, double)
