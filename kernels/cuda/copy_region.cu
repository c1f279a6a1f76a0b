/* Block copies between NCHW buffers on the GPU (lscc_cuda.h; CPU twin in
 * kernels/cpu/copy_region.c): lscc_cu_copy_region (dst block = src block),
 * lscc_cu_copy_region_acc (dsrc block += ddst block) and lscc_cu_add
 * (dst += src). One thread per element of the block; every element is
 * written by exactly one thread, so accumulation needs no atomics. */
#include "cu_device.cuh"


/* Element t of the n x c x dst_h x dst_w block: ACC ? out[src] += in[dst] : out[dst] = in[src]. */
template <typename T, bool ACC> static __global__ void region(lscc_region_copy r, size_t total, const T *in, T *out) {
    LOOP(t, total) {
        const size_t j = t % r.dst_w, q = t / r.dst_w, i = q % r.dst_h, bc = q / r.dst_h, ch = bc % r.c, b = bc / r.c;
        const size_t s = ((b * r.src_c + r.src_c0 + ch) * r.src_h + r.src_y0 + i) * r.src_w + r.src_x0 + j;
        const size_t d = ((b * r.dst_c + r.dst_c0 + ch) * r.dst_h + i) * r.dst_w + j;
        if (ACC) out[s] += in[d];
        else out[d] = in[s];
    }
}

template <typename T> static __global__ void add_k(size_t n, const T *src, T *dst) { LOOP(i, n) dst[i] += src[i]; }

template <typename T, bool ACC>
static void copy(lscc_cu *cu, const char *what, const lscc_region_copy *r, const T *in, T *out) {
    const size_t total = r->n * r->c * r->dst_h * r->dst_w;
    if (!LSCC_CU_READY(cu) || !total) return;
    region<T, ACC><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(*r, total, in, out);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T> static void add(lscc_cu *cu, const char *what, size_t n, const T *src, T *dst) {
    if (!LSCC_CU_READY(cu) || !n) return;
    add_k<T><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, src, dst);
    LSCC_CU_LAUNCHED(cu, what);
}

extern "C" void lscc_cu_copy_region_f32(lscc_cu *cu, const lscc_region_copy *r, const float *src, float *dst) {
    copy<float, false>(cu, "lscc_cu_copy_region_f32", r, src, dst);
}
extern "C" void lscc_cu_copy_region_f64(lscc_cu *cu, const lscc_region_copy *r, const double *src, double *dst) {
    copy<double, false>(cu, "lscc_cu_copy_region_f64", r, src, dst);
}
extern "C" void lscc_cu_copy_region_acc_f32(lscc_cu *cu, const lscc_region_copy *r, const float *ddst, float *dsrc) {
    copy<float, true>(cu, "lscc_cu_copy_region_acc_f32", r, ddst, dsrc);
}
extern "C" void lscc_cu_copy_region_acc_f64(lscc_cu *cu, const lscc_region_copy *r, const double *ddst,
                                            double *dsrc) {
    copy<double, true>(cu, "lscc_cu_copy_region_acc_f64", r, ddst, dsrc);
}
extern "C" void lscc_cu_add_f32(lscc_cu *cu, size_t n, const float *src, float *dst) {
    add(cu, "lscc_cu_add_f32", n, src, dst);
}
extern "C" void lscc_cu_add_f64(lscc_cu *cu, size_t n, const double *src, double *dst) {
    add(cu, "lscc_cu_add_f64", n, src, dst);
}
