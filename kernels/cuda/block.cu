/* Block moves between tile regions and whole tensors (the runtime's views,
 * Concat, Pad, channel permutations, stitching): copy or accumulate. */
#include "cu_impl.h"

template <typename T>
__global__ void block_k(size_t total, size_t rows, size_t cols, const T *src, size_t sp, size_t sr, T *dst, size_t dp,
                        size_t dr, int acc) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t q = i % cols, r = i / cols % rows, p = i / cols / rows;
        T v = src[p * sp + r * sr + q];
        T *d = &dst[p * dp + r * dr + q];
        *d = acc ? *d + v : v;
    }
}

template <typename T>
static void block(lscc_cu *cu, size_t planes, size_t rows, size_t cols, const T *src, size_t sp, size_t sr, T *dst,
                  size_t dp, size_t dr, int acc) {
    size_t total = planes * rows * cols;
    if (total == 0) return;
    block_k<T><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, rows, cols, src, sp, sr, dst, dp, dr,
                                                                           acc);
    LSCC_CU_LAUNCHED(cu, "block move");
}

extern "C" void lscc_cu_block(lscc_cu *cu, int esize, size_t planes, size_t rows, size_t cols, const void *src,
                              size_t src_off, size_t src_plane, size_t src_pitch, void *dst, size_t dst_off,
                              size_t dst_plane, size_t dst_pitch, int acc) {
    if (!LSCC_CU_READY(cu)) return;
    /* a plain copy of whole contiguous rows is one 2-D memcpy */
    if (!acc && rows == 1 && planes > 0) {
        rows = planes;
        planes = 1;
        src_pitch = src_plane;
        dst_pitch = dst_plane;
    }
    size_t es = (size_t)esize, maxpitch = (size_t)1 << 30; /* under cudaDeviceProp::memPitch */
    if (!acc && planes == 1 && src_pitch * es < maxpitch && dst_pitch * es < maxpitch) {
        LSCC_CU_CHECK(cu, cudaMemcpy2DAsync((char *)dst + dst_off * es, dst_pitch * es,
                                            (const char *)src + src_off * es, src_pitch * es, cols * es, rows,
                                            cudaMemcpyDeviceToDevice, cu->stream));
        return;
    }
    if (esize == 4)
        block(cu, planes, rows, cols, (const float *)src + src_off, src_plane, src_pitch, (float *)dst + dst_off,
              dst_plane, dst_pitch, acc);
    else
        block(cu, planes, rows, cols, (const double *)src + src_off, src_plane, src_pitch, (double *)dst + dst_off,
              dst_plane, dst_pitch, acc);
}
