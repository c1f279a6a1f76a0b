/* The training helpers (runtime/optim.c, runtime/loss.c) against PyTorch, on
 * the cases make_train_cases.py writes at test time.
 *
 * - Optimizers: every case (SGD with momentum, with Nesterov momentum and
 *   weight decay, with dampening, plain; AdamW, with amsgrad; several
 *   parameters of different shapes, random gradients of varied scales with
 *   some zeros, a learning-rate change mid-way) gives torch.optim's
 *   parameters after every step: float64 within 1e-12 (max|a - b| / max|b|
 *   per parameter). Float32 is computed in double per element and rounded
 *   once per stored value, while torch rounds after each of its float32
 *   operations. Per step and element the weight differs by torch's roundings
 *   of it (2 for AdamW: the decay and the update, 1 for SGD), ours (1), and
 *   lr times the update's relative difference (a few roundings of the
 *   state, times lr <= 0.2); that is at most about 4 u = 2 FLT_EPSILON of
 *   the largest weight per step, and the differences add over the steps:
 *   the bound is 4 * steps * FLT_EPSILON (2.9e-6 for 6 steps; the largest
 *   seen, printed, is about 4e-7).
 *   Before a chosen step of most cases one gradient element is made NaN,
 *   +Inf or -Inf: the step fails with LSCC_RT_E_INVALID and a message naming
 *   the parameter and element, and weights (bit for bit), the step count
 *   and the state are unchanged, the last shown by the following good steps
 *   still matching torch, which never saw the bad one (also when it is
 *   before the first step, where SGD's momentum buffer starts).
 * - The same large cases (chunks of several parameters on several threads)
 *   give bit-identical weights with 1 and 3 OpenMP threads.
 * - Losses (cross_entropy, binary_cross_entropy_with_logits, mse_loss, with
 *   logits up to +-80): in float64 the loss and the gradient (autograd)
 *   within 1e-12. In float32 the inputs are float32 values computed on in
 *   double, so the loss (returned as double) is within 1e-12 of torch's
 *   float64 loss on the same inputs, and each gradient element is that of
 *   torch's float64 rounded once: |got - ref| <= 2^-24 |ref| + 1e-14 max|ref|;
 *   against torch's own float32 results within 16 FLT_EPSILON (torch's own
 *   roundings: a few per element, sums of <= 1000 terms in blocks). The
 *   gradient with NULL is not written, the loss is the same, in place (grad
 *   = input) gives the same bits, inputs are unchanged and guard elements
 *   around the gradient are untouched.
 * - argmax and accuracy match torch.argmax (ties: first, NaN wins).
 * - Errors: bad arguments and hyper-parameters, GPU parameters, labels out
 *   of range give the documented codes and change nothing; torch's default
 *   hyper-parameters; zero_grad; the learning-rate setter. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lscc_npy.h"
#include "lscc_rt.h"
#include "support.h"

#define MAXP 8
#define GUARD 16

typedef struct ocase {
    char name[64], kind[8], bad_kind[8];
    lscc_dtype dt;
    int steps, lrstep, badstep, badparam;
    size_t badelem;
    double lr, lr2;
    lscc_optim_hparams hp;
    int np;
    int rank[MAXP];
    int64_t dims[MAXP][4];
    size_t count[MAXP];
} ocase;

typedef struct lcase {
    char kind[16], name[64];
    lscc_dtype dt;
    int64_t n, c;
    size_t count;
} lcase;

static ocase ocases[32];
static lcase lcases[64], acases[4];
static int nocases, nlcases, nacases;
static double adam_def[6], sgd_def[4];
static int have_defaults;
static const char *dir;

static const char *path_of(const char *name, const char *what) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s.%s.npy", dir, name, what);
    return buf[k];
}

/* An .npy array in its own dtype, which must be dt's. */
static lscc_npy load(const char *name, const char *what, lscc_dtype dt) {
    lscc_npy a;
    char msg[512];
    ck_assert_msg(lscc_npy_read(path_of(name, what), &a, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_int_eq(a.dtype, dt == LSCC_F32 ? LSCC_NPY_F32 : LSCC_NPY_F64);
    return a;
}

static double *load64(const char *name, const char *what, size_t *n) {
    lscc_npy a;
    char msg[512];
    ck_assert_msg(lscc_npy_read_f64(path_of(name, what), &a, msg, sizeof msg) == 0, "%s", msg);
    if (n) *n = a.count;
    return a.data;
}

static double get(lscc_dtype dt, const void *p, size_t i) {
    return dt == LSCC_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static void set(lscc_dtype dt, void *p, size_t i, double v) {
    if (dt == LSCC_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
}

/* ------------------------------------------------------------------ */
/* Optimizers                                                          */

static const char *const pname[MAXP] = {"p0.weight", "p1.bias", "p2.weight", "p3.weight",
                                        "p4.bias",   "p5",      "p6",        "p7"};

/* Runs case k; when cmp, checks every step against torch (printing the
 * largest error) and the non-finite step. Returns the final weights, all
 * parameters concatenated in the case's dtype (malloc'ed). */
static void *run_optim(const ocase *k, int cmp) {
    size_t es = (size_t)k->dt, total = 0;
    for (int i = 0; i < k->np; i++) total += k->count[i];
    lscc_npy grads = load(k->name, "grads", k->dt), hist = load(k->name, "params", k->dt);
    ck_assert_uint_eq(grads.count, (size_t)k->steps * total);
    ck_assert_uint_eq(hist.count, (size_t)(k->steps + 1) * total);
    lscc_param params[MAXP];
    memset(params, 0, sizeof params);
    size_t off = 0;
    for (int i = 0; i < k->np; i++) {
        lscc_param *p = &params[i];
        p->name = pname[i];
        p->rank = k->rank[i];
        memcpy(p->dims, k->dims[i], sizeof p->dims);
        p->count = k->count[i];
        p->value = malloc(p->count * es);
        p->grad = malloc(p->count * es);
        ck_assert(p->value && p->grad);
        memcpy(p->value, (char *)hist.data + off * es, p->count * es);
        off += p->count;
    }
    lscc_rt_error err = {0, ""};
    lscc_optim *o = NULL;
    int rc = lscc_optim_create(&o, !strcmp(k->kind, "sgd") ? LSCC_OPTIM_SGD : LSCC_OPTIM_ADAMW, &k->hp, params,
                               (size_t)k->np, k->dt, &err);
    ck_assert_msg(rc == LSCC_RT_OK, "%s: %s", k->name, err.msg);
    double worst = 0;
    double tol = k->dt == LSCC_F64 ? 1e-12 : 4.0 * k->steps * FLT_EPSILON;
    char *snap = malloc(total * es);
    ck_assert_ptr_nonnull(snap);
    for (int s = 0; s < k->steps; s++) {
        if (s == k->lrstep) {
            ck_assert_int_eq(lscc_optim_set_lr(o, k->lr2, &err), LSCC_RT_OK);
            ck_assert(lscc_optim_get_lr(o) == k->lr2);
        }
        off = 0;
        for (int i = 0; i < k->np; i++) {
            memcpy(params[i].grad, (char *)grads.data + ((size_t)s * total + off) * es, params[i].count * es);
            off += params[i].count;
        }
        if (cmp && s == k->badstep) {
            off = 0;
            for (int i = 0; i < k->np; i++) {
                memcpy(snap + off * es, params[i].value, params[i].count * es);
                off += params[i].count;
            }
            const lscc_param *bp = &params[k->badparam];
            double keep = get(k->dt, bp->grad, k->badelem);
            double bad = !strcmp(k->bad_kind, "nan") ? NAN : !strcmp(k->bad_kind, "inf") ? INFINITY : -INFINITY;
            set(k->dt, bp->grad, k->badelem, bad);
            memset(&err, 0, sizeof err);
            ck_assert_int_eq(lscc_optim_step(o, &err), LSCC_RT_E_INVALID);
            ck_assert_int_eq(err.code, LSCC_RT_E_INVALID);
            char want[128];
            snprintf(want, sizeof want, "'%s' is %s at element %zu", bp->name,
                     isnan(bad) ? "NaN" : bad > 0 ? "+Inf" : "-Inf", k->badelem);
            ck_assert_msg(strstr(err.msg, want) && strstr(err.msg, "nothing was changed"),
                          "%s: message '%s' lacks '%s'", k->name, err.msg, want);
            ck_assert_int_eq(lscc_optim_steps(o), s);
            off = 0;
            for (int i = 0; i < k->np; i++) {
                ck_assert_msg(!memcmp(snap + off * es, params[i].value, params[i].count * es),
                              "%s: a failed step changed %s", k->name, params[i].name);
                off += params[i].count;
            }
            set(k->dt, bp->grad, k->badelem, keep);
        }
        rc = lscc_optim_step(o, &err);
        ck_assert_msg(rc == LSCC_RT_OK, "%s: %s", k->name, err.msg);
        ck_assert_int_eq(lscc_optim_steps(o), s + 1);
        if (!cmp) continue;
        off = 0;
        for (int i = 0; i < k->np; i++) {
            size_t n = params[i].count;
            double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            ck_assert(a && b);
            for (size_t e = 0; e < n; e++) {
                a[e] = get(k->dt, params[i].value, e);
                b[e] = get(k->dt, hist.data, (size_t)(s + 1) * total + off + e);
            }
            double r = max_rel_err(a, b, n);
            ck_assert_msg(r <= tol, "%s step %d %s: error %g > %g", k->name, s, params[i].name, r, tol);
            worst = fmax(worst, r);
            free(a);
            free(b);
            off += n;
        }
    }
    if (cmp) printf("%-24s largest error %.3g (bound %.3g)\n", k->name, worst, tol);
    char *out = malloc(total * es);
    ck_assert_ptr_nonnull(out);
    off = 0;
    for (int i = 0; i < k->np; i++) {
        memcpy(out + off * es, params[i].value, params[i].count * es);
        off += params[i].count;
        free(params[i].value);
        free(params[i].grad);
    }
    lscc_optim_destroy(o);
    free(snap);
    lscc_npy_free(&grads);
    lscc_npy_free(&hist);
    return out;
}

START_TEST(optimizers_match_torch) {
    free(run_optim(&ocases[_i], 1));
}
END_TEST

START_TEST(thread_count_does_not_matter) {
#ifdef _OPENMP
    int big = 0;
    for (int c = 0; c < nocases; c++) {
        const ocase *k = &ocases[c];
        if (!strstr(k->name, "_big_")) continue;
        size_t total = 0;
        for (int i = 0; i < k->np; i++) total += k->count[i];
        int keep = omp_get_max_threads();
        omp_set_num_threads(1);
        void *one = run_optim(k, 0);
        omp_set_num_threads(3);
        void *three = run_optim(k, 0);
        omp_set_num_threads(keep);
        ck_assert_msg(!memcmp(one, three, total * (size_t)k->dt), "%s: 1 and 3 threads differ", k->name);
        free(one);
        free(three);
        big++;
    }
    ck_assert_int_ge(big, 2);
#else
    printf("built without OpenMP: thread_count_does_not_matter has nothing to check\n");
#endif
}
END_TEST

/* ------------------------------------------------------------------ */
/* Losses                                                              */

static int call_loss(const lcase *k, const void *x, const void *t, const int64_t *labels, double *loss, void *grad,
                     lscc_rt_error *err) {
    if (!strcmp(k->kind, "ce")) return lscc_loss_cross_entropy(k->dt, k->n, k->c, x, labels, loss, grad, err);
    if (!strcmp(k->kind, "bce")) return lscc_loss_bce_logits(k->dt, k->count, x, t, loss, grad, err);
    return lscc_loss_mse(k->dt, k->count, x, t, loss, grad, err);
}

START_TEST(losses_match_torch) {
    const lcase *k = &lcases[_i];
    size_t es = (size_t)k->dt, n = k->count;
    int ce = !strcmp(k->kind, "ce");
    lscc_npy x = load(k->name, "x", k->dt), t = {0}, g = load(k->name, "grad", k->dt);
    ck_assert_uint_eq(x.count, n);
    int64_t *labels = NULL;
    if (ce) {
        size_t nl;
        double *l = load64(k->name, "labels", &nl);
        ck_assert_uint_eq(nl, (size_t)k->n);
        labels = malloc(nl * sizeof *labels);
        for (size_t i = 0; i < nl; i++) labels[i] = (int64_t)l[i];
        free(l);
    } else {
        t = load(k->name, "t", k->dt);
        ck_assert_uint_eq(t.count, n);
    }
    double *loss_ref = load64(k->name, "loss", NULL), *loss64 = load64(k->name, "loss64", NULL);
    double *grad64 = load64(k->name, "grad64", NULL);
    /* the gradient between guard elements */
    char *buf = malloc((n + 2 * GUARD) * es);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < n + 2 * GUARD; i++) set(k->dt, buf, i, 12345.0);
    void *grad = buf + GUARD * es;
    char *x0 = malloc(n * es);
    memcpy(x0, x.data, n * es);
    lscc_rt_error err = {0, ""};
    double loss = NAN;
    ck_assert_int_eq(call_loss(k, x.data, t.data, labels, &loss, grad, &err), LSCC_RT_OK);
    ck_assert_msg(!memcmp(x0, x.data, n * es), "%s: input changed", k->name);
    for (size_t i = 0; i < GUARD; i++) {
        ck_assert(get(k->dt, buf, i) == 12345.0);
        ck_assert(get(k->dt, buf, GUARD + n + i) == 12345.0);
    }
    double *got = malloc(n * sizeof *got), *ref = malloc(n * sizeof *ref);
    for (size_t i = 0; i < n; i++) got[i] = get(k->dt, grad, i), ref[i] = get(k->dt, g.data, i);
    double lerr64 = fabs(loss - loss64[0]) / fmax(fabs(loss64[0]), 1e-300);
    ck_assert_msg(lerr64 <= 1e-12, "%s: loss %.17g, torch float64 %.17g", k->name, loss, loss64[0]);
    if (k->dt == LSCC_F64) {
        double r = max_rel_err(got, grad64, n);
        ck_assert_msg(r <= 1e-12, "%s: gradient error %g", k->name, r);
    } else {
        double big = 0;
        for (size_t i = 0; i < n; i++) big = fmax(big, fabs(grad64[i]));
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(got[i] - grad64[i]) <= ldexp(fabs(grad64[i]), -24) + 1e-14 * big,
                          "%s: gradient [%zu] %.9g, torch float64 %.17g", k->name, i, got[i], grad64[i]);
        double r = max_rel_err(got, ref, n);
        double lr = fabs(loss - loss_ref[0]) / fmax(fabs(loss_ref[0]), 1e-300);
        ck_assert_msg(r <= 16 * FLT_EPSILON && lr <= 16 * FLT_EPSILON, "%s: against torch float32: gradient %g, loss %g",
                      k->name, r, lr);
        printf("%-24s against torch float32: loss %.3g, gradient %.3g (bound 16 FLT_EPSILON)\n", k->name, lr, r);
    }
    /* no gradient: the same loss, nothing written */
    double loss2 = NAN;
    ck_assert_int_eq(call_loss(k, x.data, t.data, labels, &loss2, NULL, &err), LSCC_RT_OK);
    ck_assert(loss2 == loss);
    /* in place: the same bits */
    double loss3 = NAN;
    ck_assert_int_eq(call_loss(k, x.data, t.data, labels, &loss3, x.data, &err), LSCC_RT_OK);
    ck_assert(loss3 == loss);
    ck_assert_msg(!memcmp(x.data, grad, n * es), "%s: in place differs", k->name);
    free(got);
    free(ref);
    free(x0);
    free(buf);
    free(labels);
    free(loss_ref);
    free(loss64);
    free(grad64);
    lscc_npy_free(&x);
    lscc_npy_free(&t);
    lscc_npy_free(&g);
}
END_TEST

START_TEST(argmax_and_accuracy_match_torch) {
    int seen = 0;
    for (int c = 0; c < nacases; c++) {
        const lcase *k = &acases[c];
        lscc_npy x = load(k->name, "x", k->dt);
        size_t nl;
        double *l = load64(k->name, "labels", &nl), *am = load64(k->name, "argmax", NULL);
        double *correct = load64(k->name, "correct", NULL);
        int64_t *labels = malloc(nl * sizeof *labels), *out = malloc(nl * sizeof *out);
        for (size_t i = 0; i < nl; i++) labels[i] = (int64_t)l[i];
        lscc_rt_error err = {0, ""};
        ck_assert_int_eq(lscc_argmax(k->dt, k->n, k->c, x.data, out, &err), LSCC_RT_OK);
        for (size_t i = 0; i < nl; i++)
            ck_assert_msg(out[i] == (int64_t)am[i], "%s row %zu: %lld, torch %lld", k->name, i, (long long)out[i],
                          (long long)am[i]);
        int64_t k_ok = -1;
        ck_assert_int_eq(lscc_accuracy(k->dt, k->n, k->c, x.data, labels, &k_ok, &err), LSCC_RT_OK);
        ck_assert_int_eq(k_ok, (int64_t)correct[0]);
        labels[0] = -1; /* out of range: wrong, not an error */
        ck_assert_int_eq(lscc_accuracy(k->dt, k->n, k->c, x.data, labels, &k_ok, &err), LSCC_RT_OK);
        ck_assert_int_eq(k_ok, (int64_t)correct[0] - (out[0] == (int64_t)l[0]));
        free(labels);
        free(out);
        free(l);
        free(am);
        free(correct);
        lscc_npy_free(&x);
        seen++;
    }
    ck_assert_int_eq(seen, 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Errors, defaults, zero_grad                                         */

static void expect_create(int code, lscc_optim_kind kind, const lscc_optim_hparams *hp, const lscc_param *p,
                          size_t n, lscc_dtype dt, const char *text) {
    lscc_optim *o = (lscc_optim *)1;
    lscc_rt_error err = {0, ""};
    ck_assert_int_eq(lscc_optim_create(&o, kind, hp, p, n, dt, &err), code);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strstr(err.msg, text), "message '%s' lacks '%s'", err.msg, text);
}

START_TEST(errors_and_defaults) {
    float v[6] = {1, 2, 3, 4, 5, 6}, g[6] = {1, 1, 1, 1, 1, 1};
    lscc_param p[2] = {{.name = "a.weight", .rank = 1, .dims = {4}, .count = 4, .value = v, .grad = g},
                       {.name = "b.bias", .rank = 1, .dims = {2}, .count = 2, .value = v + 4, .grad = g + 4}};
    lscc_optim_hparams sgd, adam, h;
    lscc_optim_defaults(LSCC_OPTIM_SGD, &sgd);
    lscc_optim_defaults(LSCC_OPTIM_ADAMW, &adam);
    ck_assert(have_defaults);
    ck_assert(adam.lr == adam_def[0] && adam.beta1 == adam_def[1] && adam.beta2 == adam_def[2]);
    ck_assert(adam.eps == adam_def[3] && adam.weight_decay == adam_def[4] && adam.amsgrad == (int)adam_def[5]);
    ck_assert(sgd.momentum == sgd_def[0] && sgd.dampening == sgd_def[1] && sgd.weight_decay == sgd_def[2]);
    ck_assert(sgd.nesterov == (int)sgd_def[3] && sgd.lr > 0);

    lscc_rt_error err = {0, ""};
    ck_assert_int_eq(lscc_optim_create(NULL, LSCC_OPTIM_SGD, &sgd, p, 2, LSCC_F32, &err), LSCC_RT_E_ARG);
    expect_create(LSCC_RT_E_ARG, (lscc_optim_kind)7, &sgd, p, 2, LSCC_F32, "unknown optimizer kind 7");
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, NULL, p, 2, LSCC_F32, "NULL");
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &sgd, p, 0, LSCC_F32, "empty");
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &sgd, p, 2, LSCC_U8, "element type");
    h = sgd, h.lr = -1;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &h, p, 2, LSCC_F32, "learning rate");
    h = adam, h.lr = NAN;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_ADAMW, &h, p, 2, LSCC_F32, "learning rate");
    h = sgd, h.nesterov = 1;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &h, p, 2, LSCC_F32, "nesterov");
    h.momentum = 0.9, h.dampening = 0.1;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &h, p, 2, LSCC_F32, "nesterov");
    h = sgd, h.momentum = -0.5;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &h, p, 2, LSCC_F32, "momentum");
    h = adam, h.beta2 = 1.0;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_ADAMW, &h, p, 2, LSCC_F32, "betas");
    h = adam, h.eps = -1e-8;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_ADAMW, &h, p, 2, LSCC_F32, "eps");
    h = adam, h.weight_decay = INFINITY;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_ADAMW, &h, p, 2, LSCC_F32, "weight_decay");
    lscc_param q[2] = {p[0], p[1]};
    q[1].on_device = 1;
    expect_create(LSCC_RT_E_UNSUPPORTED, LSCC_OPTIM_ADAMW, &adam, q, 2, LSCC_F32, "'b.bias' is in GPU memory");
    q[1].on_device = 0, q[1].grad = NULL;
    expect_create(LSCC_RT_E_ARG, LSCC_OPTIM_SGD, &sgd, q, 2, LSCC_F32, "'b.bias' has no value or gradient");

    lscc_optim *o = NULL;
    ck_assert_int_eq(lscc_optim_create(&o, LSCC_OPTIM_SGD, &sgd, p, 2, LSCC_F32, &err), LSCC_RT_OK);
    ck_assert(lscc_optim_get_lr(o) == sgd.lr);
    ck_assert_int_eq(lscc_optim_set_lr(o, -0.1, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_optim_set_lr(o, INFINITY, &err), LSCC_RT_E_ARG);
    ck_assert(lscc_optim_get_lr(o) == sgd.lr);
    ck_assert_int_eq(lscc_optim_set_lr(o, 0.5, &err), LSCC_RT_OK);
    ck_assert(lscc_optim_get_lr(o) == 0.5);
    ck_assert_int_eq(lscc_optim_step(NULL, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_optim_step(o, NULL), LSCC_RT_OK); /* err may be NULL */
    ck_assert(v[0] == 0.5f && v[5] == 5.5f);
    g[3] = NAN;
    ck_assert_int_eq(lscc_optim_step(o, NULL), LSCC_RT_E_INVALID);
    ck_assert(v[0] == 0.5f && lscc_optim_steps(o) == 1);
    lscc_optim_zero_grad(o);
    for (int i = 0; i < 6; i++) ck_assert(g[i] == 0.0f);
    lscc_optim_destroy(o);
    lscc_optim_destroy(NULL);

    /* losses */
    float x[6] = {1, 2, 3, 4, 5, 6}, d[6] = {7, 7, 7, 7, 7, 7};
    int64_t lab[2] = {0, 3};
    double loss = 42;
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 2, 3, x, lab, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_msg(strstr(err.msg, "label 3 of row 1"), "%s", err.msg);
    ck_assert(loss == 42 && d[0] == 7 && d[5] == 7);
    lab[1] = -1;
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 2, 3, x, lab, &loss, d, &err), LSCC_RT_E_ARG);
    lab[1] = 2;
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 0, 3, x, lab, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 2, 0, x, lab, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_U8, 2, 3, x, lab, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 2, 3, x, NULL, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_cross_entropy(LSCC_F32, 2, 3, x, lab, NULL, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_bce_logits(LSCC_F32, 0, x, x, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_bce_logits(LSCC_F64, 3, x, NULL, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_mse((lscc_dtype)2, 3, x, x, &loss, d, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_loss_mse(LSCC_F32, 3, x, x, NULL, d, &err), LSCC_RT_E_ARG);
    ck_assert(loss == 42 && d[0] == 7 && d[5] == 7);
    int64_t am[2];
    ck_assert_int_eq(lscc_argmax(LSCC_F32, 2, 3, x, NULL, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_argmax(LSCC_F32, -1, 3, x, am, &err), LSCC_RT_E_ARG);
    ck_assert_int_eq(lscc_accuracy(LSCC_F32, 2, 3, x, NULL, am, &err), LSCC_RT_E_ARG);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, optimizers_match_torch, 0, nocases);
    tcase_add_test(tc, thread_count_does_not_matter);
    tcase_add_loop_test(tc, losses_match_torch, 0, nlcases);
    tcase_add_test(tc, argmax_and_accuracy_match_torch);
    tcase_add_test(tc, errors_and_defaults);
}

static lscc_dtype dtype_of(const char *s) { return !strcmp(s, "f32") ? LSCC_F32 : LSCC_F64; }

static int parse_optim(char *p, ocase *k) {
    char dt[8];
    int used = 0, nest, ams;
    lscc_optim_hparams *h = &k->hp;
    if (sscanf(p, "%63s %7s %7s %d %lf %d %lf %d %7s %d %zu %lf %lf %lf %d %lf %lf %lf %d %d %n", k->name, k->kind,
               dt, &k->steps, &k->lr, &k->lrstep, &k->lr2, &k->badstep, k->bad_kind, &k->badparam, &k->badelem,
               &h->weight_decay, &h->momentum, &h->dampening, &nest, &h->beta1, &h->beta2, &h->eps, &ams,
               &k->np, &used) != 20 ||
        k->np < 1 || k->np > MAXP)
        return 1;
    k->dt = dtype_of(dt);
    h->lr = k->lr;
    h->nesterov = nest;
    h->amsgrad = ams;
    p += used;
    for (int i = 0; i < k->np; i++) {
        k->count[i] = 1;
        for (;;) {
            char *end;
            int64_t d = strtoll(p, &end, 10);
            if (end == p || k->rank[i] == 4) return 1;
            k->dims[i][k->rank[i]++] = d;
            k->count[i] *= (size_t)d;
            p = end;
            if (*p != 'x') break;
            p++;
        }
    }
    return 0;
}

int main(void) {
    dir = env_or_skip("LSCC_TEST_TRAIN");
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/index", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        char kind[16], dt[8];
        int used = 0, bad = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%15s %n", kind, &used) != 1) continue;
        if (!strcmp(kind, "optim")) {
            bad = nocases == (int)(sizeof ocases / sizeof ocases[0]) || parse_optim(line + used, &ocases[nocases]);
            nocases += !bad;
        } else if (!strcmp(kind, "defaults")) {
            double *v = strstr(line, "adamw") ? adam_def : sgd_def;
            int want = v == adam_def ? 6 : 4;
            bad = sscanf(line + used, "%*s %lf %lf %lf %lf %lf %lf", v, v + 1, v + 2, v + 3, v + 4, v + 5) != want;
            have_defaults += !bad;
        } else {
            int am = !strcmp(kind, "argmax");
            if (am ? nacases == (int)(sizeof acases / sizeof acases[0])
                   : nlcases == (int)(sizeof lcases / sizeof lcases[0])) {
                fprintf(stderr, "%s: too many cases\n", path);
                return 1;
            }
            lcase *k = am ? &acases[nacases] : &lcases[nlcases];
            snprintf(k->kind, sizeof k->kind, "%s", kind);
            long long n = 0, c = 0;
            if (am || !strcmp(kind, "ce")) {
                bad = sscanf(line + used, "%63s %7s %lld %lld", k->name, dt, &n, &c) != 4 || n < 1 || c < 1;
                k->n = n, k->c = c;
                k->count = (size_t)(n * c);
            } else {
                bad = sscanf(line + used, "%63s %7s %zu", k->name, dt, &k->count) != 3;
            }
            k->dt = dtype_of(dt);
            if (!bad) *(am ? &nacases : &nlcases) += 1;
        }
        if (bad) {
            fprintf(stderr, "%s: bad line '%s'\n", path, line);
            return 1;
        }
    }
    fclose(f);
    if (nocases < 12 || nlcases < 12 || nacases != 2 || have_defaults != 2) {
        fprintf(stderr, "%s: %d optimizer, %d loss, %d argmax cases and %d defaults lines; expected at least 12, 12, "
                "2 and 2\n", path, nocases, nlcases, nacases, have_defaults);
        return 1;
    }
    return run_suite("train", add_tests, 300);
}
