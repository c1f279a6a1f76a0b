/* One random uint8 RGB image streamed through generated code ("net") from
 * every kind of image source, with ImageNet normalization: an in-memory
 * array (planar and interleaved), raw files through mmap (planar and
 * interleaved, at an odd byte offset), TIFF (tiled contiguous LZW, striped
 * separate-plane deflate) and a user callback behind the normalizing
 * wrapper. For each, a forward and a backward pass (tiles read twice); the
 * model output, the input gradient and every parameter gradient must be
 * bit-identical to the in-memory planar source's, so the kernels received
 * the same bits from every source. A one-pixel change must change the
 * output (the comparison can fail).
 *
 *   sources DIR WEIGHTS H W        exit 0: all equal; 1: a difference */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "net.h"

enum { C = 3, NSRC = 7 };

static const double kMean[C] = {0.485, 0.456, 0.406}, kStd[C] = {0.229, 0.224, 0.225};

typedef struct result {
    net_real *out, *dx, *grads;
    size_t nout, ndx, ngrad;
} result;

static int write_file(const char *path, const void *head, size_t nh, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(head, 1, nh, f) != nh || fwrite(data, 1, n, f) != n;
    return fclose(f) || bad ? -1 : 0;
}

/* contig: one tiled, LZW, interleaved file; else striped, deflate, one plane per channel */
static int write_tiff(const char *path, const unsigned char *nchw, const unsigned char *nhwc, int64_t h, int64_t w,
                      int contig) {
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, C);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    int st = 0;
    if (contig) {
        enum { T = 16 };
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
        TIFFSetField(t, TIFFTAG_TILEWIDTH, T);
        TIFFSetField(t, TIFFTAG_TILELENGTH, T);
        unsigned char buf[T * T * C];
        for (int64_t ty = 0; !st && ty < h; ty += T)
            for (int64_t tx = 0; !st && tx < w; tx += T) {
                memset(buf, 0, sizeof buf);
                for (int64_t r = 0; r < T && ty + r < h; r++)
                    for (int64_t q = 0; q < T && tx + q < w; q++)
                        memcpy(buf + (r * T + q) * C, nhwc + ((ty + r) * w + tx + q) * C, C);
                if (TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, 0) < 0) st = -1;
            }
    } else {
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 5);
        for (int c = 0; !st && c < C; c++)
            for (int64_t r = 0; !st && r < h; r++)
                if (TIFFWriteScanline(t, (void *)(nchw + (c * h + r) * w), (uint32_t)r, (uint16_t)c) < 0) st = -1;
    }
    TIFFClose(t);
    return st;
}

/* A user callback: the planar uint8 pixels as their values (the wrapper normalizes). */
static int read_u8(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want, void *dst,
                   lscc_rt_error *err) {
    (void)err;
    const unsigned char *px = img->user;
    size_t k = 0;
    for (int64_t c = 0; c < img->c; c++)
        for (int64_t r = y0; r < y1; r++)
            for (int64_t q = x0; q < x1; q++, k++) {
                double v = px[(c * img->h + r) * img->w + q];
                if (want == LSCC_F32) ((float *)dst)[k] = (float)v;
                else ((double *)dst)[k] = v;
            }
    return 0;
}

/* Forward and backward of one source into r. */
static int run(net_ctx *net, const lscc_image *x, const net_real *dout, result *r) {
    net_zero_grad(net);
    if (net_forward(net, x, r->out) || net_backward(net, x, dout, r->dx)) {
        fprintf(stderr, "error: %s\n", net_error(net)->msg);
        return -1;
    }
    size_t np, k = 0;
    lscc_param *p = net_params(net, &np);
    for (size_t i = 0; i < np; i++, k += p[i - 1].count) memcpy(r->grads + k, p[i].grad, p[i].count * sizeof(net_real));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIR WEIGHTS H W\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *weights = argv[2];
    int64_t h = atoll(argv[3]), w = atoll(argv[4]);
    size_t npx = (size_t)(C * h * w);
    unsigned char *nchw = malloc(npx), *nhwc = malloc(npx);
    if (!nchw || !nhwc) return 2;
    uint32_t s = 2024;
    for (size_t i = 0; i < npx; i++) {
        s = s * 1664525u + 1013904223u;
        nchw[i] = (unsigned char)(s >> 24);
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < h * w; i++) nhwc[i * C + c] = nchw[c * h * w + i];
    char p_raw[4][1200];
    const char *names[NSRC] = {"memory NCHW", "memory NHWC", "raw file NCHW", "raw file NHWC", "TIFF tiled LZW",
                               "TIFF striped separate deflate", "callback + normalizing wrapper"};
    const char junk[7] = "header";
    snprintf(p_raw[0], sizeof p_raw[0], "%s/x_nchw.raw", dir);
    snprintf(p_raw[1], sizeof p_raw[1], "%s/x_nhwc.raw", dir);
    snprintf(p_raw[2], sizeof p_raw[2], "%s/x_tiled.tif", dir);
    snprintf(p_raw[3], sizeof p_raw[3], "%s/x_striped.tif", dir);
    if (write_file(p_raw[0], junk, sizeof junk, nchw, npx) || write_file(p_raw[1], junk, sizeof junk, nhwc, npx) ||
        write_tiff(p_raw[2], nchw, nhwc, h, w, 1) || write_tiff(p_raw[3], nchw, nhwc, h, w, 0)) {
        fprintf(stderr, "error: cannot write the test files in %s\n", dir);
        return 2;
    }
    lscc_image_norm nm = {1.0 / 255.0, kMean, kStd};
    lscc_image_array planar = {LSCC_U8, LSCC_LAYOUT_NCHW, 1, C, h, w, 0}, inter = planar, rawp = planar, rawi = planar;
    inter.layout = rawi.layout = LSCC_LAYOUT_NHWC;
    rawp.offset = rawi.offset = sizeof junk;
    lscc_image src[NSRC], cb;
    memset(src, 0, sizeof src);
    lscc_rt_error err = {0, ""};
    lscc_image_callback(&cb, 1, C, h, w, read_u8, nchw);
    int rc = lscc_image_open_memory(&src[0], nchw, &planar, &nm, &err);
    if (!rc) rc = lscc_image_open_memory(&src[1], nhwc, &inter, &nm, &err);
    if (!rc) rc = lscc_image_open_raw(&src[2], p_raw[0], &rawp, &nm, &err);
    if (!rc) rc = lscc_image_open_raw(&src[3], p_raw[1], &rawi, &nm, &err);
    if (!rc) rc = lscc_image_open_tiff(&src[4], p_raw[2], NULL, &nm, &err);
    if (!rc) rc = lscc_image_open_tiff(&src[5], p_raw[3], NULL, &nm, &err);
    if (!rc) rc = lscc_image_open_normalized(&src[6], &cb, &nm, &err);
    if (rc) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    lscc_rt_options opt = {1, h, w, NULL, NULL, 0};
    net_ctx *net = net_create(&opt, weights, &err);
    if (!net) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    int64_t od[8];
    int orank = net_shape(net, 2, od);
    size_t nout = 1, ngrad = 0, np;
    for (int i = 0; i < orank; i++) nout *= (size_t)od[i];
    lscc_param *p = net_params(net, &np);
    for (size_t i = 0; i < np; i++) ngrad += p[i].count;
    net_real *dout = malloc(nout * sizeof *dout);
    result r[NSRC + 1];
    int bad = !dout;
    for (int k = 0; k <= NSRC && !bad; k++) {
        r[k].nout = nout;
        r[k].ndx = npx;
        r[k].ngrad = ngrad;
        r[k].out = calloc(nout, sizeof(net_real));
        r[k].dx = calloc(npx, sizeof(net_real));
        r[k].grads = calloc(ngrad ? ngrad : 1, sizeof(net_real));
        bad = !r[k].out || !r[k].dx || !r[k].grads;
    }
    if (bad) return 2;
    for (size_t i = 0; i < nout; i++) dout[i] = (net_real)(0.25 + 0.5 * sin((double)i));
    int differ = 0;
    for (int k = 0; k < NSRC; k++) {
        if (run(net, &src[k], dout, &r[k])) return 2;
        if (!k) continue;
        int eo = memcmp(r[k].out, r[0].out, nout * sizeof(net_real)) != 0;
        int ed = memcmp(r[k].dx, r[0].dx, npx * sizeof(net_real)) != 0;
        int eg = memcmp(r[k].grads, r[0].grads, ngrad * sizeof(net_real)) != 0;
        printf("%-32s output %s, input gradient %s, %zu parameter gradients %s\n", names[k],
               eo ? "DIFFERS" : "bit-equal", ed ? "DIFFERS" : "bit-equal", np, eg ? "DIFFER" : "bit-equal");
        differ |= eo | ed | eg;
    }
    /* the comparison can fail: one pixel changed changes the output */
    double mx = 0;
    for (size_t i = 0; i < nout; i++) mx = fmax(mx, fabs((double)r[0].out[i]));
    nchw[(size_t)(h / 2 * w + w / 2)] ^= 0x55;
    lscc_image one;
    if (lscc_image_open_memory(&one, nchw, &planar, &nm, &err) || run(net, &one, dout, &r[NSRC])) return 2;
    int moved = memcmp(r[NSRC].out, r[0].out, nout * sizeof(net_real)) != 0;
    printf("reference output: max |y| %.6g; one changed pixel %s the output\n", mx, moved ? "changes" : "does NOT change");
    lscc_image_close(&one);
    for (int k = 0; k < NSRC; k++) lscc_image_close(&src[k]);
    for (int k = 0; k <= NSRC; k++) {
        free(r[k].out);
        free(r[k].dx);
        free(r[k].grads);
    }
    free(dout);
    free(nchw);
    free(nhwc);
    net_destroy(net);
    return differ || !moved || !(mx > 0) ? 1 : 0;
}
