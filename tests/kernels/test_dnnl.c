/* oneDNN convolution (kernels/cpu/lscc_dnnl.h) against the plain kernels, on
 * random data (uniform in [-1, 1]) and every geometry of `cases`: strides 1 to
 * 3, dilation, groups and depthwise, non-square kernels, asymmetric and zero
 * pads, and what the streaming executor produces: negative pt / pl, buffers
 * with rows and columns past the last one read, pb / pr unrelated to oh, an
 * output reading only padding.
 *
 * The reference is the float64 kernel on the same float inputs (exact to
 * ~1e-16). The error is max|a - b| / max|b| over the tensor; float32 results
 * must be within 1e-5. That is a few hundred ulps: the longest sum here is
 * backward weight's n * oh * ow = 4608 products, whose float32 rounding error
 * is about sqrt(4608) * 2^-24 = 4e-6 of its magnitude when summed naively
 * (the plain kernel) and less in oneDNN's blocked partial sums; forward and
 * backward data sum at most 576 products. Each check is made twice: the
 * gradient alone (buffers zeroed, one call), and the accumulation (buffers
 * holding random values, two calls, against pre + 2 * gradient). Every buffer
 * written has guard elements on both sides. Other tests: the same call twice
 * (a cache hit) gives identical results; contexts coexist and run in threads;
 * a context evicts and rebuilds entries past its cache size. Every case
 * runs twice: on NCHW buffers, and on NHWC copies through a context set to
 * channels-last. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lscc_dnnl.h"
#include "lscc_kernels.h"
#include "support.h"

#define GUARD 16
#define GUARD_VALUE 12345.0f
#define TOL 1e-5

typedef struct gcase {
    const char *name;
    lscc_win2d p; /* oh, ow 0: the consistent size, set by main */
    int bias;
} gcase;

/* n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups */
static gcase cases[] = {
    {"3x3_pad1", {1, 4, 9, 11, 5, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
    {"3x3_nopad_n2", {2, 3, 8, 7, 4, 0, 0, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1}, 0},
    {"3x3_s2_asym_pad", {1, 5, 11, 10, 6, 0, 0, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, 1}, 1},
    {"5x5_s3", {2, 3, 17, 14, 4, 0, 0, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 1}, 1},
    {"3x3_dil2", {1, 4, 13, 12, 4, 0, 0, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1}, 0},
    {"3x2_dil2x3_s2x1", {1, 3, 15, 13, 5, 0, 0, 3, 2, 2, 1, 2, 3, 1, 2, 0, 3, 1}, 1},
    {"groups2", {2, 4, 9, 9, 6, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2}, 1},
    {"depthwise_s2", {1, 8, 12, 13, 8, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8}, 1},
    {"depthwise_mult2", {1, 4, 10, 10, 8, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4}, 0},
    {"1x7", {1, 6, 9, 14, 6, 0, 0, 1, 7, 1, 1, 1, 1, 0, 0, 3, 3, 1}, 1},
    {"7x1", {1, 6, 14, 9, 6, 0, 0, 7, 1, 1, 1, 1, 1, 3, 3, 0, 0, 1}, 0},
    {"1x1_s2", {2, 16, 12, 12, 24, 0, 0, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1}, 1},
    {"stem_7x7_s2", {1, 3, 32, 30, 16, 0, 0, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1}, 0},
    {"64ch_3x3", {1, 64, 20, 18, 64, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
    {"16to32_s2", {1, 16, 15, 17, 32, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, 1},
    {"dw64_3x3", {1, 64, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64}, 1},
    {"long_sum", {2, 8, 48, 48, 8, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
    {"2x2_s3_unread_rows", {1, 3, 14, 14, 4, 0, 0, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1}, 0},
    /* Streaming: oh, ow chosen, negative pads, unread rows / columns, pb / pr
     * unrelated to oh. Rows read: [-pt, (oh - 1) * sh - pt + (kh - 1) * dh]. */
    {"neg_pt_pl", {1, 4, 12, 12, 5, 8, 9, 3, 3, 1, 1, 1, 1, -2, 0, -1, 0, 1}, 1},
    {"neg_pt_rows_below", {1, 4, 16, 10, 6, 6, 10, 3, 3, 1, 1, 1, 1, -3, 0, 1, 1, 1}, 0},
    {"pad_top_rows_below", {2, 3, 20, 9, 4, 5, 4, 3, 3, 1, 1, 1, 1, 1, 5, 0, 0, 1}, 1},
    {"s2_neg_pt_odd_pb", {1, 5, 15, 15, 6, 5, 6, 3, 3, 2, 2, 1, 1, -1, 7, 1, 3, 1}, 1},
    {"reads_past_buffer", {1, 3, 7, 6, 4, 7, 5, 3, 3, 1, 1, 1, 1, 0, 0, 2, 9, 1}, 0},
    {"dw_s3_dil2_neg", {1, 6, 20, 17, 6, 5, 4, 3, 3, 3, 3, 2, 2, -2, 0, -1, 0, 6}, 1},
    {"groups_neg_pl", {2, 4, 8, 16, 4, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, -2, 0, 2}, 1},
    {"top_rows_all_pad", {1, 3, 6, 6, 4, 8, 4, 3, 3, 1, 1, 1, 1, 4, 0, 0, 0, 1}, 1},
    {"only_padding_rows", {1, 3, 4, 5, 4, 3, 3, 3, 3, 1, 1, 1, 1, 10, 0, 1, 1, 1}, 1},
    {"only_padding_cols", {2, 3, 6, 5, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, -8, 0, 1}, 0},
    {"64ch_stream", {1, 64, 24, 20, 64, 18, 20, 3, 3, 1, 1, 1, 1, -2, 0, 1, 1, 1}, 1},
    {"64to128_s2_stream", {1, 64, 21, 21, 128, 9, 10, 3, 3, 2, 2, 1, 1, -1, 0, 0, 0, 1}, 0},
    {"dw64_stream", {1, 64, 18, 18, 64, 14, 15, 3, 3, 1, 1, 1, 1, -1, 5, -1, 0, 64}, 1},
    {"1x1_stream", {1, 16, 10, 10, 16, 5, 6, 1, 1, 1, 1, 1, 1, -3, 0, -2, 0, 1}, 1},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

enum { E_FWD, E_BD, E_BD_ACC, E_BW, E_BW_ACC, E_DB, E_DB_ACC, NERR };
static const char *const ename[NERR] = {"y", "dx", "dx+=", "dw", "dw+=", "db", "db+="};

/* One case run on one context: errors of oneDNN and of the plain float32
 * kernels against float64, and what went wrong otherwise. */
typedef struct result {
    double e[NERR], plain[NERR];
    int rc;     /* some oneDNN call returned nonzero */
    int guards; /* some write outside a buffer */
    int repeat; /* the second forward call differed from the first */
} result;

static float *falloc(size_t n) {
    float *v = malloc(sizeof *v * (n + 2 * GUARD));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n + 2 * GUARD; i++) v[i] = GUARD_VALUE;
    return v + GUARD;
}

static int ffree(float *v, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < GUARD; i++) bad |= v[-1 - (ptrdiff_t)i] != GUARD_VALUE || v[n + i] != GUARD_VALUE;
    free(v - GUARD);
    return bad;
}

static void rnd(float *v, size_t n, unsigned *seed) {
    for (size_t i = 0; i < n; i++) v[i] = (float)(2.0 * rand_r(seed) / RAND_MAX - 1);
}

static double *to64(const float *v, size_t n) {
    double *d = malloc(sizeof *d * (n ? n : 1));
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

/* Error of float32 got against ref, or against pre + 2 * ref. */
/* Channels-last copies: the same tensor as N x H x W x C (dir 0) and back
 * (dir 1). */
static void relayout(const float *src, float *dst, const int d[4], int dir) {
    for (int n = 0; n < d[0]; n++)
        for (int c = 0; c < d[1]; c++)
            for (int k = 0; k < d[2] * d[3]; k++) {
                const size_t cf = ((size_t)n * d[1] + c) * (size_t)(d[2] * d[3]) + (size_t)k;
                const size_t cl = ((size_t)n * (size_t)(d[2] * d[3]) + (size_t)k) * (size_t)d[1] + (size_t)c;
                if (dir == 0) dst[cl] = src[cf];
                else dst[cf] = src[cl];
            }
}

static float *to_cl(const float *v, const int d[4]) {
    float *t = falloc((size_t)d[0] * d[1] * d[2] * d[3]);
    relayout(v, t, d, 0);
    return t;
}

/* back into v, checking the copy's guards */
static void from_cl(float *t, float *v, const int d[4]) {
    if (v) relayout(t, v, d, 1);
    ck_assert_msg(!ffree(t, (size_t)d[0] * d[1] * d[2] * d[3]), "write outside a channels-last buffer");
}

/* The three oneDNN calls on NCHW buffers; cl: through a context set to
 * channels-last, on NHWC copies. */
static int dnnl_fwd(lscc_dnnl *c, int cl, const lscc_win2d *p, const float *x, const float *w, const float *b, float *y) {
    if (!cl) return lscc_conv2d_fwd_dnnl(c, p, x, w, b, y);
    const int dx[4] = {p->n, p->c, p->h, p->w}, dy[4] = {p->n, p->oc, p->oh, p->ow};
    float *xt = to_cl(x, dx), *yt = to_cl(y, dy);
    int rc = lscc_conv2d_fwd_dnnl(c, p, xt, w, b, yt);
    from_cl(xt, NULL, dx), from_cl(yt, y, dy);
    return rc;
}

static int dnnl_bd(lscc_dnnl *c, int cl, const lscc_win2d *p, const float *dy, const float *w, float *dx) {
    if (!cl) return lscc_conv2d_bwd_data_dnnl(c, p, dy, w, dx);
    const int sx[4] = {p->n, p->c, p->h, p->w}, sy[4] = {p->n, p->oc, p->oh, p->ow};
    float *dyt = to_cl(dy, sy), *dxt = to_cl(dx, sx);
    int rc = lscc_conv2d_bwd_data_dnnl(c, p, dyt, w, dxt);
    from_cl(dyt, NULL, sy), from_cl(dxt, dx, sx);
    return rc;
}

static int dnnl_bw(lscc_dnnl *c, int cl, const lscc_win2d *p, const float *x, const float *dy, float *dw, float *db) {
    if (!cl) return lscc_conv2d_bwd_weight_dnnl(c, p, x, dy, dw, db);
    const int sx[4] = {p->n, p->c, p->h, p->w}, sy[4] = {p->n, p->oc, p->oh, p->ow};
    float *xt = to_cl(x, sx), *dyt = to_cl(dy, sy);
    int rc = lscc_conv2d_bwd_weight_dnnl(c, p, xt, dyt, dw, db);
    from_cl(xt, NULL, sx), from_cl(dyt, NULL, sy);
    return rc;
}

static double err(const float *got, const double *ref, const double *pre, size_t n) {
    double *g = to64(got, n);
    double e = accum_rel_err(g, ref, pre, n);
    free(g);
    return e;
}

/* The gradients of one implementation: once into zeroed buffers (g*), twice
 * into buffers starting at pre (a*). dnnl NULL: the plain float32 kernels. */
static void grads(lscc_dnnl *ctx, int cl, const gcase *k, const float *x, const float *w, const float *dy,
                  const float *pre[3], float *g[3], float *a[3], size_t len[3], int *rc) {
    const lscc_win2d *p = &k->p;
    for (int i = 0; i < 3; i++) {
        memset(g[i], 0, sizeof(float) * len[i]);
        memcpy(a[i], pre[i], sizeof(float) * len[i]);
    }
    float *gdb = k->bias ? g[2] : NULL, *adb = k->bias ? a[2] : NULL;
    if (ctx) {
        *rc |= dnnl_bd(ctx, cl, p, dy, w, g[0]);
        *rc |= dnnl_bw(ctx, cl, p, x, dy, g[1], gdb);
        for (int r = 0; r < 2; r++) {
            *rc |= dnnl_bd(ctx, cl, p, dy, w, a[0]);
            *rc |= dnnl_bw(ctx, cl, p, x, dy, a[1], adb);
        }
    } else {
        lscc_conv2d_bwd_data_f32(p, dy, w, g[0]);
        lscc_conv2d_bwd_weight_f32(p, x, dy, g[1], gdb);
        for (int r = 0; r < 2; r++) {
            lscc_conv2d_bwd_data_f32(p, dy, w, a[0]);
            lscc_conv2d_bwd_weight_f32(p, x, dy, a[1], adb);
        }
    }
}

static void run_case(lscc_dnnl *ctx, int cl, const gcase *k, unsigned seed, result *r) {
    const lscc_win2d *p = &k->p;
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw, nb = (size_t)p->oc;
    size_t len[3] = {nx, nw, nb};
    memset(r, 0, sizeof *r);
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(nb), *dy = falloc(ny), *y = falloc(ny), *y2 = falloc(ny);
    float *pre[3], *g[3], *a[3];
    rnd(x, nx, &seed), rnd(w, nw, &seed), rnd(b, nb, &seed), rnd(dy, ny, &seed);
    for (int i = 0; i < 3; i++) {
        pre[i] = falloc(len[i]), g[i] = falloc(len[i]), a[i] = falloc(len[i]);
        rnd(pre[i], len[i], &seed);
    }

    /* float64 reference on the same inputs */
    double *x64 = to64(x, nx), *w64 = to64(w, nw), *b64 = to64(b, nb), *dy64 = to64(dy, ny);
    double *y64 = calloc(ny + 1, sizeof *y64), *ref[3], *pre64[3];
    ck_assert_ptr_nonnull(y64);
    lscc_conv2d_fwd_f64(p, x64, w64, k->bias ? b64 : NULL, y64);
    for (int i = 0; i < 3; i++) {
        ref[i] = calloc(len[i] + 1, sizeof(double));
        ck_assert_ptr_nonnull(ref[i]);
        pre64[i] = to64(pre[i], len[i]);
    }
    lscc_conv2d_bwd_data_f64(p, dy64, w64, ref[0]);
    lscc_conv2d_bwd_weight_f64(p, x64, dy64, ref[1], k->bias ? ref[2] : NULL);

    for (int impl = 0; impl < 2; impl++) {
        double *e = impl ? r->plain : r->e;
        lscc_dnnl *c = impl ? NULL : ctx;
        rnd(y, ny, &seed); /* overwritten */
        if (c) {
            r->rc |= dnnl_fwd(c, cl, p, x, w, k->bias ? b : NULL, y);
            rnd(y2, ny, &seed);
            r->rc |= dnnl_fwd(c, cl, p, x, w, k->bias ? b : NULL, y2);
            r->repeat |= memcmp(y, y2, sizeof *y * ny) != 0;
        } else {
            lscc_conv2d_fwd_f32(p, x, w, k->bias ? b : NULL, y);
        }
        e[E_FWD] = err(y, y64, NULL, ny);
        grads(c, cl, k, x, w, dy, (const float **)pre, g, a, len, &r->rc);
        e[E_BD] = err(g[0], ref[0], NULL, nx);
        e[E_BD_ACC] = err(a[0], ref[0], pre64[0], nx);
        e[E_BW] = err(g[1], ref[1], NULL, nw);
        e[E_BW_ACC] = err(a[1], ref[1], pre64[1], nw);
        if (k->bias) {
            e[E_DB] = err(g[2], ref[2], NULL, nb);
            e[E_DB_ACC] = err(a[2], ref[2], pre64[2], nb);
        } else {
            /* db == NULL: untouched */
            e[E_DB] = err(g[2], ref[2], NULL, nb);
            e[E_DB_ACC] = err(a[2], pre64[2], NULL, nb);
        }
    }

    r->guards |= ffree(x, nx) | ffree(w, nw) | ffree(b, nb) | ffree(dy, ny) | ffree(y, ny) | ffree(y2, ny);
    for (int i = 0; i < 3; i++) {
        r->guards |= ffree(pre[i], len[i]) | ffree(g[i], len[i]) | ffree(a[i], len[i]);
        free(ref[i]), free(pre64[i]);
    }
    free(x64), free(w64), free(b64), free(dy64), free(y64);
}

static void check_result(const gcase *k, const result *r) {
    ck_assert_msg(!r->rc, "%s: a oneDNN call failed", k->name);
    ck_assert_msg(!r->guards, "%s: write outside a buffer", k->name);
    ck_assert_msg(!r->repeat, "%s: second forward call (cache hit) differs from the first", k->name);
    for (int i = 0; i < NERR; i++)
        ck_assert_msg(r->e[i] <= TOL, "%s %s: relative error %.3g > %.0e", k->name, ename[i], r->e[i], TOL);
}

/* Case _i % NCASES; from NCASES on with the context set to channels-last
 * (lscc_dnnl_set_nhwc, on NHWC copies of the same data). */
START_TEST(dnnl_matches_reference) {
    const gcase *k = &cases[_i % NCASES];
    const int cl = _i >= NCASES;
    lscc_dnnl *ctx;
    ck_assert_int_eq(lscc_dnnl_create(&ctx), 0);
    lscc_dnnl_set_nhwc(ctx, cl);
    result r;
    run_case(ctx, cl, k, 1000u + (unsigned)_i, &r);
    char msg[512];
    int len = snprintf(msg, sizeof msg, "%-20s %s dnnl/plain:", k->name, cl ? "NHWC" : "NCHW");
    for (int i = 0; i < NERR; i++)
        len += snprintf(msg + len, sizeof msg - (size_t)len, " %s %.1e/%.1e", ename[i], r.e[i], r.plain[i]);
    printf("%s\n", msg);
    check_result(k, &r);
    lscc_dnnl_destroy(ctx);
}
END_TEST

/* Forward of case k on three contexts alive together, the first one twice
 * (a hit after the others built the same geometry): identical results. */
START_TEST(contexts_coexist) {
    lscc_dnnl *ctx[3];
    for (int i = 0; i < 3; i++) ck_assert_int_eq(lscc_dnnl_create(&ctx[i]), 0);
    for (int c = 0; c < NCASES; c++) {
        const gcase *k = &cases[c];
        const lscc_win2d *p = &k->p;
        const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
        const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw;
        unsigned seed = 77u + (unsigned)c;
        float *x = falloc(nx), *w = falloc(nw), *b = falloc((size_t)p->oc), *y[4];
        rnd(x, nx, &seed), rnd(w, nw, &seed), rnd(b, (size_t)p->oc, &seed);
        for (int i = 0; i < 4; i++) {
            y[i] = falloc(ny);
            ck_assert_int_eq(lscc_conv2d_fwd_dnnl(ctx[i % 3], p, x, w, k->bias ? b : NULL, y[i]), 0);
        }
        for (int i = 1; i < 4; i++)
            ck_assert_msg(!memcmp(y[0], y[i], sizeof(float) * ny), "%s: context %d", k->name, i);
        int bad = ffree(x, nx) | ffree(w, nw) | ffree(b, (size_t)p->oc);
        for (int i = 0; i < 4; i++) bad |= ffree(y[i], ny);
        ck_assert_msg(!bad, "%s: write outside a buffer", k->name);
    }
    lscc_dnnl_destroy(ctx[1]);
    lscc_dnnl_destroy(NULL);
    result r;
    run_case(ctx[0], 0, &cases[0], 5u, &r);
    check_result(&cases[0], &r);
    lscc_dnnl_destroy(ctx[0]);
    lscc_dnnl_destroy(ctx[2]);
}
END_TEST

typedef struct worker {
    int first;
    result r[NCASES];
    int create_failed;
} worker;

static void *work(void *arg) {
    worker *wk = arg;
    lscc_dnnl *ctx;
    if (lscc_dnnl_create(&ctx)) {
        wk->create_failed = 1;
        return NULL;
    }
    for (int i = 0; i < NCASES; i++) {
        const int c = (wk->first + i) % NCASES;
        run_case(ctx, 0, &cases[c], 3000u + (unsigned)c, &wk->r[c]);
    }
    lscc_dnnl_destroy(ctx);
    return NULL;
}

/* Two threads, a context each, all cases in different orders, at once. */
START_TEST(contexts_in_threads) {
    static worker wk[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        wk[i].first = i * NCASES / 2;
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &wk[i]), 0);
    }
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert(!wk[i].create_failed);
        for (int c = 0; c < NCASES; c++) check_result(&cases[c], &wk[i].r[c]);
    }
}
END_TEST

/* More distinct geometries than the cache holds, then the first again: it was
 * evicted (least recently used) and is rebuilt to the same result. */
START_TEST(cache_eviction) {
    lscc_dnnl *ctx;
    ck_assert_int_eq(lscc_dnnl_create(&ctx), 0);
    const gcase *k = &cases[0];
    const lscc_win2d *p = &k->p;
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw;
    unsigned seed = 9;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc((size_t)p->oc), *y0 = falloc(ny), *y1 = falloc(ny);
    rnd(x, nx, &seed), rnd(w, nw, &seed), rnd(b, (size_t)p->oc, &seed);
    ck_assert_int_eq(lscc_conv2d_fwd_dnnl(ctx, p, x, w, b, y0), 0);
    const int extra = LSCC_DNNL_CACHE + 40;
    float sx[2 * 9 * 40], sw[3 * 2 * 3 * 3], sy[3 * 9 * 40], sr[3 * 9 * 40];
    rnd(sx, sizeof sx / sizeof sx[0], &seed), rnd(sw, sizeof sw / sizeof sw[0], &seed);
    for (int i = 0; i < extra; i++) {
        /* distinct keys: 1 to 40 columns, 2 to 9 rows */
        const int h = 2 + i / 40, w = 1 + i % 40;
        lscc_win2d q = {1, 2, h, w, 3, h, w, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        ck_assert_int_eq(lscc_conv2d_fwd_dnnl(ctx, &q, sx, sw, NULL, sy), 0);
        lscc_conv2d_fwd_f32(&q, sx, sw, NULL, sr);
        float num = 0, den = 0;
        for (int j = 0; j < 3 * h * w; j++) num = fmaxf(num, fabsf(sy[j] - sr[j])), den = fmaxf(den, fabsf(sr[j]));
        ck_assert_msg(num <= 1e-5f * den, "geometry %d: error %g of %g", i, num, den);
    }
    ck_assert_int_eq(lscc_conv2d_fwd_dnnl(ctx, p, x, w, b, y1), 0);
    ck_assert(!memcmp(y0, y1, sizeof(float) * ny));
    int bad = ffree(x, nx) | ffree(w, nw) | ffree(b, (size_t)p->oc) | ffree(y0, ny) | ffree(y1, ny);
    ck_assert(!bad);
    lscc_dnnl_destroy(ctx);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, dnnl_matches_reference, 0, 2 * NCASES);
    tcase_add_test(tc, contexts_coexist);
    tcase_add_test(tc, contexts_in_threads);
    tcase_add_test(tc, cache_eviction);
}

int main(void) {
    for (int i = 0; i < NCASES; i++) {
        lscc_win2d *p = &cases[i].p;
        if (!p->oh) p->oh = (p->h + p->pt + p->pb - ((p->kh - 1) * p->dh + 1)) / p->sh + 1;
        if (!p->ow) p->ow = (p->w + p->pl + p->pr - ((p->kw - 1) * p->dw + 1)) / p->sw + 1;
    }
    return run_suite("dnnl", add_tests, 300);
}
