/* GFLOP/s of the float32 convolution: oneDNN (lscc_dnnl.h) with oneDNN's own
 * blocked layouts ("any", the default) and on plain NCHW, against the plain C
 * kernel (single-threaded), forward, backward data and backward weight, on a
 * ResNet 3x3 convolution and on one 64 x 64 tile of it (with halo) as the
 * streaming executor runs it. Each figure is "best / mean": the fastest call
 * and the average over `seconds` of calls (on a shared machine the best is
 * the one to compare). "first call" includes creating the primitives.
 *
 *   cmake --build B --target bench_conv_dnnl && B/kernels/bench_conv_dnnl [seconds per measurement]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lscc_dnnl.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *rnd(size_t n) {
    float *v = malloc(sizeof *v * (n ? n : 1));
    if (!v) exit(1);
    for (size_t i = 0; i < n; i++) v[i] = (float)rand() / RAND_MAX - 0.5f;
    return v;
}

typedef struct bufs {
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} bufs;

/* impl 0: plain C; 1: oneDNN "any"; 2: oneDNN plain NCHW. Returns 1 on failure. */
static int call(int impl, lscc_dnnl *ctx, int op, const lscc_win2d *p, bufs *t) {
    if (!impl) {
        if (op == 0) lscc_conv2d_fwd_f32(p, t->x, t->w, t->b, t->y);
        if (op == 1) lscc_conv2d_bwd_data_f32(p, t->dy, t->w, t->dx);
        if (op == 2) lscc_conv2d_bwd_weight_f32(p, t->x, t->dy, t->dw, t->db);
        return 0;
    }
    if (op == 0) return lscc_conv2d_fwd_dnnl(ctx, p, t->x, t->w, t->b, t->y);
    if (op == 1) return lscc_conv2d_bwd_data_dnnl(ctx, p, t->dy, t->w, t->dx);
    return lscc_conv2d_bwd_weight_dnnl(ctx, p, t->x, t->dy, t->dw, t->db);
}

static void bench(const char *name, const lscc_win2d *p, double secs) {
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw;
    const double flop = 2.0 * (double)ny * (p->c / p->groups) * p->kh * p->kw;
    bufs t = {rnd(nx), rnd(nw), rnd((size_t)p->oc), rnd(ny), rnd(ny), rnd(nx), rnd(nw), rnd((size_t)p->oc)};
    static const char *const impl_name[3] = {"plain C", "oneDNN any", "oneDNN nchw"};
    static const char *const op_name[3] = {"fwd", "bwd_data", "bwd_weight"};
    printf("%s: n %d, c %d -> oc %d, %dx%d -> %dx%d, kernel %dx%d, %.3f GFLOP per call\n", name, p->n, p->c, p->oc,
           p->h, p->w, p->oh, p->ow, p->kh, p->kw, flop * 1e-9);
    for (int impl = 0; impl < 3; impl++) {
        lscc_dnnl *ctx = NULL;
        if (impl && lscc_dnnl_create(&ctx)) {
            printf("  %-12s cannot create a context\n", impl_name[impl]);
            continue;
        }
        if (impl == 2) lscc_dnnl_set_plain(ctx, 1);
        printf("  %-12s", impl_name[impl]);
        for (int op = 0; op < 3; op++) {
            double first = now();
            if (call(impl, ctx, op, p, &t)) { /* also builds the cache entry */
                printf("  %s failed", op_name[op]);
                continue;
            }
            first = now() - first;
            int reps = 0;
            double t0 = now(), el, best = 1e30;
            do {
                const double t1 = now();
                call(impl, ctx, op, p, &t);
                const double d = now() - t1;
                best = d < best ? d : best;
                reps++;
            } while ((el = now() - t0) < secs);
            printf("  %s %6.1f / %6.1f GFLOP/s (first call %.1f ms)", op_name[op], flop / best * 1e-9,
                   flop * reps / el * 1e-9, first * 1e3);
        }
        printf("\n");
        lscc_dnnl_destroy(ctx);
    }
    free(t.x), free(t.w), free(t.b), free(t.y), free(t.dy), free(t.dx), free(t.dw), free(t.db);
}

int main(int argc, char **argv) {
    const double secs = argc > 1 ? atof(argv[1]) : 2.0;
    /* n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups */
    const lscc_win2d full = {1, 64, 256, 256, 64, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* an interior tile: 64 x 64 outputs from a 68 x 68 buffer whose first
     * row / column this convolution does not read (negative pads) */
    const lscc_win2d tile = {1, 64, 68, 68, 64, 64, 64, 3, 3, 1, 1, 1, 1, -1, 0, -1, 0, 1};
    bench("ResNet 3x3", &full, secs);
    bench("tile 3x3", &tile, secs);
    return 0;
}
