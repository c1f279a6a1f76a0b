/* Elementwise activations: forward and backward (contract and conventions in
 * lscc_kernels.h). The file includes itself once per type (T, S); the bodies
 * are after the #else. Every backward recomputes what it needs from the
 * forward input x (no saved output). */
#ifndef T
#include <stddef.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

#define T float
#define S f32
#include "activation.c"
#undef T
#undef S
#define T double
#define S f64
#include "activation.c"
#undef T
#undef S

#else

/* 1 / (1 + e^-v) without overflow of e^-v for v very negative. */
static T FN(sigmoid1)(T v) {
    if (v >= 0) return 1 / (1 + FN(lscc_exp)(-v));
    const T e = FN(lscc_exp)(v);
    return e / (1 + e);
}

void FN(lscc_relu_fwd)(size_t n, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

void FN(lscc_relu_bwd)(size_t n, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++)
        dx[i] += x[i] > 0 ? dy[i] : (T)0; /* a select, so the loop vectorizes */
}

void FN(lscc_relu_mask)(size_t n, const T *x, T *g) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) g[i] = x[i] > 0 ? g[i] : (T)0;
}

void FN(lscc_clip_mask)(size_t n, T lo, T hi, const T *x, T *g) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) g[i] = x[i] > lo && x[i] < hi ? g[i] : (T)0;
}

void FN(lscc_leaky_relu_fwd)(size_t n, T alpha, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
}

void FN(lscc_leaky_relu_bwd)(size_t n, T alpha, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : alpha * dy[i];
}

void FN(lscc_clip_fwd)(size_t n, T lo, T hi, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

void FN(lscc_clip_bwd)(size_t n, T lo, T hi, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++)
        if (x[i] > lo && x[i] < hi) dx[i] += dy[i];
}

void FN(lscc_sigmoid_fwd)(size_t n, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = FN(sigmoid1)(x[i]);
}

void FN(lscc_sigmoid_bwd)(size_t n, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T s = FN(sigmoid1)(x[i]);
        dx[i] += dy[i] * s * (1 - s);
    }
}

void FN(lscc_tanh_fwd)(size_t n, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = FN(lscc_tanh)(x[i]);
}

void FN(lscc_tanh_bwd)(size_t n, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T t = FN(lscc_tanh)(x[i]);
        dx[i] += dy[i] * (1 - t * t);
    }
}

void FN(lscc_hard_sigmoid_fwd)(size_t n, T alpha, T beta, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T v = alpha * x[i] + beta;
        y[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
}

void FN(lscc_hard_sigmoid_bwd)(size_t n, T alpha, T beta, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T v = alpha * x[i] + beta;
        if (v > 0 && v < 1) dx[i] += alpha * dy[i];
    }
}

void FN(lscc_hard_swish_fwd)(size_t n, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T v = x[i], r = v + 3;
        y[i] = v * (r < 0 ? 0 : r > 6 ? 6 : r) / 6;
    }
}

void FN(lscc_hard_swish_bwd)(size_t n, const T *x, const T *dy, T *dx) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) {
        const T v = x[i];
        if (v > 3) dx[i] += dy[i];
        else if (v >= -3) dx[i] += dy[i] * (v / 3 + (T)0.5);
    }
}

void FN(lscc_erf_fwd)(size_t n, const T *x, T *y) {
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) y[i] = FN(lscc_erf)(x[i]);
}

/* erf'(v) = 2 / sqrt(pi) * e^(-v^2). */
void FN(lscc_erf_bwd)(size_t n, const T *x, const T *dy, T *dx) {
    const T k = (T)1.12837916709551257390;
    LSCC_PAR_FOR(n)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * k * FN(lscc_exp)(-x[i] * x[i]);
}

#endif
