/* GPU self-check of context/memory/conv2d_cudnn/gemm/matmul against the CPU
 * references (random windows: negative and asymmetric pads, stride,
 * dilation, groups, depthwise; f32 and f64; accumulate semantics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lscc_cuda.h"

static int fails;
static double rnd(void) { return rand() / (double)RAND_MAX * 2 - 1; }
template <typename T> static T *rv(size_t n) { T *p = (T *)malloc((n ? n : 1) * sizeof(T)); for (size_t i = 0; i < n; i++) p[i] = (T)rnd(); return p; }
template <typename T> static T *up(lscc_cu *cu, const T *h, size_t n) { T *d = (T *)lscc_cu_alloc(cu, n * sizeof(T)); lscc_cu_copy(cu, d, h, n * sizeof(T), LSCC_CU_H2D); return d; }
template <typename T> static void cmp(lscc_cu *cu, const char *what, const T *ref, const T *dev, size_t n, double tol, const lscc_win2d *p) {
    T *h = (T *)malloc((n ? n : 1) * sizeof(T));
    lscc_cu_copy(cu, h, dev, n * sizeof(T), LSCC_CU_D2H);
    char msg[512];
    int rc = lscc_cu_status(cu, msg, sizeof msg);
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)ref[i] - (double)h[i]) / (1 + fabs((double)ref[i])));
    if (rc || !(m <= tol)) {
        fails++;
        printf("FAIL %s f%d rc=%d %s maxrel=%g", what, (int)sizeof(T) * 8, rc, msg, m);
        if (p) printf(" n=%d c=%d h=%d w=%d oc=%d oh=%d ow=%d k=%dx%d s=%dx%d d=%dx%d pt=%d pb=%d pl=%d pr=%d g=%d", p->n, p->c, p->h, p->w, p->oc, p->oh, p->ow, p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->pt, p->pb, p->pl, p->pr, p->groups);
        printf("\n");
    }
    free(h);
}

template <typename T> struct K;
template <> struct K<float> {
    static void fwd(const lscc_win2d *p, const float *x, const float *w, const float *b, float *y) { lscc_conv2d_fwd_ref_f32(p, x, w, b, y); }
    static void bd(const lscc_win2d *p, const float *dy, const float *w, float *dx) { lscc_conv2d_bwd_data_ref_f32(p, dy, w, dx); }
    static void bw(const lscc_win2d *p, const float *x, const float *dy, float *dw, float *db) { lscc_conv2d_bwd_weight_ref_f32(p, x, dy, dw, db); }
    static void cfwd(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *w, const float *b, float *y) { lscc_cu_conv2d_fwd_f32(cu, p, x, w, b, y); }
    static void cbd(lscc_cu *cu, const lscc_win2d *p, const float *dy, const float *w, float *dx) { lscc_cu_conv2d_bwd_data_f32(cu, p, dy, w, dx); }
    static void cbw(lscc_cu *cu, const lscc_win2d *p, const float *x, const float *dy, float *dw, float *db) { lscc_cu_conv2d_bwd_weight_f32(cu, p, x, dy, dw, db); }
    static void gf(const lscc_gemm *g, const float *a, const float *b, const float *c, float *y) { lscc_gemm_fwd_f32(g, a, b, c, y); }
    static void gb(const lscc_gemm *g, const float *a, const float *b, const float *dy, float *da, float *db, float *dc) { lscc_gemm_bwd_f32(g, a, b, dy, da, db, dc); }
    static void cgf(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *c, float *y) { lscc_cu_gemm_fwd_f32(cu, g, a, b, c, y); }
    static void cgb(lscc_cu *cu, const lscc_gemm *g, const float *a, const float *b, const float *dy, float *da, float *db, float *dc) { lscc_cu_gemm_bwd_f32(cu, g, a, b, dy, da, db, dc); }
    static constexpr double tol = 1e-4;
};
template <> struct K<double> {
    static void fwd(const lscc_win2d *p, const double *x, const double *w, const double *b, double *y) { lscc_conv2d_fwd_ref_f64(p, x, w, b, y); }
    static void bd(const lscc_win2d *p, const double *dy, const double *w, double *dx) { lscc_conv2d_bwd_data_ref_f64(p, dy, w, dx); }
    static void bw(const lscc_win2d *p, const double *x, const double *dy, double *dw, double *db) { lscc_conv2d_bwd_weight_ref_f64(p, x, dy, dw, db); }
    static void cfwd(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *w, const double *b, double *y) { lscc_cu_conv2d_fwd_f64(cu, p, x, w, b, y); }
    static void cbd(lscc_cu *cu, const lscc_win2d *p, const double *dy, const double *w, double *dx) { lscc_cu_conv2d_bwd_data_f64(cu, p, dy, w, dx); }
    static void cbw(lscc_cu *cu, const lscc_win2d *p, const double *x, const double *dy, double *dw, double *db) { lscc_cu_conv2d_bwd_weight_f64(cu, p, x, dy, dw, db); }
    static void gf(const lscc_gemm *g, const double *a, const double *b, const double *c, double *y) { lscc_gemm_fwd_f64(g, a, b, c, y); }
    static void gb(const lscc_gemm *g, const double *a, const double *b, const double *dy, double *da, double *db, double *dc) { lscc_gemm_bwd_f64(g, a, b, dy, da, db, dc); }
    static void cgf(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *c, double *y) { lscc_cu_gemm_fwd_f64(cu, g, a, b, c, y); }
    static void cgb(lscc_cu *cu, const lscc_gemm *g, const double *a, const double *b, const double *dy, double *da, double *db, double *dc) { lscc_cu_gemm_bwd_f64(cu, g, a, b, dy, da, db, dc); }
    static constexpr double tol = 1e-12;
};

template <typename T> static void conv_case(lscc_cu *cu, const lscc_win2d *p, int bias) {
    const int cg = p->c / p->groups;
    const size_t nx = (size_t)p->n * p->c * p->h * p->w, nw = (size_t)p->oc * cg * p->kh * p->kw, ny = (size_t)p->n * p->oc * p->oh * p->ow;
    T *x = rv<T>(nx), *w = rv<T>(nw), *b = rv<T>(p->oc), *y = rv<T>(ny), *dy = rv<T>(ny), *dx = rv<T>(nx), *dw = rv<T>(nw), *db = rv<T>(p->oc);
    T *gx = up(cu, x, nx), *gw = up(cu, w, nw), *gb = up(cu, b, p->oc), *gy = up(cu, y, ny), *gdy = up(cu, dy, ny), *gdx = up(cu, dx, nx), *gdw = up(cu, dw, nw), *gdb = up(cu, db, p->oc);
    K<T>::fwd(p, x, w, bias ? b : NULL, y);
    K<T>::cfwd(cu, p, gx, gw, bias ? gb : NULL, gy);
    cmp(cu, "conv fwd", y, gy, ny, K<T>::tol, p);
    K<T>::bd(p, dy, w, dx);
    K<T>::cbd(cu, p, gdy, gw, gdx);
    cmp(cu, "conv bwd data (+=)", dx, gdx, nx, K<T>::tol, p);
    K<T>::bw(p, x, dy, dw, bias ? db : NULL);
    K<T>::cbw(cu, p, gx, gdy, gdw, bias ? gdb : NULL);
    cmp(cu, "conv bwd weight dw (+=)", dw, gdw, nw, K<T>::tol, p);
    cmp(cu, "conv bwd weight db (+=)", db, gdb, p->oc, K<T>::tol, p);
    T *all[] = {gx, gw, gb, gy, gdy, gdx, gdw, gdb};
    for (T *q : all) lscc_cu_free(cu, q);
    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
}

template <typename T> static void gemm_case(lscc_cu *cu, const lscc_gemm *g) {
    const size_t m = g->m, n = g->n, k = g->k, cn = g->cm * g->cn;
    T *a = rv<T>(m * k), *b = rv<T>(k * n), *c = rv<T>(cn), *y = rv<T>(m * n), *dy = rv<T>(m * n), *da = rv<T>(m * k), *db = rv<T>(k * n), *dc = rv<T>(cn);
    T *ga = up(cu, a, m * k), *gb = up(cu, b, k * n), *gc = up(cu, c, cn), *gy = up(cu, y, m * n), *gdy = up(cu, dy, m * n), *gda = up(cu, da, m * k), *gdb = up(cu, db, k * n), *gdc = up(cu, dc, cn);
    K<T>::gf(g, a, b, c, y);
    K<T>::cgf(cu, g, ga, gb, gc, gy);
    cmp<T>(cu, "gemm fwd", y, gy, m * n, K<T>::tol, NULL);
    K<T>::gb(g, a, b, dy, da, db, dc);
    K<T>::cgb(cu, g, ga, gb, gdy, gda, gdb, gdc);
    cmp<T>(cu, "gemm bwd da", da, gda, m * k, K<T>::tol, NULL);
    cmp<T>(cu, "gemm bwd db", db, gdb, k * n, K<T>::tol, NULL);
    cmp<T>(cu, "gemm bwd dc", dc, gdc, cn, K<T>::tol, NULL);
    T *all[] = {ga, gb, gc, gy, gdy, gda, gdb, gdc};
    for (T *q : all) lscc_cu_free(cu, q);
    free(a); free(b); free(c); free(y); free(dy); free(da); free(db); free(dc);
}

int main(int argc, char **argv) {
    lscc_cu *cu;
    char msg[256];
    const int det = argc > 1 && !strcmp(argv[1], "det");
    int rc = lscc_cu_create(&cu, det, msg, sizeof msg);
    if (rc) { printf("SKIP: %s\n", msg); return 77; } /* no GPU: CTest reports it skipped */
    /* fixed cases: whole image, top-left tile, interior tile (negative pads), bottom-right tile, stride 2, depthwise, dilation */
    const lscc_win2d fixed[] = {
        {2, 8, 16, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {1, 8, 12, 12, 16, 11, 11, 3, 3, 1, 1, 1, 1, 1, 0, 1, 0, 1},
        {1, 8, 12, 13, 16, 9, 9, 3, 3, 1, 1, 1, 1, -1, 0, -2, 0, 1},
        {1, 8, 12, 12, 16, 11, 11, 3, 3, 1, 1, 1, 1, -1, 1, -1, 1, 1},
        {1, 8, 16, 16, 16, 8, 8, 3, 3, 2, 2, 1, 1, 1, 0, 1, 0, 1},
        {1, 16, 14, 14, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16},
        {1, 8, 20, 20, 8, 16, 16, 3, 3, 1, 1, 2, 2, 0, 0, 0, 0, 2},
        {1, 3, 33, 31, 8, 16, 15, 7, 7, 2, 2, 1, 1, 3, 2, 3, 2, 1},
    };
    for (int rep = 0; rep < 2; rep++) /* the second round runs from the algorithm cache */
        for (const lscc_win2d &p : fixed) { conv_case<float>(cu, &p, 1); conv_case<double>(cu, &p, rep); }
    srand(1);
    for (int it = 0; it < 400; it++) {
        lscc_win2d p;
        memset(&p, 0, sizeof p);
        p.n = 1 + rand() % 2; p.groups = 1 + rand() % 3; p.c = p.groups * (1 + rand() % 3); p.oc = p.groups * (1 + rand() % 3);
        if (rand() % 4 == 0) { p.groups = p.c = p.oc = 1 + rand() % 8; }
        p.h = 1 + rand() % 12; p.w = 1 + rand() % 12; p.kh = 1 + rand() % 5; p.kw = 1 + rand() % 5; p.sh = 1 + rand() % 3; p.sw = 1 + rand() % 3;
        p.dh = 1 + rand() % 2; p.dw = 1 + rand() % 2; p.pt = rand() % 7 - 3; p.pl = rand() % 7 - 3; p.oh = 1 + rand() % 8; p.ow = 1 + rand() % 8;
        p.pb = rand() % 3; p.pr = rand() % 3;
        conv_case<float>(cu, &p, it & 1);
        conv_case<double>(cu, &p, !(it & 1));
    }
    for (int it = 0; it < 200; it++) {
        lscc_gemm g;
        memset(&g, 0, sizeof g);
        g.m = 1 + rand() % 40; g.n = 1 + rand() % 40; g.k = rand() % 40; g.trans_a = rand() % 2; g.trans_b = rand() % 2;
        g.alpha = rnd(); g.beta = rnd();
        const int cc = rand() % 4;
        g.cm = cc & 1 ? g.m : 1; g.cn = cc & 2 ? g.n : 1;
        gemm_case<float>(cu, &g);
        gemm_case<double>(cu, &g);
    }
    lscc_cu_destroy(cu);
    printf(fails ? "FAILED: %d\n" : "all passed%.0d\n", fails);
    return fails != 0;
}
