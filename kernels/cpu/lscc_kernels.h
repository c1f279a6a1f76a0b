/* CPU kernels of the lscc runtime: 2-D convolution and pooling, and the
 * pointwise ops (activations, binary arithmetic, per-channel affine, channel
 * LayerNorm), forward and backward, in float (_f32) and double (_f64).
 *
 * Every kernel works on one tile's region (DESIGN.md section 2):
 *
 * - Buffers are NCHW, contiguous. x holds only the real pixels of the region
 *   (n x c x h x w); y / dy are n x oc x oh x ow (pools: n x c x oh x ow).
 * - Padding is virtual and given per side (pt, pb, pl, pr: top, bottom, left,
 *   right); any of them may be 0 and they may all differ, because a tile's
 *   region is clipped at the image border. The padding value is the op's own:
 *   0 for convolution and average pooling, -inf for max pooling (a padded
 *   position never wins).
 * - The output size (oh, ow) is chosen by the caller (ceil_mode and the like
 *   are the caller's business). Output (i, j), window tap (a, b) reads input
 *   row i*sh - pt + a*dh and column j*sw - pl + b*dw; rows outside [0, h) and
 *   columns outside [0, w) are padding. Nothing else is checked: the caller
 *   guarantees the shapes and that the buffers do not overlap.
 * - Backward kernels ACCUMULATE (+=) into dx, dw and db: weight gradients are
 *   summed over tiles, and the input gradient of a tensor read by several
 *   consumers (residual branches) is the sum of their contributions. Zero the
 *   buffers first for a plain gradient.
 * - Pointwise kernels (second half of this file) see a buffer as n elements,
 *   or as NCHW with h*w folded into one count hw (n x c x hw) when something
 *   is per channel. Their backward kernels take the FORWARD INPUT x (not y) and
 *   evaluate derivatives from it, and accumulate like the others.
 * - No allocation, no global state, no printing: kernels are reentrant and may
 *   run concurrently on different buffers.
 */
#ifndef LSCC_KERNELS_H
#define LSCC_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Window of a 2-D convolution or pooling over one region.
 * n, c, h, w   input batch, channels and real region size
 * oc, oh, ow   output channels (convolution only; pools keep c) and size
 * kh, kw       kernel size; sh, sw stride; dh, dw dilation (>= 1)
 * pt, pb, pl, pr  virtual padding on each side (>= 0)
 * groups       convolution groups (c and oc divisible by it; depthwise is
 *              groups == c); ignored by the pools */
typedef struct lscc_win2d {
    int n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups;
} lscc_win2d;

/* ---- Convolution (conv2d.c, conv2d_ref.c) ----
 * Besides the rules above, the convolutions accept NEGATIVE pt and pl: the
 * buffer then starts below the first row (column) the outputs read, as on a
 * tile whose region another consumer made larger. pb and pr are not used (the
 * output size is oh x ow whatever they say), and rows or columns of x past
 * the last one read are allowed.
 *
 * These kernels are im2col + OpenBLAS GEMM (sgemm / dgemm; depthwise and
 * other groups of fewer than 4 output channels use the direct loops of the
 * reference below, which are faster there). Unlike the other kernels they
 * ALLOCATE: a column buffer of up to 4 MB per call (64 MB only when
 * c / groups * kh * kw is over 2048 in float64, 4096 in float32), malloc'ed
 * and freed before returning; if malloc fails they run the reference loops
 * instead, so they never fail. They stay reentrant (no global state);
 * OpenBLAS may run each GEMM on several threads (OPENBLAS_NUM_THREADS; on a
 * CPU that OpenBLAS 0.3.21 does not know, also set OPENBLAS_CORETYPE, see
 * conv2d.c). The summation order differs from the reference's, so results
 * agree with it to rounding (~1e-15 relative in float64), not bit for bit. */

/* y = conv(x, w) + bias; w is [oc, c/groups, kh, kw], bias [oc] or NULL. y is overwritten. */
void lscc_conv2d_fwd_f32(const lscc_win2d *p, const float *x, const float *w, const float *bias, float *y);
void lscc_conv2d_fwd_f64(const lscc_win2d *p, const double *x, const double *w, const double *bias, double *y);

/* dx += dL/dx of y = conv(x, w) for the gradient dy. */
void lscc_conv2d_bwd_data_f32(const lscc_win2d *p, const float *dy, const float *w, float *dx);
void lscc_conv2d_bwd_data_f64(const lscc_win2d *p, const double *dy, const double *w, double *dx);

/* dw += dL/dw; db += dL/dbias (dy summed over n, oh, ow) unless db is NULL. */
void lscc_conv2d_bwd_weight_f32(const lscc_win2d *p, const float *x, const float *dy, float *dw, float *db);
void lscc_conv2d_bwd_weight_f64(const lscc_win2d *p, const double *x, const double *dy, double *dw, double *db);

/* The slow reference of the three above: the same contract, computed by
 * direct loops (one multiply-add at a time, no BLAS, no allocation; 2 to 4
 * GFLOP/s). The fast kernels fall back to them (and use them for depthwise
 * and other groups of fewer than 4 output channels, where they are faster);
 * the tests compare the fast kernels against them. */
void lscc_conv2d_fwd_ref_f32(const lscc_win2d *p, const float *x, const float *w, const float *bias, float *y);
void lscc_conv2d_fwd_ref_f64(const lscc_win2d *p, const double *x, const double *w, const double *bias, double *y);
void lscc_conv2d_bwd_data_ref_f32(const lscc_win2d *p, const float *dy, const float *w, float *dx);
void lscc_conv2d_bwd_data_ref_f64(const lscc_win2d *p, const double *dy, const double *w, double *dx);
void lscc_conv2d_bwd_weight_ref_f32(const lscc_win2d *p, const float *x, const float *dy, float *dw, float *db);
void lscc_conv2d_bwd_weight_ref_f64(const lscc_win2d *p, const double *x, const double *dy, double *dw, double *db);

/* y = maximum over the window; padding is -inf. y is overwritten. A NaN in the
 * window gives NaN. A window with no real position (the caller never asks for
 * one) gives -inf. */
void lscc_maxpool2d_fwd_f32(const lscc_win2d *p, const float *x, float *y);
void lscc_maxpool2d_fwd_f64(const lscc_win2d *p, const double *x, double *y);

/* dx += dy routed to each window's maximum, recomputed from x (no saved
 * indices): the FIRST maximal real position in row-major window order, which is
 * PyTorch's tie rule. A window holding NaN sends it to its first NaN (PyTorch:
 * its last NaN; not tested). */
void lscc_maxpool2d_bwd_f32(const lscc_win2d *p, const float *x, const float *dy, float *dx);
void lscc_maxpool2d_bwd_f64(const lscc_win2d *p, const double *x, const double *dy, double *dx);

/* y = (sum of the window's real positions) / divisor; padding is 0. y is
 * overwritten. count_include_pad == 0: the divisor is the number of real
 * positions in the window. count_include_pad != 0: the number of window
 * positions inside the padded extent [-pt, h + pb) x [-pl, w + pr); positions
 * beyond it (ceil_mode overhang) are never counted, as in PyTorch and ONNX.
 * A zero divisor gives 0. */
void lscc_avgpool2d_fwd_f32(const lscc_win2d *p, int count_include_pad, const float *x, float *y);
void lscc_avgpool2d_fwd_f64(const lscc_win2d *p, int count_include_pad, const double *x, double *y);

/* dx += dL/dx of the average pool above: each real position of a window gets
 * dy / divisor. */
void lscc_avgpool2d_bwd_f32(const lscc_win2d *p, int count_include_pad, const float *dy, float *dx);
void lscc_avgpool2d_bwd_f64(const lscc_win2d *p, int count_include_pad, const double *dy, double *dx);

/* The four pools above, float32, channels-last (pool2d_nhwc.c): x / dx are
 * n x h x w x c contiguous (channel fastest), y / dy n x oh x ow x c. Same
 * lscc_win2d, windows, tie and NaN rules and divisors; each result (dx +=
 * included) is bit for bit the NCHW kernel's on the transposed buffers. */
void lscc_maxpool2d_fwd_nhwc_f32(const lscc_win2d *p, const float *x, float *y);
void lscc_maxpool2d_bwd_nhwc_f32(const lscc_win2d *p, const float *x, const float *dy, float *dx); /* dx += */
void lscc_avgpool2d_fwd_nhwc_f32(const lscc_win2d *p, int count_include_pad, const float *x, float *y);
void lscc_avgpool2d_bwd_nhwc_f32(const lscc_win2d *p, int count_include_pad, const float *dy, float *dx); /* dx += */

/* ---- Activations (activation.c): y = f(x) elementwise over n elements ----
 * Forward overwrites y; y may be x itself (in place), but no other overlap.
 * A NaN input gives NaN. Backward: dx += f'(x) * dy, with f' taken at the
 * forward input x; at a kink it is PyTorch's (1.13) one-sided choice, noted
 * per op below, so that gradients match autograd exactly at those points. */

/* max(x, 0). f'(0) = 0 (derivative 1 only for x > 0). */
void lscc_relu_fwd_f32(size_t n, const float *x, float *y);
void lscc_relu_fwd_f64(size_t n, const double *x, double *y);
void lscc_relu_bwd_f32(size_t n, const float *x, const float *dy, float *dx);
void lscc_relu_bwd_f64(size_t n, const double *x, const double *dy, double *dx);

/* x > 0 ? x : alpha * x. f'(0) = alpha (derivative 1 only for x > 0). */
void lscc_leaky_relu_fwd_f32(size_t n, float alpha, const float *x, float *y);
void lscc_leaky_relu_fwd_f64(size_t n, double alpha, const double *x, double *y);
void lscc_leaky_relu_bwd_f32(size_t n, float alpha, const float *x, const float *dy, float *dx);
void lscc_leaky_relu_bwd_f64(size_t n, double alpha, const double *x, const double *dy, double *dx);

/* min(max(x, lo), hi) (ONNX Clip; ReLU6 is lo = 0, hi = 6); lo <= hi. The
 * derivative is 1 strictly inside (lo, hi) and 0 at x == lo, at x == hi and
 * outside: PyTorch's hardtanh / relu6. (torch.clamp differs: 1 at the ends.) */
void lscc_clip_fwd_f32(size_t n, float lo, float hi, const float *x, float *y);
void lscc_clip_fwd_f64(size_t n, double lo, double hi, const double *x, double *y);
void lscc_clip_bwd_f32(size_t n, float lo, float hi, const float *x, const float *dy, float *dx);
void lscc_clip_bwd_f64(size_t n, double lo, double hi, const double *x, const double *dy, double *dx);

/* Backward in place, for a ReLU / Clip computed in place whose input has no
 * other reader (the compiler then shares the two gradients' memory):
 * g = f'(x) * g, with f' as above (x: the forward input, or its output,
 * which has the same sign pattern). */
void lscc_relu_mask_f32(size_t n, const float *x, float *g);
void lscc_relu_mask_f64(size_t n, const double *x, double *g);
void lscc_clip_mask_f32(size_t n, float lo, float hi, const float *x, float *g);
void lscc_clip_mask_f64(size_t n, double lo, double hi, const double *x, double *g);

/* 1 / (1 + e^-x), without overflow for very negative x; f' = s * (1 - s). */
void lscc_sigmoid_fwd_f32(size_t n, const float *x, float *y);
void lscc_sigmoid_fwd_f64(size_t n, const double *x, double *y);
void lscc_sigmoid_bwd_f32(size_t n, const float *x, const float *dy, float *dx);
void lscc_sigmoid_bwd_f64(size_t n, const double *x, const double *dy, double *dx);

/* tanh(x); f' = 1 - tanh(x)^2. */
void lscc_tanh_fwd_f32(size_t n, const float *x, float *y);
void lscc_tanh_fwd_f64(size_t n, const double *x, double *y);
void lscc_tanh_bwd_f32(size_t n, const float *x, const float *dy, float *dx);
void lscc_tanh_bwd_f64(size_t n, const double *x, const double *dy, double *dx);

/* ONNX HardSigmoid: max(0, min(1, v)) with v = alpha * x + beta computed in the
 * kernel's type (alpha > 0). The derivative is alpha strictly inside
 * 0 < v < 1 and 0 elsewhere, ends included, as PyTorch's hardsigmoid (which is
 * alpha = 1/6, beta = 1/2: 0 at x = -3 and x = 3). Note: PyTorch 1.13's
 * hardsigmoid backward multiplies by float(1/6) even in float64; these kernels
 * use alpha as given. */
void lscc_hard_sigmoid_fwd_f32(size_t n, float alpha, float beta, const float *x, float *y);
void lscc_hard_sigmoid_fwd_f64(size_t n, double alpha, double beta, const double *x, double *y);
void lscc_hard_sigmoid_bwd_f32(size_t n, float alpha, float beta, const float *x, const float *dy, float *dx);
void lscc_hard_sigmoid_bwd_f64(size_t n, double alpha, double beta, const double *x, const double *dy, double *dx);

/* HardSwish: x * min(max(x + 3, 0), 6) / 6 (PyTorch's formula; ONNX's
 * x * HardSigmoid(x, 1/6, 1/2) in exact arithmetic). The derivative is
 * PyTorch's: 0 for x < -3, x / 3 + 1/2 for -3 <= x <= 3 (so -1/2 at x = -3 and
 * 3/2 at x = 3, both ends included), 1 for x > 3. (At x = 3 exactly this is
 * PyTorch's scalar CPU path and CUDA; its vectorized CPU path gives 1 there.) */
void lscc_hard_swish_fwd_f32(size_t n, const float *x, float *y);
void lscc_hard_swish_fwd_f64(size_t n, const double *x, double *y);
void lscc_hard_swish_bwd_f32(size_t n, const float *x, const float *dy, float *dx);
void lscc_hard_swish_bwd_f64(size_t n, const double *x, const double *dy, double *dx);

/* erf(x) (exported GELU is Div, Erf, Add, Mul); f' = 2 / sqrt(pi) * e^(-x^2). */
void lscc_erf_fwd_f32(size_t n, const float *x, float *y);
void lscc_erf_fwd_f64(size_t n, const double *x, double *y);
void lscc_erf_bwd_f32(size_t n, const float *x, const float *dy, float *dx);
void lscc_erf_bwd_f64(size_t n, const double *x, const double *dy, double *dx);

/* ---- Binary arithmetic (binary.c) ----
 * Same shape: y = a OP b over n elements. Per channel: y = x OP s[c] over
 * x = n x c x hw, s = [c]; a scalar second operand is the per-channel form
 * with c = 1 and hw = the elements per batch item (or n = 1, hw = all). The
 * broadcast operand is always the second; the first broadcast (s - x, s / x)
 * has no kernel. Forward overwrites y, which may be a / x (in place). Backward:
 * da / dx += dL/d(first operand) and db / ds += dL/d(second operand), ds
 * summed over n and the pixels; either gradient pointer may be NULL (not
 * wanted). Div computes a / b; a zero divisor gives inf or NaN. */
void lscc_add_fwd_f32(size_t n, const float *a, const float *b, float *y);
void lscc_add_fwd_f64(size_t n, const double *a, const double *b, double *y);
void lscc_sub_fwd_f32(size_t n, const float *a, const float *b, float *y);
void lscc_sub_fwd_f64(size_t n, const double *a, const double *b, double *y);
void lscc_mul_fwd_f32(size_t n, const float *a, const float *b, float *y);
void lscc_mul_fwd_f64(size_t n, const double *a, const double *b, double *y);
void lscc_div_fwd_f32(size_t n, const float *a, const float *b, float *y);
void lscc_div_fwd_f64(size_t n, const double *a, const double *b, double *y);

/* add: da += dy, db += dy; sub: da += dy, db -= dy. */
void lscc_add_bwd_f32(size_t n, const float *dy, float *da, float *db);
void lscc_add_bwd_f64(size_t n, const double *dy, double *da, double *db);
void lscc_sub_bwd_f32(size_t n, const float *dy, float *da, float *db);
void lscc_sub_bwd_f64(size_t n, const double *dy, double *da, double *db);
/* mul: da += dy * b, db += dy * a; div: da += dy / b, db -= dy * (a / b / b). */
void lscc_mul_bwd_f32(size_t n, const float *a, const float *b, const float *dy, float *da, float *db);
void lscc_mul_bwd_f64(size_t n, const double *a, const double *b, const double *dy, double *da, double *db);
void lscc_div_bwd_f32(size_t n, const float *a, const float *b, const float *dy, float *da, float *db);
void lscc_div_bwd_f64(size_t n, const double *a, const double *b, const double *dy, double *da, double *db);

void lscc_add_chan_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, float *y);
void lscc_add_chan_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, double *y);
void lscc_sub_chan_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, float *y);
void lscc_sub_chan_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, double *y);
void lscc_mul_chan_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, float *y);
void lscc_mul_chan_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, double *y);
void lscc_div_chan_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, float *y);
void lscc_div_chan_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, double *y);

/* As the same-shape backwards, with ds[c] getting the sum over its channel. */
void lscc_add_chan_bwd_f32(size_t n, size_t c, size_t hw, const float *dy, float *dx, float *ds);
void lscc_add_chan_bwd_f64(size_t n, size_t c, size_t hw, const double *dy, double *dx, double *ds);
void lscc_sub_chan_bwd_f32(size_t n, size_t c, size_t hw, const float *dy, float *dx, float *ds);
void lscc_sub_chan_bwd_f64(size_t n, size_t c, size_t hw, const double *dy, double *dx, double *ds);
void lscc_mul_chan_bwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, const float *dy, float *dx,
                           float *ds);
void lscc_mul_chan_bwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, const double *dy,
                           double *dx, double *ds);
void lscc_div_chan_bwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *s, const float *dy, float *dx,
                           float *ds);
void lscc_div_chan_bwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *s, const double *dy,
                           double *dx, double *ds);

/* ---- Per-channel affine (affine.c; frozen BatchNorm) ----
 * y = x * scale[c] + shift[c] over x = n x c x hw; y overwritten, may be x.
 * Backward: dx += dy * scale[c]; dscale[c] += sum of dy * x and dshift[c] +=
 * sum of dy over n and the pixels. Any of dx, dscale, dshift may be NULL. */
void lscc_affine_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale, const float *shift,
                         float *y);
void lscc_affine_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *scale, const double *shift,
                         double *y);
void lscc_affine_bwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *scale, const float *dy, float *dx,
                         float *dscale, float *dshift);
void lscc_affine_bwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *scale, const double *dy,
                         double *dx, double *dscale, double *dshift);

/* ---- BatchNorm with trainable gamma, beta and frozen statistics
 * (batchnorm.c; lscc --train-bn-affine) ----
 * y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] over x = n x c x hw.
 * Backward: dx += dy * gamma * invstd, dgamma += sum of dy * (x - mean) *
 * invstd, dbeta += sum of dy; any of dx, dgamma, dbeta may be NULL. */
void lscc_bn_fwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *gamma, const float *beta,
                     const float *mean, const float *invstd, float *y);
void lscc_bn_fwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *gamma, const double *beta,
                     const double *mean, const double *invstd, double *y);
void lscc_bn_bwd_f32(size_t n, size_t c, size_t hw, const float *x, const float *gamma, const float *mean,
                     const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
void lscc_bn_bwd_f64(size_t n, size_t c, size_t hw, const double *x, const double *gamma, const double *mean,
                     const double *invstd, const double *dy, double *dx, double *dgamma, double *dbeta);

/* ---- LayerNorm over channels (layernorm.c; ConvNeXt's LayerNorm2d) ----
 * At every pixel of x = n x c x hw, over its c channels:
 *   y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c],
 * var the biased variance (divided by c), as PyTorch's layer_norm over the
 * channel axis. gamma == NULL means 1, beta == NULL means 0. y overwritten, may
 * be x. The statistics are recomputed from x in backward (nothing saved).
 * Backward: dx += dL/dx; dgamma[c] += sum of dy * (x - mean) / sqrt(var + eps)
 * and dbeta[c] += sum of dy over n and the pixels. Any of dx, dgamma, dbeta may
 * be NULL. */
void lscc_layernorm2d_fwd_f32(size_t n, size_t c, size_t hw, float eps, const float *x, const float *gamma,
                              const float *beta, float *y);
void lscc_layernorm2d_fwd_f64(size_t n, size_t c, size_t hw, double eps, const double *x, const double *gamma,
                              const double *beta, double *y);
void lscc_layernorm2d_bwd_f32(size_t n, size_t c, size_t hw, float eps, const float *x, const float *gamma,
                              const float *dy, float *dx, float *dgamma, float *dbeta);
void lscc_layernorm2d_bwd_f64(size_t n, size_t c, size_t hw, double eps, const double *x, const double *gamma,
                              const double *dy, double *dx, double *dgamma, double *dbeta);

/* ---- Head and layout ops ----
 * The ops after the backbone (the head works on whole tensors, not tiles) and
 * the copies that Concat, channel slices and Pad need on tile regions. Same
 * rules as above: forward overwrites its output, backward ACCUMULATES (+=)
 * into every gradient, gradient pointers documented as optional may be NULL,
 * and no buffers overlap unless said. Reductions (means, dot products, dC)
 * are summed in double in both types, so the float kernels lose nothing to
 * long sums over a whole image or a wide Gemm. */

/* Global average pool (global_avgpool.c; GlobalAveragePool, ReduceMean over H
 * and W): y[m] = mean of x[m * hw .. (m + 1) * hw) for m < nc, where nc is
 * batch x channels and hw >= 1 the pixels. Backward: dx += dy[m] / hw over
 * each pixel of m. */
void lscc_global_avgpool_fwd_f32(size_t nc, size_t hw, const float *x, float *y);
void lscc_global_avgpool_fwd_f64(size_t nc, size_t hw, const double *x, double *y);
void lscc_global_avgpool_bwd_f32(size_t nc, size_t hw, const float *dy, float *dx);
void lscc_global_avgpool_bwd_f64(size_t nc, size_t hw, const double *dy, double *dx);

/* ONNX Gemm (gemm.c): Y = alpha * A' B' + beta * C, Y m x n, row-major.
 * A' = A (stored m x k) or, with trans_a, A^T (A stored k x m); B' = B (k x n)
 * or, with trans_b, B^T (B stored n x k): transposes are read in place, never
 * copied. C is optional (NULL: Y = alpha * A' B'); it is cm x cn with cm 1 or
 * m and cn 1 or n, broadcast over the dimension that is 1: a scalar is 1 x 1,
 * ONNX's [n] is 1 x n, and [m, 1], [1, n], [m, n] are themselves. */
typedef struct lscc_gemm {
    size_t m, n, k;
    int trans_a, trans_b;
    size_t cm, cn;
    double alpha, beta; /* used in the kernel's type */
} lscc_gemm;

void lscc_gemm_fwd_f32(const lscc_gemm *g, const float *a, const float *b, const float *c, float *y);
void lscc_gemm_fwd_f64(const lscc_gemm *g, const double *a, const double *b, const double *c, double *y);

/* da += dL/dA, db += dL/dB (in A's and B's own stored layout, transposes
 * included), dc += dL/dC = beta * dy summed over the rows and columns C was
 * broadcast over (cm x cn). Each of da, db, dc may be NULL (not wanted). The
 * forward output is not needed: backward takes the forward inputs a and b. */
void lscc_gemm_bwd_f32(const lscc_gemm *g, const float *a, const float *b, const float *dy, float *da, float *db,
                       float *dc);
void lscc_gemm_bwd_f64(const lscc_gemm *g, const double *a, const double *b, const double *dy, double *da,
                       double *db, double *dc);

/* MatMul (matmul.c): y[t] = a[t] b[t] for t < batch, a[t] m x k, b[t] k x n,
 * y[t] m x n, all contiguous (batch = 1: the 2-D MatMul). A batched left
 * operand against one shared right one ([batch, m, k] x [k, n]) is the 2-D
 * product (batch * m) x k times k x n: call it that way. Backward: da +=
 * dy b^T, db += a^T dy per batch item; da or db may be NULL. */
void lscc_matmul_fwd_f32(size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b, float *y);
void lscc_matmul_fwd_f64(size_t batch, size_t m, size_t k, size_t n, const double *a, const double *b, double *y);
void lscc_matmul_bwd_f32(size_t batch, size_t m, size_t k, size_t n, const float *a, const float *b, const float *dy,
                         float *da, float *db);
void lscc_matmul_bwd_f64(size_t batch, size_t m, size_t k, size_t n, const double *a, const double *b,
                         const double *dy, double *da, double *db);

/* Softmax over the last axis (softmax.c): x is outer rows of len contiguous
 * elements (ONNX Softmax with axis = last; opset < 13's flattening is the same
 * call with len = the product of the trailing dims). y = exp(x - max) / sum,
 * the row maximum subtracted first so that large inputs do not overflow; y
 * may be x (in place). Backward takes the forward INPUT x like the pointwise
 * kernels and recomputes y (nothing saved): dx += y * (dy - sum(dy * y)). */
void lscc_softmax_fwd_f32(size_t outer, size_t len, const float *x, float *y);
void lscc_softmax_fwd_f64(size_t outer, size_t len, const double *x, double *y);
void lscc_softmax_bwd_f32(size_t outer, size_t len, const float *x, const float *dy, float *dx);
void lscc_softmax_bwd_f64(size_t outer, size_t len, const double *x, const double *dy, double *dx);

/* Copy of a block between NCHW buffers (copy_region.c), for Concat along
 * channels (each input written into its channel range of the output), channel
 * slices (Split, Slice), and cutting a tile's region out of a larger one: the
 * block is n x c x dst_h x dst_w. It is read from channels [src_c0, src_c0 +
 * c) of src (n x src_c x src_h x src_w) at rows [src_y0, src_y0 + dst_h) and
 * columns [src_x0, src_x0 + dst_w), which must lie inside src; it is written
 * to channels [dst_c0, dst_c0 + c) of dst (n x dst_c x dst_h x dst_w), whose
 * other channels are left as they are. Backward of the copy: dsrc += the
 * block of ddst, into the same place of dsrc; the rest of dsrc is untouched. */
typedef struct lscc_region_copy {
    size_t n, c;
    size_t src_c, src_c0, src_h, src_w, src_y0, src_x0;
    size_t dst_c, dst_c0, dst_h, dst_w;
} lscc_region_copy;

void lscc_copy_region_f32(const lscc_region_copy *r, const float *src, float *dst);
void lscc_copy_region_f64(const lscc_region_copy *r, const double *src, double *dst);
void lscc_copy_region_acc_f32(const lscc_region_copy *r, const float *ddst, float *dsrc);
void lscc_copy_region_acc_f64(const lscc_region_copy *r, const double *ddst, double *dsrc);

/* Constant Pad of H and W (pad2d.c): x (n x c x h x w) sits at rows [pt, pt +
 * h) and columns [pl, pl + w) of y (n x c x oh x ow, pt + h <= oh, pl + w <=
 * ow); every other position of y is fill. On a tile, x is the part of the
 * input inside the tile's output region and pt, pl the padding rows and
 * columns the region starts with (0 away from the border). Negative pads
 * (crops) are copies: lscc_copy_region. Backward: dx += the inner part of dy
 * (the fill is a constant, it has no gradient). */
typedef struct lscc_pad2d {
    size_t n, c, h, w, oh, ow, pt, pl;
} lscc_pad2d;

void lscc_pad2d_fwd_f32(const lscc_pad2d *p, float fill, const float *x, float *y);
void lscc_pad2d_fwd_f64(const lscc_pad2d *p, double fill, const double *x, double *y);
void lscc_pad2d_bwd_f32(const lscc_pad2d *p, const float *dy, float *dx);
void lscc_pad2d_bwd_f64(const lscc_pad2d *p, const double *dy, double *dx);

#ifdef __cplusplus
}
#endif
#endif
