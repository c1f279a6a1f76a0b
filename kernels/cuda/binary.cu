/* Add, Sub, Mul, Div on the GPU (lscc_cuda.h; CPU twins in
 * kernels/cpu/binary.c): same-shape operands, and the second operand
 * broadcast per channel (x = n x c x hw, s = [c]), forward and backward.
 * The per-channel gradient ds is one block per channel: each thread sums a
 * fixed stride of the channel's n * hw elements in double, then a fixed-order
 * shared-memory tree, then ds[c] += (no atomics: bit-equal from run to run).
 * Products the CPU rounds before adding go through mulr (no FMA). */
#include "cu_device.cuh"



/* Fixed-order tree sum over the block (blockDim.x == RED_T), returned to every thread. */
static __device__ double block_sum(double v, double *sh) {
    const unsigned t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned s = RED_T / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
    v = sh[0];
    __syncthreads();
    return v;
}

static unsigned red_blocks(size_t c) { return (unsigned)(c < 65535 ? c : 65535); }

enum { ADD, SUB, MUL, DIV };

template <typename T, int OP> static __device__ inline T binop(T a, T b) {
    return OP == ADD ? a + b : OP == SUB ? a - b : OP == MUL ? a * b : a / b;
}

template <typename T, int OP> static __global__ void bin_fwd(size_t n, const T *a, const T *b, T *y) {
    LOOP(i, n) y[i] = binop<T, OP>(a[i], b[i]);
}

/* add: da += dy, db += dy; sub: db -= dy; mul: da += dy * b, db += dy * a;
 * div: da += dy / b, db -= dy * (a / b / b). a and b are unread for add / sub. */
template <typename T, int OP>
static __global__ void bin_bwd(size_t n, const T *a, const T *b, const T *dy, T *da, T *db) {
    LOOP(i, n) {
        const T d = dy[i];
        if (da) da[i] += OP == MUL ? mulr(d, b[i]) : OP == DIV ? d / b[i] : d;
        if (!db) continue;
        if (OP == ADD) db[i] += d;
        else if (OP == SUB) db[i] -= d;
        else if (OP == MUL) db[i] += mulr(d, a[i]);
        else db[i] -= mulr(d, a[i] / b[i] / b[i]);
    }
}

template <typename T, int OP>
static __global__ void chan_fwd(size_t total, size_t c, size_t hw, const T *x, const T *s, T *y) {
    LOOP(i, total) y[i] = binop<T, OP>(x[i], s[i / hw % c]);
}

template <typename T, int OP>
static __global__ void chan_bwd_dx(size_t total, size_t c, size_t hw, const T *s, const T *dy, T *dx) {
    LOOP(i, total) {
        const T d = dy[i];
        dx[i] += OP == MUL ? mulr(d, s[i / hw % c]) : OP == DIV ? d / s[i / hw % c] : d;
    }
}

/* ds[ch] (+= or -=) the sum over n and the pixels of channel ch of dy (add,
 * sub) or dy * x (mul; div then divides by s[ch] twice). */
template <typename T, int OP>
static __global__ void __launch_bounds__(RED_T)
    chan_ds(size_t n, size_t c, size_t hw, const T *x, const T *s, const T *dy, T *ds) {
    __shared__ double sh[RED_T];
    const size_t m = n * hw;
    for (size_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        double acc = 0;
#pragma unroll 4
        for (size_t j = threadIdx.x; j < m; j += RED_T) {
            const size_t o = (j / hw * c + ch) * hw + j % hw;
            acc += OP == ADD || OP == SUB ? (double)dy[o] : (double)dy[o] * (double)x[o];
        }
        acc = block_sum(acc, sh);
        if (threadIdx.x) continue;
        T v = (T)acc;
        if (OP == DIV) v = v / s[ch] / s[ch];
        ds[ch] = OP == SUB || OP == DIV ? ds[ch] - v : ds[ch] + v;
    }
}

template <typename T, int OP> static void fwd(lscc_cu *cu, const char *what, size_t n, const T *a, const T *b, T *y) {
    if (!LSCC_CU_READY(cu) || !n) return;
    bin_fwd<T, OP><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, a, b, y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T, int OP>
static void bwd(lscc_cu *cu, const char *what, size_t n, const T *a, const T *b, const T *dy, T *da, T *db) {
    if (!LSCC_CU_READY(cu) || !n || (!da && !db)) return;
    bin_bwd<T, OP><<<lscc_cu_blocks(n), LSCC_CU_THREADS, 0, cu->stream>>>(n, a, b, dy, da, db);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T, int OP>
static void cfwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *s, T *y) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    chan_fwd<T, OP><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, x, s, y);
    LSCC_CU_LAUNCHED(cu, what);
}

template <typename T, int OP>
static void cbwd(lscc_cu *cu, const char *what, size_t n, size_t c, size_t hw, const T *x, const T *s, const T *dy,
                 T *dx, T *ds) {
    const size_t total = n * c * hw;
    if (!LSCC_CU_READY(cu) || !total) return;
    if (dx) {
        chan_bwd_dx<T, OP><<<lscc_cu_blocks(total), LSCC_CU_THREADS, 0, cu->stream>>>(total, c, hw, s, dy, dx);
        LSCC_CU_LAUNCHED(cu, what);
    }
    if (ds) {
        chan_ds<T, OP><<<red_blocks(c), RED_T, 0, cu->stream>>>(n, c, hw, x, s, dy, ds);
        LSCC_CU_LAUNCHED(cu, what);
    }
}

#define BIN(op, OP)                                                                                                  \
    extern "C" void lscc_cu_##op##_fwd_f32(lscc_cu *cu, size_t n, const float *a, const float *b, float *y) {        \
        fwd<float, OP>(cu, "lscc_cu_" #op "_fwd_f32", n, a, b, y);                                                   \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_fwd_f64(lscc_cu *cu, size_t n, const double *a, const double *b, double *y) {     \
        fwd<double, OP>(cu, "lscc_cu_" #op "_fwd_f64", n, a, b, y);                                                  \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_fwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x,          \
                                                const float *s, float *y) {                                          \
        cfwd<float, OP>(cu, "lscc_cu_" #op "_chan_fwd_f32", n, c, hw, x, s, y);                                      \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_fwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x,         \
                                                const double *s, double *y) {                                        \
        cfwd<double, OP>(cu, "lscc_cu_" #op "_chan_fwd_f64", n, c, hw, x, s, y);                                     \
    }
BIN(add, ADD)
BIN(sub, SUB)
BIN(mul, MUL)
BIN(div, DIV)

/* Backward of add / sub: no operands. */
#define BWD_DY(op, OP)                                                                                               \
    extern "C" void lscc_cu_##op##_bwd_f32(lscc_cu *cu, size_t n, const float *dy, float *da, float *db) {           \
        bwd<float, OP>(cu, "lscc_cu_" #op "_bwd_f32", n, NULL, NULL, dy, da, db);                                    \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_bwd_f64(lscc_cu *cu, size_t n, const double *dy, double *da, double *db) {        \
        bwd<double, OP>(cu, "lscc_cu_" #op "_bwd_f64", n, NULL, NULL, dy, da, db);                                   \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *dy,         \
                                                float *dx, float *ds) {                                              \
        cbwd<float, OP>(cu, "lscc_cu_" #op "_chan_bwd_f32", n, c, hw, NULL, NULL, dy, dx, ds);                       \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *dy,        \
                                                double *dx, double *ds) {                                            \
        cbwd<double, OP>(cu, "lscc_cu_" #op "_chan_bwd_f64", n, c, hw, NULL, NULL, dy, dx, ds);                      \
    }
BWD_DY(add, ADD)
BWD_DY(sub, SUB)

/* Backward of mul / div: both operands. */
#define BWD_AB(op, OP)                                                                                               \
    extern "C" void lscc_cu_##op##_bwd_f32(lscc_cu *cu, size_t n, const float *a, const float *b, const float *dy,   \
                                           float *da, float *db) {                                                   \
        bwd<float, OP>(cu, "lscc_cu_" #op "_bwd_f32", n, a, b, dy, da, db);                                          \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_bwd_f64(lscc_cu *cu, size_t n, const double *a, const double *b,                  \
                                           const double *dy, double *da, double *db) {                               \
        bwd<double, OP>(cu, "lscc_cu_" #op "_bwd_f64", n, a, b, dy, da, db);                                         \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_bwd_f32(lscc_cu *cu, size_t n, size_t c, size_t hw, const float *x,          \
                                                const float *s, const float *dy, float *dx, float *ds) {             \
        cbwd<float, OP>(cu, "lscc_cu_" #op "_chan_bwd_f32", n, c, hw, x, s, dy, dx, ds);                             \
    }                                                                                                                \
    extern "C" void lscc_cu_##op##_chan_bwd_f64(lscc_cu *cu, size_t n, size_t c, size_t hw, const double *x,         \
                                                const double *s, const double *dy, double *dx, double *ds) {         \
        cbwd<double, OP>(cu, "lscc_cu_" #op "_chan_bwd_f64", n, c, hw, x, s, dy, dx, ds);                            \
    }
BWD_AB(mul, MUL)
BWD_AB(div, DIV)
