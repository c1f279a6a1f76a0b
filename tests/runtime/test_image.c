/* Image sources (runtime/image.c, image_mmap.c, image_tiff.c) against
 * NumPy and against each other. Cases come from make_image_cases.py
 * (random images, raw files, NumPy-normalized expectations); the TIFF files
 * are written here through libtiff from those same NumPy arrays.
 *
 * - arrays: lscc_image_memory (the reference) reads exactly NumPy's samples;
 *   lscc_image_open_memory (NCHW and NHWC) and lscc_image_open_raw (NCHW,
 *   NHWC, unaligned offset) give memcmp-equal outputs to it over random
 *   regions (borders, 1-pixel, whole image), as f32 and f64.
 * - norm: with the cases' normalization, every source (memory NCHW / NHWC,
 *   raw, the normalizing wrapper over lscc_image_memory and over a user
 *   callback, TIFF) gives for the whole image exactly NumPy's
 *   ((x * scale - mean) / std) in f32 and f64, and memcmp-equal regions.
 * - tiff: TIFFs (tiled / striped, contig / separate, none / LZW (+predictor)
 *   / deflate, 1 to 5 samples of u8, f32, f64, sizes not multiples of the
 *   tile, a small and the default cache, page 1 of a two-page file) read
 *   memcmp-equal to the memory source, with and without normalization.
 * - tiff_cache: a tile read once is served from the cache (its file data
 *   overwritten afterwards does not show), a tile evicted by the bounded
 *   cache is decoded again.
 * - tiff_jpeg: JPEG-compressed YCbCr reads as RGB close to the original.
 * - bigtiff: a sparse tiled BigTIFF > 4 GiB (70001 x 69999 pixels) whose
 *   written tiles sit at file offsets > 2^32 reads those pixels back exactly,
 *   tiles never written read as zeros, and the file allocates little disk.
 * - bigraw: a sparse 4.8 GB raw NHWC file with NumPy data in its last rows
 *   reads back exactly; little disk allocated.
 * - errors: missing files, a truncated raw file, a non-TIFF file, 16-bit,
 *   12-bit, palette and MINISWHITE TIFFs, a missing page, a TIFF whose tile
 *   data is cut off, byte-mutated TIFFs, regions outside the image, a bad
 *   element type, bad normalization and layouts: an error code and a
 *   message, never a crash (run under ASan/UBSan). */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "lscc_npy.h"
#include "lscc_rt.h"
#include "support.h"

typedef struct icase {
    char name[32];
    lscc_dtype dt;
    int64_t n, c, h, w;
    uint64_t offset;
    lscc_npy x, nhwc, ref32, ref64;
} icase;

static icase cases[16];
static int ncases;
static const char *dir;
static double nscale, nmean[16], nstd[16];

static char *path_of(const char *name, const char *ext) {
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    const int len = snprintf(buf[k], sizeof buf[k], "%s/%s%s", dir, name, ext);
    ck_assert_msg(len >= 0 && (size_t)len < sizeof buf[k], "path too long: %s/%s%s", dir, name, ext);
    return buf[k];
}

static void npy(const char *name, lscc_npy *a) {
    char msg[512];
    ck_assert_msg(lscc_npy_read(path_of(name, ".npy"), a, msg, sizeof msg) == 0, "%s", msg);
}

static void load_cases(void) {
    if (ncases) return;
    dir = env_or_skip("LSCC_TEST_IMAGE");
    lscc_npy nm;
    npy("norm", &nm);
    ck_assert(nm.dtype == LSCC_NPY_F64 && nm.count == 48);
    const double *v = nm.data;
    nscale = v[0];
    memcpy(nmean, v + 16, sizeof nmean);
    memcpy(nstd, v + 32, sizeof nstd);
    lscc_npy_free(&nm);
    FILE *f = fopen(path_of("cases", ".txt"), "r");
    ck_assert(f);
    char name[32], dt[16];
    long long n, c, h, w, off;
    while (fscanf(f, "%31s %15s %lld %lld %lld %lld %lld", name, dt, &n, &c, &h, &w, &off) == 7) {
        icase *k = &cases[ncases++];
        snprintf(k->name, sizeof k->name, "%s", name);
        k->dt = strcmp(dt, "uint8") == 0 ? LSCC_U8 : strcmp(dt, "float32") == 0 ? LSCC_F32 : LSCC_F64;
        k->n = n, k->c = c, k->h = h, k->w = w, k->offset = (uint64_t)off;
        char nn[64];
        npy(name, &k->x);
        snprintf(nn, sizeof nn, "%s_nhwc", name);
        npy(nn, &k->nhwc);
        snprintf(nn, sizeof nn, "%s_norm_f32", name);
        npy(nn, &k->ref32);
        snprintf(nn, sizeof nn, "%s_norm_f64", name);
        npy(nn, &k->ref64);
        ck_assert(k->x.count == (size_t)(n * c * h * w));
    }
    fclose(f);
    ck_assert(ncases >= 8);
}

static lscc_image_norm the_norm(void) { return (lscc_image_norm){nscale, nmean, nstd}; }

static icase *find(const char *name) {
    for (int i = 0; i < ncases; i++)
        if (strcmp(cases[i].name, name) == 0) return &cases[i];
    ck_abort_msg("no case %s", name);
    return NULL;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A region: random, or (for the first few) whole, corners, 1 pixel, rows, cols. */
static void region(int64_t h, int64_t w, int i, int64_t *r) {
    switch (i) {
    case 0: r[0] = 0, r[1] = h, r[2] = 0, r[3] = w; return;
    case 1: r[0] = 0, r[1] = 1, r[2] = 0, r[3] = 1; return;
    case 2: r[0] = h - 1, r[1] = h, r[2] = w - 1, r[3] = w; return;
    case 3: r[0] = 0, r[1] = h, r[2] = w - 1, r[3] = w; return;
    case 4: r[0] = h - 1, r[1] = h, r[2] = 0, r[3] = w; return;
    case 5: r[0] = h / 2, r[1] = h / 2 + 1, r[2] = w / 3, r[3] = w / 3 + 1; return;
    default: break;
    }
    int64_t a = (int64_t)(rnd() % (uint64_t)h), b = (int64_t)(rnd() % (uint64_t)h);
    int64_t c = (int64_t)(rnd() % (uint64_t)w), d = (int64_t)(rnd() % (uint64_t)w);
    r[0] = a < b ? a : b, r[1] = (a < b ? b : a) + 1;
    r[2] = c < d ? c : d, r[3] = (c < d ? d : c) + 1;
}

/* Reads region r of img as want into a fresh buffer (with guard bytes after it). */
static void *read_region(const lscc_image *img, const int64_t *r, lscc_dtype want, size_t *bytes) {
    size_t cnt = (size_t)(img->n * img->c * (r[1] - r[0]) * (r[3] - r[2]));
    *bytes = cnt * (size_t)want;
    unsigned char *p = malloc(*bytes + 16);
    ck_assert(p);
    memset(p, 0x5a, *bytes + 16);
    lscc_rt_error err = {0, ""};
    int rc = img->read(img, r[0], r[1], r[2], r[3], want, p, &err);
    ck_assert_msg(rc == 0, "read [%lld,%lld)x[%lld,%lld): %s", (long long)r[0], (long long)r[1], (long long)r[2],
                  (long long)r[3], err.msg);
    for (int i = 0; i < 16; i++) ck_assert_int_eq(p[*bytes + i], 0x5a);
    return p;
}

/* got and ref give memcmp-equal outputs over nreg regions (f32 and f64). */
static void same_regions(const lscc_image *got, const lscc_image *ref, int nreg, const char *what) {
    ck_assert_int_eq(got->n, ref->n);
    ck_assert_int_eq(got->c, ref->c);
    ck_assert_int_eq(got->h, ref->h);
    ck_assert_int_eq(got->w, ref->w);
    for (int i = 0; i < nreg; i++) {
        int64_t r[4];
        region(ref->h, ref->w, i, r);
        for (int t = 0; t < 2; t++) {
            lscc_dtype want = t ? LSCC_F64 : LSCC_F32;
            size_t nb, nb2;
            void *a = read_region(got, r, want, &nb), *b = read_region(ref, r, want, &nb2);
            ck_assert_msg(memcmp(a, b, nb) == 0, "%s: region %d [%lld,%lld)x[%lld,%lld) as f%d differs", what, i,
                          (long long)r[0], (long long)r[1], (long long)r[2], (long long)r[3], t ? 64 : 32);
            free(a);
            free(b);
        }
    }
}

/* The whole image of img read as f32 and f64 equals NumPy's normalized arrays. */
static void equals_numpy_norm(const lscc_image *img, const icase *k, const char *what) {
    int64_t r[4] = {0, k->h, 0, k->w};
    size_t nb;
    void *a = read_region(img, r, LSCC_F32, &nb);
    ck_assert_msg(nb == k->ref32.count * 4 && memcmp(a, k->ref32.data, nb) == 0, "%s %s: f32 differs from NumPy", what,
                  k->name);
    free(a);
    a = read_region(img, r, LSCC_F64, &nb);
    ck_assert_msg(nb == k->ref64.count * 8 && memcmp(a, k->ref64.data, nb) == 0, "%s %s: f64 differs from NumPy", what,
                  k->name);
    free(a);
}

static lscc_image_array array_of(const icase *k, lscc_image_layout lay, uint64_t offset) {
    return (lscc_image_array){k->dt, lay, k->n, k->c, k->h, k->w, offset};
}

/* ---- arrays ---- */

START_TEST(test_arrays) {
    load_cases();
    for (int i = 0; i < ncases; i++) {
        icase *k = &cases[i];
        lscc_image ref, m1, m2, r1, r2;
        lscc_rt_error err = {0, ""};
        lscc_image_memory(&ref, k->x.data, k->dt, k->n, k->c, k->h, k->w);
        /* the reference itself reads NumPy's samples */
        int64_t whole[4] = {0, k->h, 0, k->w};
        size_t nb;
        double *d = read_region(&ref, whole, LSCC_F64, &nb);
        for (size_t j = 0; j < k->x.count; j++) {
            double v = k->dt == LSCC_U8    ? ((unsigned char *)k->x.data)[j]
                       : k->dt == LSCC_F32 ? ((float *)k->x.data)[j]
                                           : ((double *)k->x.data)[j];
            ck_assert(memcmp(&v, &d[j], 8) == 0);
        }
        free(d);
        lscc_image_array a = array_of(k, LSCC_LAYOUT_NCHW, 0), b = array_of(k, LSCC_LAYOUT_NHWC, 0);
        ck_assert_msg(lscc_image_open_memory(&m1, k->x.data, &a, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(lscc_image_open_memory(&m2, k->nhwc.data, &b, NULL, &err) == 0, "%s", err.msg);
        a.offset = b.offset = k->offset;
        ck_assert_msg(lscc_image_open_raw(&r1, path_of(k->name, ".nchw.raw"), &a, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(lscc_image_open_raw(&r2, path_of(k->name, ".nhwc.raw"), &b, NULL, &err) == 0, "%s", err.msg);
        ck_assert(r1.dtype == k->dt && r1.data == NULL && m1.data == k->x.data);
        same_regions(&m1, &ref, 120, "memory nchw");
        same_regions(&m2, &ref, 120, "memory nhwc");
        same_regions(&r1, &ref, 120, "raw nchw");
        same_regions(&r2, &ref, 120, "raw nhwc");
        lscc_image_close(&m1);
        lscc_image_close(&m2);
        lscc_image_close(&r1);
        lscc_image_close(&r2);
        ck_assert(r2.read == NULL && r2.user == NULL);
        lscc_image_close(&r2);  /* twice: a zeroed image */
        lscc_image_close(&ref); /* lscc_image_memory: nothing to free */
    }
}
END_TEST

/* ---- normalization, and callbacks ---- */

typedef struct cb_data {
    const icase *k;
    int calls;
} cb_data;

/* A user source: reads the NHWC array by hand, through lscc_image_convert. */
static int cb_read(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want, void *dst,
                   lscc_rt_error *err) {
    cb_data *u = img->user;
    const icase *k = u->k;
    u->calls++;
    if (y0 < 0 || x0 < 0 || y1 > img->h || x1 > img->w) return lscc_rt_fail(err, LSCC_RT_E_ARG, "cb: outside");
    size_t es = k->dt == LSCC_U8 ? 1 : k->dt == LSCC_F32 ? 4 : 8, len = (size_t)(x1 - x0), o = 0;
    for (int64_t b = 0; b < k->n; b++)
        for (int64_t ch = 0; ch < k->c; ch++)
            for (int64_t r = y0; r < y1; r++, o += len) {
                size_t at = (size_t)(((b * k->h + r) * k->w + x0) * k->c + ch);
                lscc_image_convert((const char *)k->nhwc.data + at * es, k->dt, (size_t)k->c, len, NULL, ch, want,
                                   (char *)dst + o * (size_t)want);
            }
    return 0;
}

START_TEST(test_norm) {
    load_cases();
    lscc_image_norm nm = the_norm();
    for (int i = 0; i < ncases; i++) {
        icase *k = &cases[i];
        lscc_image plain, m1, m2, r1, r2, w1, cb, w2;
        lscc_rt_error err = {0, ""};
        lscc_image_memory(&plain, k->x.data, k->dt, k->n, k->c, k->h, k->w);
        lscc_image_array a = array_of(k, LSCC_LAYOUT_NCHW, 0), b = array_of(k, LSCC_LAYOUT_NHWC, 0);
        ck_assert_msg(lscc_image_open_memory(&m1, k->x.data, &a, &nm, &err) == 0, "%s", err.msg);
        ck_assert_msg(lscc_image_open_memory(&m2, k->nhwc.data, &b, &nm, &err) == 0, "%s", err.msg);
        a.offset = b.offset = k->offset;
        ck_assert_msg(lscc_image_open_raw(&r1, path_of(k->name, ".nchw.raw"), &a, &nm, &err) == 0, "%s", err.msg);
        ck_assert_msg(lscc_image_open_raw(&r2, path_of(k->name, ".nhwc.raw"), &b, &nm, &err) == 0, "%s", err.msg);
        ck_assert_msg(lscc_image_open_normalized(&w1, &plain, &nm, &err) == 0, "%s", err.msg);
        cb_data u = {k, 0};
        lscc_image_callback(&cb, k->n, k->c, k->h, k->w, cb_read, &u);
        same_regions(&cb, &plain, 40, "callback");
        ck_assert_int_gt(u.calls, 0);
        ck_assert_msg(lscc_image_open_normalized(&w2, &cb, &nm, &err) == 0, "%s", err.msg);
        const lscc_image *all[] = {&m1, &m2, &r1, &r2, &w1, &w2};
        const char *names[] = {"memory nchw", "memory nhwc", "raw nchw", "raw nhwc", "wrapper", "wrapped callback"};
        for (int j = 0; j < 6; j++) {
            equals_numpy_norm(all[j], k, names[j]);
            if (j) same_regions(all[j], &m1, 80, names[j]);
        }
        for (int j = 0; j < 6; j++) lscc_image_close((lscc_image *)all[j]);
        lscc_image_close(&cb); /* a callback: only zeroed */
        ck_assert(cb.read == NULL);
    }
    /* mean / std NULL: 0 / 1, i.e. x * scale */
    icase *k = find("u8c3");
    lscc_image m, plain;
    lscc_rt_error err = {0, ""};
    lscc_image_norm sc = {0.5, NULL, NULL};
    lscc_image_array a = array_of(k, LSCC_LAYOUT_NCHW, 0);
    ck_assert(lscc_image_open_memory(&m, k->x.data, &a, &sc, &err) == 0);
    lscc_image_memory(&plain, k->x.data, k->dt, k->n, k->c, k->h, k->w);
    int64_t r[4] = {3, 9, 5, 20};
    size_t nb;
    double *p = read_region(&m, r, LSCC_F64, &nb), *q = read_region(&plain, r, LSCC_F64, &nb);
    for (size_t j = 0; j < nb / 8; j++) ck_assert(p[j] == q[j] * 0.5);
    free(p);
    free(q);
    lscc_image_close(&m);
}
END_TEST

/* ---- TIFF writing (the test's own, through libtiff) ---- */

typedef struct tiff_spec {
    int tiled, separate;
    uint32_t tw, th; /* tile size, or th = rows per strip */
    uint16_t comp, predictor;
    int big, pages; /* pages: 2 writes a decoy page 0 and the image as page 1 */
} tiff_spec;

static size_t es_of(lscc_dtype t) { return t == LSCC_U8 ? 1 : t == LSCC_F32 ? 4 : 8; }

static void write_page(TIFF *tif, const icase *k, const tiff_spec *s, const unsigned char *x, int decoy) {
    uint32_t w = (uint32_t)k->w, h = (uint32_t)k->h;
    uint16_t spp = (uint16_t)k->c;
    size_t es = es_of(k->dt);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * es));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, k->dt == LSCC_U8 ? SAMPLEFORMAT_UINT : SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, s->separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    if (spp == 4 || spp == 2) {
        uint16_t extra = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
    } else if (spp == 5) {
        uint16_t extra[2] = {EXTRASAMPLE_UNSPECIFIED, EXTRASAMPLE_UNSPECIFIED};
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 2, extra);
    }
    TIFFSetField(tif, TIFFTAG_COMPRESSION, s->comp);
    if (s->predictor) TIFFSetField(tif, TIFFTAG_PREDICTOR, s->predictor);
    uint32_t tw = s->tiled ? s->tw : w, th = s->th < h ? s->th : h;
    if (s->tiled) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, tw);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, th);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, th);
    }
    int groups = s->separate ? spp : 1, per = s->separate ? 1 : spp;
    uint32_t across = (w + tw - 1) / tw, down = (h + th - 1) / th;
    size_t tb = (size_t)tw * th * (size_t)per * es;
    unsigned char *buf = malloc(tb);
    ck_assert(buf);
    for (int g = 0; g < groups; g++)
        for (uint32_t ty = 0; ty < down; ty++)
            for (uint32_t tx = 0; tx < across; tx++) {
                memset(buf, 0xab, tb); /* outside the image: junk the reader must ignore */
                uint32_t rows = s->tiled ? th : (ty * th + th <= h ? th : h - ty * th);
                for (uint32_t r = 0; r < rows; r++)
                    for (uint32_t q = 0; q < tw; q++)
                        for (int kk = 0; kk < per; kk++) {
                            uint32_t y = ty * th + r, xx = tx * tw + q;
                            if (y >= h || xx >= w) continue;
                            int ch = s->separate ? g : kk;
                            size_t from = (((size_t)ch * h + y) * w + xx) * es;
                            size_t to = (((size_t)r * tw + q) * (size_t)per + (size_t)kk) * es;
                            if (decoy)
                                memset(buf + to, 7, es);
                            else
                                memcpy(buf + to, x + from, es);
                        }
                uint32_t idx = ((uint32_t)g * down + ty) * across + tx;
                tmsize_t n = s->tiled ? TIFFWriteEncodedTile(tif, idx, buf, (tmsize_t)tb)
                                      : TIFFWriteEncodedStrip(tif, idx, buf, (tmsize_t)((size_t)rows * tw * per * es));
                ck_assert_int_ge(n, 0);
            }
    free(buf);
}

static void write_tiff(const char *path, const icase *k, const tiff_spec *s) {
    TIFF *tif = TIFFOpen(path, s->big ? "w8" : "w");
    ck_assert_msg(tif, "cannot write %s", path);
    for (int p = 0; p < (s->pages ? s->pages : 1); p++) {
        write_page(tif, k, s, k->x.data, s->pages == 2 && p == 0);
        ck_assert(TIFFWriteDirectory(tif));
    }
    TIFFClose(tif);
}

static const char *comp_name(uint16_t c) {
    return c == COMPRESSION_NONE            ? "none"
           : c == COMPRESSION_LZW           ? "lzw"
           : c == COMPRESSION_ADOBE_DEFLATE ? "deflate"
                                            : "?";
}

START_TEST(test_tiff) {
    load_cases();
    lscc_image_norm nm = the_norm();
    const char *names[] = {"u8c1", "u8c3", "u8c4", "u8c5", "f32c1", "f32c3", "f64c2"};
    const uint16_t comps[] = {COMPRESSION_NONE, COMPRESSION_LZW, COMPRESSION_ADOBE_DEFLATE};
    int files = 0;
    for (size_t ni = 0; ni < sizeof names / sizeof *names; ni++) {
        icase *k = find(names[ni]);
        lscc_image ref, refn;
        lscc_rt_error err = {0, ""};
        lscc_image_memory(&ref, k->x.data, k->dt, k->n, k->c, k->h, k->w);
        lscc_image_array a = array_of(k, LSCC_LAYOUT_NCHW, 0);
        ck_assert(lscc_image_open_memory(&refn, k->x.data, &a, &nm, &err) == 0);
        for (int tiled = 0; tiled < 2; tiled++)
            for (int sep = 0; sep < 2; sep++)
                for (int ci = 0; ci < 3; ci++) {
                    if (k->dt != LSCC_U8 && ci == 1 && sep) continue; /* fewer float files */
                    tiff_spec s = {tiled, sep, 32, tiled ? 16 : 7, comps[ci], 0, 0, 0};
                    if (ci == 1 && k->dt == LSCC_U8 && !sep) s.predictor = PREDICTOR_HORIZONTAL;
                    if (ci == 2 && k->dt != LSCC_U8) s.predictor = PREDICTOR_FLOATINGPOINT;
                    if (files % 5 == 4) s.pages = 2;
                    if (files % 7 == 3) s.big = 1;
                    char path[4200];
                    const int len = snprintf(path, sizeof path, "%s/t_%s_%s_%s_%s.tif", dir, k->name,
                                             tiled ? "tiled" : "strips", sep ? "separate" : "contig", comp_name(s.comp));
                    ck_assert(len >= 0 && (size_t)len < sizeof path);
                    write_tiff(path, k, &s);
                    files++;
                    char what[4300];
                    snprintf(what, sizeof what, "%s (pages %d, big %d)", path, s.pages, s.big);
                    /* a one-tile cache, and the default */
                    for (int cache = 0; cache < 2; cache++) {
                        lscc_image t, tn;
                        lscc_image_tiff_options o = {s.pages == 2 ? 1 : 0, cache ? 0 : 1};
                        ck_assert_msg(lscc_image_open_tiff(&t, path, &o, NULL, &err) == 0, "%s: %s", what, err.msg);
                        ck_assert(t.dtype == k->dt && t.n == 1);
                        same_regions(&t, &ref, cache ? 60 : 30, what);
                        ck_assert_msg(lscc_image_open_tiff(&tn, path, &o, &nm, &err) == 0, "%s: %s", what, err.msg);
                        if (cache) equals_numpy_norm(&tn, k, what);
                        same_regions(&tn, &refn, cache ? 30 : 10, what);
                        lscc_image_close(&t);
                        lscc_image_close(&tn);
                    }
                    if (s.pages == 2) { /* page 0 is the decoy of 7s */
                        lscc_image t;
                        ck_assert(lscc_image_open_tiff(&t, path, NULL, NULL, &err) == 0);
                        int64_t r[4] = {0, 1, 0, 1};
                        size_t nb;
                        double *v = read_region(&t, r, LSCC_F64, &nb);
                        ck_assert(k->dt != LSCC_U8 || v[0] == 7.0);
                        free(v);
                        lscc_image_close(&t);
                    }
                    unlink(path);
                }
        lscc_image_close(&refn);
    }
    ck_assert_int_gt(files, 60);
}
END_TEST

/* The decoded-tile cache: tiles read once come from the cache even after
 * the file's tile data changes under it; the cache is bounded (the default
 * here: 4 tiles, 3 across, and reads of one row of tiles need no more), so
 * older tiles are decoded again, from the new data. (Uncompressed, so the
 * data can be overwritten in place.) */
START_TEST(test_tiff_cache) {
    load_cases();
    icase *k = find("u8c1"); /* 77 x 93: 32 x 16 tiles, 3 across, 5 down */
    char path[4200];
    snprintf(path, sizeof path, "%s/cache.tif", dir);
    tiff_spec ts = {1, 0, 32, 16, COMPRESSION_NONE, 0, 0, 0};
    write_tiff(path, k, &ts);
    lscc_image img;
    lscc_rt_error err = {0, ""};
    ck_assert(lscc_image_open_tiff(&img, path, NULL, NULL, &err) == 0);
    int64_t row0[4] = {0, 16, 0, 93}, row1[4] = {16, 32, 0, 93}, row2[4] = {32, 48, 0, 93};
    size_t nb;
    float *first = read_region(&img, row0, LSCC_F32, &nb);
    for (size_t j = 0; j < nb / 4; j++) /* NumPy's samples */
        ck_assert(first[j] == (float)((unsigned char *)k->x.data)[(j / 93) * 93 + j % 93]);
    /* overwrite every tile's data with 0xEE */
    TIFF *tif = TIFFOpen(path, "r");
    ck_assert(tif);
    uint32_t nt = TIFFNumberOfTiles(tif);
    uint64_t offs[64], cnts[64];
    ck_assert(nt == 15);
    for (uint32_t t = 0; t < nt; t++) offs[t] = TIFFGetStrileOffset(tif, t), cnts[t] = TIFFGetStrileByteCount(tif, t);
    TIFFClose(tif);
    int fd = open(path, O_WRONLY);
    ck_assert(fd >= 0);
    unsigned char ee[32 * 16];
    memset(ee, 0xee, sizeof ee);
    for (uint32_t t = 0; t < nt; t++) ck_assert(pwrite(fd, ee, (size_t)cnts[t], (off_t)offs[t]) == (ssize_t)cnts[t]);
    close(fd);
    float *again = read_region(&img, row0, LSCC_F32, &nb); /* cached */
    ck_assert(memcmp(first, again, nb) == 0);
    free(again);
    float *v = read_region(&img, row2, LSCC_F32, &nb); /* decoded now: the new data */
    for (size_t j = 0; j < nb / 4; j++) ck_assert(v[j] == 238.0f);
    free(v);
    free(read_region(&img, row1, LSCC_F32, &nb));
    v = read_region(&img, row0, LSCC_F32, &nb); /* evicted by rows 1 and 2: decoded again */
    int changed = 0;
    for (size_t j = 0; j < nb / 4; j++) changed += v[j] == 238.0f && first[j] != 238.0f;
    ck_assert_int_gt(changed, 16 * 32);
    free(v);
    free(first);
    lscc_image_close(&img);
    unlink(path);
}
END_TEST

/* JPEG-compressed YCbCr (lossy): decoded to RGB, close to the original. */
START_TEST(test_tiff_jpeg) {
    load_cases();
    if (!TIFFIsCODECConfigured(COMPRESSION_JPEG)) return;
    icase *k = find("u8c3");
    /* a smooth image: JPEG keeps it close */
    size_t n = (size_t)(k->h * k->w);
    unsigned char *sm = malloc(3 * n);
    ck_assert(sm);
    for (int64_t c = 0; c < 3; c++)
        for (int64_t y = 0; y < k->h; y++)
            for (int64_t x = 0; x < k->w; x++) sm[(c * k->h + y) * k->w + x] = (unsigned char)(40 + c * 50 + y + x / 2);
    char path[4200];
    snprintf(path, sizeof path, "%s/jpeg.tif", dir);
    TIFF *tif = TIFFOpen(path, "w");
    ck_assert(tif);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)k->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)k->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 95);
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, 32);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, 32);
    unsigned char tile[32 * 32 * 3];
    for (uint32_t ty = 0; ty < (uint32_t)(k->h + 31) / 32; ty++)
        for (uint32_t tx = 0; tx < (uint32_t)(k->w + 31) / 32; tx++) {
            for (uint32_t r = 0; r < 32; r++)
                for (uint32_t q = 0; q < 32; q++)
                    for (int c = 0; c < 3; c++) {
                        int64_t y = ty * 32 + r < (uint32_t)k->h ? ty * 32 + r : k->h - 1;
                        int64_t x = tx * 32 + q < (uint32_t)k->w ? tx * 32 + q : k->w - 1;
                        tile[(r * 32 + q) * 3 + (uint32_t)c] = sm[(c * k->h + y) * k->w + x];
                    }
            ck_assert(TIFFWriteTile(tif, tile, tx * 32, ty * 32, 0, 0) > 0);
        }
    TIFFClose(tif);
    lscc_image img;
    lscc_rt_error err = {0, ""};
    ck_assert_msg(lscc_image_open_tiff(&img, path, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert(img.c == 3 && img.dtype == LSCC_U8);
    int64_t r[4] = {0, k->h, 0, k->w};
    size_t nb;
    float *v = read_region(&img, r, LSCC_F32, &nb);
    double sum = 0;
    for (size_t j = 0; j < 3 * n; j++) sum += fabs(v[j] - sm[j]);
    ck_assert_msg(sum / (double)(3 * n) < 4.0, "mean abs error %g", sum / (double)(3 * n));
    free(v);
    lscc_image_close(&img);
    free(sm);
    unlink(path);
}
END_TEST

/* ---- > 4 GiB sparse files ---- */

static void check_sparse(const char *path, uint64_t min_size) {
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    ck_assert_msg((uint64_t)st.st_size > min_size, "%s: %lld bytes", path, (long long)st.st_size);
    /* allocated: a few MB at most (the file system supports holes) */
    ck_assert_msg((uint64_t)st.st_blocks * 512 < 64ull << 20, "%s: %lld bytes allocated: no sparse files here?", path,
                  (long long)st.st_blocks * 512);
}

START_TEST(test_bigtiff) {
    load_cases();
    lscc_npy tiles;
    npy("big_tiles", &tiles); /* 512 x 512 u8 */
    const unsigned char *td = tiles.data;
    const uint32_t W = 69999, H = 70001, T = 256;
    const uint32_t across = (W + T - 1) / T, down = (H + T - 1) / T;
    char *path = path_of("big", ".tif");
    TIFF *tif = TIFFOpen(path, "w8");
    ck_assert(tif);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, T);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, T);
    unsigned char *buf = malloc(T * T);
    ck_assert(buf);
    /* tile (0, 0): the top-left 256 x 256 of the random data */
    for (uint32_t r = 0; r < T; r++) memcpy(buf + r * T, td + r * 512, T);
    ck_assert(TIFFWriteEncodedTile(tif, 0, buf, T * T) > 0);
    /* a hole of 4.5 GiB: libtiff appends the next tiles at the end of the file */
    ck_assert(ftruncate(TIFFFileno(tif), (off_t)(9ull << 29)) == 0);
    /* the bottom-right 2 x 2 tiles: the random data placed at their origin */
    for (uint32_t ty = down - 2; ty < down; ty++)
        for (uint32_t tx = across - 2; tx < across; tx++) {
            for (uint32_t r = 0; r < T; r++)
                memcpy(buf + r * T, td + ((ty - (down - 2)) * T + r) * 512 + (tx - (across - 2)) * T, T);
            ck_assert(TIFFWriteEncodedTile(tif, ty * across + tx, buf, T * T) > 0);
        }
    ck_assert(TIFFWriteDirectory(tif));
    TIFFClose(tif);
    free(buf);
    check_sparse(path, 9ull << 29);
    /* the written tiles really sit beyond 4 GiB */
    tif = TIFFOpen(path, "r");
    ck_assert(tif);
    ck_assert(TIFFIsBigTIFF(tif));
    for (uint32_t ty = down - 2; ty < down; ty++)
        for (uint32_t tx = across - 2; tx < across; tx++)
            ck_assert_msg(TIFFGetStrileOffset(tif, ty * across + tx) > (1ull << 32), "tile offset %llu",
                          (unsigned long long)TIFFGetStrileOffset(tif, ty * across + tx));
    ck_assert(TIFFGetStrileByteCount(tif, 1) == 0); /* never written */
    TIFFClose(tif);

    lscc_image img;
    lscc_rt_error err = {0, ""};
    ck_assert_msg(lscc_image_open_tiff(&img, path, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert(img.h == H && img.w == W && img.c == 1);
    /* the expected bottom-right 700 x 700: the written tiles, zeros elsewhere */
    const int64_t E = 700, ey = H - E, ex = W - E;
    unsigned char *exp = calloc((size_t)(E * E), 1);
    ck_assert(exp);
    for (int64_t y = ey; y < H; y++)
        for (int64_t x = ex; x < W; x++) {
            int64_t ty = y / T, tx = x / T;
            if (ty < down - 2 || tx < across - 2) continue;
            exp[(y - ey) * E + (x - ex)] = td[(y - (int64_t)(down - 2) * T) * 512 + (x - (int64_t)(across - 2) * T)];
        }
    lscc_image ref;
    lscc_image_memory(&ref, exp, LSCC_U8, 1, 1, E, E);
    /* a view of the big image's corner as a callback-free comparison: read
       regions of img shifted by (ey, ex) against ref */
    for (int i = 0; i < 40; i++) {
        int64_t r[4], s[4];
        region(E, E, i, r);
        s[0] = r[0] + ey, s[1] = r[1] + ey, s[2] = r[2] + ex, s[3] = r[3] + ex;
        for (int t = 0; t < 2; t++) {
            lscc_dtype want = t ? LSCC_F64 : LSCC_F32;
            size_t nb, nb2;
            void *a = read_region(&img, s, want, &nb), *b = read_region(&ref, r, want, &nb2);
            ck_assert_msg(memcmp(a, b, nb) == 0, "big tiff region %d differs", i);
            free(a);
            free(b);
        }
    }
    /* tile (0, 0) and the sparse tile next to it */
    int64_t r0[4] = {0, 300, 0, 300};
    size_t nb;
    float *v = read_region(&img, r0, LSCC_F32, &nb);
    for (int y = 0; y < 300; y++)
        for (int x = 0; x < 300; x++) ck_assert(v[y * 300 + x] == (y < 256 && x < 256 ? (float)td[y * 512 + x] : 0.0f));
    free(v);
    lscc_image_close(&img);
    free(exp);
    lscc_npy_free(&tiles);
    ck_assert(unlink(path) == 0);
}
END_TEST

START_TEST(test_bigraw) {
    load_cases();
    lscc_npy tail;
    npy("big_tail", &tail); /* 4 x 40000 x 3 u8 */
    const int64_t H = 40000, W = 40000, C = 3, off = 7;
    uint64_t size = off + (uint64_t)H * W * C; /* 4.8 GB */
    char *path = path_of("big", ".raw");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(fd >= 0);
    ck_assert(ftruncate(fd, (off_t)size) == 0);
    size_t tb = tail.count;
    ck_assert(pwrite(fd, tail.data, tb, (off_t)(size - tb)) == (ssize_t)tb);
    close(fd);
    check_sparse(path, 1ull << 32);
    lscc_image img, ref;
    lscc_rt_error err = {0, ""};
    lscc_image_array a = {LSCC_U8, LSCC_LAYOUT_NHWC, 1, C, H, W, (uint64_t)off};
    ck_assert_msg(lscc_image_open_raw(&img, path, &a, NULL, &err) == 0, "%s", err.msg);
    lscc_image_array ta = {LSCC_U8, LSCC_LAYOUT_NHWC, 1, C, 4, W, 0};
    ck_assert(lscc_image_open_memory(&ref, tail.data, &ta, NULL, &err) == 0);
    for (int i = 0; i < 40; i++) {
        int64_t r[4], s[4];
        region(4, 300, i, r);
        int64_t x0 = i % 2 ? W - 300 : (int64_t)(rnd() % (uint64_t)(W - 300));
        s[0] = r[0] + H - 4, s[1] = r[1] + H - 4, s[2] = r[2] + x0, s[3] = r[3] + x0;
        r[2] += x0, r[3] += x0;
        size_t nb, nb2;
        void *p = read_region(&img, s, LSCC_F32, &nb), *q = read_region(&ref, r, LSCC_F32, &nb2);
        ck_assert_msg(memcmp(p, q, nb) == 0, "big raw region %d differs", i);
        free(p);
        free(q);
    }
    /* the hole reads as zeros */
    int64_t z[4] = {H / 2, H / 2 + 2, 100, 140};
    size_t nb;
    double *v = read_region(&img, z, LSCC_F64, &nb);
    for (size_t j = 0; j < nb / 8; j++) ck_assert(v[j] == 0.0);
    free(v);
    lscc_image_close(&img);
    lscc_image_close(&ref);
    lscc_npy_free(&tail);
    ck_assert(unlink(path) == 0);
}
END_TEST

/* ---- errors ---- */

static void expect_fail(int rc, const lscc_rt_error *err, int code, const char *part, const char *what) {
    ck_assert_msg(rc == code, "%s: code %d, expected %d (%s)", what, rc, code, err->msg);
    ck_assert_msg(err->code == code, "%s: err.code %d", what, err->code);
    ck_assert_msg(strstr(err->msg, part) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err->msg, part);
}

/* A one-sample 16 x 16 striped TIFF with the given bits, format, photometric. */
static void write_odd_tiff(const char *path, uint16_t bps, uint16_t fmt, uint16_t photo) {
    TIFF *tif = TIFFOpen(path, "w");
    ck_assert(tif);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 16);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 16);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bps);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photo);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 16);
    if (photo == PHOTOMETRIC_PALETTE) {
        uint16_t map[256] = {0};
        TIFFSetField(tif, TIFFTAG_COLORMAP, map, map, map);
    }
    unsigned char buf[16 * 16 * 8] = {0};
    ck_assert(TIFFWriteEncodedStrip(tif, 0, buf, (tmsize_t)(16 * 16 * bps / 8)) >= 0);
    TIFFClose(tif);
}

/* A classic little-endian TIFF made by hand: 16 x 16 u8, one uncompressed
 * strip, the directory first (at 8) and the 256 data bytes last (at 122),
 * so that cutting the file short keeps it openable but leaves the strip
 * short. Sample (y, x) is y * 16 + x. */
static size_t hand_tiff(unsigned char *b) {
    static const uint16_t e[9][2] = {{256, 16},  {257, 16}, {258, 8},  {259, 1},  {262, 1},
                                     {273, 122}, {277, 1},  {278, 16}, {279, 256}};
    memset(b, 0, 378);
    memcpy(b, "II*\0\x08\0\0\0", 8);
    b[8] = 9;
    for (int i = 0; i < 9; i++) {
        unsigned char *p = b + 10 + 12 * i;
        int lng = e[i][0] == 273 || e[i][0] == 279;
        p[0] = (unsigned char)(e[i][0] & 255), p[1] = (unsigned char)(e[i][0] >> 8);
        p[2] = lng ? 4 : 3;
        p[4] = 1;
        p[8] = (unsigned char)(e[i][1] & 255), p[9] = (unsigned char)(e[i][1] >> 8);
    }
    for (int i = 0; i < 256; i++) b[122 + i] = (unsigned char)i;
    return 378;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len);
    ck_assert(b && fread(b, 1, *len, f) == *len);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(b, 1, len, f) == len);
    fclose(f);
}

START_TEST(test_errors) {
    load_cases();
    icase *k = find("u8c3");
    lscc_image img;
    lscc_rt_error err = {0, ""};
    lscc_image_array a = array_of(k, LSCC_LAYOUT_NCHW, 0);
    int rc;

    rc = lscc_image_open_raw(&img, path_of("no_such_file", ".raw"), &a, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_IO, "no_such_file.raw: cannot open", "missing raw");
    ck_assert(img.read == NULL);
    rc = lscc_image_open_raw(&img, path_of("short", ".raw"), &a, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_INVALID, "file too short", "truncated raw");
    a.offset = 1; /* the exact length minus one: also short */
    rc = lscc_image_open_raw(&img, path_of(k->name, ".nchw.raw"), &a, NULL, &err);
    ck_assert(rc == 0); /* offset 1 < the real offset: the file is long enough */
    lscc_image_close(&img);
    a.offset = k->offset + 1;
    rc = lscc_image_open_raw(&img, path_of(k->name, ".nchw.raw"), &a, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_INVALID, "file too short", "raw with too large an offset");
    a.offset = 0;
    rc = lscc_image_open_raw(&img, dir, &a, NULL, &err);
    ck_assert(rc != 0 && err.msg[0]);
    lscc_image_array bad = a;
    bad.layout = (lscc_image_layout)7;
    expect_fail(lscc_image_open_memory(&img, k->x.data, &bad, NULL, &err), &err, LSCC_RT_E_ARG, "layout", "layout");
    bad = a;
    bad.h = 0;
    expect_fail(lscc_image_open_memory(&img, k->x.data, &bad, NULL, &err), &err, LSCC_RT_E_ARG, "dimension", "h 0");
    bad = a;
    bad.dtype = (lscc_dtype)2;
    expect_fail(lscc_image_open_memory(&img, k->x.data, &bad, NULL, &err), &err, LSCC_RT_E_ARG, "sample type", "dtype");
    bad = a;
    bad.w = bad.h = (int64_t)1 << 20; /* 3 TiB */
    expect_fail(lscc_image_open_raw(&img, path_of(k->name, ".nchw.raw"), &bad, NULL, &err), &err, LSCC_RT_E_INVALID,
                "too short", "huge raw");
    bad.w = bad.h = (int64_t)1 << 40;
    expect_fail(lscc_image_open_raw(&img, path_of(k->name, ".nchw.raw"), &bad, NULL, &err), &err, LSCC_RT_E_ARG,
                "overflows", "overflowing raw");
    double zero_std[3] = {1, 0, 1};
    lscc_image_norm nb = {1.0, NULL, zero_std};
    expect_fail(lscc_image_open_memory(&img, k->x.data, &a, &nb, &err), &err, LSCC_RT_E_ARG, "std[1]", "std 0");
    nb = (lscc_image_norm){NAN, NULL, NULL};
    expect_fail(lscc_image_open_memory(&img, k->x.data, &a, &nb, &err), &err, LSCC_RT_E_ARG, "scale", "scale nan");
    expect_fail(lscc_image_open_normalized(&img, NULL, &nb, &err), &err, LSCC_RT_E_ARG, "src", "wrapper of NULL");

    /* regions outside the image, bad element types: every source */
    lscc_image srcs[4];
    a.offset = k->offset;
    ck_assert(lscc_image_open_raw(&srcs[0], path_of(k->name, ".nchw.raw"), &a, NULL, &err) == 0);
    a.offset = 0;
    ck_assert(lscc_image_open_memory(&srcs[1], k->x.data, &a, NULL, &err) == 0);
    lscc_image_memory(&srcs[2], k->x.data, k->dt, k->n, k->c, k->h, k->w);
    char tpath[4200];
    snprintf(tpath, sizeof tpath, "%s/err_ok.tif", dir);
    tiff_spec ts = {1, 0, 16, 16, COMPRESSION_LZW, 0, 0, 0};
    write_tiff(tpath, k, &ts);
    ck_assert(lscc_image_open_tiff(&srcs[3], tpath, NULL, NULL, &err) == 0);
    const int64_t outside[][4] = {{-1, 3, 0, 3}, {0, 3, -2, 1}, {0, k->h + 1, 0, 1},   {0, 1, 0, k->w + 1},
                                  {5, 5, 0, 1},  {0, 1, 4, 3},  {k->h, k->h + 1, 0, 1}};
    float dst[64];
    for (int s = 0; s < 4; s++) {
        for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
            const int64_t *r = outside[i];
            rc = srcs[s].read(&srcs[s], r[0], r[1], r[2], r[3], LSCC_F32, dst, &err);
            expect_fail(rc, &err, LSCC_RT_E_ARG, "outside the image", "region outside");
        }
        rc = srcs[s].read(&srcs[s], 0, 1, 0, 1, LSCC_U8, dst, &err);
        expect_fail(rc, &err, LSCC_RT_E_ARG, "element type", "want u8");
        lscc_image_close(&srcs[s]);
    }

    /* TIFF: missing, not a TIFF, unsupported, missing page, cut off */
    rc = lscc_image_open_tiff(&img, path_of("no_such_file", ".tif"), NULL, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_IO, "cannot open", "missing tiff");
    rc = lscc_image_open_tiff(&img, path_of("not_a_tiff", ".tif"), NULL, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_INVALID, "not a readable TIFF", "not a tiff");
    ck_assert(img.read == NULL && img.user == NULL);
    lscc_image_tiff_options o = {3, 0};
    rc = lscc_image_open_tiff(&img, tpath, &o, NULL, &err);
    expect_fail(rc, &err, LSCC_RT_E_ARG, "page 3 does not exist", "missing page");
    char opath[4200];
    snprintf(opath, sizeof opath, "%s/err_odd.tif", dir);
    write_odd_tiff(opath, 16, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK);
    expect_fail(lscc_image_open_tiff(&img, opath, NULL, NULL, &err), &err, LSCC_RT_E_UNSUPPORTED,
                "16-bit unsigned integer samples are not supported", "16-bit");
    write_odd_tiff(opath, 12, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK);
    expect_fail(lscc_image_open_tiff(&img, opath, NULL, NULL, &err), &err, LSCC_RT_E_UNSUPPORTED, "12-bit", "12-bit");
    write_odd_tiff(opath, 8, SAMPLEFORMAT_INT, PHOTOMETRIC_MINISBLACK);
    expect_fail(lscc_image_open_tiff(&img, opath, NULL, NULL, &err), &err, LSCC_RT_E_UNSUPPORTED,
                "8-bit signed integer", "int8");
    write_odd_tiff(opath, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_PALETTE);
    expect_fail(lscc_image_open_tiff(&img, opath, NULL, NULL, &err), &err, LSCC_RT_E_UNSUPPORTED, "PALETTE", "palette");
    write_odd_tiff(opath, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISWHITE);
    expect_fail(lscc_image_open_tiff(&img, opath, NULL, NULL, &err), &err, LSCC_RT_E_UNSUPPORTED, "MINISWHITE",
                "miniswhite");
    write_odd_tiff(opath, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK); /* and a good one */
    ck_assert_msg(lscc_image_open_tiff(&img, opath, NULL, NULL, &err) == 0, "%s", err.msg);
    lscc_image_close(&img);
    unlink(opath);

    /* a hand-made TIFF reads; cut off inside its strip it still opens, and
       the read fails cleanly */
    unsigned char hand[378];
    size_t hlen = hand_tiff(hand);
    snprintf(opath, sizeof opath, "%s/err_cut.tif", dir);
    spit(opath, hand, hlen);
    ck_assert_msg(lscc_image_open_tiff(&img, opath, NULL, NULL, &err) == 0, "%s", err.msg);
    {
        int64_t r[4] = {0, 16, 0, 16};
        size_t nbytes;
        double *v = read_region(&img, r, LSCC_F64, &nbytes);
        for (int i = 0; i < 256; i++) ck_assert(v[i] == (double)i);
        free(v);
        lscc_image_close(&img);
    }
    int opened = 0, failed_reads = 0;
    for (size_t cut = 0; cut < hlen; cut += 7) {
        spit(opath, hand, cut);
        if (lscc_image_open_tiff(&img, opath, NULL, NULL, &err) != 0) {
            ck_assert(err.code != 0 && err.msg[0]);
            continue;
        }
        opened++;
        float buf[256];
        rc = img.read(&img, 0, img.h, 0, img.w, LSCC_F32, buf, &err);
        if (rc) {
            failed_reads++;
            ck_assert_msg(err.code == LSCC_RT_E_IO && strstr(err.msg, "strip 0"), "%s", err.msg);
        }
        lscc_image_close(&img);
    }
    size_t len;
    unsigned char *whole = slurp(tpath, &len);
    /* mutated bytes: ok or a clean error (the sanitizers check the rest) */
    int mut_ok = 0, mut_bad = 0;
    unsigned char *m = malloc(len);
    for (int i = 0; i < 300; i++) {
        size_t ml = i % 3 == 2 ? hlen : len;
        memcpy(m, i % 3 == 2 ? hand : whole, ml);
        int nflip = 1 + (int)(rnd() % 4);
        for (int j = 0; j < nflip; j++) m[rnd() % (i % 3 == 1 && ml > 200 ? 200 : ml)] = (unsigned char)rnd();
        spit(opath, m, ml);
        lscc_image_tiff_options small = {0, 1};
        if (lscc_image_open_tiff(&img, opath, &small, NULL, &err) != 0) {
            ck_assert(err.code != 0 && err.msg[0]);
            mut_bad++;
            continue;
        }
        if (img.h * img.w * img.c < 1 << 22) {
            float *buf = malloc((size_t)(img.c * img.h * img.w) * 4);
            ck_assert(buf);
            rc = img.read(&img, 0, img.h, 0, img.w, LSCC_F32, buf, &err);
            if (rc) ck_assert(err.msg[0]);
            free(buf);
        }
        mut_ok++;
        lscc_image_close(&img);
    }
    free(m);
    free(whole);
    unlink(opath);
    unlink(tpath);
    ck_assert_int_gt(failed_reads, 0);
    ck_assert_int_gt(opened, 0);
    ck_assert_int_gt(mut_ok, 0);
    ck_assert_int_gt(mut_bad, 0);
}
END_TEST

static void add(TCase *tc) {
    tcase_add_test(tc, test_arrays);
    tcase_add_test(tc, test_norm);
    tcase_add_test(tc, test_tiff);
    tcase_add_test(tc, test_tiff_cache);
    tcase_add_test(tc, test_tiff_jpeg);
    tcase_add_test(tc, test_bigtiff);
    tcase_add_test(tc, test_bigraw);
    tcase_add_test(tc, test_errors);
}

int main(void) { return run_suite("image", add, 300); }
