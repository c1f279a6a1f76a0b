/* The host backend: tile arena, weights and gradients in ordinary memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lscc_rt.h"

static int create(void **ctx, lscc_rt_error *err) {
    (void)err;
    *ctx = NULL;
    return 0;
}
static void destroy(void *ctx) { (void)ctx; }
static int status(void *ctx, lscc_rt_error *err) {
    (void)ctx;
    (void)err;
    return 0;
}
/* One buffer larger than the machine's memory is refused without trying:
 * it could not be used, and some allocators (AddressSanitizer's) abort on
 * such a request instead of returning NULL. */
static size_t machine_bytes(void) {
#ifdef _SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && size > 0 && (size_t)pages <= SIZE_MAX / (size_t)size) return (size_t)pages * (size_t)size;
#endif
    return SIZE_MAX;
}

static void *alloc(void *ctx, size_t bytes) {
    (void)ctx;
    if (bytes > machine_bytes()) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}
static void release(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void fill(void *ctx, void *p, size_t n, int esize, double v) {
    (void)ctx;
    if (v == 0.0) {
        memset(p, 0, n * (size_t)esize);
    } else if (esize == 4) {
        for (size_t i = 0; i < n; i++) ((float *)p)[i] = (float)v;
    } else {
        for (size_t i = 0; i < n; i++) ((double *)p)[i] = v;
    }
}

static void copy(void *ctx, void *dst, const void *src, size_t bytes, int dir) {
    (void)ctx;
    (void)dir;
    if (dst != src) memmove(dst, src, bytes);
}

static void upload(void *ctx, void *dst, const void *host, size_t bytes) { copy(ctx, dst, host, bytes, 1); }
static void upload_wait(void *ctx) { (void)ctx; }

#define ADD(T)                                                                                                        \
    for (size_t q = 0; q < b->cols; q++) ((T *)d)[q] += ((const T *)s)[q];

static void block(void *ctx, int esize, const lscc_rt_block *b, const void *src, void *dst, int acc) {
    (void)ctx;
    size_t es = (size_t)esize;
    /* planes on OpenMP threads when there is enough to move (see kernels_impl.h) */
    _Pragma("omp parallel for schedule(static) if (b->planes > 1 && b->planes * b->rows * b->cols > 16384)")
    for (size_t p = 0; p < b->planes; p++)
        for (size_t r = 0; r < b->rows; r++) {
            const char *s = (const char *)src + (b->src_off + p * b->src_plane + r * b->src_pitch) * es;
            char *d = (char *)dst + (b->dst_off + p * b->dst_plane + r * b->dst_pitch) * es;
            if (!acc) memcpy(d, s, b->cols * es);
            else if (esize == 4) { ADD(float) }
            else { ADD(double) }
        }
}

const lscc_rt_dev lscc_rt_host_dev = {"host", 1, create, destroy, status, alloc, release, alloc, release, fill, copy,
                                      upload, upload_wait, block};
