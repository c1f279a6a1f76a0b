/* Elementwise Add, Sub, Mul, Div: same-shape operands, and a second operand
 * broadcast per channel over NCHW (contract in lscc_kernels.h). The file
 * includes itself once per type (T, S); the bodies are after the #else.
 *
 * The per-channel gradients are summed over n and the pixels in a local before
 * they are added to ds, as the convolution's bias gradient is. */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "binary.c"
#undef T
#undef S
#define T double
#define S f64
#include "binary.c"
#undef T
#undef S

#else

/* ---- same shape ---- */

void FN(lscc_add_fwd)(size_t n, const T *a, const T *b, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void FN(lscc_sub_fwd)(size_t n, const T *a, const T *b, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i];
}

void FN(lscc_mul_fwd)(size_t n, const T *a, const T *b, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

void FN(lscc_div_fwd)(size_t n, const T *a, const T *b, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = a[i] / b[i];
}

void FN(lscc_add_bwd)(size_t n, const T *dy, T *da, T *db) {
    if (da)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dy[i];
    if (db)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) db[i] += dy[i];
}

void FN(lscc_sub_bwd)(size_t n, const T *dy, T *da, T *db) {
    if (da)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dy[i];
    if (db)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) db[i] -= dy[i];
}

void FN(lscc_mul_bwd)(size_t n, const T *a, const T *b, const T *dy, T *da, T *db) {
    if (da)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dy[i] * b[i];
    if (db)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) db[i] += dy[i] * a[i];
}

void FN(lscc_div_bwd)(size_t n, const T *a, const T *b, const T *dy, T *da, T *db) {
    if (da)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dy[i] / b[i];
    if (db)
        LSCC_PAR_FOR(n)
        for (size_t i = 0; i < n; i++) db[i] -= dy[i] * (a[i] / b[i] / b[i]);
}

/* ---- second operand per channel: x is [n, c, hw], s is [c] ---- */

void FN(lscc_add_chan_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, T *y) {
    LSCC_PAR_PLANES(n * c, hw)
    for (size_t m = 0; m < n * c; m++) {
        const T v = s[m % c];
        for (size_t k = m * hw; k < (m + 1) * hw; k++) y[k] = x[k] + v;
    }
}

void FN(lscc_sub_chan_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, T *y) {
    LSCC_PAR_PLANES(n * c, hw)
    for (size_t m = 0; m < n * c; m++) {
        const T v = s[m % c];
        for (size_t k = m * hw; k < (m + 1) * hw; k++) y[k] = x[k] - v;
    }
}

void FN(lscc_mul_chan_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, T *y) {
    LSCC_PAR_PLANES(n * c, hw)
    for (size_t m = 0; m < n * c; m++) {
        const T v = s[m % c];
        for (size_t k = m * hw; k < (m + 1) * hw; k++) y[k] = x[k] * v;
    }
}

void FN(lscc_div_chan_fwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, T *y) {
    LSCC_PAR_PLANES(n * c, hw)
    for (size_t m = 0; m < n * c; m++) {
        const T v = s[m % c];
        for (size_t k = m * hw; k < (m + 1) * hw; k++) y[k] = x[k] / v;
    }
}

/* Sum of dy over n and the pixels of channel ch. */
static T FN(chan_sum)(size_t n, size_t c, size_t hw, size_t ch, const T *dy) {
    T sum = 0;
    for (size_t b = 0; b < n; b++) {
        const T *d = dy + (b * c + ch) * hw;
        for (size_t k = 0; k < hw; k++) sum += d[k];
    }
    return sum;
}

/* Sum of dy * x over n and the pixels of channel ch. */
static T FN(chan_dot)(size_t n, size_t c, size_t hw, size_t ch, const T *x, const T *dy) {
    T sum = 0;
    for (size_t b = 0; b < n; b++) {
        const size_t o = (b * c + ch) * hw;
        for (size_t k = 0; k < hw; k++) sum += dy[o + k] * x[o + k];
    }
    return sum;
}

void FN(lscc_add_chan_bwd)(size_t n, size_t c, size_t hw, const T *dy, T *dx, T *ds) {
    if (dx)
        for (size_t k = 0; k < n * c * hw; k++) dx[k] += dy[k];
    if (ds)
        for (size_t ch = 0; ch < c; ch++) ds[ch] += FN(chan_sum)(n, c, hw, ch, dy);
}

void FN(lscc_sub_chan_bwd)(size_t n, size_t c, size_t hw, const T *dy, T *dx, T *ds) {
    if (dx)
        for (size_t k = 0; k < n * c * hw; k++) dx[k] += dy[k];
    if (ds)
        for (size_t ch = 0; ch < c; ch++) ds[ch] -= FN(chan_sum)(n, c, hw, ch, dy);
}

void FN(lscc_mul_chan_bwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, const T *dy, T *dx, T *ds) {
    if (dx)
        for (size_t m = 0; m < n * c; m++) {
            const T v = s[m % c];
            for (size_t k = m * hw; k < (m + 1) * hw; k++) dx[k] += dy[k] * v;
        }
    if (ds)
        for (size_t ch = 0; ch < c; ch++) ds[ch] += FN(chan_dot)(n, c, hw, ch, x, dy);
}

/* d(x / s)/ds = -x / s^2: ds gets -(sum of dy * x) / s / s. */
void FN(lscc_div_chan_bwd)(size_t n, size_t c, size_t hw, const T *x, const T *s, const T *dy, T *dx, T *ds) {
    if (dx)
        for (size_t m = 0; m < n * c; m++) {
            const T v = s[m % c];
            for (size_t k = m * hw; k < (m + 1) * hw; k++) dx[k] += dy[k] / v;
        }
    if (ds)
        for (size_t ch = 0; ch < c; ch++) ds[ch] -= FN(chan_dot)(n, c, hw, ch, x, dy) / s[ch] / s[ch];
}

#endif
