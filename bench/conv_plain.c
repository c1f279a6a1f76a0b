/* GFLOP/s of the plain C convolution: the im2col + OpenBLAS GEMM kernels
 * (lscc_conv2d_*_f32 / _f64) against the direct-loop reference they replaced
 * (lscc_conv2d_*_ref_*), forward, backward data and backward weight, float and
 * double, on a ResNet 3x3 convolution (64 -> 64 channels, pad 1) at 128 x 128
 * and 256 x 256, and a few other shapes (1x1, strided stem, groups,
 * depthwise, one streamed tile with negative padding). Each figure is the
 * fastest call within `seconds` (at least one call; on a shared machine the
 * best is the one to compare); "x" is new / ref.
 *
 *   cmake --build B --target bench_conv_plain && B/kernels/bench_conv_plain [seconds] [blas threads] [all]
 *
 * blas threads: 0 (default) leaves OpenBLAS's own choice (OPENBLAS_NUM_THREADS
 * or all cores); n calls openblas_set_num_threads(n). Without "all" only the
 * two ResNet shapes run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lscc_kernels.h"

/* OpenBLAS's own (its cblas.h is not on this target's include path). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* n values in [-0.5, 0.5], as float or double. */
static void *rnd(size_t n, int dbl) {
    const size_t sz = dbl ? sizeof(double) : sizeof(float);
    void *v = malloc(sz * (n ? n : 1));
    if (!v) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        const double r = (double)rand() / RAND_MAX - 0.5;
        if (dbl) ((double *)v)[i] = r;
        else ((float *)v)[i] = (float)r;
    }
    return v;
}

typedef struct bufs {
    void *x, *w, *b, *y, *dy, *dx, *dw, *db;
} bufs;

static void call(int ref, int dbl, int op, const lscc_win2d *p, const bufs *t) {
    if (dbl) {
        double *x = t->x, *w = t->w, *b = t->b, *y = t->y, *dy = t->dy, *dx = t->dx, *dw = t->dw, *db = t->db;
        if (op == 0) (ref ? lscc_conv2d_fwd_ref_f64 : lscc_conv2d_fwd_f64)(p, x, w, b, y);
        if (op == 1) (ref ? lscc_conv2d_bwd_data_ref_f64 : lscc_conv2d_bwd_data_f64)(p, dy, w, dx);
        if (op == 2) (ref ? lscc_conv2d_bwd_weight_ref_f64 : lscc_conv2d_bwd_weight_f64)(p, x, dy, dw, db);
    } else {
        float *x = t->x, *w = t->w, *b = t->b, *y = t->y, *dy = t->dy, *dx = t->dx, *dw = t->dw, *db = t->db;
        if (op == 0) (ref ? lscc_conv2d_fwd_ref_f32 : lscc_conv2d_fwd_f32)(p, x, w, b, y);
        if (op == 1) (ref ? lscc_conv2d_bwd_data_ref_f32 : lscc_conv2d_bwd_data_f32)(p, dy, w, dx);
        if (op == 2) (ref ? lscc_conv2d_bwd_weight_ref_f32 : lscc_conv2d_bwd_weight_f32)(p, x, dy, dw, db);
    }
}

/* Seconds of the fastest call within secs. */
static double best_time(int ref, int dbl, int op, const lscc_win2d *p, const bufs *t, double secs) {
    double best = 1e30;
    const double t0 = now();
    do {
        const double t1 = now();
        call(ref, dbl, op, p, t);
        const double d = now() - t1;
        best = d < best ? d : best;
    } while (now() - t0 < secs);
    return best;
}

static void bench(const char *name, const lscc_win2d *p, double secs) {
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    const size_t nw = (size_t)p->oc * (p->c / p->groups) * p->kh * p->kw;
    const double flop = 2.0 * (double)ny * (p->c / p->groups) * p->kh * p->kw;
    static const char *const op_name[3] = {"fwd", "bwd_data", "bwd_weight"};
    printf("%s: n %d, c %d -> oc %d (groups %d), %dx%d -> %dx%d, kernel %dx%d, stride %d, %.3f GFLOP per call\n",
           name, p->n, p->c, p->oc, p->groups, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh, flop * 1e-9);
    for (int dbl = 1; dbl >= 0; dbl--) {
        bufs t = {rnd(nx, dbl), rnd(nw, dbl), rnd((size_t)p->oc, dbl), rnd(ny, dbl),
                  rnd(ny, dbl), rnd(nx, dbl), rnd(nw, dbl), rnd((size_t)p->oc, dbl)};
        for (int op = 0; op < 3; op++) {
            call(0, dbl, op, p, &t); /* warm up (OpenBLAS's threads and buffers) */
            const double tr = best_time(1, dbl, op, p, &t, secs), tn = best_time(0, dbl, op, p, &t, secs);
            printf("  %s %-10s  ref %6.2f  new %7.2f GFLOP/s  x %5.1f\n", dbl ? "f64" : "f32", op_name[op],
                   flop / tr * 1e-9, flop / tn * 1e-9, tr / tn);
            fflush(stdout);
        }
        free(t.x), free(t.w), free(t.b), free(t.y), free(t.dy), free(t.dx), free(t.dw), free(t.db);
    }
}

int main(int argc, char **argv) {
    const double secs = argc > 1 ? atof(argv[1]) : 1.0;
    const int threads = argc > 2 ? atoi(argv[2]) : 0;
    const int all = argc > 3 && !strcmp(argv[3], "all");
    if (threads > 0) openblas_set_num_threads(threads);
    printf("OpenBLAS: %s kernels, %d threads\n", openblas_get_corename(), openblas_get_num_threads());
    /* n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups */
    const lscc_win2d r128 = {1, 64, 128, 128, 64, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    const lscc_win2d r256 = {1, 64, 256, 256, 64, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    bench("resnet 3x3 64->64 128x128", &r128, secs);
    bench("resnet 3x3 64->64 256x256", &r256, secs);
    if (!all) return 0;
    const lscc_win2d tile = {1, 64, 70, 68, 64, 64, 64, 3, 3, 1, 1, 1, 1, -2, 0, 1, 1, 1};
    const lscc_win2d pw = {1, 64, 128, 128, 256, 128, 128, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1};
    const lscc_win2d stem = {1, 3, 224, 224, 64, 112, 112, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1};
    const lscc_win2d s2 = {1, 64, 128, 128, 128, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
    const lscc_win2d g8 = {1, 128, 64, 64, 128, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16};
    const lscc_win2d g4 = {1, 128, 64, 64, 128, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32};
    const lscc_win2d g2 = {1, 128, 64, 64, 128, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64};
    const lscc_win2d dw = {1, 128, 64, 64, 128, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 128};
    const lscc_win2d dw7 = {1, 96, 56, 56, 96, 56, 56, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 96};
    bench("tile 64x64 of a 3x3 64->64 (halo, pt -2)", &tile, secs);
    bench("1x1 64->256", &pw, secs);
    bench("stem 7x7 s2 3->64", &stem, secs);
    bench("3x3 s2 64->128", &s2, secs);
    bench("3x3 groups of 8 in / 8 out", &g8, secs);
    bench("3x3 groups of 4 in / 4 out", &g4, secs);
    bench("3x3 groups of 2 in / 2 out", &g2, secs);
    bench("3x3 depthwise 128", &dw, secs);
    bench("7x7 depthwise 96 (ConvNeXt)", &dw7, secs);
    return 0;
}
