/* Activations on the GPU (lscc_cuda.h; CPU twins in kernels/cpu/activation.c):
 * relu, leaky_relu, clip, sigmoid, tanh, hard_sigmoid, hard_swish and erf,
 * forward and backward, with the CPU's formulas and kink rules. One kernel
 * template per direction, the op a template constant. A product that the CPU
 * rounds before adding goes through mulr (__fmul_rn / __dmul_rn), which nvcc
 * never fuses into an FMA: the CPU build never fuses either, so the
 * piecewise-linear ops give the CPU's bits. */
#include "cu_device.cuh"


static __device__ inline float exp_(float v) { return expf(v); }
static __device__ inline double exp_(double v) { return exp(v); }
static __device__ inline float tanh_(float v) { return tanhf(v); }
static __device__ inline double tanh_(double v) { return tanh(v); }
static __device__ inline float erf_(float v) { return erff(v); }
static __device__ inline double erf_(double v) { return erf(v); }

enum { RELU, LEAKY, CLIP, SIGMOID, TANH, HSIG, HSWISH, ERF };

/* 1 / (1 + e^-v) without overflow of e^-v for v very negative. */
template <typename T> static __device__ T sigmoid1(T v) {
    if (v >= 0) return 1 / (1 + exp_(-v));
    const T e = exp_(v);
    return e / (1 + e);
}

/* f(v); a, b are the op's parameters (alpha; lo, hi; alpha, beta). */
template <typename T, int OP> static __device__ T act(T v, T a, T b) {
    switch (OP) {
    case RELU: return v < 0 ? 0 : v;
    case LEAKY: return v > 0 ? v : a * v;
    case CLIP: return v < a ? a : v > b ? b : v;
    case SIGMOID: return sigmoid1(v);
    case TANH: return tanh_(v);
    case HSIG: {
        const T u = mulr(a, v) + b;
        return u < 0 ? 0 : u > 1 ? 1 : u;
    }
    case HSWISH: {
        const T r = v + 3;
        return v * (r < 0 ? 0 : r > 6 ? 6 : r) / 6;
    }
    default: return erf_(v);
    }
}

/* *g = f'(v) * d; false where the CPU adds nothing (kinks, flat parts). */
template <typename T, int OP> static __device__ bool grad(T v, T a, T b, T d, T *g) {
    switch (OP) {
    case RELU: *g = d; return v > 0;
    case LEAKY: *g = v > 0 ? d : mulr(a, d); return true;
    case CLIP: *g = d; return v > a && v < b;
    case SIGMOID: {
        const T s = sigmoid1(v);
        *g = mulr(mulr(d, s), 1 - s);
        return true;
    }
    case TANH: {
        const T t = tanh_(v);
        *g = mulr(d, 1 - mulr(t, t));
        return true;
    }
    case HSIG: {
        const T u = mulr(a, v) + b;
        *g = mulr(a, d);
        return u > 0 && u < 1;
    }
    case HSWISH: *g = v > 3 ? d : mulr(d, v / 3 + (T)0.5); return v >= -3;
    default: *g = mulr(mulr(d, (T)1.12837916709551257390), exp_(mulr(-v, v))); return true; /* 2/sqrt(pi) */
    }
}

template <typename T, int OP> static __global__ void act_fwd(size_t n, T a, T b, const T *x, T *y) {
    LOOP(i, n) y[i] = act<T, OP>(x[i], a, b);
}

template <typename T, int OP> static __global__ void act_bwd(size_t n, T a, T b, const T *x, const T *dy, T *dx) {
    LOOP(i, n) {
        T g;
        if (grad<T, OP>(x[i], a, b, dy[i], &g)) dx[i] += g;
    }
}

template <typename T, int OP> static void fwd(lscc_cu *cu, const char *what, size_t n, T a, T b, const T *x, T *y) {
    if (!LSCC_CU_READY(cu) || !n) return;
    act_fwd<T, OP><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, a, b, x, y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T, int OP>
static void bwd(lscc_cu *cu, const char *what, size_t n, T a, T b, const T *x, const T *dy, T *dx) {
    if (!LSCC_CU_READY(cu) || !n) return;
    act_bwd<T, OP><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, a, b, x, dy, dx);
    LSCC_CU_LAUNCHED(cu, what);
}

/* The four entry points of an op; P(T) is its parameter list between n and
 * x (with the commas), A and B what becomes a and b. */
#define ACT(name, OP, P, A, B)                                                                                       \
    extern "C" void lscc_cu_##name##_fwd_f32(lscc_cu *cu, size_t n P(float) const float *x, float *y) {            \
        fwd<float, OP>(cu, "lscc_cu_" #name "_fwd_f32", n, A, B, x, y);                                            \
    }                                                                                                                \
    extern "C" void lscc_cu_##name##_fwd_f64(lscc_cu *cu, size_t n P(double) const double *x, double *y) {         \
        fwd<double, OP>(cu, "lscc_cu_" #name "_fwd_f64", n, A, B, x, y);                                           \
    }                                                                                                                \
    extern "C" void lscc_cu_##name##_bwd_f32(lscc_cu *cu, size_t n P(float) const float *x, const float *dy,       \
                                             float *dx) {                                                            \
        bwd<float, OP>(cu, "lscc_cu_" #name "_bwd_f32", n, A, B, x, dy, dx);                                       \
    }                                                                                                                \
    extern "C" void lscc_cu_##name##_bwd_f64(lscc_cu *cu, size_t n P(double) const double *x, const double *dy,    \
                                             double *dx) {                                                           \
        bwd<double, OP>(cu, "lscc_cu_" #name "_bwd_f64", n, A, B, x, dy, dx);                                      \
    }
#define NONE(T) ,
#define ALPHA(T) , T alpha,
#define LOHI(T) , T lo, T hi,
#define ALBE(T) , T alpha, T beta,

/* In-place backward (lscc_relu_mask_f32 and lscc_clip_mask_f32 in
 * lscc_kernels.h): g = f'(x) * g. */
template <typename T, int OP> static __global__ void act_mask(size_t n, T a, T b, const T *x, T *g) {
    LOOP(i, n) {
        T d;
        g[i] = grad<T, OP>(x[i], a, b, g[i], &d) ? d : (T)0;
    }
}

template <typename T, int OP> static void mask(lscc_cu *cu, const char *what, size_t n, T a, T b, const T *x, T *g) {
    if (!LSCC_CU_READY(cu) || !n) return;
    act_mask<T, OP><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, a, b, x, g);
    LSCC_CU_LAUNCHED(cu, what);
}

extern "C" void lscc_cu_relu_mask_f32(lscc_cu *cu, size_t n, const float *x, float *g) {
    mask<float, RELU>(cu, "lscc_cu_relu_mask_f32", n, 0, 0, x, g);
}
extern "C" void lscc_cu_relu_mask_f64(lscc_cu *cu, size_t n, const double *x, double *g) {
    mask<double, RELU>(cu, "lscc_cu_relu_mask_f64", n, 0, 0, x, g);
}
extern "C" void lscc_cu_clip_mask_f32(lscc_cu *cu, size_t n, float lo, float hi, const float *x, float *g) {
    mask<float, CLIP>(cu, "lscc_cu_clip_mask_f32", n, lo, hi, x, g);
}
extern "C" void lscc_cu_clip_mask_f64(lscc_cu *cu, size_t n, double lo, double hi, const double *x, double *g) {
    mask<double, CLIP>(cu, "lscc_cu_clip_mask_f64", n, lo, hi, x, g);
}

ACT(relu, RELU, NONE, 0, 0)
ACT(leaky_relu, LEAKY, ALPHA, alpha, 0)
ACT(clip, CLIP, LOHI, lo, hi)
ACT(sigmoid, SIGMOID, NONE, 0, 0)
ACT(tanh, TANH, NONE, 0, 0)
ACT(hard_sigmoid, HSIG, ALBE, alpha, beta)
ACT(hard_swish, HSWISH, NONE, 0, 0)
ACT(erf, ERF, NONE, 0, 0)
