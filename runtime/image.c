/* Image sources: the in-memory array, the shared conversion and
 * normalization (lscc_image.h), the normalizing wrapper and callbacks.
 * Compiled with -ffp-contract=off: the normalization arithmetic is exactly
 * the documented one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_impl.h"

static size_t esize_of(lscc_dtype t) { return t == LSCC_U8 ? 1 : t == LSCC_F32 ? 4 : 8; }

static int dtype_ok(lscc_dtype t) { return t == LSCC_U8 || t == LSCC_F32 || t == LSCC_F64; }

/* ---- conversion ---- */

/* One loop per stored type; loads go through memcpy (src may be unaligned,
 * e.g. a raw file with an odd offset). */
#define CONVERT_LOOP(T)                                                                                                \
    do {                                                                                                               \
        const unsigned char *s = (const unsigned char *)src;                                                           \
        size_t step = stride * sizeof(T);                                                                              \
        if (!norm) {                                                                                                   \
            if (want == LSCC_F32)                                                                                      \
                for (size_t i = 0; i < count; i++, s += step) {                                                        \
                    T x;                                                                                               \
                    memcpy(&x, s, sizeof x);                                                                           \
                    ((float *)dst)[i] = (float)(double)x;                                                              \
                }                                                                                                      \
            else                                                                                                       \
                for (size_t i = 0; i < count; i++, s += step) {                                                        \
                    T x;                                                                                               \
                    memcpy(&x, s, sizeof x);                                                                           \
                    ((double *)dst)[i] = (double)x;                                                                    \
                }                                                                                                      \
        } else {                                                                                                       \
            double sc = norm->scale, m = norm->mean ? norm->mean[ch] : 0.0, sd = norm->std ? norm->std[ch] : 1.0;      \
            for (size_t i = 0; i < count; i++, s += step) {                                                            \
                T x;                                                                                                   \
                memcpy(&x, s, sizeof x);                                                                               \
                double t = (double)x * sc;                                                                             \
                t = t - m;                                                                                             \
                t = t / sd;                                                                                            \
                if (want == LSCC_F32)                                                                                  \
                    ((float *)dst)[i] = (float)t;                                                                      \
                else                                                                                                   \
                    ((double *)dst)[i] = t;                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

void lscc_image_convert(const void *src, lscc_dtype st, size_t stride, size_t count, const lscc_image_norm *norm,
                        int64_t ch, lscc_dtype want, void *dst) {
    if (!norm && st == want && stride == 1) { /* a plain copy gives the same bits */
        memcpy(dst, src, count * esize_of(st));
        return;
    }
    switch (st) {
    case LSCC_U8: CONVERT_LOOP(unsigned char); break;
    case LSCC_F32: CONVERT_LOOP(float); break;
    case LSCC_F64: CONVERT_LOOP(double); break;
    }
}

/* ---- arrays (memory and raw files) ---- */

int lscc_image_array_check(const lscc_image_array *a, uint64_t *bytes, lscc_rt_error *err) {
    *bytes = 0;
    if (!a) return lscc_rt_fail(err, LSCC_RT_E_ARG, "image array: no description (NULL)");
    if (!dtype_ok(a->dtype))
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "image array: sample type %d is not LSCC_U8, LSCC_F32 or LSCC_F64",
                            (int)a->dtype);
    if (a->layout != LSCC_LAYOUT_NCHW && a->layout != LSCC_LAYOUT_NHWC)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "image array: layout %d is not LSCC_LAYOUT_NCHW or LSCC_LAYOUT_NHWC",
                            (int)a->layout);
    const int64_t d[4] = {a->n, a->c, a->h, a->w};
    uint64_t total = esize_of(a->dtype);
    for (int i = 0; i < 4; i++) {
        if (d[i] < 1)
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "image array: size %lld x %lld x %lld x %lld has a dimension < 1",
                                (long long)a->n, (long long)a->c, (long long)a->h, (long long)a->w);
        if ((uint64_t)d[i] > (UINT64_MAX >> 1) / total)
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "image array: size %lld x %lld x %lld x %lld overflows 63 bits",
                                (long long)a->n, (long long)a->c, (long long)a->h, (long long)a->w);
        total *= (uint64_t)d[i];
    }
    if (total > (uint64_t)SIZE_MAX)
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "image array: %llu bytes do not fit this host's address space",
                            (unsigned long long)total);
    *bytes = total;
    return 0;
}

void lscc_image_array_read(const unsigned char *base, const lscc_image_array *a, const lscc_image_norm *norm,
                           int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want, void *dst) {
    size_t es = esize_of(a->dtype), len = (size_t)(x1 - x0), k = 0, ws = (size_t)want;
    int nhwc = a->layout == LSCC_LAYOUT_NHWC;
    for (int64_t b = 0; b < a->n; b++)
        for (int64_t ch = 0; ch < a->c; ch++)
            for (int64_t r = y0; r < y1; r++, k += len) {
                /* element index of (b, ch, r, x0) */
                uint64_t at = nhwc ? (((uint64_t)b * (uint64_t)a->h + (uint64_t)r) * (uint64_t)a->w + (uint64_t)x0) *
                                             (uint64_t)a->c +
                                         (uint64_t)ch
                                   : (((uint64_t)b * (uint64_t)a->c + (uint64_t)ch) * (uint64_t)a->h + (uint64_t)r) *
                                             (uint64_t)a->w +
                                         (uint64_t)x0;
                lscc_image_convert(base + (size_t)at * es, a->dtype, nhwc ? (size_t)a->c : 1, len, norm, ch, want,
                                   (char *)dst + k * ws);
            }
}

/* ---- what every opened source shares ---- */

static int region_ok(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                     lscc_rt_error *err) {
    if (want != LSCC_F32 && want != LSCC_F64)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "image read: element type %d is not LSCC_F32 or LSCC_F64", (int)want);
    if (y0 < 0 || x0 < 0 || y1 > img->h || x1 > img->w || y0 >= y1 || x0 >= x1)
        return lscc_rt_fail(err, LSCC_RT_E_ARG,
                            "image read outside the image: rows [%lld, %lld), cols [%lld, %lld) of a %lld x %lld image",
                            (long long)y0, (long long)y1, (long long)x0, (long long)x1, (long long)img->h,
                            (long long)img->w);
    return 0;
}

int lscc_image_src_read(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                        void *dst, lscc_rt_error *err) {
    lscc_image_src *s = (lscc_image_src *)img->user;
    if (!s) return lscc_rt_fail(err, LSCC_RT_E_ARG, "image read: the source is closed");
    int rc = region_ok(img, y0, y1, x0, x1, want, err);
    return rc ? rc : s->read(s, img, y0, y1, x0, x1, want, dst, err);
}

int lscc_image_src_norm(lscc_image_src *s, int64_t c, const lscc_image_norm *norm, lscc_rt_error *err) {
    s->norm = NULL;
    s->vals = NULL;
    if (!norm) return 0;
    if (!isfinite(norm->scale) || norm->scale == 0.0)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "image normalization: scale %g is not finite and nonzero", norm->scale);
    for (int64_t i = 0; i < c; i++) {
        if (norm->mean && !isfinite(norm->mean[i]))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "image normalization: mean[%lld] = %g is not finite", (long long)i,
                                norm->mean[i]);
        if (norm->std && (!isfinite(norm->std[i]) || norm->std[i] == 0.0))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "image normalization: std[%lld] = %g is not finite and nonzero",
                                (long long)i, norm->std[i]);
    }
    if (!(s->vals = malloc(2 * (size_t)c * sizeof(double))))
        return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "image normalization: out of memory for %lld channels", (long long)c);
    for (int64_t i = 0; i < c; i++) {
        s->vals[i] = norm->mean ? norm->mean[i] : 0.0;
        s->vals[c + i] = norm->std ? norm->std[i] : 1.0;
    }
    s->norm_copy.scale = norm->scale;
    s->norm_copy.mean = s->vals;
    s->norm_copy.std = s->vals + c;
    s->norm = &s->norm_copy;
    return 0;
}

void lscc_image_src_fini(lscc_image_src *s) {
    free(s->vals);
    s->vals = NULL;
    s->norm = NULL;
}

void lscc_image_src_attach(lscc_image *img, lscc_image_src *s, int64_t n, int64_t c, int64_t h, int64_t w,
                           lscc_dtype dtype, const void *data) {
    memset(img, 0, sizeof *img);
    img->n = n;
    img->c = c;
    img->h = h;
    img->w = w;
    img->read = lscc_image_src_read;
    img->data = data;
    img->dtype = dtype;
    img->user = s;
}

void lscc_image_close(lscc_image *img) {
    if (!img) return;
    if (img->read == lscc_image_src_read && img->user) {
        lscc_image_src *s = (lscc_image_src *)img->user;
        s->close(s);
    }
    memset(img, 0, sizeof *img);
}

/* ---- in-memory arrays ---- */

static int read_memory(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                       void *dst, lscc_rt_error *err) {
    int rc = region_ok(img, y0, y1, x0, x1, want, err);
    if (rc) return rc;
    lscc_image_array a = {img->dtype, LSCC_LAYOUT_NCHW, img->n, img->c, img->h, img->w, 0};
    lscc_image_array_read((const unsigned char *)img->data, &a, NULL, y0, y1, x0, x1, want, dst);
    return 0;
}

void lscc_image_memory(lscc_image *img, const void *data, lscc_dtype dtype, int64_t n, int64_t c, int64_t h,
                       int64_t w) {
    lscc_image_src_attach(img, NULL, n, c, h, w, dtype, data);
    img->read = read_memory; /* no source object: nothing to close */
}

typedef struct memory_src {
    lscc_image_src base;
    lscc_image_array a;
    const unsigned char *data;
} memory_src;

static int memory_src_read(lscc_image_src *s, const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                           lscc_dtype want, void *dst, lscc_rt_error *err) {
    (void)img;
    (void)err;
    memory_src *m = (memory_src *)s;
    lscc_image_array_read(m->data, &m->a, s->norm, y0, y1, x0, x1, want, dst);
    return 0;
}

static void memory_src_close(lscc_image_src *s) {
    lscc_image_src_fini(s);
    free(s);
}

int lscc_image_open_memory(lscc_image *img, const void *data, const lscc_image_array *a, const lscc_image_norm *norm,
                           lscc_rt_error *err) {
    if (!img) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_memory: img is NULL");
    memset(img, 0, sizeof *img);
    uint64_t bytes;
    int rc = lscc_image_array_check(a, &bytes, err);
    if (rc) return rc;
    if (!data) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_memory: data is NULL");
    if (a->offset)
        return lscc_rt_fail(err, LSCC_RT_E_ARG,
                            "lscc_image_open_memory: offset must be 0 (point data at the first sample)");
    memory_src *m = calloc(1, sizeof *m);
    if (!m) return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "lscc_image_open_memory: out of memory");
    if ((rc = lscc_image_src_norm(&m->base, a->c, norm, err))) {
        free(m);
        return rc;
    }
    m->base.read = memory_src_read;
    m->base.close = memory_src_close;
    m->a = *a;
    m->data = data;
    lscc_image_src_attach(img, &m->base, a->n, a->c, a->h, a->w, a->dtype, data);
    return 0;
}

/* ---- the normalizing wrapper ---- */

typedef struct norm_src {
    lscc_image_src base;
    const lscc_image *src;
    double *scratch;
    size_t cap; /* elements */
} norm_src;

static int norm_src_read(lscc_image_src *s, const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                         lscc_dtype want, void *dst, lscc_rt_error *err) {
    norm_src *ns = (norm_src *)s;
    size_t len = (size_t)(x1 - x0), rows = (size_t)(y1 - y0), planes = (size_t)(img->n * img->c);
    size_t count = planes * rows * len;
    if (count > ns->cap) {
        double *p = realloc(ns->scratch, count * sizeof *p);
        if (!p)
            return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "normalized image: out of memory for a %zu x %zu region", rows,
                                len);
        ns->scratch = p;
        ns->cap = count;
    }
    int rc = ns->src->read(ns->src, y0, y1, x0, x1, LSCC_F64, ns->scratch, err);
    if (rc) return rc;
    for (size_t p = 0; p < planes; p++)
        lscc_image_convert(ns->scratch + p * rows * len, LSCC_F64, 1, rows * len, s->norm,
                           (int64_t)(p % (size_t)img->c), want, (char *)dst + p * rows * len * (size_t)want);
    return 0;
}

static void norm_src_close(lscc_image_src *s) {
    norm_src *ns = (norm_src *)s;
    free(ns->scratch);
    lscc_image_src_fini(s);
    free(s);
}

int lscc_image_open_normalized(lscc_image *img, const lscc_image *src, const lscc_image_norm *norm,
                               lscc_rt_error *err) {
    if (!img) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_normalized: img is NULL");
    memset(img, 0, sizeof *img);
    if (!src || !src->read || src->n < 1 || src->c < 1 || src->h < 1 || src->w < 1)
        return lscc_rt_fail(err, LSCC_RT_E_ARG,
                            "lscc_image_open_normalized: src is NULL, has no read or an empty size");
    if (!norm) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_normalized: norm is NULL");
    norm_src *ns = calloc(1, sizeof *ns);
    if (!ns) return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "lscc_image_open_normalized: out of memory");
    int rc = lscc_image_src_norm(&ns->base, src->c, norm, err);
    if (rc) {
        free(ns);
        return rc;
    }
    ns->base.read = norm_src_read;
    ns->base.close = norm_src_close;
    ns->src = src;
    lscc_image_src_attach(img, &ns->base, src->n, src->c, src->h, src->w, src->dtype, src->data);
    return 0;
}

/* ---- user callbacks ---- */

void lscc_image_callback(lscc_image *img, int64_t n, int64_t c, int64_t h, int64_t w,
                         int (*read)(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                                     lscc_dtype want, void *dst, lscc_rt_error *err),
                         void *user) {
    lscc_image_src_attach(img, NULL, n, c, h, w, LSCC_F64, NULL);
    img->read = read;
    img->user = user;
}
