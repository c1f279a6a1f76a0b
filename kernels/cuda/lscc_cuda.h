/* CUDA kernels of the lscc runtime: the GPU twins of lscc_kernels.h.
 *
 * Every function here has the same arguments and the same contract as its
 * CPU twin in lscc_kernels.h (lscc_relu_fwd_f32 -> lscc_cu_relu_fwd_f32, ...),
 * read that header for what each op computes, plus one leading lscc_cu
 * context. All pointers are DEVICE pointers unless said otherwise; kernels
 * are queued on the context's compute stream and return before they finish.
 *
 * Errors: kernels return nothing, as on the CPU, so that generated code
 * reads the same for both targets. Every CUDA, cuBLAS and cuDNN call is
 * checked; the first failure is kept in the context (sticky, with a
 * message) and later calls become no-ops until lscc_cu_status() reports and
 * clears it. The runtime checks it after every tile and every head pass, so
 * a failure becomes an lscc_rt error code, never a crash.
 *
 * Backward kernels accumulate (+=) like the CPU ones. No global state: every
 * handle, stream, algorithm cache and workspace lives in the context, and
 * several contexts may be used from different threads.
 */
#ifndef LSCC_CUDA_H
#define LSCC_CUDA_H

#include <stddef.h>

#include "lscc_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lscc_cu lscc_cu;

/* Status codes: the lscc_rt numbers (lscc_rt.h). */
#define LSCC_CU_OK 0
#define LSCC_CU_E_NOMEM 6  /* cudaMalloc (or a host allocation) failed */
#define LSCC_CU_E_DEVICE 8 /* any other CUDA / cuBLAS / cuDNN failure */

/* Creates a context on the current device: a compute stream, a copy stream,
 * cuBLAS and cuDNN handles bound to the compute stream. deterministic != 0
 * restricts cuDNN to deterministic algorithms (and disables cuBLAS atomics),
 * so that two runs give bit-equal results. Returns 0, or a code with a
 * message in msg (e.g. no CUDA device: the tests then skip). */
int lscc_cu_create(lscc_cu **cu, int deterministic, char *msg, size_t msglen);
void lscc_cu_destroy(lscc_cu *cu);
/* Waits for the compute and copy streams, then returns the first failure
 * since the last call (0 if none) with its message, and clears it. */
int lscc_cu_status(lscc_cu *cu, char *msg, size_t msglen);
/* Records a failure (kept only when none is pending); returns code. */
int lscc_cu_fail(lscc_cu *cu, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- memory (memory.cu) ---- */
/* Zeroed device memory; NULL (and a pending LSCC_CU_E_NOMEM) on failure. */
void *lscc_cu_alloc(lscc_cu *cu, size_t bytes);
void lscc_cu_free(lscc_cu *cu, void *p);
/* Pinned host memory for staging tile regions; NULL on failure. */
void *lscc_cu_host_alloc(lscc_cu *cu, size_t bytes);
void lscc_cu_host_free(lscc_cu *cu, void *p);
/* p[0..n) = v in elements of esize bytes (4 or 8). */
void lscc_cu_fill(lscc_cu *cu, void *p, size_t n, int esize, double v);
/* Copies bytes. dir: LSCC_CU_D2D and LSCC_CU_H2D are queued on the compute
 * stream (the host source must stay valid until lscc_cu_sync); LSCC_CU_D2H
 * waits for the compute stream and returns when dst holds the data. */
enum { LSCC_CU_D2D = 0, LSCC_CU_H2D = 1, LSCC_CU_D2H = 2 };
void lscc_cu_copy(lscc_cu *cu, void *dst, const void *src, size_t bytes, int dir);
/* Staged upload of a tile region: queued on the copy stream, and the
 * compute stream waits for it (an event) before its next kernel. The host
 * buffer must be pinned (lscc_cu_host_alloc) and stay unchanged until the
 * next lscc_cu_upload_wait. */
void lscc_cu_upload(lscc_cu *cu, void *dst, const void *host, size_t bytes);
void lscc_cu_upload_wait(lscc_cu *cu);
/* Waits for all queued work. */
void lscc_cu_sync(lscc_cu *cu);

/* ---- data movement (block.cu) ----
 * Region views, Concat, Pad and channel permutations are all block moves
 * of the runtime (runtime/region_ops.c), the same code on both targets. */
/* The runtime's block move (lscc_rt_block in lscc_rt.h): planes x rows x
 * cols elements of esize bytes, element (p, r, q) at off + p * plane +
 * r * pitch + q in each buffer; dst = src, or dst += src when acc. */
void lscc_cu_block(lscc_cu *cu, int esize, size_t planes, size_t rows, size_t cols, const void *src, size_t src_off,
                   size_t src_plane, size_t src_pitch, void *dst, size_t dst_off, size_t dst_plane, size_t dst_pitch,
                   int acc);
/* ---- convolution through cuDNN (conv2d_cudnn.cu) ----
 * The window may have negative pt / pl (the buffer starts before the first
 * row read) and unequal pads on the two sides: the kernels then convolve a
 * strided view of the buffer (offset pointer, original row pitch) with
 * symmetric padding, or, where cuDNN cannot take the padding as given,
 * copy the region into a zero-padded workspace first. The algorithm is
 * chosen once per distinct descriptor (shape, pads, stride, type) and kept
 * in the context; the workspace is the context's and grows only when a new
 * shape needs more. */
void lscc_cu_conv2d_fwd_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                            float *y);
void lscc_cu_conv2d_fwd_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *w, const double *bias,
                            double *y);
void lscc_cu_conv2d_bwd_data_f32(lscc_cu *cu, const lscc_win2d *p, const float *dy, const float *w, float *dx);
void lscc_cu_conv2d_bwd_data_f64(lscc_cu *cu, const lscc_win2d *p, const double *dy, const double *w, double *dx);
void lscc_cu_conv2d_bwd_weight_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                   float *db);
void lscc_cu_conv2d_bwd_weight_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *dy, double *dw,
                                   double *db);

/* ---- pools (pool2d.cu, global_avgpool.cu) ---- */
void lscc_cu_maxpool2d_fwd_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, float *y);
void lscc_cu_maxpool2d_fwd_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, double *y);
void lscc_cu_maxpool2d_bwd_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *dy, float *dx);
void lscc_cu_maxpool2d_bwd_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *dy, double *dx);
void lscc_cu_avgpool2d_fwd_f32(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const float *x, float *y);
void lscc_cu_avgpool2d_fwd_f64(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const double *x, double *y);
void lscc_cu_avgpool2d_bwd_f32(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const float *dy, float *dx);
void lscc_cu_avgpool2d_bwd_f64(lscc_cu *cu, const lscc_win2d *p, int count_include_pad, const double *dy,
                               double *dx);
void lscc_cu_global_avgpool_fwd_f32(lscc_cu *cu, size_t nc, size_t hw, const float *x, float *y);
void lscc_cu_global_avgpool_fwd_f64(lscc_cu *cu, size_t nc, size_t hw, const double *x, double *y);
void lscc_cu_global_avgpool_bwd_f32(lscc_cu *cu, size_t nc, size_t hw, const float *dy, float *dx);
void lscc_cu_global_avgpool_bwd_f64(lscc_cu *cu, size_t nc, size_t hw, const double *dy, double *dx);

/* ---- activations (activation.cu) ---- */
#define LSCC_CU_UNARY(name, ...)                                                                                      \
    void lscc_cu_##name##_fwd_f32(lscc_cu *cu, size_t n, __VA_ARGS__ const float *x, float *y);                   \
    void lscc_cu_##name##_fwd_f64(lscc_cu *cu, size_t n, __VA_ARGS__ const double *x, double *y);                 \
    void lscc_cu_##name##_bwd_f32(lscc_cu *cu, size_t n, __VA_ARGS__ const float *x, const float *dy, float *dx); \
    void lscc_cu_##name##_bwd_f64(lscc_cu *cu, size_t n, __VA_ARGS__ const double *x, const double *dy, double *dx);
#define LSCC_CU_NOARG
LSCC_CU_UNARY(relu, LSCC_CU_NOARG)
LSCC_CU_UNARY(sigmoid, LSCC_CU_NOARG)
LSCC_CU_UNARY(tanh, LSCC_CU_NOARG)
LSCC_CU_UNARY(hard_swish, LSCC_CU_NOARG)
LSCC_CU_UNARY(erf, LSCC_CU_NOARG)
#undef LSCC_CU_UNARY
void lscc_cu_leaky_relu_fwd_f32(lscc_cu *cu, size_t n, float alpha, const float *x, float *y);
void lscc_cu_leaky_relu_fwd_f64(lscc_cu *cu, size_t n, double alpha, const double *x, double *y);
void lscc_cu_leaky_relu_bwd_f32(lscc_cu *cu, size_t n, float alpha, const float *x, const float *dy, float *dx);
void lscc_cu_leaky_relu_bwd_f64(lscc_cu *cu, size_t n, double alpha, const double *x, const double *dy, double *dx);
void lscc_cu_clip_fwd_f32(lscc_cu *cu, size_t n, float lo, float hi, const float *x, float *y);
void lscc_cu_clip_fwd_f64(lscc_cu *cu, size_t n, double lo, double hi, const double *x, double *y);
void lscc_cu_clip_bwd_f32(lscc_cu *cu, size_t n, float lo, float hi, const float *x, const float *dy, float *dx);
void lscc_cu_clip_bwd_f64(lscc_cu *cu, size_t n, double lo, double hi, const double *x, const double *dy, double *dx);
/* in-place backward: g = f'(x) * g (lscc_relu_mask_f32 in lscc_kernels.h) */
void lscc_cu_relu_mask_f32(lscc_cu *cu, size_t n, const float *x, float *g);
void lscc_cu_relu_mask_f64(lscc_cu *cu, size_t n, const double *x, double *g);
void lscc_cu_clip_mask_f32(lscc_cu *cu, size_t n, float lo, float hi, const float *x, float *g);
void lscc_cu_clip_mask_f64(lscc_cu *cu, size_t n, double lo, double hi, const double *x, double *g);
void lscc_cu_hard_sigmoid_fwd_f32(lscc_cu *cu, size_t n, float alpha, float beta, const float *x, float *y);
void lscc_cu_hard_sigmoid_fwd_f64(lscc_cu *cu, size_t n, double alpha, double beta, const double *x, double *y);
void lscc_cu_hard_sigmoid_bwd_f32(lscc_cu *cu, size_t n, float alpha, float beta, const float *x, const float *dy,
                                  float *dx);
void lscc_cu_hard_sigmoid_bwd_f64(lscc_cu *cu, size_t n, double alpha, double beta, const double *x,
                                  const double *dy, double *dx);

/* ---- binary arithmetic (binary.cu) ---- */
#define LSCC_CU_BIN(op)                                                                                               \
    void lscc_cu_##op##_fwd_f32(lscc_cu *cu, size_t n, const float *a, const float *b, float *y);                    \
    void lscc_cu_##op##_fwd_f64(lscc_cu *cu, size_t n, const double *a, const double *b, double *y);                 \
    void lscc_cu_##op##_chan_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *s,     \
                                     float *y);                                                                      \
    void lscc_cu_##op##_chan_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *s,   \
                                     double *y);
LSCC_CU_BIN(add)
LSCC_CU_BIN(sub)
LSCC_CU_BIN(mul)
LSCC_CU_BIN(div)
#undef LSCC_CU_BIN
void lscc_cu_add_bwd_f32(lscc_cu *cu, size_t n, const float *dy, float *da, float *db);
void lscc_cu_add_bwd_f64(lscc_cu *cu, size_t n, const double *dy, double *da, double *db);
void lscc_cu_sub_bwd_f32(lscc_cu *cu, size_t n, const float *dy, float *da, float *db);
void lscc_cu_sub_bwd_f64(lscc_cu *cu, size_t n, const double *dy, double *da, double *db);
void lscc_cu_mul_bwd_f32(lscc_cu *cu, size_t n, const float *a, const float *b, const float *dy, float *da, float *db);
void lscc_cu_mul_bwd_f64(lscc_cu *cu, size_t n, const double *a, const double *b, const double *dy, double *da,
                         double *db);
void lscc_cu_div_bwd_f32(lscc_cu *cu, size_t n, const float *a, const float *b, const float *dy, float *da, float *db);
void lscc_cu_div_bwd_f64(lscc_cu *cu, size_t n, const double *a, const double *b, const double *dy, double *da,
                         double *db);
void lscc_cu_add_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *dy, float *dx, float *ds);
void lscc_cu_add_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *dy, double *dx, double *ds);
void lscc_cu_sub_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *dy, float *dx, float *ds);
void lscc_cu_sub_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *dy, double *dx, double *ds);
void lscc_cu_mul_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *s,
                              const float *dy, float *dx, float *ds);
void lscc_cu_mul_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *s,
                              const double *dy, double *dx, double *ds);
void lscc_cu_div_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *s,
                              const float *dy, float *dx, float *ds);
void lscc_cu_div_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *s,
                              const double *dy, double *dx, double *ds);

/* ---- per-channel affine, BatchNorm with trainable gamma/beta, LayerNorm
 * over channels (affine.cu, batchnorm.cu, layernorm.cu) ---- */
void lscc_cu_affine_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *scale,
                            const float *shift, float *y);
void lscc_cu_affine_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *scale,
                            const double *shift, double *y);
void lscc_cu_affine_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *scale,
                            const float *dy, float *dx, float *dscale, float *dshift);
void lscc_cu_affine_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *scale,
                            const double *dy, double *dx, double *dscale, double *dshift);

void lscc_cu_bn_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                        const float *beta, const float *mean, const float *invstd, float *y);
void lscc_cu_bn_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *gamma,
                        const double *beta, const double *mean, const double *invstd, double *y);
void lscc_cu_bn_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                        const float *mean, const float *invstd, const float *dy, float *dx, float *dgamma,
                        float *dbeta);
void lscc_cu_bn_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x, const double *gamma,
                        const double *mean, const double *invstd, const double *dy, double *dx, double *dgamma,
                        double *dbeta);
void lscc_cu_layernorm2d_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, float eps, const float *x,
                                 const float *gamma, const float *beta, float *y);
void lscc_cu_layernorm2d_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, double eps, const double *x,
                                 const double *gamma, const double *beta, double *y);
void lscc_cu_layernorm2d_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, float eps, const float *x,
                                 const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta);
void lscc_cu_layernorm2d_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, double eps, const double *x,
                                 const double *gamma, const double *dy, double *dx, double *dgamma, double *dbeta);

/* ---- head ops (gemm.cu, matmul.cu, softmax.cu; cuBLAS for the products) ---- */
void lscc_cu_gemm_fwd_f32(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *c, float *y);
void lscc_cu_gemm_fwd_f64(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *c,
                          double *y);
void lscc_cu_gemm_bwd_f32(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *dy, float *da,
                          float *db, float *dc);
void lscc_cu_gemm_bwd_f64(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *dy,
                          double *da, double *db, double *dc);
void lscc_cu_matmul_fwd_f32(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b,
                            float *y);
void lscc_cu_matmul_fwd_f64(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const double *a,
                            const double *b, double *y);
void lscc_cu_matmul_bwd_f32(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b,
                            const float *dy, float *da, float *db);
void lscc_cu_matmul_bwd_f64(lscc_cu *cu, size_t batch, size_t m, size_t k, size_t n, const double *a,
                            const double *b, const double *dy, double *da, double *db);
void lscc_cu_softmax_fwd_f32(lscc_cu *cu, size_t outer, size_t len, const float *x, float *y);
void lscc_cu_softmax_fwd_f64(lscc_cu *cu, size_t outer, size_t len, const double *x, double *y);
void lscc_cu_softmax_bwd_f32(lscc_cu *cu, size_t outer, size_t len, const float *x, const float *dy, float *dx);
void lscc_cu_softmax_bwd_f64(lscc_cu *cu, size_t outer, size_t len, const double *x, const double *dy, double *dx);

#ifdef __cplusplus
}
#endif
#endif
