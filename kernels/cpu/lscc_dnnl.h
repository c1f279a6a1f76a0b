/* Float32 2-D convolution through oneDNN 2.x (C API): the same three
 * operations as lscc_conv2d_{fwd,bwd_data,bwd_weight}_f32 in lscc_kernels.h,
 * with EXACTLY their contract (geometry, NCHW buffers, per-side padding,
 * caller-chosen output size, y overwritten, dx / dw / db accumulated), only
 * faster. Each returns 0 on success and nonzero when oneDNN refused or failed;
 * it never aborts or prints, and the caller then runs the plain C kernel.
 * Accumulated outputs are changed only by the last oneDNN step of a call
 * (the reorder that adds into dx or dw; db is added in C after it), whose
 * errors oneDNN reports before it writes, so after a nonzero return the
 * fallback starts from untouched dx / dw / db. A failed forward may have
 * written part of y, which the fallback overwrites.
 *
 * Why the geometry needs care. oneDNN describes a convolution by the input
 * size, nonnegative pads and strides, and insists on the "consistent" output
 * size oh == (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1. A tile's region
 * is not like that: the caller picks oh, pt / pl may be NEGATIVE (the buffer
 * starts earlier than the first row this convolution needs, because another
 * consumer of the tensor needs a larger region), the buffer may extend past
 * the last row read, and pb / pr are whatever the tile clipping gave (the
 * plain kernels ignore them, and so does this code). So each call describes
 * a VIEW of the input: the rows [r0, r1) of the buffer that the outputs read,
 * i.e. [-pt, (oh - 1) * sh - pt + (kh - 1) * dh] clipped to [0, h), and the
 * columns likewise, with the NCHW strides of the whole buffer
 * (dnnl_memory_desc_init_by_strides) and the data pointer moved to (r0, c0).
 * The pads become r0 + pt and the rows the last output reads past r1, both
 * >= 0, and the formula then gives exactly oh. Backward data writes the same
 * view of dx; rows and columns of dx outside it are not read by the forward
 * and get nothing. When no real row or column is read at all (the output
 * sees only padding) there is nothing for oneDNN to do, and the result
 * (y = bias, db += sum of dy) is computed here.
 *
 * Layouts. On NCHW buffers the primitives are created with format "any", so
 * that oneDNN picks its blocked layouts (nChw16c and the like on AVX-512),
 * and the caller's plain buffers are reordered into them and back. On NHWC
 * buffers (lscc_dnnl_set_nhwc; the runtime's channels-last tiles) the
 * activations are described as NHWC and oneDNN runs on them directly
 * (brgconv forward, jit backward): only weights are reordered, and views
 * that are not the whole buffer are copied to a dense tensor. Measured on a
 * ResNet-18 training step at 2048^2 (tile 1536, 2 threads): NCHW spends 1.3 s
 * of 9.4 s in reorders, NHWC 0.3 s of 8.7 s.
 * The NCHW choice was measured faster than running on plain NCHW for all three operations, reorders included
 * (bench/conv_dnnl.c; ResNet 3x3, 64 channels, 256 x 256, one thread, best
 * call: forward 140 vs 61 GFLOP/s, backward data 140 vs 36, backward weight
 * 122 vs 63; the plain C kernels: 2 to 3).
 * oneDNN overwrites its outputs; dx += and dw += are the final reorder from
 * oneDNN's result into the caller's buffer with a "sum" post-op. The
 * algorithm is direct convolution, never Winograd (whose rounding error is
 * larger than the plain kernels').
 *
 * Caching. Creating the primitives of a call (descriptors, JIT code
 * generation) takes about a millisecond, more than running them on a small
 * tile, and the interior tiles of a streamed network repeat a few geometries
 * thousands of times. A context keeps the primitives,
 * memory objects and reorders of each distinct (lscc_win2d, operation, bias or
 * not) in a cache of LSCC_DNNL_CACHE entries, evicting the least recently
 * used one when full, and one grow-only arena for oneDNN's scratchpads (user
 * mode) and the reordered tensors. A cache hit allocates nothing.
 *
 * Threads. There is no global state here: a context holds its own engine,
 * stream, cache and arena. A context must be used by one thread at a time;
 * several contexts may live in one process and run in different threads.
 * oneDNN parallelises each call over OMP_NUM_THREADS OpenMP threads (all
 * cores by default). */
#ifndef LSCC_DNNL_H
#define LSCC_DNNL_H

#include "lscc_kernels.h"

#define LSCC_DNNL_CACHE 256

typedef struct lscc_dnnl lscc_dnnl;

/* Creates a context (CPU engine and stream); 0 on success, else *out = NULL. */
int lscc_dnnl_create(lscc_dnnl **out);
/* Frees the context and everything it cached; NULL is allowed. */
void lscc_dnnl_destroy(lscc_dnnl *ctx);
/* plain != 0: run the convolutions on plain NCHW / OIHW instead of oneDNN's
 * layouts (slower; kept so that bench/conv_dnnl.c can show the choice on a
 * new CPU). Empties the cache. */
void lscc_dnnl_set_plain(lscc_dnnl *ctx, int plain);
/* nhwc != 0: x, y, dx and dy are channels-last (N x H x W x C), the layout
 * oneDNN's fastest CPU convolutions (brgconv) run on, so that a network kept
 * in it is never reordered; the view of x (see above) then has the strides
 * of the NHWC buffer. Weights stay OIHW. Empties the cache. */
void lscc_dnnl_set_nhwc(lscc_dnnl *ctx, int nhwc);

/* y = conv(x, w) + bias (bias NULL: none); y overwritten. */
int lscc_conv2d_fwd_dnnl(lscc_dnnl *ctx, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                         float *y);
/* y = conv(x, w) + bias, then with relu != 0 y = max(y, 0) (a oneDNN
 * post-op: one pass over y instead of two; NaN stays NaN, as in
 * lscc_relu_fwd_f32). */
int lscc_conv2d_fwd_relu_dnnl(lscc_dnnl *ctx, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                              int relu, float *y);
/* dx += dL/dx. */
int lscc_conv2d_bwd_data_dnnl(lscc_dnnl *ctx, const lscc_win2d *p, const float *dy, const float *w, float *dx);
/* dw += dL/dw; db += dy summed over n, oh, ow unless db is NULL. */
int lscc_conv2d_bwd_weight_dnnl(lscc_dnnl *ctx, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                float *db);

#endif
