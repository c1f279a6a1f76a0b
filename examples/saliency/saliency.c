/* Writes an image's saliency map: how much each pixel moves the score of a
 * class, |d score / d pixel| (largest over the colour channels), from one
 * streamed forward and backward pass through the code lscc generated. The
 * map is scaled so its 99.9th percentile is white and written as a tiled,
 * deflate-compressed 8-bit grey TIFF of the image's size.
 *
 * With a side file IMAGE.txt as examples/train writes ("patch y x h w"
 * lines), it also reports how much of the map's mass lies on the patches.
 *
 *   saliency --image IMAGE.tif [--weights FILE] [--class K] [--out MAP.tif] [--no-progress]
 *
 * The input gradient comes back as one float array of the image's size
 * (3 x H x W): 200 MB at 4096 x 4096. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "resnet18.h"

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int write_map(const char *path, const float *sal, int64_t h, int64_t w, float white) {
    enum { T = 256 };
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, T);
    TIFFSetField(t, TIFFTAG_TILELENGTH, T);
    unsigned char buf[T * T];
    int st = 0;
    for (int64_t ty = 0; !st && ty < h; ty += T)
        for (int64_t tx = 0; !st && tx < w; tx += T) {
            for (int64_t r = 0; r < T; r++)
                for (int64_t q = 0; q < T; q++) {
                    int64_t y = ty + r, x = tx + q;
                    float v = y < h && x < w ? sal[y * w + x] / white : 0;
                    buf[r * T + q] = (unsigned char)(v >= 1 ? 255 : lrintf(v * 255));
                }
            if (TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, 0) < 0) st = -1;
        }
    TIFFClose(t);
    return st;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *image = NULL, *weights = RESNET18_WEIGHTS_FILE, *outp = "saliency.tif";
    int cls = -1, progress = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-progress")) progress = 0;
        else if (v && !strcmp(a, "--image")) image = v, i++;
        else if (v && !strcmp(a, "--weights")) weights = v, i++;
        else if (v && !strcmp(a, "--out")) outp = v, i++;
        else if (v && !strcmp(a, "--class")) cls = atoi(v), i++;
        else image = NULL, i = argc;
    }
    if (!image) {
        fprintf(stderr, "usage: %s --image IMAGE.tif [--weights FILE] [--class K] [--out MAP.tif] [--no-progress]\n",
                argv[0]);
        return 2;
    }
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    lscc_image_norm nm = {1.0 / 255.0, mean, sd};
    lscc_image x;
    lscc_rt_error err = {0, ""};
    int rc = lscc_image_open_tiff(&x, image, NULL, &nm, &err);
    if (rc) {
        fprintf(stderr, "error: %s\n", err.msg);
        return rc;
    }
    if (x.c != 3) {
        fprintf(stderr, "error: %s has %lld channels; the model takes RGB\n", image, (long long)x.c);
        lscc_image_close(&x);
        return 2;
    }
    lscc_progress_state ps;
    memset(&ps, 0, sizeof ps);
    lscc_rt_options opt = {1, x.h, x.w, progress ? lscc_progress_print : NULL, &ps, 0};
    resnet18_ctx *net = resnet18_create(&opt, weights, &err);
    size_t npix = (size_t)(x.h * x.w);
    resnet18_real *dx = net ? calloc(3 * npix, sizeof *dx) : NULL;
    float *sal = dx ? malloc(npix * sizeof *sal) : NULL, *sorted = sal ? malloc(npix * sizeof *sorted) : NULL;
    if (!net || !sorted) {
        fprintf(stderr, "error: %s\n", net ? "out of memory" : err.msg);
        rc = net ? LSCC_RT_E_NOMEM : err.code;
        goto done;
    }
    int64_t od[8];
    resnet18_shape(net, 2, od);
    resnet18_real out[16] = {0}, dout[16] = {0};
    if (od[1] > 16) {
        fprintf(stderr, "error: more than 16 classes\n");
        rc = 2;
        goto done;
    }
    if ((rc = resnet18_forward(net, &x, out))) goto fail;
    int best = 0;
    for (int k = 1; k < od[1]; k++) best = out[k] > out[best] ? k : best;
    if (cls < 0) cls = best;
    if (cls >= od[1]) {
        fprintf(stderr, "error: --class %d: the model has %lld classes\n", cls, (long long)od[1]);
        rc = 2;
        goto done;
    }
    dout[cls] = 1; /* d score / d input */
    resnet18_zero_grad(net);
    if ((rc = resnet18_backward(net, &x, dout, dx))) goto fail;
    for (size_t i = 0; i < npix; i++) {
        float a = fabsf((float)dx[i]), b = fabsf((float)dx[npix + i]), c = fabsf((float)dx[2 * npix + i]);
        sal[i] = a > b ? (a > c ? a : c) : (b > c ? b : c);
    }
    memcpy(sorted, sal, npix * sizeof *sorted);
    qsort(sorted, npix, sizeof *sorted, cmp_float);
    float white = sorted[(size_t)((double)(npix - 1) * 0.999)];
    if (!(white > 0)) white = sorted[npix - 1] > 0 ? sorted[npix - 1] : 1;
    printf("saliency: %s, %lld x %lld; scores", image, (long long)x.h, (long long)x.w);
    for (int k = 0; k < od[1]; k++) printf(" %.4f", (double)out[k]);
    printf(" -> map of class %d (predicted %d)\n", cls, best);
    /* the patches examples/train placed, when there is a side file */
    char side[4200];
    snprintf(side, sizeof side, "%s.txt", image);
    FILE *sf = fopen(side, "r");
    if (sf) {
        double total = 0, on = 0, top_on = 0;
        size_t area = 0, ntop = npix / 1000 + 1, top = 0;
        char *mask = calloc(npix, 1);
        long long py, px;
        int ph, pw;
        char line[256];
        while (mask && fgets(line, sizeof line, sf))
            if (sscanf(line, "patch %lld %lld %d %d", &py, &px, &ph, &pw) == 4)
                for (long long r = py < 0 ? 0 : py; r < py + ph && r < x.h; r++)
                    for (long long q = px < 0 ? 0 : px; q < px + pw && q < x.w; q++) mask[r * x.w + q] = 1;
        float thr = sorted[npix - ntop];
        for (size_t i = 0; mask && i < npix; i++) {
            total += sal[i];
            area += (size_t)mask[i];
            if (mask[i]) on += sal[i];
            if (sal[i] >= thr) {
                top++;
                top_on += mask[i];
            }
        }
        if (mask && area && total > 0)
            printf("  patches cover %.3f%% of the pixels and hold %.1f%% of the saliency; %.1f%% of the top 0.1%% "
                   "pixels lie on them\n", 100.0 * (double)area / (double)npix, 100.0 * on / total,
                   100.0 * top_on / (double)top);
        free(mask);
        fclose(sf);
    }
    if (write_map(outp, sal, x.h, x.w, white)) {
        fprintf(stderr, "error: cannot write %s\n", outp);
        rc = LSCC_RT_E_IO;
        goto done;
    }
    printf("  wrote %s (8-bit grey, white = 99.9th percentile of |d score / d pixel|)\n", outp);
    goto done;
fail:
    fprintf(stderr, "error: %s\n", resnet18_error(net)->msg);
done:
    free(sorted);
    free(sal);
    free(dx);
    resnet18_destroy(net);
    lscc_image_close(&x);
    return rc;
}
