/* Head and layout CPU kernels (global_avgpool.c, gemm.c, matmul.c, softmax.c,
 * copy_region.c, pad2d.c) against PyTorch: every case of make_head_cases.py,
 * in float64 (relative error <= 1e-12) and float32 (<= 1e-5; the inputs are
 * float32 values, so both types see the reference's inputs exactly). The
 * error is max|a - b| / max|b| over the whole tensor. Backward kernels run
 * twice on buffers pre-filled with random values, so the check is
 * pre + 2 * gradient (they accumulate); for Gemm and MatMul the second run is
 * one call per gradient with NULL for the others. Every buffer has guard
 * elements on both sides, inputs must come back unchanged, Concat's copies
 * must leave the channels of the other inputs alone, and Softmax also runs in
 * place (same bits).
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
#define MAXP 48

enum op { GAP, GEMM, MATMUL, SOFTMAX, CONCAT, SLICE, PAD, NOPS };
static const char *const op_name[NOPS] = {"gap", "gemm", "matmul", "softmax", "concat", "slice", "pad"};

typedef struct hcase {
    int op;
    char name[128];
    int np;
    double p[MAXP];
} hcase;

enum { X, B, C, Y, DY, DX, DB, DC, NARR };
static const char *const ext[NARR] = {"x", "b", "c", "y", "dy", "dx", "db", "dc"};

/* One case's tensors in double: PyTorch's (ref), the values backward buffers
 * start from (pre), and what the kernels gave (got; Y, DX, DB, DC). Arrays an
 * op does not have are NULL with length 0. */
typedef struct arrays {
    size_t len[NARR];
    double *ref[NARR], *pre[NARR], *got[NARR];
} arrays;

static hcase cases[64];
static int ncases;
static const char *dir;

static size_t P(const hcase *k, int i) { return (size_t)k->p[i]; }

/* Lengths of x, b, c and y from the case's parameters (see make_head_cases.py). */
static void lengths(const hcase *k, size_t *len) {
    memset(len, 0, sizeof *len * NARR);
    switch (k->op) {
    case GAP: len[X] = P(k, 0) * P(k, 1) * P(k, 2) * P(k, 3), len[Y] = P(k, 0) * P(k, 1); break;
    case GEMM:
        len[X] = P(k, 0) * P(k, 1), len[B] = P(k, 1) * P(k, 2), len[C] = P(k, 5) * P(k, 6);
        len[Y] = P(k, 0) * P(k, 2);
        break;
    case MATMUL:
        len[X] = P(k, 0) * P(k, 1) * P(k, 2), len[B] = P(k, 0) * P(k, 2) * P(k, 3);
        len[Y] = P(k, 0) * P(k, 1) * P(k, 3);
        break;
    case SOFTMAX: len[X] = len[Y] = P(k, 0) * P(k, 1); break;
    case CONCAT: {
        size_t ctot = 0;
        for (size_t i = 0; i < P(k, 3); i++) {
            const double *q = k->p + 4 + 5 * i;
            len[X] += P(k, 0) * (size_t)q[0] * (size_t)q[1] * (size_t)q[2];
            ctot += (size_t)q[0];
        }
        len[Y] = P(k, 0) * ctot * P(k, 1) * P(k, 2);
        break;
    }
    case SLICE: len[X] = P(k, 0) * P(k, 1) * P(k, 2) * P(k, 3), len[Y] = P(k, 0) * P(k, 5) * P(k, 8) * P(k, 9); break;
    case PAD:
        len[X] = P(k, 0) * P(k, 1) * P(k, 2) * P(k, 3);
        len[Y] = P(k, 0) * P(k, 1) * (P(k, 2) + P(k, 4) + P(k, 5)) * (P(k, 3) + P(k, 6) + P(k, 7));
        break;
    default: ck_abort_msg("bad op %d", k->op);
    }
    len[DY] = len[Y], len[DX] = len[X], len[DB] = len[B], len[DC] = len[C];
}

/* The region copies of Concat part i (dst_c0 is the channels of the parts
 * before it) and of Slice. */
static lscc_region_copy concat_part(const hcase *k, size_t i, size_t *src_off) {
    size_t ctot = 0, c0 = 0;
    *src_off = 0;
    for (size_t j = 0; j < P(k, 3); j++) {
        const double *q = k->p + 4 + 5 * j;
        if (j < i) c0 += (size_t)q[0], *src_off += P(k, 0) * (size_t)q[0] * (size_t)q[1] * (size_t)q[2];
        ctot += (size_t)q[0];
    }
    const double *q = k->p + 4 + 5 * i;
    return (lscc_region_copy){.n = P(k, 0), .c = (size_t)q[0], .src_c = (size_t)q[0], .src_c0 = 0,
                              .src_h = (size_t)q[1], .src_w = (size_t)q[2], .src_y0 = (size_t)q[3],
                              .src_x0 = (size_t)q[4], .dst_c = ctot, .dst_c0 = c0, .dst_h = P(k, 1), .dst_w = P(k, 2)};
}

static lscc_region_copy slice_copy(const hcase *k) {
    return (lscc_region_copy){.n = P(k, 0), .c = P(k, 5), .src_c = P(k, 1), .src_c0 = P(k, 4), .src_h = P(k, 2),
                              .src_w = P(k, 3), .src_y0 = P(k, 6), .src_x0 = P(k, 7), .dst_c = P(k, 5), .dst_c0 = 0,
                              .dst_h = P(k, 8), .dst_w = P(k, 9)};
}

static lscc_pad2d pad_of(const hcase *k) {
    return (lscc_pad2d){.n = P(k, 0), .c = P(k, 1), .h = P(k, 2), .w = P(k, 3), .oh = P(k, 2) + P(k, 4) + P(k, 5),
                        .ow = P(k, 3) + P(k, 6) + P(k, 7), .pt = P(k, 4), .pl = P(k, 6)};
}

static lscc_gemm gemm_of(const hcase *k) {
    return (lscc_gemm){.m = P(k, 0), .k = P(k, 1), .n = P(k, 2), .trans_a = (int)P(k, 3), .trans_b = (int)P(k, 4),
                       .cm = P(k, 5), .cn = P(k, 6), .alpha = k->p[7], .beta = k->p[8]};
}

static double *read_f64(const char *name, const char *e, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, e);
    return read_f64_file(path, len, NULL);
}

/* Error of output `i`; for backward outputs against pre + 2 * ref. */
static double err_of(const arrays *t, int i) { return accum_rel_err(t->got[i], t->ref[i], t->pre[i], t->len[i]); }

#define T float
#define S f32
#include "test_head.c"
#undef T
#undef S
#define T double
#define S f64
#include "test_head.c"
#undef T
#undef S

static void load(const hcase *k, arrays *t) {
    memset(t, 0, sizeof *t);
    lengths(k, t->len);
    unsigned seed = 4321;
    for (int i = 0; i < NARR; i++) {
        if (!t->len[i]) continue;
        t->ref[i] = read_f64(k->name, ext[i], t->len[i]);
        if (i >= DX) {
            t->pre[i] = malloc(sizeof(double) * t->len[i]);
            ck_assert_ptr_nonnull(t->pre[i]);
            for (size_t e = 0; e < t->len[i]; e++) t->pre[i][e] = (float)(2.0 * rand_r(&seed) / RAND_MAX - 1);
        }
        if (i == Y || i >= DX) {
            t->got[i] = calloc(t->len[i], sizeof(double));
            ck_assert_ptr_nonnull(t->got[i]);
        }
    }
}

static void release(arrays *t) {
    for (int i = 0; i < NARR; i++) free(t->ref[i]), free(t->pre[i]), free(t->got[i]);
}

START_TEST(head_matches_pytorch) {
    const hcase *k = &cases[_i];
    static const char *const label[NARR] = {[Y] = "y", [DX] = "dx", [DB] = "db", [DC] = "dc"};
    const int outs[] = {Y, DX, DB, DC};
    for (int prec = 0; prec < 2; prec++) {
        const double tol = prec ? 1e-5 : 1e-12;
        arrays t;
        load(k, &t);
        if (prec) run_f32(k, &t);
        else run_f64(k, &t);
        char msg[512];
        int len = snprintf(msg, sizeof msg, "%-20s %s", k->name, prec ? "f32" : "f64");
        for (int o = 0; o < 4; o++) {
            const int i = outs[o];
            if (!t.got[i]) continue;
            const double e = err_of(&t, i);
            len += snprintf(msg + len, sizeof msg - (size_t)len, "  %s %.1e", label[i], e);
            ck_assert_msg(e <= tol, "%s %s %s: relative error %.3g > %.0e", k->name, prec ? "f32" : "f64",
                          label[i], e, tol);
        }
        printf("%s\n", msg);
        release(&t);
    }
}
END_TEST

static void add_tests(TCase *tc) { tcase_add_loop_test(tc, head_matches_pytorch, 0, ncases); }

int main(void) {
    dir = env_or_skip("LSCC_TEST_HEAD");
    char path[4096], line[2048];
    snprintf(path, sizeof path, "%s/index", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    while (ncases < (int)(sizeof cases / sizeof cases[0]) && fgets(line, sizeof line, f)) {
        hcase *k = &cases[ncases];
        char op[32];
        int used = 0;
        memset(k, 0, sizeof *k);
        if (sscanf(line, "%31s %127s %n", op, k->name, &used) != 2) continue;
        for (k->op = 0; k->op < NOPS && strcmp(op_name[k->op], op) != 0; k->op++) {}
        if (k->op == NOPS) {
            fprintf(stderr, "%s: unknown op %s\n", path, op);
            return 1;
        }
        for (char *p = line + used, *e; k->np < MAXP; p = e) {
            const double v = strtod(p, &e);
            if (e == p) break;
            k->p[k->np++] = v;
        }
        ncases++;
    }
    fclose(f);
    if (ncases < 29) {
        fprintf(stderr, "%s: %d cases, expected 29\n", path, ncases);
        return 1;
    }
    return run_suite("head", add_tests, 120);
}

#else

static T *FN(alloc)(size_t n) {
    T *v = malloc(sizeof *v * (n + 2 * GUARD));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n + 2 * GUARD; i++) v[i] = (T)GUARD_VALUE;
    return v + GUARD;
}

/* A copy of a in type T (only guards when a is NULL: an absent operand). */
static T *FN(from)(const double *a, size_t n) {
    T *v = FN(alloc)(n);
    for (size_t i = 0; i < n && a; i++) v[i] = (T)a[i];
    return v;
}

/* Copies v back into out (when set), checks v's guards, that an input (in
 * set) is unchanged, and frees v. */
static void FN(done)(T *v, double *out, const double *in, size_t n, const char *what) {
    for (size_t i = 0; i < n && out; i++) out[i] = v[i];
    for (size_t i = 0; i < n && in; i++) ck_assert_msg(v[i] == (T)in[i], "%s: input changed at %zu", what, i);
    for (size_t i = 0; i < GUARD; i++)
        ck_assert_msg(v[-1 - (ptrdiff_t)i] == (T)GUARD_VALUE && v[n + i] == (T)GUARD_VALUE,
                      "%s: write outside the buffer", what);
    free(v - GUARD);
}

static size_t FN(written)(const T *y, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) w += y[i] != (T)GUARD_VALUE;
    return w;
}

/* Forward of case k: y = op(x, b, c); y starts as GUARD_VALUE everywhere. */
static void FN(fwd)(const hcase *k, const T *x, const T *b, const T *c, T *y, size_t ylen) {
    switch (k->op) {
    case GAP: FN(lscc_global_avgpool_fwd)(P(k, 0) * P(k, 1), P(k, 2) * P(k, 3), x, y); break;
    case GEMM: {
        const lscc_gemm g = gemm_of(k);
        FN(lscc_gemm_fwd)(&g, x, b, g.cm ? c : NULL, y);
        break;
    }
    case MATMUL: FN(lscc_matmul_fwd)(P(k, 0), P(k, 1), P(k, 2), P(k, 3), x, b, y); break;
    case SOFTMAX: FN(lscc_softmax_fwd)(P(k, 0), P(k, 1), x, y); break;
    case CONCAT: /* each part writes its own channels only */
        for (size_t i = 0, done = 0; i < P(k, 3); i++) {
            size_t off;
            const lscc_region_copy r = concat_part(k, i, &off);
            FN(lscc_copy_region)(&r, x + off, y);
            done += r.n * r.c * r.dst_h * r.dst_w;
            ck_assert_msg(FN(written)(y, ylen) == done, "%s: part %zu wrote outside its channels", k->name, i);
        }
        break;
    case SLICE: {
        const lscc_region_copy r = slice_copy(k);
        FN(lscc_copy_region)(&r, x, y);
        break;
    }
    case PAD: {
        const lscc_pad2d p = pad_of(k);
        FN(lscc_pad2d_fwd)(&p, (T)k->p[8], x, y);
        break;
    }
    default: ck_abort_msg("bad op %d", k->op);
    }
}

/* Backward of case k: dx, db, dc += gradients (any may be NULL for Gemm and
 * MatMul). */
static void FN(bwd)(const hcase *k, const T *x, const T *b, const T *dy, T *dx, T *db, T *dc) {
    switch (k->op) {
    case GAP: FN(lscc_global_avgpool_bwd)(P(k, 0) * P(k, 1), P(k, 2) * P(k, 3), dy, dx); break;
    case GEMM: {
        const lscc_gemm g = gemm_of(k);
        FN(lscc_gemm_bwd)(&g, x, b, dy, dx, db, g.cm ? dc : NULL);
        break;
    }
    case MATMUL: FN(lscc_matmul_bwd)(P(k, 0), P(k, 1), P(k, 2), P(k, 3), x, b, dy, dx, db); break;
    case SOFTMAX: FN(lscc_softmax_bwd)(P(k, 0), P(k, 1), x, dy, dx); break;
    case CONCAT:
        for (size_t i = 0; i < P(k, 3); i++) {
            size_t off;
            const lscc_region_copy r = concat_part(k, i, &off);
            FN(lscc_copy_region_acc)(&r, dy, dx + off);
        }
        break;
    case SLICE: {
        const lscc_region_copy r = slice_copy(k);
        FN(lscc_copy_region_acc)(&r, dy, dx);
        break;
    }
    case PAD: {
        const lscc_pad2d p = pad_of(k);
        FN(lscc_pad2d_bwd)(&p, dy, dx);
        break;
    }
    default: ck_abort_msg("bad op %d", k->op);
    }
}

/* Runs case k's kernels in type T on t's inputs, into t->got. */
static void FN(run)(const hcase *k, arrays *t) {
    T *x = FN(from)(t->ref[X], t->len[X]), *b = FN(from)(t->ref[B], t->len[B]);
    T *c = FN(from)(t->ref[C], t->len[C]), *dy = FN(from)(t->ref[DY], t->len[DY]);
    T *y = FN(alloc)(t->len[Y]);
    T *dx = FN(from)(t->pre[DX], t->len[DX]), *db = FN(from)(t->pre[DB], t->len[DB]);
    T *dc = FN(from)(t->pre[DC], t->len[DC]);
    FN(fwd)(k, x, b, c, y, t->len[Y]);
    if (k->op == SOFTMAX) { /* in place */
        T *z = FN(from)(t->ref[X], t->len[X]);
        FN(fwd)(k, z, b, c, z, t->len[X]);
        ck_assert_msg(memcmp(y, z, sizeof *y * t->len[Y]) == 0, "%s: in-place forward differs", k->name);
        FN(done)(z, NULL, NULL, t->len[X], "in-place y");
    }
    FN(bwd)(k, x, b, dy, dx, t->len[DB] ? db : NULL, t->len[DC] ? dc : NULL);
    if (k->op == GEMM || k->op == MATMUL) { /* one gradient per call, NULL for the others */
        FN(bwd)(k, x, b, dy, dx, NULL, NULL);
        FN(bwd)(k, x, b, dy, NULL, db, NULL);
        if (t->len[DC]) FN(bwd)(k, x, b, dy, NULL, NULL, dc);
    } else {
        FN(bwd)(k, x, b, dy, dx, NULL, NULL);
    }
    FN(done)(x, NULL, t->ref[X], t->len[X], "x");
    FN(done)(b, NULL, t->ref[B], t->len[B], "b");
    FN(done)(c, NULL, t->ref[C], t->len[C], "c");
    FN(done)(dy, NULL, t->ref[DY], t->len[DY], "dy");
    FN(done)(y, t->got[Y], NULL, t->len[Y], "y");
    FN(done)(dx, t->got[DX], NULL, t->len[DX], "dx");
    FN(done)(db, t->got[DB], NULL, t->len[DB], "db");
    FN(done)(dc, t->got[DC], NULL, t->len[DC], "dc");
}

#endif
