/* Channels-last pools (kernels/cpu/pool2d_nhwc.c) against the NCHW kernels
 * (pool2d.c): each NHWC kernel must give the same BITS (memcmp) as transposing
 * its inputs to NCHW, running the NCHW kernel, and transposing back.
 *
 * Geometries: a few fixed ones (one large enough to run on threads) and many
 * drawn from a fixed seed: kernel 1..3, stride 1..3, dilation 1..2 per axis,
 * asymmetric pads pt / pb / pl / pr 0..2 (as on region-clipped tiles),
 * oh / ow the floor size plus 0..2 (ceil_mode-like overhang, some windows
 * partly or wholly beyond the padding), c in {1, 3, 16, 67} (below, at and
 * past a 16-channel block), n 1..2, count_include_pad 0 and 1. Data, each on
 * every geometry: uniform floats (sums that depend on their order); a few
 * levels with -0.0, +0.0 and -inf among them (exact ties everywhere); the
 * levels with NaNs of different payloads and signs (which NaN comes out).
 * Backward kernels start from random dx (they accumulate) and run twice.
 * Only the payload of a NaN out of a sum (average pooling of NaN data) is
 * not compared, just that it is a NaN. Every buffer written has guard elements on both sides; inputs must come
 * back unchanged. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lscc_kernels.h"
#include "support.h"

#define GUARD 16
#define NRANDOM 600

/* n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups */
static const lscc_win2d fixed[] = {
    {1, 64, 40, 36, 64, 20, 18, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   /* threads: 3x3 s2 pad 1 */
    {2, 67, 22, 24, 67, 12, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   /* ceil overhang, 67 channels */
    {1, 16, 9, 9, 16, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},       /* dilated, same size */
    {2, 3, 7, 8, 3, 4, 4, 2, 2, 2, 2, 1, 1, 0, 1, 0, 0, 1},         /* 2x2 s2 */
    {1, 1, 5, 5, 1, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},         /* identity */
    {1, 17, 6, 5, 17, 4, 3, 3, 3, 3, 3, 1, 2, 2, 0, 0, 2, 1},       /* mixed, one past a block */
    {1, 3, 4, 4, 3, 7, 6, 3, 3, 1, 1, 1, 1, 3, 2, 2, 2, 1},         /* windows of padding only */
    {2, 32, 16, 16, 32, 8, 8, 3, 3, 2, 2, 1, 1, 1, 0, 1, 0, 1},     /* two full blocks */
    {1, 19, 12, 11, 19, 4, 3, 9, 9, 1, 2, 1, 1, 1, 2, 0, 1, 1},    /* 81 taps: past MAXT of bwd */
};
#define NFIXED ((int)(sizeof fixed / sizeof fixed[0]))

static unsigned next(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Geometry idx: the fixed ones, then random ones from a seed of idx. */
static lscc_win2d geometry(int idx) {
    if (idx < NFIXED) return fixed[idx];
    static const int cs[] = {1, 3, 16, 67};
    unsigned s = 1000u + (unsigned)idx * 7919u;
    lscc_win2d p;
    memset(&p, 0, sizeof p);
    p.n = 1 + (idx / 4) % 2;
    p.c = cs[idx % 4];
    p.kh = 1 + (int)(next(&s) % 3), p.kw = 1 + (int)(next(&s) % 3);
    p.sh = 1 + (int)(next(&s) % 3), p.sw = 1 + (int)(next(&s) % 3);
    p.dh = 1 + (int)(next(&s) % 2), p.dw = 1 + (int)(next(&s) % 2);
    p.pt = (int)(next(&s) % 3), p.pb = (int)(next(&s) % 3), p.pl = (int)(next(&s) % 3), p.pr = (int)(next(&s) % 3);
    p.h = 1 + (int)(next(&s) % 12), p.w = 1 + (int)(next(&s) % 12);
    const int eh = p.h + p.pt + p.pb - ((p.kh - 1) * p.dh + 1), ew = p.w + p.pl + p.pr - ((p.kw - 1) * p.dw + 1);
    p.oh = (eh < 0 ? 0 : eh / p.sh + 1) + (int)(next(&s) % 3 == 0 ? next(&s) % 3 : 0);
    p.ow = (ew < 0 ? 0 : ew / p.sw + 1) + (int)(next(&s) % 3 == 0 ? next(&s) % 3 : 0);
    if (p.oh < 1) p.oh = 1;
    if (p.ow < 1) p.ow = 1;
    p.oc = p.c, p.groups = 1;
    return p;
}

/* Buffers with guards of a NaN of a payload nothing else has. */
static float guard_value(void) {
    uint32_t u = 0x7fc0beefu;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float *falloc(size_t n) {
    float *v = malloc(sizeof *v * (n + 2 * GUARD)), g = guard_value();
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n + 2 * GUARD; i++) v[i] = g;
    return v + GUARD;
}

static int guards_ok(const float *v, size_t n) {
    const float g = guard_value();
    for (size_t i = 0; i < GUARD; i++)
        if (memcmp(v - 1 - i, &g, sizeof g) || memcmp(v + n + i, &g, sizeof g)) return 0;
    return 1;
}

static void ffree(float *v) { free(v - GUARD); }

static float nan_of(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

enum { D_UNIFORM, D_LEVELS, D_NAN, NDATA };
static const char *const dname[NDATA] = {"uniform", "levels", "nan"};

/* kind D_UNIFORM: uniform in [-1, 1); D_LEVELS: one of a few values (ties);
 * D_NAN: the levels with about one value in 12 a NaN of one of four bit
 * patterns (payloads and signs differ). */
static void fill(float *v, size_t n, int kind, unsigned *s) {
    static const float levels[] = {-0.5f, -0.0f, 0.0f, 0.25f, 0.5f, 1.0f};
    const float nans[] = {nan_of(0x7fc00000u), nan_of(0xffc00000u), nan_of(0x7fc00123u), nan_of(0x7fa00001u)};
    for (size_t i = 0; i < n; i++) {
        const unsigned r = next(s);
        if (kind == D_UNIFORM)
            v[i] = (float)((double)(r & 0xffffff) / 0x800000 - 1);
        else if (kind == D_NAN && r % 12 == 0)
            v[i] = nans[(r / 12) % 4];
        else
            v[i] = r % 23 == 0 ? -INFINITY : levels[(r / 23) % 6];
    }
}

/* NHWC <-> NCHW of an n x c x hw tensor. */
static void to_nchw(const float *src, float *dst, int n, int c, size_t hw) {
    for (int b = 0; b < n; b++)
        for (size_t k = 0; k < hw; k++)
            for (int ch = 0; ch < c; ch++) dst[((size_t)b * c + ch) * hw + k] = src[((size_t)b * hw + k) * c + ch];
}

static void to_nhwc(const float *src, float *dst, int n, int c, size_t hw) {
    for (int b = 0; b < n; b++)
        for (size_t k = 0; k < hw; k++)
            for (int ch = 0; ch < c; ch++) dst[((size_t)b * hw + k) * c + ch] = src[((size_t)b * c + ch) * hw + k];
}

/* First differing element of got against want (bits), or -1. any_nan: any
 * NaN matches any NaN (a sum's NaN: which operand's payload comes out of an
 * addition is up to the compiler's operand order, which C leaves open). */
static long first_diff(const float *got, const float *want, size_t n, int any_nan) {
    for (size_t i = 0; i < n; i++) {
        if (any_nan && isnan(got[i]) && isnan(want[i])) continue;
        if (memcmp(got + i, want + i, sizeof *got)) return (long)i;
    }
    return -1;
}

static void describe(char *buf, size_t len, const lscc_win2d *p, int idx, int kind, const char *what) {
    snprintf(buf, len,
             "geometry %d (n %d c %d h %d w %d -> %d x %d, k %dx%d s %dx%d d %dx%d pad t%d b%d l%d r%d), %s data: %s",
             idx, p->n, p->c, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->pt, p->pb, p->pl,
             p->pr, dname[kind], what);
}

static void same_bits(const float *got, const float *want, size_t n, const lscc_win2d *p, int idx, int kind,
                      const char *what) {
    const long i = first_diff(got, want, n, kind == D_NAN && !strncmp(what, "avg", 3));
    if (i < 0) return;
    char msg[512];
    describe(msg, sizeof msg, p, idx, kind, what);
    uint32_t g, w;
    memcpy(&g, got + i, 4), memcpy(&w, want + i, 4);
    ck_abort_msg("%s differs at NHWC element %ld: %a (0x%08x) against %a (0x%08x)", msg, i, (double)got[i],
                 (unsigned)g, (double)want[i], (unsigned)w);
}

START_TEST(nhwc_matches_nchw) {
    const int idx = _i;
    const lscc_win2d p = geometry(idx);
    const size_t hw = (size_t)p.h * p.w, ohw = (size_t)p.oh * p.ow;
    const size_t nx = (size_t)p.n * p.c * hw, ny = (size_t)p.n * p.c * ohw;
    float *x = falloc(nx), *xc = falloc(nx), *x0 = falloc(nx), *dy = falloc(ny), *dyc = falloc(ny);
    float *y = falloc(ny), *yc = falloc(ny), *yt = falloc(ny);
    float *pre = falloc(nx), *dx = falloc(nx), *dxc = falloc(nx), *dxt = falloc(nx);
    unsigned s = 77u + (unsigned)idx;
    for (int kind = 0; kind < NDATA; kind++) {
        fill(x, nx, kind, &s);
        fill(dy, ny, D_UNIFORM, &s);
        fill(pre, nx, D_UNIFORM, &s);
        memcpy(x0, x, sizeof(float) * nx);
        to_nchw(x, xc, p.n, p.c, hw);
        to_nchw(dy, dyc, p.n, p.c, ohw);

        /* max forward */
        lscc_maxpool2d_fwd_nhwc_f32(&p, x, y);
        lscc_maxpool2d_fwd_f32(&p, xc, yc);
        to_nhwc(yc, yt, p.n, p.c, ohw);
        same_bits(y, yt, ny, &p, idx, kind, "max forward");

        /* max backward, twice onto pre */
        memcpy(dx, pre, sizeof(float) * nx);
        to_nchw(pre, dxc, p.n, p.c, hw);
        for (int r = 0; r < 2; r++) {
            lscc_maxpool2d_bwd_nhwc_f32(&p, x, dy, dx);
            lscc_maxpool2d_bwd_f32(&p, xc, dyc, dxc);
        }
        to_nhwc(dxc, dxt, p.n, p.c, hw);
        same_bits(dx, dxt, nx, &p, idx, kind, "max backward");

        for (int cip = 0; cip < 2; cip++) {
            const char *fw = cip ? "avg forward (count_include_pad)" : "avg forward";
            const char *bw = cip ? "avg backward (count_include_pad)" : "avg backward";
            lscc_avgpool2d_fwd_nhwc_f32(&p, cip, x, y);
            lscc_avgpool2d_fwd_f32(&p, cip, xc, yc);
            to_nhwc(yc, yt, p.n, p.c, ohw);
            same_bits(y, yt, ny, &p, idx, kind, fw);

            memcpy(dx, pre, sizeof(float) * nx);
            to_nchw(pre, dxc, p.n, p.c, hw);
            for (int r = 0; r < 2; r++) {
                lscc_avgpool2d_bwd_nhwc_f32(&p, cip, dy, dx);
                lscc_avgpool2d_bwd_f32(&p, cip, dyc, dxc);
            }
            to_nhwc(dxc, dxt, p.n, p.c, hw);
            same_bits(dx, dxt, nx, &p, idx, kind, bw);
        }
        ck_assert_msg(!memcmp(x, x0, sizeof(float) * nx), "geometry %d: x was written", idx);
    }
    float *all[] = {x, xc, x0, pre, dx, dxc, dxt, dy, dyc, y, yc, yt};
    for (int b = 0; b < 12; b++) {
        ck_assert_msg(guards_ok(all[b], b < 7 ? nx : ny), "geometry %d: buffer %d written out of bounds", idx, b);
        ffree(all[b]);
    }
}
END_TEST

/* The NaN rule in both of pool2d.c's paths, by hand: a window inside the
 * region (its tap-by-tap row loop, last NaN) and one at the border (its
 * argmax, first NaN) with two NaNs of different payloads; ties of -0.0 and
 * +0.0 keep the first. */
START_TEST(nan_and_signed_zero) {
    /* 1 x 2 x 3 x 3 NCHW; 2x2 windows, stride 1, pad 1 on the left only:
     * outputs (i, 0) hold padding, (i, 1) are inner. */
    const lscc_win2d p = {1, 2, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 1, 0, 1};
    const float n1 = nan_of(0x7fc00001u), n2 = nan_of(0xffc00002u);
    const float xc[18] = {n1, 1, n2, n2, 1, n1, 0, 0, 0, /* channel 0 */
                          -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f};
    float x[18], y[8], yc[8], yt[8];
    to_nhwc(xc, x, 1, 2, 9);
    lscc_maxpool2d_fwd_nhwc_f32(&p, x, y);
    lscc_maxpool2d_fwd_f32(&p, xc, yc);
    to_nhwc(yc, yt, 1, 2, 4);
    ck_assert(!memcmp(y, yt, sizeof y));
    float dy[8], dx[18] = {0}, dxc[18] = {0}, dyc[8], dxt[18];
    for (int i = 0; i < 8; i++) dy[i] = (float)(i + 1) / 8;
    to_nchw(dy, dyc, 1, 2, 4);
    lscc_maxpool2d_bwd_nhwc_f32(&p, x, dy, dx);
    lscc_maxpool2d_bwd_f32(&p, xc, dyc, dxc);
    to_nhwc(dxc, dxt, 1, 2, 9);
    ck_assert(!memcmp(dx, dxt, sizeof dx));
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, nhwc_matches_nchw, 0, NFIXED + NRANDOM);
    tcase_add_test(tc, nan_and_signed_zero);
}

int main(void) { return run_suite("pool_nhwc", add_tests, 300); }
