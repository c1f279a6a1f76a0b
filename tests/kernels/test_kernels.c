/* CPU kernels (kernels/cpu) against PyTorch: every case of
 * make_kernel_cases.py, every kernel, in float64 (relative error <= 1e-12) and
 * float32 (inputs rounded to float, <= 1e-5). The error is max|a - b| / max|b|
 * over the whole tensor. Backward kernels run twice on a buffer pre-filled with
 * random values, so the check is pre + 2 * gradient (they accumulate). Every
 * buffer a kernel writes has guard elements on both sides.
 *
 * Second test: the fast convolution (im2col + OpenBLAS GEMM, conv2d.c) against
 * the reference loops it replaced (lscc_conv2d_*_ref_f64, conv2d_ref.c) on
 * NRANDOM random geometries (random_geometry below) and random data: float64
 * within 1e-13 relative, float32 (against the float64 reference on the same
 * float inputs) within 1e-5; forward into a buffer of NaN (overwritten),
 * the gradients alone (zeroed buffers, one call) and accumulated (random
 * buffers, two calls, against pre + 2 * gradient); guards around every buffer.
 *
 * The file includes itself once per type (T, S) for the runner; the tests are
 * in the #ifndef T part. */
#ifndef T
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lscc_kernels.h"
#include "support.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)
#define GUARD 8
#define GUARD_VALUE 12345.0

typedef struct kcase {
    char kind[16], name[128];
    lscc_win2d p;
    int flag; /* conv: has bias; avgpool: count_include_pad */
} kcase;

enum { X, W, B, Y, DY, DX, DW, DB, NARR };
static const char *const ext[NARR] = {"x", "w", "b", "y", "dy", "dx", "dw", "db"};

/* One case's tensors in double: PyTorch's (ref), the values backward buffers
 * start from (pre), and what the kernels gave (got; Y, DX, DW, DB). */
typedef struct arrays {
    size_t len[NARR];
    double *ref[NARR], *pre[NARR], *got[NARR];
} arrays;

static kcase cases[64];
static int ncases;
static const char *dir;

static int is_conv(const kcase *k) { return strcmp(k->kind, "conv") == 0; }

static double *read_f64(const char *name, const char *e, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, e);
    return read_f64_file(path, len, NULL);
}

/* Error of output `i`; for backward outputs against pre + 2 * ref. */
static double err_of(const arrays *t, int i) { return accum_rel_err(t->got[i], t->ref[i], t->pre[i], t->len[i]); }

#define T float
#define S f32
#include "test_kernels.c"
#undef T
#undef S
#define T double
#define S f64
#include "test_kernels.c"
#undef T
#undef S

static void load(const kcase *k, arrays *t) {
    const lscc_win2d *p = &k->p;
    memset(t, 0, sizeof *t);
    t->len[X] = t->len[DX] = (size_t)p->n * p->c * p->h * p->w;
    t->len[Y] = t->len[DY] = (size_t)p->n * p->oc * p->oh * p->ow;
    if (is_conv(k)) {
        t->len[W] = t->len[DW] = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw;
        t->len[B] = t->len[DB] = (size_t)p->oc;
    }
    unsigned seed = 1234;
    for (int i = 0; i < NARR; i++) {
        if (!is_conv(k) && (i == W || i == B || i == DW || i == DB)) continue;
        t->ref[i] = read_f64(k->name, ext[i], t->len[i]);
        if (i == DX || i == DW || i == DB) {
            t->pre[i] = malloc(sizeof(double) * (t->len[i] ? t->len[i] : 1));
            ck_assert_ptr_nonnull(t->pre[i]);
            for (size_t e = 0; e < t->len[i]; e++) t->pre[i][e] = (float)(2.0 * rand_r(&seed) / RAND_MAX - 1);
        }
        if (i == Y || i == DX || i == DW || i == DB) {
            t->got[i] = calloc(t->len[i] ? t->len[i] : 1, sizeof(double));
            ck_assert_ptr_nonnull(t->got[i]);
        }
    }
}

static void release(arrays *t) {
    for (int i = 0; i < NARR; i++) free(t->ref[i]), free(t->pre[i]), free(t->got[i]);
}

START_TEST(kernel_matches_pytorch) {
    const kcase *k = &cases[_i];
    static const char *const label[NARR] = {[Y] = "y", [DX] = "dx", [DW] = "dw", [DB] = "db"};
    const int outs[] = {Y, DX, DW, DB};
    for (int prec = 0; prec < 2; prec++) {
        const double tol = prec ? 1e-5 : 1e-12;
        arrays t;
        load(k, &t);
        if (prec) run_f32(k, &t);
        else run_f64(k, &t);
        char msg[512];
        int len = snprintf(msg, sizeof msg, "%-30s %s", k->name, prec ? "f32" : "f64");
        for (int o = 0; o < 4; o++) {
            int i = outs[o];
            if (!t.got[i] || (i == DB && !k->flag)) continue;
            double e = err_of(&t, i);
            len += snprintf(msg + len, sizeof msg - (size_t)len, "  %s %.1e", label[i], e);
            ck_assert_msg(e <= tol, "%s %s %s: relative error %.3g > %.0e", k->name, prec ? "f32" : "f64",
                          label[i], e, tol);
        }
        printf("%s\n", msg);
        release(&t);
    }
}
END_TEST

#define NRANDOM 256

static int rnd_in(unsigned *seed, int lo, int hi) {
    return lo + (int)((unsigned)rand_r(seed) % (unsigned)(hi - lo + 1));
}

/* Rows (or columns) of a random case: the window spans e = (k - 1) * d + 1
 * input rows; the region has enough real rows that the padded extent [-pt,
 * h + pb) holds at least one window, and the output size is the consistent one
 * or up to 2 less (the buffer then has rows past the last one read, as a
 * tile's region often has). */
static void random_extent(unsigned *seed, int k, int s, int d, int p0, int p1, int lo, int extra, int *in, int *out) {
    const int e = (k - 1) * d + 1;
    int n = e - p0 - p1;
    *in = (n > lo ? n : lo) + rnd_in(seed, 0, extra);
    const int omax = (*in + p0 + p1 - e) / s + 1;
    *out = omax - rnd_in(seed, 0, omax - 1 < 2 ? omax - 1 : 2);
}

/* Geometry of random case i (deterministic): batch 1 or 2, kernels 1 to 7
 * (not square), stride 1 to 3, dilation 1 to 3, pads -3 to 4 on each side
 * (negative pt / pl: the buffer starts before the first row read). By i % 16:
 * 0-7 one group; 8-10 two or three groups; 11-12 depthwise (groups = c, 1 to
 * 5 outputs per channel); 13-14 1x1 stride 1 with pl = pr = 0 (mostly the
 * case where x itself is the column matrix); 15 many input channels (K up to
 * 1800) on 20 to 32 rows and columns, so that the output is split into
 * several chunks. Output channels per group 1 to 9: the GEMM path and the
 * direct one (fewer than 4) are both taken. */
static void random_geometry(int i, lscc_win2d *p, int *bias) {
    unsigned seed = 7919u * (unsigned)i + 13u;
    const int kind = i % 16;
    int cg, og;
    p->n = rnd_in(&seed, 1, 2);
    p->groups = 1;
    cg = rnd_in(&seed, 1, 6);
    og = rnd_in(&seed, 1, 9);
    if (kind >= 8 && kind <= 10) {
        p->groups = rnd_in(&seed, 2, 3);
        cg = rnd_in(&seed, 1, 4);
        og = rnd_in(&seed, 1, 6);
    } else if (kind == 11 || kind == 12) {
        p->groups = rnd_in(&seed, 1, 6);
        cg = 1;
        og = rnd_in(&seed, 1, 5);
    } else if (kind == 15) {
        p->n = 1;
        cg = rnd_in(&seed, 60, 200);
        og = rnd_in(&seed, 4, 6);
    }
    p->c = cg * p->groups;
    p->oc = og * p->groups;
    p->kh = rnd_in(&seed, 1, 7), p->kw = rnd_in(&seed, 1, 7);
    p->sh = rnd_in(&seed, 1, 3), p->sw = rnd_in(&seed, 1, 3);
    p->dh = rnd_in(&seed, 1, 3), p->dw = rnd_in(&seed, 1, 3);
    p->pt = rnd_in(&seed, -3, 4), p->pb = rnd_in(&seed, -3, 4);
    p->pl = rnd_in(&seed, -3, 4), p->pr = rnd_in(&seed, -3, 4);
    int lo = 1, extra = 10;
    if (kind == 13 || kind == 14) {
        p->kh = p->kw = p->sh = p->sw = 1;
        p->pl = p->pr = 0;
        p->pt = rnd_in(&seed, -3, kind == 13 ? 0 : 1);
        p->pb = rnd_in(&seed, -3, kind == 13 ? 0 : 2);
    } else if (kind == 15) {
        p->kh = rnd_in(&seed, 1, 3), p->kw = rnd_in(&seed, 1, 3);
        p->sh = p->sw = p->dh = p->dw = 1;
        lo = 20, extra = 12;
    }
    random_extent(&seed, p->kh, p->sh, p->dh, p->pt, p->pb, lo, extra, &p->h, &p->oh);
    random_extent(&seed, p->kw, p->sw, p->dw, p->pl, p->pr, lo, extra, &p->w, &p->ow);
    if (kind == 13) p->ow = p->w; /* pl = pr = 0, stride 1: the same width */
    *bias = rnd_in(&seed, 0, 2) != 0;
}

START_TEST(fast_matches_ref) {
    lscc_win2d p;
    int bias;
    random_geometry(_i, &p, &bias);
    static const char *const what[7] = {"y", "dx", "dw", "db", "dx+=", "dw+=", "db+="};
    char msg[512];
    int len = snprintf(msg, sizeof msg, "random %3d n%d c%d->%d g%d %dx%d->%dx%d k%dx%d s%dx%d d%dx%d p%d,%d,%d,%d",
                       _i, p.n, p.c, p.oc, p.groups, p.h, p.w, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt,
                       p.pb, p.pl, p.pr);
    for (int prec = 0; prec < 2; prec++) {
        const double tol = prec ? 1e-5 : 1e-13;
        double e[7], emax = 0;
        if (prec) fast_vs_ref_f32(&p, bias, 100u + (unsigned)_i, e);
        else fast_vs_ref_f64(&p, bias, 100u + (unsigned)_i, e);
        for (int k = 0; k < 7; k++) {
            ck_assert_msg(e[k] <= tol, "%s: %s %s relative error %.3g > %.0e", msg, prec ? "f32" : "f64", what[k],
                          e[k], tol);
            emax = fmax(emax, e[k]);
        }
        len += snprintf(msg + len, sizeof msg - (size_t)len, "  %s %.1e", prec ? "f32" : "f64", emax);
    }
    printf("%s\n", msg);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, kernel_matches_pytorch, 0, ncases);
    tcase_add_loop_test(tc, fast_matches_ref, 0, NRANDOM);
}

int main(void) {
    dir = env_or_skip("LSCC_TEST_KERNELS");
    char path[4096];
    snprintf(path, sizeof path, "%s/index", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    kcase k;
    lscc_win2d *p = &k.p;
    while (ncases < (int)(sizeof cases / sizeof cases[0]) &&
           fscanf(f, "%15s %127s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", k.kind, k.name, &p->n,
                  &p->c, &p->h, &p->w, &p->oc, &p->oh, &p->ow, &p->kh, &p->kw, &p->sh, &p->sw, &p->dh, &p->dw, &p->pt,
                  &p->pb, &p->pl, &p->pr, &p->groups, &k.flag) == 21)
        cases[ncases++] = k;
    fclose(f);
    if (ncases < 14) {
        fprintf(stderr, "%s: %d cases, expected 14\n", path, ncases);
        return 1;
    }
    return run_suite("kernels", add_tests, 120);
}

#else

static T *FN(alloc)(size_t n) {
    T *v = malloc(sizeof *v * (n + 2 * GUARD));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n + 2 * GUARD; i++) v[i] = (T)GUARD_VALUE;
    return v + GUARD;
}

static T *FN(from)(const double *a, size_t n) {
    T *v = FN(alloc)(n);
    for (size_t i = 0; i < n; i++) v[i] = (T)a[i];
    return v;
}

/* Copies v back into a (when a is set), checks v's guards and frees it. */
static void FN(done)(T *v, double *a, size_t n, const char *what) {
    for (size_t i = 0; i < n && a; i++) a[i] = v[i];
    for (size_t i = 0; i < GUARD; i++)
        ck_assert_msg(v[-1 - (ptrdiff_t)i] == (T)GUARD_VALUE && v[n + i] == (T)GUARD_VALUE,
                      "%s: write outside the buffer", what);
    free(v - GUARD);
}

/* Runs every kernel of case k in type T on t's inputs, into t->got. */
static void FN(run)(const kcase *k, arrays *t) {
    const lscc_win2d *p = &k->p;
    T *x = FN(from)(t->ref[X], t->len[X]), *dy = FN(from)(t->ref[DY], t->len[DY]);
    T *y = FN(alloc)(t->len[Y]), *dx = FN(from)(t->pre[DX], t->len[DX]);
    if (is_conv(k)) {
        T *w = FN(from)(t->ref[W], t->len[W]), *b = FN(from)(t->ref[B], t->len[B]);
        T *dw = FN(from)(t->pre[DW], t->len[DW]), *db = FN(from)(t->pre[DB], t->len[DB]);
        FN(lscc_conv2d_fwd)(p, x, w, k->flag ? b : NULL, y);
        for (int r = 0; r < 2; r++) {
            FN(lscc_conv2d_bwd_data)(p, dy, w, dx);
            FN(lscc_conv2d_bwd_weight)(p, x, dy, dw, k->flag ? db : NULL);
        }
        FN(done)(w, NULL, t->len[W], "w");
        FN(done)(b, NULL, t->len[B], "b");
        FN(done)(dw, t->got[DW], t->len[DW], "dw");
        FN(done)(db, t->got[DB], t->len[DB], "db");
    } else if (strcmp(k->kind, "maxpool") == 0) {
        FN(lscc_maxpool2d_fwd)(p, x, y);
        for (int r = 0; r < 2; r++) FN(lscc_maxpool2d_bwd)(p, x, dy, dx);
    } else {
        ck_assert_str_eq(k->kind, "avgpool");
        FN(lscc_avgpool2d_fwd)(p, k->flag, x, y);
        for (int r = 0; r < 2; r++) FN(lscc_avgpool2d_bwd)(p, k->flag, dy, dx);
    }
    FN(done)(x, NULL, t->len[X], "x");
    FN(done)(dy, NULL, t->len[DY], "dy");
    FN(done)(y, t->got[Y], t->len[Y], "y");
    FN(done)(dx, t->got[DX], t->len[DX], "dx");
}

/* n random values in [-1, 1], exactly representable in T. */
static double *FN(rand_vals)(size_t n, unsigned *seed) {
    double *v = malloc(sizeof *v * (n ? n : 1));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) v[i] = (T)(2.0 * rand_r(seed) / RAND_MAX - 1);
    return v;
}

static double *FN(zeros)(size_t n) {
    double *v = calloc(n ? n : 1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* The fast kernels in T on case p against the float64 reference loops on the
 * same inputs. e: y; dx, dw, db alone; dx, dw, db accumulated over two calls
 * into random buffers (db untouched without bias). */
static void FN(fast_vs_ref)(const lscc_win2d *p, int bias, unsigned seed, double e[7]) {
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw, nb = (size_t)p->oc;
    const size_t len[3] = {nx, nw, nb};
    double *x = FN(rand_vals)(nx, &seed), *w = FN(rand_vals)(nw, &seed), *b = FN(rand_vals)(nb, &seed);
    double *dy = FN(rand_vals)(ny, &seed), *y = FN(zeros)(ny), *ref[3], *pre[3], *got[3], *acc[3];
    for (int i = 0; i < 3; i++) {
        ref[i] = FN(zeros)(len[i]), got[i] = FN(zeros)(len[i]), acc[i] = FN(zeros)(len[i]);
        pre[i] = FN(rand_vals)(len[i], &seed);
    }
    double *yref = FN(zeros)(ny);
    lscc_conv2d_fwd_ref_f64(p, x, w, bias ? b : NULL, yref);
    lscc_conv2d_bwd_data_ref_f64(p, dy, w, ref[0]);
    lscc_conv2d_bwd_weight_ref_f64(p, x, dy, ref[1], bias ? ref[2] : NULL);

    T *tx = FN(from)(x, nx), *tw = FN(from)(w, nw), *tb = FN(from)(b, nb), *tdy = FN(from)(dy, ny);
    T *ty = FN(alloc)(ny), *g[3], *a[3];
    for (int i = 0; i < 3; i++) g[i] = FN(from)(got[i], len[i]), a[i] = FN(from)(pre[i], len[i]);
    for (size_t i = 0; i < ny; i++) ty[i] = (T)NAN; /* overwritten, never read (GEMM with beta = 0) */
    FN(lscc_conv2d_fwd)(p, tx, tw, bias ? tb : NULL, ty);
    FN(lscc_conv2d_bwd_data)(p, tdy, tw, g[0]);
    FN(lscc_conv2d_bwd_weight)(p, tx, tdy, g[1], bias ? g[2] : NULL);
    for (int r = 0; r < 2; r++) {
        FN(lscc_conv2d_bwd_data)(p, tdy, tw, a[0]);
        FN(lscc_conv2d_bwd_weight)(p, tx, tdy, a[1], bias ? a[2] : NULL);
    }
    FN(done)(tx, NULL, nx, "x"), FN(done)(tw, NULL, nw, "w"), FN(done)(tb, NULL, nb, "b");
    FN(done)(tdy, NULL, ny, "dy"), FN(done)(ty, y, ny, "y");
    for (int i = 0; i < 3; i++) FN(done)(g[i], got[i], len[i], "gradient"), FN(done)(a[i], acc[i], len[i], "gradient");

    e[0] = max_rel_err(y, yref, ny);
    for (int i = 0; i < 3; i++) {
        e[1 + i] = max_rel_err(got[i], ref[i], len[i]);
        e[4 + i] = accum_rel_err(acc[i], ref[i], pre[i], len[i]);
    }
    free(x), free(w), free(b), free(dy), free(y), free(yref);
    for (int i = 0; i < 3; i++) free(ref[i]), free(pre[i]), free(got[i]), free(acc[i]);
}

#endif
