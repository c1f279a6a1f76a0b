/* Failure paths of generated code (issue 7), compiled against the code lscc
 * generated for a small model under the prefix "net" (tests/test_harden.c
 * builds it with tests/harden/CMakeLists.txt). One check per mode:
 *
 *   harden create N H W WEIGHTS   net_create on an N x C x H x W image: prints
 *                                 "create: <code>: <message>", exits with the code
 *   harden txn N H W WEIGHTS      a backward that fails (image read error at
 *                                 the k-th read, progress cancel) leaves the
 *                                 gradients bit for bit as they were, for zero
 *                                 and nonzero gradients, and later calls give
 *                                 the same gradients as a context that never
 *                                 failed; for the model as generated (pooled
 *                                 head on CPU) and with the backbone output
 *                                 stitched (gap = -1, as GPU code runs)
 *   harden faults N H W WEIGHTS   every allocation of the backend failing in
 *                                 turn: create returns NOMEM with a message
 *                                 and frees what it had; the gradient copy of
 *                                 a backward failing: NOMEM, gradients as before
 *   harden save N H W WEIGHTS OUT changed weights saved by net_save_weights
 *                                 load back bit for bit
 * Exit status 0 when every check holds, else 1 (or the create code) with a
 * message on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static int failed;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("harden: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failed = 1;
}

/* ---- images ---- */

typedef struct {
    lscc_image mem; /* the data */
    int reads, fail_at;
} failing_src;

static int failing_read(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                        void *dst, lscc_rt_error *err) {
    failing_src *f = (failing_src *)img->user;
    if (++f->reads == f->fail_at) {
        err->code = LSCC_RT_E_IO;
        snprintf(err->msg, sizeof err->msg, "injected read failure at read %d", f->reads);
        return LSCC_RT_E_IO;
    }
    return f->mem.read(&f->mem, y0, y1, x0, x1, want, dst, err);
}

/* A source over mem's pixels whose fail_at-th read fails. */
static lscc_image failing(failing_src *f, const lscc_image *mem, int fail_at) {
    f->mem = *mem;
    f->reads = 0;
    f->fail_at = fail_at;
    lscc_image img = *mem;
    img.read = failing_read;
    img.data = NULL;
    img.user = f;
    return img;
}

static double *random_array(size_t n, unsigned seed) {
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) exit(6);
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (double)(s >> 8) / (double)(1u << 24) * 2 - 1;
    }
    return v;
}

/* ---- progress: cancels phase at tile `at` when armed ---- */

static const char *cancel_phase;
static int64_t cancel_at;

static int progress(void *user, const char *phase, int64_t done, int64_t total) {
    (void)user;
    (void)total;
    return cancel_phase && !strcmp(phase, cancel_phase) && done == cancel_at;
}

/* ---- a backend whose allocations fail on request ---- */

static long allocs, fail_alloc = -1;

static void *faulty_alloc(void *ctx, size_t bytes) {
    if (++allocs == fail_alloc) return NULL;
    return lscc_rt_host_dev.alloc(ctx, bytes);
}

static lscc_rt_dev faulty_dev;

/* ---- gradients ---- */

static size_t grad_bytes(const lscc_rt *rt) {
    size_t b = 0;
    for (size_t k = 0; k < rt->nparams; k++) b += rt->params[k].count * (size_t)rt->m->esize;
    return b;
}

static unsigned char *grads(const lscc_rt *rt) {
    unsigned char *g = malloc(grad_bytes(rt) + 1), *p = g;
    if (!g) exit(6);
    for (size_t k = 0; k < rt->nparams; k++) {
        size_t b = rt->params[k].count * (size_t)rt->m->esize;
        memcpy(p, rt->params[k].grad, b);
        p += b;
    }
    return g;
}

static int all_zero(const unsigned char *g, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (g[i]) return 0;
    return 1;
}

static void same_grads(const lscc_rt *rt, const unsigned char *want, const char *what) {
    unsigned char *g = grads(rt);
    if (memcmp(g, want, grad_bytes(rt))) fail("%s: the gradients differ from what they should be", what);
    free(g);
}

static void expect_code(int got, int want, const lscc_rt *rt, const char *what) {
    if (got != want) fail("%s: returned %d (%s), want %d", what, got, rt->err.msg, want);
    else if (want && !rt->err.msg[0]) fail("%s: error %d without a message", what, got);
}

/* ---- modes ---- */

typedef struct {
    lscc_rt_options opt;
    const char *weights;
    const lscc_rt_model *m;
    lscc_image x1, x2; /* two different images */
    double *p1, *p2;
    void *out, *dout, *y, *dy, *dx;
    size_t nout, ny, nx;
} setup;

/* Images and gradient seeds in the model's element type. */
static void *as_real(const double *v, size_t n, int esize) {
    void *r = malloc((n ? n : 1) * (size_t)esize);
    if (!r) exit(6);
    for (size_t i = 0; i < n; i++) {
        if (esize == 4) ((float *)r)[i] = (float)v[i];
        else ((double *)r)[i] = v[i];
    }
    return r;
}

static void setup_init(setup *s, const lscc_rt_model *m, char **argv) {
    memset(s, 0, sizeof *s);
    s->m = m;
    s->opt.batch = atoll(argv[2]);
    s->opt.height = atoll(argv[3]);
    s->opt.width = atoll(argv[4]);
    s->opt.progress = progress;
    s->weights = argv[5];
}

static int open_ctx(setup *s, lscc_rt *rt) {
    int st = lscc_rt_init(rt, s->m, &s->opt, s->weights);
    if (st) {
        fail("create: %d: %s", st, rt->err.msg);
        lscc_rt_free(rt);
        return st;
    }
    if (s->p1) return 0;
    int64_t d[8];
    lscc_rt_shape(rt, s->m->image, d);
    s->nx = (size_t)(d[0] * d[1] * d[2] * d[3]);
    s->p1 = random_array(s->nx, 1);
    s->p2 = random_array(s->nx, 2);
    lscc_image_memory(&s->x1, s->p1, LSCC_F64, d[0], d[1], d[2], d[3]);
    lscc_image_memory(&s->x2, s->p2, LSCC_F64, d[0], d[1], d[2], d[3]);
    s->nout = lscc_rt_numel(rt, s->m->output);
    s->ny = lscc_rt_numel(rt, s->m->split);
    double *g = random_array(s->nout, 3), *gy = random_array(s->ny, 4);
    s->dout = as_real(g, s->nout, s->m->esize);
    s->dy = as_real(gy, s->ny, s->m->esize);
    free(g);
    free(gy);
    s->out = malloc(s->nout * (size_t)s->m->esize);
    s->y = malloc(s->ny * (size_t)s->m->esize);
    s->dx = malloc(s->nx * (size_t)s->m->esize);
    if (!s->out || !s->y || !s->dx) exit(6);
    return 0;
}

static void setup_free(setup *s) {
    free(s->p1);
    free(s->p2);
    free(s->out);
    free(s->dout);
    free(s->y);
    free(s->dy);
    free(s->dx);
}

/* The transaction checks on model m (as generated, or stitched). */
static void txn(setup *s, const char *variant) {
    lscc_rt a, b;
    if (open_ctx(s, &a)) return;
    if (open_ctx(s, &b)) {
        lscc_rt_free(&a);
        return;
    }
    size_t gb = grad_bytes(&a);
    char what[256];
    failing_src fs;
    lscc_image bad;
    cancel_phase = NULL;
    /* zero gradients before the failing call */
    expect_code(lscc_rt_forward(&a, &s->x1, s->out), 0, &a, "forward");
    unsigned char *zero = grads(&a);
    if (!all_zero(zero, gb)) fail("%s: gradients are not zero after create", variant);
    bad = failing(&fs, &s->x2, 5);
    snprintf(what, sizeof what, "%s: backward failing at read 5, zero gradients", variant);
    expect_code(lscc_rt_backward(&a, &bad, s->dout, s->dx), LSCC_RT_E_IO, &a, what);
    same_grads(&a, zero, what);
    cancel_phase = "backward";
    cancel_at = 7;
    snprintf(what, sizeof what, "%s: backward cancelled at tile 7, zero gradients", variant);
    expect_code(lscc_rt_backward(&a, &s->x1, s->dout, s->dx), LSCC_RT_E_CANCELLED, &a, what);
    same_grads(&a, zero, what);
    cancel_phase = NULL;
    /* then a good backward equals a context's that never failed */
    expect_code(lscc_rt_backward(&a, &s->x1, s->dout, s->dx), 0, &a, "backward after failures");
    expect_code(lscc_rt_forward(&b, &s->x1, s->out), 0, &b, "forward (reference context)");
    expect_code(lscc_rt_backward(&b, &s->x1, s->dout, s->dx), 0, &b, "backward (reference context)");
    unsigned char *g1 = grads(&b);
    if (all_zero(g1, gb)) fail("%s: backward left the gradients zero", variant);
    snprintf(what, sizeof what, "%s: backward after failed ones (zero gradients before)", variant);
    same_grads(&a, g1, what);
    /* nonzero gradients before the failing call */
    bad = failing(&fs, &s->x2, 4);
    snprintf(what, sizeof what, "%s: backward failing at read 4, nonzero gradients", variant);
    expect_code(lscc_rt_backward(&a, &bad, s->dout, s->dx), LSCC_RT_E_IO, &a, what);
    same_grads(&a, g1, what);
    cancel_phase = "backward";
    cancel_at = 9;
    snprintf(what, sizeof what, "%s: backward cancelled at tile 9, nonzero gradients", variant);
    expect_code(lscc_rt_backward(&a, &s->x1, s->dout, s->dx), LSCC_RT_E_CANCELLED, &a, what);
    same_grads(&a, g1, what);
    /* the stream API: dy given */
    cancel_phase = NULL;
    bad = failing(&fs, &s->x2, 6);
    snprintf(what, sizeof what, "%s: stream backward failing at read 6", variant);
    expect_code(lscc_rt_stream_backward(&a, &bad, s->dy, NULL), LSCC_RT_E_IO, &a, what);
    same_grads(&a, g1, what);
    /* a forward on x1, one that fails on another image, then a backward on
       x1 (which must not take the half-done forward for x1's) */
    expect_code(lscc_rt_forward(&a, &s->x1, s->out), 0, &a, "forward");
    bad = failing(&fs, &s->x2, 3);
    snprintf(what, sizeof what, "%s: forward failing at read 3", variant);
    expect_code(lscc_rt_forward(&a, &bad, s->out), LSCC_RT_E_IO, &a, what);
    same_grads(&a, g1, what);
    cancel_phase = "forward";
    cancel_at = 2;
    snprintf(what, sizeof what, "%s: forward cancelled at tile 2", variant);
    expect_code(lscc_rt_forward(&a, &s->x2, s->out), LSCC_RT_E_CANCELLED, &a, what);
    cancel_phase = NULL;
    expect_code(lscc_rt_backward(&a, &s->x1, s->dout, s->dx), 0, &a, "second backward");
    expect_code(lscc_rt_forward(&b, &s->x1, s->out), 0, &b, "second forward (reference context)");
    expect_code(lscc_rt_backward(&b, &s->x1, s->dout, s->dx), 0, &b, "second backward (reference context)");
    unsigned char *g2 = grads(&b);
    snprintf(what, sizeof what, "%s: backward after a failed forward (nonzero gradients before)", variant);
    same_grads(&a, g2, what);
    /* and the stream API after all that */
    expect_code(lscc_rt_stream_backward(&a, &s->x1, s->dy, NULL), 0, &a, "stream backward");
    expect_code(lscc_rt_stream_backward(&b, &s->x1, s->dy, NULL), 0, &b, "stream backward (reference context)");
    free(g2);
    g2 = grads(&b);
    snprintf(what, sizeof what, "%s: stream backward after failed ones", variant);
    same_grads(&a, g2, what);
    free(zero);
    free(g1);
    free(g2);
    lscc_rt_free(&a);
    lscc_rt_free(&b);
    if (!failed)
        printf("txn %s: failed backward and forward calls left the gradients bit for bit as before\n", variant);
}

static int mode_txn(char **argv) {
    setup s;
    setup_init(&s, net_model(), argv);
    txn(&s, "generated");
    /* the same code with the backbone output stitched (no pooling) */
    lscc_rt_model stitched = *net_model();
    stitched.gap = -1;
    s.m = &stitched;
    txn(&s, "stitched");
    setup_free(&s);
    return failed;
}

static int mode_faults(char **argv) {
    setup s;
    lscc_rt_model m = *net_model();
    faulty_dev = lscc_rt_host_dev;
    faulty_dev.alloc = faulty_alloc;
    m.dev = &faulty_dev;
    setup_init(&s, &m, argv);
    long k;
    for (k = 1; k < 1000; k++) {
        lscc_rt rt;
        allocs = 0;
        fail_alloc = k;
        int st = lscc_rt_init(&rt, &m, &s.opt, s.weights);
        if (st != 0 && (st != LSCC_RT_E_NOMEM || !rt.err.msg[0]))
            fail("create with allocation %ld failing: returned %d (%s), want %d with a message", k, st, rt.err.msg,
                 LSCC_RT_E_NOMEM);
        lscc_rt_free(&rt);
        if (st == 0) break;
    }
    fail_alloc = -1;
    if (k < 3) fail("create made only %ld allocations", k - 1);
    else if (!failed) printf("faults: create refused with NOMEM at each of its %ld backend allocations\n", k - 1);
    /* the gradient copy of a backward over nonzero gradients */
    lscc_rt rt;
    if (open_ctx(&s, &rt)) return 1;
    expect_code(lscc_rt_forward(&rt, &s.x1, s.out), 0, &rt, "forward");
    expect_code(lscc_rt_backward(&rt, &s.x1, s.dout, NULL), 0, &rt, "backward");
    unsigned char *g1 = grads(&rt);
    allocs = 0;
    fail_alloc = 1;
    expect_code(lscc_rt_backward(&rt, &s.x1, s.dout, NULL), LSCC_RT_E_NOMEM, &rt, "backward without memory for the "
                "gradient copy");
    same_grads(&rt, g1, "backward without memory for the gradient copy");
    fail_alloc = -1;
    expect_code(lscc_rt_backward(&rt, &s.x1, s.dout, NULL), 0, &rt, "backward once memory is back");
    if (!failed) printf("faults: a backward that cannot copy the gradients returns NOMEM and changes nothing\n");
    free(g1);
    lscc_rt_free(&rt);
    setup_free(&s);
    return failed;
}

static int mode_save(char **argv) {
    lscc_rt_options opt = {atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), NULL, NULL, 0};
    lscc_rt_error err;
    net_ctx *a = net_create(&opt, argv[5], &err);
    if (!a) {
        fail("create: %s", err.msg);
        return 1;
    }
    size_t n = 0;
    lscc_param *p = net_params(a, &n);
    /* change every parameter (odd bit patterns included) */
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < p[k].count; i++) {
            net_real *v = (net_real *)p[k].value + i;
            *v = *v * (net_real)1.5 + (net_real)(i % 3 == 0 ? 1e-300 : -0.1);
        }
    int st = net_save_weights(a, argv[6]);
    if (st) fail("save: %d: %s", st, net_error(a)->msg);
    net_ctx *b = st ? NULL : net_create(&opt, argv[6], &err);
    if (!st && !b) fail("create from the saved weights: %s", err.msg);
    if (b) {
        size_t nb = 0;
        lscc_param *q = net_params(b, &nb);
        if (nb != n) fail("%zu parameters loaded back, %zu saved", nb, n);
        for (size_t k = 0; k < n && k < nb; k++)
            if (memcmp(p[k].value, q[k].value, p[k].count * sizeof(net_real)))
                fail("parameter %zu ('%.40s') did not load back bit for bit", k, p[k].name);
        if (!failed) printf("save: %zu changed parameters loaded back bit for bit\n", n);
    }
    /* a path that cannot be written: an error, and nothing left behind */
    if (net_save_weights(a, "/nonexistent/dir/w.weights") != LSCC_RT_E_IO) fail("save to a missing directory");
    net_destroy(a);
    net_destroy(b);
    return failed;
}

static int mode_create(char **argv) {
    lscc_rt_options opt = {atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), NULL, NULL, 0};
    lscc_rt_error err = {0, ""};
    net_ctx *c = net_create(&opt, argv[5], &err);
    printf("create: %d: %s\n", c ? 0 : err.code, c ? "ok" : err.msg);
    net_destroy(c);
    return c ? 0 : err.code;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "create")) return mode_create(argv);
    if (argc >= 6 && !strcmp(argv[1], "txn")) return mode_txn(argv);
    if (argc >= 6 && !strcmp(argv[1], "faults")) return mode_faults(argv);
    if (argc >= 7 && !strcmp(argv[1], "save")) return mode_save(argv);
    fprintf(stderr, "usage: harden create|txn|faults N H W WEIGHTS | harden save N H W WEIGHTS OUT\n");
    return 2;
}
