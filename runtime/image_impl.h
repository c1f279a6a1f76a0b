/* Private to the image sources (image.c, image_mmap.c, image_tiff.c): what
 * every source opened by an lscc_image_open_* function shares. Not
 * installed. */
#ifndef LSCC_IMAGE_IMPL_H
#define LSCC_IMAGE_IMPL_H

#include "lscc_image.h"

/* The state behind img->user of an opened source. Every opened source has
 * img->read == lscc_image_src_read, which checks the region and want and
 * then calls s->read; lscc_image_close recognizes opened sources by that
 * read and calls s->close, which frees s itself. */
typedef struct lscc_image_src lscc_image_src;
struct lscc_image_src {
    int (*read)(lscc_image_src *s, const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                lscc_dtype want, void *dst, lscc_rt_error *err);
    void (*close)(lscc_image_src *s);
    const lscc_image_norm *norm; /* &norm_copy or NULL */
    lscc_image_norm norm_copy;   /* its mean and std point into vals */
    double *vals;
};

int lscc_image_src_read(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                        void *dst, lscc_rt_error *err);

/* Checks and copies norm (may be NULL) for c channels into s. */
int lscc_image_src_norm(lscc_image_src *s, int64_t c, const lscc_image_norm *norm, lscc_rt_error *err);
/* Frees what lscc_image_src_norm allocated. */
void lscc_image_src_fini(lscc_image_src *s);
/* Fills img for an opened source s. */
void lscc_image_src_attach(lscc_image *img, lscc_image_src *s, int64_t n, int64_t c, int64_t h, int64_t w,
                           lscc_dtype dtype, const void *data);

/* Checks an array description (sizes >= 1, dtype, layout) and returns its
 * byte size in *bytes (0 and an error if it overflows). */
int lscc_image_array_check(const lscc_image_array *a, uint64_t *bytes, lscc_rt_error *err);
/* Reads a region of the array a at base (sample (0,0,0,0) at base) through
 * lscc_image_convert. The region is valid. */
void lscc_image_array_read(const unsigned char *base, const lscc_image_array *a, const lscc_image_norm *norm,
                           int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want, void *dst);

#endif
