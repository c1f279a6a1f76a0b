/* Copy of a block of channels and pixels between NCHW buffers (Concat,
 * channel slices, region cuts): forward copy and backward accumulation
 * (contract in lscc_kernels.h). The file includes itself once per type (T, S);
 * the bodies are after the #else. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "copy_region.c"
#undef T
#undef S
#define T double
#define S f64
#include "copy_region.c"
#undef T
#undef S

#else

/* Where row i of channel ch (of the block) of batch item b starts in src and dst. */
static size_t FN(src_at)(const lscc_region_copy *r, size_t b, size_t ch, size_t i) {
    return ((b * r->src_c + r->src_c0 + ch) * r->src_h + r->src_y0 + i) * r->src_w + r->src_x0;
}

static size_t FN(dst_at)(const lscc_region_copy *r, size_t b, size_t ch, size_t i) {
    return ((b * r->dst_c + r->dst_c0 + ch) * r->dst_h + i) * r->dst_w;
}

void FN(lscc_copy_region)(const lscc_region_copy *r, const T *src, T *dst) {
    for (size_t b = 0; b < r->n; b++)
        for (size_t ch = 0; ch < r->c; ch++)
            for (size_t i = 0; i < r->dst_h; i++) {
                const T *s = src + FN(src_at)(r, b, ch, i);
                T *d = dst + FN(dst_at)(r, b, ch, i);
                for (size_t j = 0; j < r->dst_w; j++) d[j] = s[j];
            }
}

void FN(lscc_copy_region_acc)(const lscc_region_copy *r, const T *ddst, T *dsrc) {
    for (size_t b = 0; b < r->n; b++)
        for (size_t ch = 0; ch < r->c; ch++)
            for (size_t i = 0; i < r->dst_h; i++) {
                T *s = dsrc + FN(src_at)(r, b, ch, i);
                const T *d = ddst + FN(dst_at)(r, b, ch, i);
                for (size_t j = 0; j < r->dst_w; j++) s[j] += d[j];
            }
}

#endif
