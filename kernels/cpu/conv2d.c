/* Conv2d on one region: forward, backward data, backward weight (contract in
 * lscc_kernels.h), as GEMMs of OpenBLAS (cblas_sgemm / cblas_dgemm) on a
 * column matrix (im2col). The file includes itself once per type (T, S); the
 * bodies are after the #else.
 *
 * Per batch item and group, with cg / og the input / output channels of a
 * group, K = cg * kh * kw and P = oh * ow:
 *   col  K x P: col[(ic * kh + a) * kw + b][i * ow + j] is the input pixel
 *        that output (i, j) reads at tap (a, b) of channel ic, 0 in padding
 *        (row i * sh - pt + a * dh, column j * sw - pl + b * dw);
 *   forward      y_g  (og x P)  = w_g (og x K) col (+ bias, put in y first);
 *   bwd data     col            = w_g^T dy_g, then scattered and ADDED into dx
 *                (col2im: the exact transpose of im2col; entries that fall in
 *                padding are dropped);
 *   bwd weight   dw_g (og x K) += dy_g col^T (GEMM with beta = 1).
 * y, dy and dx are used in place as the GEMMs' row-major operands (leading
 * dimension P or h * w); only col is scratch. It holds a chunk of the output
 * pixels (a range of the flattened i * ow + j, not whole rows) and is
 * allocated once per call (malloc; the contract has no context to keep it
 * in): LSCC_CONV_COL_BYTES = 4 MB, which on the ResNet 3x3 of the bench was
 * faster than 1, 16 or 64 MB (64 MB: half the speed; the chunk no longer
 * stays in cache between im2col and the GEMM), or up to 256 pixels' worth when
 * K is so large that 4 MB holds fewer (at most 64 MB). A 1x1 convolution with
 * stride 1 whose output rows are input rows (ow == w, pl == 0, the rows read
 * all real) needs no col: x itself, shifted by -pt rows, is the column
 * matrix, and backward data is a single GEMM with beta = 1 straight into dx.
 *
 * Where the GEMM does not pay and when col cannot be allocated, the call runs
 * the direct loops of conv2d_ref.c instead, which allocate nothing: groups of
 * fewer than LSCC_CONV_MIN_OG = 4 output channels (depthwise among them),
 * whose GEMMs have 1 to 3 rows while im2col copies K values per output pixel
 * all the same. Measured GEMM / direct loops (bench/conv_plain.c "all",
 * float64): depthwise 3x3 and 7x7 0.4 to 1.1, groups of 2 outputs 0.8 to 2,
 * groups of 4 outputs 1.6 to 3.6, groups of 8 3.7 to 4.6.
 *
 * Threads: OpenBLAS runs each GEMM on its own thread pool (all cores by
 * default, left so: 2 threads were 1.3 to 1.5 times faster than 1 on a 2-core
 * machine; OPENBLAS_NUM_THREADS or openblas_set_num_threads limit it), and
 * splits only GEMMs large enough to gain. Nothing here is global: the kernels
 * stay reentrant, and the pthread OpenBLAS accepts calls from several threads
 * at once.
 *
 * CPU: OpenBLAS picks its kernels from the CPU model when it is loaded.
 * Version 0.3.21 (Debian 12) does not know recent Xeons (family 6 model 207,
 * for one) and falls back to its SSE3 "Prescott" kernels, about 4 times
 * slower than its AVX-512 ones there; OPENBLAS_CORETYPE=SkylakeX (or Haswell)
 * in the environment selects the fast ones. bench_conv_plain prints the
 * kernels in use. */
#ifndef T
#include <cblas.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "kernels_impl.h"
#include "lscc_kernels.h"

/* Bytes of the column buffer; smaller chunks stay in cache between im2col and
 * the GEMM (bench/conv_plain.c). The #ifndef lets a tuning build set these. */
#ifndef LSCC_CONV_COL_BYTES
#define LSCC_CONV_COL_BYTES ((size_t)4 << 20)
#endif
/* A chunk of fewer output pixels makes the GEMMs inefficient: when K is so
 * large that the budget above gives fewer, the buffer grows to this many
 * pixels, up to LSCC_CONV_COL_MAX bytes. */
#ifndef LSCC_CONV_MIN_CHUNK
#define LSCC_CONV_MIN_CHUNK 256
#endif
#ifndef LSCC_CONV_COL_MAX
#define LSCC_CONV_COL_MAX ((size_t)64 << 20)
#endif
/* Groups with fewer output channels than this run the direct loops. */
#ifndef LSCC_CONV_MIN_OG
#define LSCC_CONV_MIN_OG 4
#endif

typedef struct conv_plan {
    size_t cg, og, kk; /* channels per group in and out; kk = cg * kh * kw */
    size_t xs, ys;     /* pixels per channel of x and of y */
    size_t chunk;      /* output pixels per fill of col */
    int view;          /* x is the column matrix (1x1, stride 1, see above) */
    size_t view_off;   /* then: the x pixel of output pixel 0 */
} conv_plan;

/* Plans the GEMM path for p with elements of elem bytes; returns 0 when the
 * direct loops should run instead (see above, and sizes beyond BLAS's int). */
static int conv_plan_make(const lscc_win2d *p, size_t elem, conv_plan *q) {
    q->cg = (size_t)(p->c / p->groups);
    q->og = (size_t)(p->oc / p->groups);
    q->kk = q->cg * (size_t)p->kh * (size_t)p->kw;
    q->xs = (size_t)p->h * (size_t)p->w;
    q->ys = (size_t)p->oh * (size_t)p->ow;
    if (p->n <= 0 || q->ys == 0 || q->og < LSCC_CONV_MIN_OG) return 0;
    if (q->xs > INT_MAX || q->ys > INT_MAX || q->kk > INT_MAX || q->og > INT_MAX) return 0;
    q->view = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pl == 0 && p->ow == p->w && p->pt <= 0 &&
              (long)p->oh - p->pt <= (long)p->h;
    q->view_off = q->view ? (size_t)(-(long)p->pt) * (size_t)p->w : 0;
    size_t chunk = LSCC_CONV_COL_BYTES / (elem * q->kk);
    if (chunk < LSCC_CONV_MIN_CHUNK) {
        chunk = LSCC_CONV_COL_MAX / (elem * q->kk);
        if (chunk > LSCC_CONV_MIN_CHUNK) chunk = LSCC_CONV_MIN_CHUNK;
        if (chunk < 1) chunk = 1;
    }
    /* equal chunks: no short last one */
    const size_t nchunks = (q->ys + chunk - 1) / chunk;
    q->chunk = (q->ys + nchunks - 1) / nchunks;
    return 1;
}

/* The output pixels [q0, q1) (flattened i * ow + j) of one tap, row by row:
 * each call of conv_rows_next gives the next output row's part, the columns
 * [ja, jb), with the input row r it reads (maybe outside [0, h)) and the
 * columns [lo, hi) (ja <= lo <= hi <= jb) whose input pixel is real, i.e.
 * column j * sw + coff of row r lies in the region; it returns 0 when done. */
typedef struct conv_rows {
    const lscc_win2d *p;
    int roff, coff, j0, j1; /* [j0, j1): the columns reading real pixels (lscc_span) */
    int i, ja, jb, r, lo, hi;
    size_t q, q1;
} conv_rows;

static void conv_rows_init(conv_rows *it, const lscc_win2d *p, size_t q0, size_t q1, int roff, int coff) {
    it->p = p, it->roff = roff, it->coff = coff;
    lscc_span(p->ow, p->sw, coff, p->w, &it->j0, &it->j1);
    it->i = (int)(q0 / (size_t)p->ow) - 1;
    it->jb = (int)(q0 % (size_t)p->ow); /* the next row starts at column jb */
    it->q = q0, it->q1 = q1;
}

static int conv_rows_next(conv_rows *it) {
    if (it->q >= it->q1) return 0;
    const lscc_win2d *p = it->p;
    it->i++;
    it->ja = it->jb == p->ow ? 0 : it->jb;
    it->jb = p->ow;
    if ((size_t)(it->jb - it->ja) > it->q1 - it->q) it->jb = it->ja + (int)(it->q1 - it->q);
    it->q += (size_t)(it->jb - it->ja);
    it->r = it->i * p->sh + it->roff;
    it->lo = it->hi = it->ja;
    if (it->r >= 0 && it->r < p->h) {
        it->lo = it->j0 < it->ja ? it->ja : it->j0 < it->jb ? it->j0 : it->jb;
        it->hi = it->j1 < it->jb ? it->j1 : it->jb;
        if (it->hi < it->lo) it->hi = it->lo;
    }
    return 1;
}

#define T float
#define S f32
#define GEMM cblas_sgemm
#include "conv2d.c"
#undef T
#undef S
#undef GEMM
#define T double
#define S f64
#define GEMM cblas_dgemm
#include "conv2d.c"
#undef T
#undef S
#undef GEMM

#else

/* col (kk x (q1 - q0)) = the column matrix of the output pixels [q0, q1), from
 * the cg channels at xg. */
static void FN(im2col)(const lscc_win2d *p, size_t cg, const T *xg, size_t q0, size_t q1, T *col) {
    const size_t xs = (size_t)p->h * p->w, nq = q1 - q0;
    for (size_t ic = 0; ic < cg; ic++)
        for (int a = 0; a < p->kh; a++)
            for (int b = 0; b < p->kw; b++) {
                const int roff = a * p->dh - p->pt, coff = b * p->dw - p->pl;
                const T *xc = xg + ic * xs;
                T *d = col + ((ic * p->kh + a) * p->kw + b) * nq;
                conv_rows it;
                for (conv_rows_init(&it, p, q0, q1, roff, coff); conv_rows_next(&it);) {
                    int j = it.ja;
                    for (; j < it.lo; j++) *d++ = 0;
                    if (it.lo < it.hi) {
                        const T *xr = xc + (size_t)it.r * p->w;
                        if (p->sw == 1)
                            for (const T *s = xr + j + coff; j < it.hi; j++) *d++ = *s++;
                        else
                            for (; j < it.hi; j++) *d++ = xr[j * p->sw + coff];
                    }
                    for (; j < it.jb; j++) *d++ = 0;
                }
            }
}

/* The transpose of im2col: adds each entry of col to the input pixel it was
 * taken from, in the cg channels at dxg; entries from padding are dropped. */
static void FN(col2im)(const lscc_win2d *p, size_t cg, const T *col, size_t q0, size_t q1, T *dxg) {
    const size_t xs = (size_t)p->h * p->w, nq = q1 - q0;
    for (size_t ic = 0; ic < cg; ic++)
        for (int a = 0; a < p->kh; a++)
            for (int b = 0; b < p->kw; b++) {
                const int roff = a * p->dh - p->pt, coff = b * p->dw - p->pl;
                T *dxc = dxg + ic * xs;
                const T *d = col + ((ic * p->kh + a) * p->kw + b) * nq;
                conv_rows it;
                for (conv_rows_init(&it, p, q0, q1, roff, coff); conv_rows_next(&it); d += it.jb - it.ja) {
                    if (it.lo == it.hi) continue;
                    T *dr = dxc + (size_t)it.r * p->w;
                    const T *s = d + (it.lo - it.ja);
                    if (p->sw == 1)
                        for (T *t = dr + it.lo + coff, *e = t + (it.hi - it.lo); t < e;) *t++ += *s++;
                    else
                        for (int j = it.lo; j < it.hi; j++) dr[j * p->sw + coff] += *s++;
                }
            }
}

void FN(lscc_conv2d_fwd)(const lscc_win2d *p, const T *x, const T *w, const T *bias, T *y) {
    conv_plan q;
    T *col = NULL;
    if (!conv_plan_make(p, sizeof(T), &q) || (!q.view && !(col = malloc(sizeof(T) * q.kk * q.chunk)))) {
        FN(lscc_conv2d_fwd_ref)(p, x, w, bias, y);
        return;
    }
    for (int n = 0; n < p->n; n++)
        for (int g = 0; g < p->groups; g++) {
            const T *xg = x + ((size_t)n * p->c + (size_t)g * q.cg) * q.xs;
            const T *wg = w + (size_t)g * q.og * q.kk;
            T *yg = y + ((size_t)n * p->oc + (size_t)g * q.og) * q.ys;
            for (size_t q0 = 0; q0 < q.ys; q0 += q.chunk) {
                const size_t q1 = q0 + q.chunk < q.ys ? q0 + q.chunk : q.ys, nq = q1 - q0;
                const T *b = col;
                size_t ldb = nq;
                if (q.view) b = xg + q.view_off + q0, ldb = q.xs;
                else FN(im2col)(p, q.cg, xg, q0, q1, col);
                if (bias)
                    for (size_t o = 0; o < q.og; o++) {
                        const T v = bias[(size_t)g * q.og + o];
                        for (T *t = yg + o * q.ys + q0, *e = t + nq; t < e;) *t++ = v;
                    }
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)q.og, (int)nq, (int)q.kk, 1, wg, (int)q.kk, b,
                     (int)ldb, bias ? 1 : 0, yg + q0, (int)q.ys);
            }
        }
    free(col);
}

void FN(lscc_conv2d_bwd_data)(const lscc_win2d *p, const T *dy, const T *w, T *dx) {
    conv_plan q;
    T *col = NULL;
    if (!conv_plan_make(p, sizeof(T), &q) || (!q.view && !(col = malloc(sizeof(T) * q.kk * q.chunk)))) {
        FN(lscc_conv2d_bwd_data_ref)(p, dy, w, dx);
        return;
    }
    for (int n = 0; n < p->n; n++)
        for (int g = 0; g < p->groups; g++) {
            const T *dyg = dy + ((size_t)n * p->oc + (size_t)g * q.og) * q.ys;
            const T *wg = w + (size_t)g * q.og * q.kk;
            T *dxg = dx + ((size_t)n * p->c + (size_t)g * q.cg) * q.xs;
            for (size_t q0 = 0; q0 < q.ys; q0 += q.chunk) {
                const size_t q1 = q0 + q.chunk < q.ys ? q0 + q.chunk : q.ys, nq = q1 - q0;
                if (q.view) {
                    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q.kk, (int)nq, (int)q.og, 1, wg, (int)q.kk,
                         dyg + q0, (int)q.ys, 1, dxg + q.view_off + q0, (int)q.xs);
                } else {
                    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q.kk, (int)nq, (int)q.og, 1, wg, (int)q.kk,
                         dyg + q0, (int)q.ys, 0, col, (int)nq);
                    FN(col2im)(p, q.cg, col, q0, q1, dxg);
                }
            }
        }
    free(col);
}

void FN(lscc_conv2d_bwd_weight)(const lscc_win2d *p, const T *x, const T *dy, T *dw, T *db) {
    conv_plan q;
    T *col = NULL;
    if (!conv_plan_make(p, sizeof(T), &q) || (!q.view && !(col = malloc(sizeof(T) * q.kk * q.chunk)))) {
        FN(lscc_conv2d_bwd_weight_ref)(p, x, dy, dw, db);
        return;
    }
    if (db)
        for (int o = 0; o < p->oc; o++) {
            T s = 0;
            for (int n = 0; n < p->n; n++) {
                const T *dyo = dy + ((size_t)n * p->oc + o) * q.ys;
                for (size_t k = 0; k < q.ys; k++) s += dyo[k];
            }
            db[o] += s;
        }
    for (int g = 0; g < p->groups; g++) {
        T *dwg = dw + (size_t)g * q.og * q.kk;
        for (int n = 0; n < p->n; n++) {
            const T *xg = x + ((size_t)n * p->c + (size_t)g * q.cg) * q.xs;
            const T *dyg = dy + ((size_t)n * p->oc + (size_t)g * q.og) * q.ys;
            for (size_t q0 = 0; q0 < q.ys; q0 += q.chunk) {
                const size_t q1 = q0 + q.chunk < q.ys ? q0 + q.chunk : q.ys, nq = q1 - q0;
                const T *b = col;
                size_t ldb = nq;
                if (q.view) b = xg + q.view_off + q0, ldb = q.xs;
                else FN(im2col)(p, q.cg, xg, q0, q1, col);
                GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)q.og, (int)q.kk, (int)nq, 1, dyg + q0, (int)q.ys, b,
                     (int)ldb, 1, dwg, (int)q.kk);
            }
        }
    }
    free(col);
}

#endif
