/* 2-D convolution through cuDNN's convolution API, forward, backward data
 * and backward filter, float and double (contracts in lscc_kernels.h and
 * lscc_cuda.h).
 *
 * cuDNN pads symmetrically and wants exactly the output size its formula
 * gives, while a tile's window may start before the buffer (pt > 0), inside
 * it (pt < 0), and end anywhere. Per dimension the rows read are [lo, hi)
 * (lo = -pt); the DIRECT path describes x (or dx) as a strided view of the
 * caller's buffer starting at max(lo, 0), with symmetric pad max(pt, 0) and a
 * length chosen so that cuDNN gives exactly oh (ow) outputs and sees every
 * real row read. When no such length exists (typically a border tile with
 * stride 1: padding on one side only), or cuDNN takes no algorithm for the
 * view (when choosing, or when it runs), the PADDED path copies [lo, hi) x [clo, chi) into a zero-padded
 * packed buffer at the start of the context's workspace and convolves that
 * with pad 0 (backward data: into that buffer, then added back to dx).
 *
 * The path and the algorithm (cuDNN's heuristics, no timing runs; only
 * deterministic ones when the context is; FMA math for float so that no
 * TF32 creeps in) are chosen once per key and kept in cu->algos. The bias
 * and its gradient are small kernels of our own (the gradient summed in
 * double, in a fixed order). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cu_impl.h"

enum { FWD, BWD_DATA, BWD_FILTER };
enum { DIRECT = 1, PADDED = 2 };
static const size_t WS_CAP = (size_t)1 << 30; /* the most workspace an algorithm may ask for */
static const size_t ALIGN = 256;
static const char *const pass_name[] = {"forward", "backward data", "backward filter"};

static_assert(sizeof(lscc_win2d) == 18 * sizeof(int), "lscc_win2d is the first 18 ints of a key");

/* One dimension of the window: positions read and the direct view. */
typedef struct span {
    int lo, hi;  /* positions read, padding included: [lo, hi) */
    int v0, len; /* DIRECT: the view [v0, v0 + len) of the buffer ... */
    int pad;     /* ... padded by this much on both sides */
    int need;    /* real positions read from v0 on; <= 0: none */
    int direct;  /* the DIRECT view exists */
} span;

/* n real positions, on outputs, stride s, leading pad p0, kernel k,
 * dilation d. cuDNN gives floor((len + 2 pad - ext) / s) + 1 outputs, which
 * is on exactly for len in [L, L + s - 1], L = (on - 1) s + ext - 2 pad; len
 * must also cover the real positions read (need) and stay in the buffer. */
static void plan(int n, int on, int s, int p0, int k, int d, span *r) {
    const int ext = (k - 1) * d + 1;
    r->lo = -p0;
    r->hi = (on - 1) * s - p0 + ext;
    r->v0 = r->lo > 0 ? r->lo : 0;
    r->pad = r->v0 - r->lo;
    const int read = r->hi - r->v0, avail = n - r->v0, L = read - r->pad;
    r->need = read < avail ? read : avail;
    int a = L > r->need ? L : r->need;
    if (a < 1) a = 1;
    const int b = L + s - 1 < avail ? L + s - 1 : avail;
    r->len = a;
    r->direct = r->need > 0 && a <= b;
}

/* ---- small kernels ---- */

#define GRID_STRIDE(i, n)                                                                                            \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* xp (nc x hp x wp) = x (nc x h x w) at rows [lo, lo + hp), columns
 * [clo, clo + wp), zero outside x. */
template <typename T>
__global__ void pad_copy(size_t total, int h, int w, int hp, int wp, int lo, int clo, const T *x, T *xp) {
    GRID_STRIDE(i, total) {
        const size_t t = i / (size_t)wp, nc = t / (size_t)hp;
        const long long r = (long long)(t % (size_t)hp) + lo, q = (long long)(i % (size_t)wp) + clo;
        xp[i] = r >= 0 && r < h && q >= 0 && q < w ? x[(nc * h + (size_t)r) * w + (size_t)q] : (T)0;
    }
}

/* The inverse: dx += the part of dxp that lies on real positions. */
template <typename T>
__global__ void pad_add(size_t total, int h, int w, int hp, int wp, int lo, int clo, const T *dxp, T *dx) {
    GRID_STRIDE(i, total) {
        const size_t t = i / (size_t)wp, nc = t / (size_t)hp;
        const long long r = (long long)(t % (size_t)hp) + lo, q = (long long)(i % (size_t)wp) + clo;
        if (r >= 0 && r < h && q >= 0 && q < w) dx[(nc * h + (size_t)r) * w + (size_t)q] += dxp[i];
    }
}

/* y (n x oc x ohw) = bias[o] (0 without bias), or += bias[o] when add. */
template <typename T> __global__ void bias_kernel(size_t total, size_t oc, size_t ohw, const T *bias, int add, T *y) {
    GRID_STRIDE(i, total) {
        const T b = bias ? bias[(i / ohw) % oc] : (T)0;
        y[i] = add ? y[i] + b : b;
    }
}

/* db[o] += the sum of dy over n and the pixels; one block per channel. */
template <typename T> __global__ void bias_grad(size_t n, size_t oc, size_t ohw, const T *dy, T *db) {
    __shared__ double part[LSCC_CU_THREADS];
    for (size_t o = blockIdx.x; o < oc; o += gridDim.x) {
        double s = 0;
        for (size_t t = threadIdx.x; t < n * ohw; t += blockDim.x) s += (double)dy[((t / ohw) * oc + o) * ohw + t % ohw];
        part[threadIdx.x] = s;
        __syncthreads();
        for (unsigned k = LSCC_CU_THREADS / 2; k > 0; k /= 2) {
            if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
            __syncthreads();
        }
        if (threadIdx.x == 0) db[o] = (T)((double)db[o] + part[0]);
        __syncthreads();
    }
}

/* ---- descriptors and algorithm choice ---- */

typedef struct descs {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
} descs;

static int descs_create(lscc_cu *cu, descs *d) {
    memset(d, 0, sizeof *d);
    return LSCC_CUDNN_CHECK(cu, cudnnCreateTensorDescriptor(&d->x)) ||
           LSCC_CUDNN_CHECK(cu, cudnnCreateTensorDescriptor(&d->y)) ||
           LSCC_CUDNN_CHECK(cu, cudnnCreateFilterDescriptor(&d->w)) ||
           LSCC_CUDNN_CHECK(cu, cudnnCreateConvolutionDescriptor(&d->conv));
}

static void descs_destroy(lscc_cu *cu, descs *d) {
    if (d->x) LSCC_CUDNN_CHECK(cu, cudnnDestroyTensorDescriptor(d->x));
    if (d->y) LSCC_CUDNN_CHECK(cu, cudnnDestroyTensorDescriptor(d->y));
    if (d->w) LSCC_CUDNN_CHECK(cu, cudnnDestroyFilterDescriptor(d->w));
    if (d->conv) LSCC_CUDNN_CHECK(cu, cudnnDestroyConvolutionDescriptor(d->conv));
}

#define TRY(call)                                                                                                    \
    do {                                                                                                             \
        const cudnnStatus_t s_ = (call);                                                                             \
        if (s_ != CUDNN_STATUS_SUCCESS) return s_;                                                                   \
    } while (0)

/* Sets d for path; the status is returned, not recorded (a DIRECT view that
 * cuDNN refuses sends the caller to PADDED). */
static cudnnStatus_t descs_set(const descs *d, const lscc_win2d *p, int esize, int path, const span *r, const span *c,
                               int math) {
    const cudnnDataType_t dt = esize == 8 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    if (path == DIRECT)
        TRY(cudnnSetTensor4dDescriptorEx(d->x, dt, p->n, p->c, r->len, c->len, p->c * p->h * p->w, p->h * p->w, p->w,
                                         1));
    else {
        const int hp = r->hi - r->lo, wp = c->hi - c->lo;
        TRY(cudnnSetTensor4dDescriptorEx(d->x, dt, p->n, p->c, hp, wp, p->c * hp * wp, hp * wp, wp, 1));
    }
    TRY(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, dt, p->n, p->oc, p->oh, p->ow));
    TRY(cudnnSetFilter4dDescriptor(d->w, dt, CUDNN_TENSOR_NCHW, p->oc, p->c / p->groups, p->kh, p->kw));
    TRY(cudnnSetConvolution2dDescriptor(d->conv, path == DIRECT ? r->pad : 0, path == DIRECT ? c->pad : 0, p->sh,
                                        p->sw, p->dh, p->dw, CUDNN_CROSS_CORRELATION, dt));
    TRY(cudnnSetConvolutionGroupCount(d->conv, p->groups));
    TRY(cudnnSetConvolutionMathType(d->conv, (cudnnMathType_t)math));
    int on, oc, oh, ow;
    TRY(cudnnGetConvolution2dForwardOutputDim(d->conv, d->x, d->w, &on, &oc, &oh, &ow));
    return on == p->n && oc == p->oc && oh == p->oh && ow == p->ow ? CUDNN_STATUS_SUCCESS
                                                                    : CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH;
}

/* An entry of a heuristics list that we take: supported, deterministic when
 * asked, and true float / double arithmetic: float only with FMA math (no
 * TF32), double with anything but down-conversion (its tensor cores are
 * IEEE double FMAs). */
static int usable(const lscc_cu *cu, cudnnStatus_t st, cudnnDeterminism_t det, cudnnMathType_t m, int esize) {
    return st == CUDNN_STATUS_SUCCESS && (!cu->deterministic || det == CUDNN_DETERMINISTIC) &&
           (esize == 8 ? m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : m == CUDNN_FMA_MATH);
}

/* The first usable algorithm from place `first` on of cuDNN's heuristics
 * list for pass on d whose workspace is at most WS_CAP, into e (algo, math,
 * ws, rank), with d's math type set for it. The probing calls are not
 * recorded as failures: an algorithm that cuDNN cannot size for these
 * descriptors is skipped. */
static cudnnStatus_t choose(lscc_cu *cu, const descs *d, int pass, int esize, int first, lscc_cu_algo *e) {
    int n = 0;
    size_t b = 0;
    /* the list depends on the math type: always asked with the one wanted */
    TRY(cudnnSetConvolutionMathType(d->conv, esize == 8 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
#define TAKE(list)                                                                                                   \
    if (!usable(cu, list[i].status, list[i].determinism, list[i].mathType, esize) ||                                  \
        cudnnSetConvolutionMathType(d->conv, list[i].mathType) != CUDNN_STATUS_SUCCESS)                              \
        continue
#define KEEP(list)                                                                                                   \
    if (b > WS_CAP) continue;                                                                                        \
    e->algo = (int)list[i].algo;                                                                                     \
    e->math = (int)list[i].mathType;                                                                                 \
    e->ws = b;                                                                                                       \
    e->rank = i;                                                                                                     \
    return CUDNN_STATUS_SUCCESS
    if (pass == FWD) {
        cudnnConvolutionFwdAlgoPerf_t l[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        TRY(cudnnGetConvolutionForwardAlgorithm_v7(cu->dnn, d->x, d->w, d->conv, d->y,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, l));
        for (int i = first; i < n; i++) {
            TAKE(l);
            if (cudnnGetConvolutionForwardWorkspaceSize(cu->dnn, d->x, d->w, d->conv, d->y, l[i].algo, &b) !=
                CUDNN_STATUS_SUCCESS)
                continue;
            KEEP(l);
        }
    } else if (pass == BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t l[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(cu->dnn, d->w, d->y, d->conv, d->x,
                                                        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, l));
        for (int i = first; i < n; i++) {
            TAKE(l);
            if (cudnnGetConvolutionBackwardDataWorkspaceSize(cu->dnn, d->w, d->y, d->conv, d->x, l[i].algo, &b) !=
                CUDNN_STATUS_SUCCESS)
                continue;
            KEEP(l);
        }
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t l[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cu->dnn, d->x, d->y, d->conv, d->w,
                                                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, l));
        for (int i = first; i < n; i++) {
            TAKE(l);
            if (cudnnGetConvolutionBackwardFilterWorkspaceSize(cu->dnn, d->x, d->y, d->conv, d->w, l[i].algo, &b) !=
                CUDNN_STATUS_SUCCESS)
                continue;
            KEEP(l);
        }
    }
#undef TAKE
#undef KEEP
    return CUDNN_STATUS_NOT_SUPPORTED;
}

/* Chooses the path (DIRECT when asked and possible, else PADDED) and its
 * algorithm into e and leaves d set for it; 0 with a failure recorded when
 * there is none. */
static int pick(lscc_cu *cu, const descs *d, const lscc_win2d *p, int esize, int pass, const span *r, const span *c,
                int path, lscc_cu_algo *e) {
    const int want = esize == 8 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    if (path == DIRECT && descs_set(d, p, esize, DIRECT, r, c, want) == CUDNN_STATUS_SUCCESS &&
        choose(cu, d, pass, esize, 0, e) == CUDNN_STATUS_SUCCESS) {
        e->path = DIRECT;
        return !LSCC_CUDNN_CHECK(cu, cudnnSetConvolutionMathType(d->conv, (cudnnMathType_t)e->math));
    }
    if (LSCC_CUDNN_CHECK(cu, descs_set(d, p, esize, PADDED, r, c, want))) return 0;
    const cudnnStatus_t st = choose(cu, d, pass, esize, 0, e);
    if (st != CUDNN_STATUS_SUCCESS) {
        lscc_cu_fail(cu, LSCC_CU_E_DEVICE,
                     "conv2d: no cuDNN %s algorithm (%s) for f%d n=%d c=%d %dx%d oc=%d %dx%d k=%dx%d s=%dx%d "
                     "d=%dx%d groups=%d",
                     pass_name[pass], cudnnGetErrorString(st), esize * 8, p->n, p->c, p->h, p->w, p->oc, p->oh, p->ow,
                     p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->groups);
        return 0;
    }
    e->path = PADDED;
    return !LSCC_CUDNN_CHECK(cu, cudnnSetConvolutionMathType(d->conv, (cudnnMathType_t)e->math));
}

static lscc_cu_algo *find(lscc_cu *cu, const int *key) {
    for (size_t i = 0; i < cu->nalgos; i++)
        if (!memcmp(cu->algos[i].key, key, sizeof cu->algos[i].key)) return &cu->algos[i];
    return NULL;
}

static lscc_cu_algo *store(lscc_cu *cu, const lscc_cu_algo *e) {
    if (cu->nalgos == cu->algos_cap) {
        const size_t cap = cu->algos_cap ? 2 * cu->algos_cap : 16;
        lscc_cu_algo *a = (lscc_cu_algo *)realloc(cu->algos, cap * sizeof *a);
        if (!a) {
            lscc_cu_fail(cu, LSCC_CU_E_NOMEM, "conv2d: out of host memory for the algorithm cache");
            return NULL;
        }
        cu->algos = a;
        cu->algos_cap = cap;
    }
    cu->algos[cu->nalgos] = *e;
    return &cu->algos[cu->nalgos++];
}

/* ---- one pass ---- */

template <typename T> struct conv_args {
    const T *x, *w, *dy, *bias;
    T *y, *dx, *dw;
};

/* Runs pass on the path and algorithm of e (d set for them). Returns the
 * status of the cuDNN convolution call without recording it, so that a
 * DIRECT call cuDNN refuses can go PADDED; anything else that fails is
 * recorded (and SUCCESS returned: the caller sees the pending failure). */
template <typename T>
static cudnnStatus_t run(lscc_cu *cu, const lscc_win2d *p, int pass, const lscc_cu_algo *e, const descs *d,
                         const span *r, const span *c, const conv_args<T> *a) {
    const int hp = r->hi - r->lo, wp = c->hi - c->lo;
    const size_t padn = e->path == PADDED ? (size_t)p->n * p->c * hp * wp : 0;
    const size_t padb = (padn * sizeof(T) + ALIGN - 1) / ALIGN * ALIGN;
    char *ws = NULL;
    if (padb + e->ws && !(ws = (char *)lscc_cu_workspace(cu, padb + e->ws))) return CUDNN_STATUS_SUCCESS;
    T *xp = (T *)ws;
    void *aws = e->ws ? ws + padb : NULL;
    const size_t xoff = e->path == DIRECT ? (size_t)r->v0 * p->w + (size_t)c->v0 : 0;
    const T one = 1, zero = 0;
    if (e->path == PADDED && pass != BWD_DATA) {
        pad_copy<T><<<lscc_cu_blocks(padn), LSCC_CU_THREADS, 0, cu->stream>>>(padn, p->h, p->w, hp, wp, r->lo, c->lo,
                                                                               a->x, xp);
        LSCC_CU_LAUNCHED(cu, "conv2d: padded copy of x");
        if (!LSCC_CU_READY(cu)) return CUDNN_STATUS_SUCCESS;
    }
    const T *xs = e->path == DIRECT ? a->x + xoff : xp;
    if (pass == FWD)
        return cudnnConvolutionForward(cu->dnn, &one, d->x, xs, d->w, a->w, d->conv, (cudnnConvolutionFwdAlgo_t)e->algo,
                                       aws, e->ws, &zero, d->y, a->y);
    if (pass == BWD_FILTER)
        return cudnnConvolutionBackwardFilter(cu->dnn, &one, d->x, xs, d->y, a->dy, d->conv,
                                              (cudnnConvolutionBwdFilterAlgo_t)e->algo, aws, e->ws, &one, d->w, a->dw);
    if (e->path == DIRECT)
        return cudnnConvolutionBackwardData(cu->dnn, &one, d->w, a->w, d->y, a->dy, d->conv,
                                            (cudnnConvolutionBwdDataAlgo_t)e->algo, aws, e->ws, &one, d->x,
                                            a->dx + xoff);
    const cudnnStatus_t st = cudnnConvolutionBackwardData(cu->dnn, &one, d->w, a->w, d->y, a->dy, d->conv,
                                                          (cudnnConvolutionBwdDataAlgo_t)e->algo, aws, e->ws, &zero,
                                                          d->x, xp);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    pad_add<T><<<lscc_cu_blocks(padn), LSCC_CU_THREADS, 0, cu->stream>>>(padn, p->h, p->w, hp, wp, r->lo, c->lo, xp,
                                                                          a->dx);
    LSCC_CU_LAUNCHED(cu, "conv2d: padded dx added back");
    return CUDNN_STATUS_SUCCESS;
}

/* Parameter and argument errors that cuDNN reports before it runs anything. */
static int refused(cudnnStatus_t st) {
    const int cat = CUDNN_STATUS_CATEGORY(st);
    return cat == CUDNN_STATUS_BAD_PARAM || cat == CUDNN_STATUS_NOT_SUPPORTED;
}

static int fits(long long v) { return v >= 0 && v <= INT_MAX; }

template <typename T> static void conv(lscc_cu *cu, const lscc_win2d *p, int pass, const conv_args<T> *a) {
    if (!LSCC_CU_READY(cu)) return;
    const int esize = (int)sizeof(T);
    if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->groups < 1 || p->c < 0 ||
        p->oc < 0 || p->c % p->groups || p->oc % p->groups) {
        lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "conv2d: bad window (k=%dx%d s=%dx%d d=%dx%d c=%d oc=%d groups=%d)", p->kh,
                     p->kw, p->sh, p->sw, p->dh, p->dw, p->c, p->oc, p->groups);
        return;
    }
    if (p->n <= 0 || p->oc <= 0 || p->oh <= 0 || p->ow <= 0) return;
    const size_t ohw = (size_t)p->oh * p->ow, ny = (size_t)p->n * p->oc * ohw;
    const long long eh = (long long)(p->oh - 1) * p->sh + (long long)(p->kh - 1) * p->dh + 1,
                    ew = (long long)(p->ow - 1) * p->sw + (long long)(p->kw - 1) * p->dw + 1;
    if (!fits(eh + (p->pt < 0 ? -(long long)p->pt : p->pt) + p->h) ||
        !fits(ew + (p->pl < 0 ? -(long long)p->pl : p->pl) + p->w) || !fits((long long)p->n * p->c * p->h * p->w) ||
        !fits((long long)ny) || !fits((long long)p->n * p->c * eh * ew) ||
        !fits((long long)p->oc * (p->c / p->groups) * p->kh * p->kw)) {
        lscc_cu_fail(cu, LSCC_CU_E_DEVICE, "conv2d: n=%d c=%d %dx%d oc=%d %dx%d is too large for cuDNN", p->n, p->c,
                     p->h, p->w, p->oc, p->oh, p->ow);
        return;
    }
    span r, c;
    plan(p->h, p->oh, p->sh, p->pt, p->kh, p->dh, &r);
    plan(p->w, p->ow, p->sw, p->pl, p->kw, p->dw, &c);
    if (p->c == 0 || r.need <= 0 || c.need <= 0) { /* no real input read: y = bias, dx and dw get nothing */
        if (pass == FWD) {
            bias_kernel<T><<<lscc_cu_blocks(ny), LSCC_CU_THREADS, 0, cu->stream>>>(ny, p->oc, ohw, a->bias, 0, a->y);
            LSCC_CU_LAUNCHED(cu, "conv2d: bias only");
        }
        return;
    }
    lscc_win2d kw = *p; /* pb and pr do not shape anything */
    kw.pb = kw.pr = 0;
    lscc_cu_algo fresh;
    memset(&fresh, 0, sizeof fresh);
    memcpy(fresh.key, &kw, sizeof kw);
    fresh.key[18] = esize;
    fresh.key[19] = pass;
    descs d;
    if (!descs_create(cu, &d)) {
        lscc_cu_algo *e = find(cu, fresh.key);
        int ok = 1;
        if (!e)
            ok = pick(cu, &d, p, esize, pass, &r, &c, r.direct && c.direct ? DIRECT : PADDED, &fresh) &&
                 (e = store(cu, &fresh)) != NULL;
        else
            ok = !LSCC_CUDNN_CHECK(cu, descs_set(&d, p, esize, e->path, &r, &c, e->math));
        if (ok) {
            cudnnStatus_t st = run<T>(cu, p, pass, e, &d, &r, &c, a);
            /* An algorithm that cuDNN refuses when it runs (the alignment of
             * an offset pointer, say; it then has written nothing): the next
             * one of the list, then the PADDED path; the entry keeps what
             * worked. */
            while (st != CUDNN_STATUS_SUCCESS && refused(st) && LSCC_CU_READY(cu)) {
                if (choose(cu, &d, pass, esize, e->rank + 1, e) != CUDNN_STATUS_SUCCESS) {
                    if (e->path == PADDED) break;
                    if (!pick(cu, &d, p, esize, pass, &r, &c, PADDED, e)) {
                        st = CUDNN_STATUS_SUCCESS; /* recorded */
                        break;
                    }
                }
                st = run<T>(cu, p, pass, e, &d, &r, &c, a);
            }
            static const char *const call[] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData",
                                               "cudnnConvolutionBackwardFilter"};
            lscc_cu_check_dnn(cu, st, call[pass], __FILE__, __LINE__);
        }
    }
    descs_destroy(cu, &d);
    if (pass == FWD && a->bias && LSCC_CU_READY(cu)) {
        bias_kernel<T><<<lscc_cu_blocks(ny), LSCC_CU_THREADS, 0, cu->stream>>>(ny, p->oc, ohw, a->bias, 1, a->y);
        LSCC_CU_LAUNCHED(cu, "conv2d: + bias");
    }
}

/* The bias gradient does not depend on the window: db += dy summed. */
template <typename T> static void bias_grad_of(lscc_cu *cu, const lscc_win2d *p, const T *dy, T *db) {
    if (!db || !LSCC_CU_READY(cu) || p->n <= 0 || p->oc <= 0 || p->oh <= 0 || p->ow <= 0) return;
    const size_t oc = (size_t)p->oc;
    bias_grad<T><<<(unsigned)(oc < 65535u * 8u ? oc : 65535u * 8u), LSCC_CU_THREADS, 0, cu->stream>>>(
        (size_t)p->n, oc, (size_t)p->oh * p->ow, dy, db);
    LSCC_CU_LAUNCHED(cu, "conv2d: bias gradient");
}

template <typename T> static void fwd(lscc_cu *cu, const lscc_win2d *p, const T *x, const T *w, const T *bias, T *y) {
    const conv_args<T> a = {x, w, NULL, bias, y, NULL, NULL};
    conv<T>(cu, p, FWD, &a);
}

template <typename T> static void bwd_data(lscc_cu *cu, const lscc_win2d *p, const T *dy, const T *w, T *dx) {
    const conv_args<T> a = {NULL, w, dy, NULL, NULL, dx, NULL};
    conv<T>(cu, p, BWD_DATA, &a);
}

template <typename T> static void bwd_weight(lscc_cu *cu, const lscc_win2d *p, const T *x, const T *dy, T *dw, T *db) {
    const conv_args<T> a = {x, NULL, dy, NULL, NULL, NULL, dw};
    bias_grad_of<T>(cu, p, dy, db);
    conv<T>(cu, p, BWD_FILTER, &a);
}

extern "C" {
void lscc_cu_conv2d_fwd_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                            float *y) {
    fwd<float>(cu, p, x, w, bias, y);
}
void lscc_cu_conv2d_fwd_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *w, const double *bias,
                            double *y) {
    fwd<double>(cu, p, x, w, bias, y);
}
void lscc_cu_conv2d_bwd_data_f32(lscc_cu *cu, const lscc_win2d *p, const float *dy, const float *w, float *dx) {
    bwd_data<float>(cu, p, dy, w, dx);
}
void lscc_cu_conv2d_bwd_data_f64(lscc_cu *cu, const lscc_win2d *p, const double *dy, const double *w, double *dx) {
    bwd_data<double>(cu, p, dy, w, dx);
}
void lscc_cu_conv2d_bwd_weight_f32(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                   float *db) {
    bwd_weight<float>(cu, p, x, dy, dw, db);
}
void lscc_cu_conv2d_bwd_weight_f64(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *dy, double *dw,
                                   double *db) {
    bwd_weight<double>(cu, p, x, dy, dw, db);
}
}
