/* The in-memory image source. */
#include <string.h>

#include "lscc_rt.h"

static int read_memory(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                       void *dst, lscc_rt_error *err) {
    if (y0 < 0 || x0 < 0 || y1 > img->h || x1 > img->w || y0 >= y1 || x0 >= x1 || (want != LSCC_F32 && want != LSCC_F64))
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "image read outside the image: rows [%lld, %lld), cols [%lld, %lld)",
                            (long long)y0, (long long)y1, (long long)x0, (long long)x1);
    size_t k = 0, len = (size_t)(x1 - x0);
    for (int64_t p = 0; p < img->n * img->c; p++)
        for (int64_t r = y0; r < y1; r++, k += len) {
            size_t at = (size_t)((p * img->h + r) * img->w + x0);
            if (img->dtype == want) {
                memcpy((char *)dst + k * (size_t)want, (const char *)img->data + at * (size_t)want, len * (size_t)want);
                continue;
            }
            for (size_t i = 0; i < len; i++) {
                double v = img->dtype == LSCC_U8    ? ((const unsigned char *)img->data)[at + i]
                           : img->dtype == LSCC_F32 ? ((const float *)img->data)[at + i]
                                                    : ((const double *)img->data)[at + i];
                if (want == LSCC_F32) ((float *)dst)[k + i] = (float)v;
                else ((double *)dst)[k + i] = v;
            }
        }
    return 0;
}

void lscc_image_memory(lscc_image *img, const void *data, lscc_dtype dtype, int64_t n, int64_t c, int64_t h,
                       int64_t w) {
    memset(img, 0, sizeof *img);
    img->n = n;
    img->c = c;
    img->h = h;
    img->w = w;
    img->data = data;
    img->dtype = dtype;
    img->read = read_memory;
}
