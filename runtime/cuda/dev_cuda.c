/* The CUDA backend of the runtime (lscc_rt_dev): the tile arena, weights,
 * gradients and head tensors in device memory, image regions staged in
 * pinned host memory; failures reach rt->err through lscc_cu_status. */
#include <stdio.h>

#include "lscc_cuda.h"
#include "lscc_rt.h"

/* LSCC_CUDA_DETERMINISTIC=1: cuDNN and cuBLAS restricted to deterministic
 * algorithms (bit-equal reruns). */
#include <stdlib.h>
#include <string.h>

static int create(void **ctx, lscc_rt_error *err) {
    const char *d = getenv("LSCC_CUDA_DETERMINISTIC");
    lscc_cu *cu = NULL;
    char msg[512];
    int st = lscc_cu_create(&cu, d && strcmp(d, "0") != 0, msg, sizeof msg);
    if (st) return lscc_rt_fail(err, st, "%s", msg);
    *ctx = cu;
    return 0;
}
static void destroy(void *ctx) { lscc_cu_destroy(ctx); }
static int status(void *ctx, lscc_rt_error *err) {
    char msg[512];
    int st = lscc_cu_status(ctx, msg, sizeof msg);
    return st ? lscc_rt_fail(err, st, "CUDA: %s", msg) : 0;
}
static void *alloc(void *ctx, size_t bytes) { return lscc_cu_alloc(ctx, bytes); }
static void release(void *ctx, void *p) { lscc_cu_free(ctx, p); }
static void *host_alloc(void *ctx, size_t bytes) { return lscc_cu_host_alloc(ctx, bytes); }
static void host_release(void *ctx, void *p) { lscc_cu_host_free(ctx, p); }
static void fill(void *ctx, void *p, size_t n, int esize, double v) { lscc_cu_fill(ctx, p, n, esize, v); }
static void copy(void *ctx, void *dst, const void *src, size_t bytes, int dir) {
    if (bytes) lscc_cu_copy(ctx, dst, src, bytes, dir == 0 ? LSCC_CU_D2D : dir == 1 ? LSCC_CU_H2D : LSCC_CU_D2H);
}
static void upload(void *ctx, void *dst, const void *host, size_t bytes) { lscc_cu_upload(ctx, dst, host, bytes); }
static void upload_wait(void *ctx) { lscc_cu_upload_wait(ctx); }
static void block(void *ctx, int esize, const lscc_rt_block *b, const void *src, void *dst, int acc) {
    lscc_cu_block(ctx, esize, b->planes, b->rows, b->cols, src, b->src_off, b->src_plane, b->src_pitch, dst, b->dst_off,
                  b->dst_plane, b->dst_pitch, acc);
}

const lscc_rt_dev lscc_rt_cuda_dev = {"CUDA device", 0, create, destroy, status, alloc, release, host_alloc,
                                      host_release, fill, copy, upload, upload_wait, block};
