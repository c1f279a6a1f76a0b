/* One training step (forward, softmax cross-entropy loss, backward, SGD) of
 * ResNet-18 on a synthetic RGB image far larger than PyTorch can train on
 * this machine, through the code lscc generated for it. The image stays
 * uint8 in memory (3 bytes a pixel); tiles are converted as they are read.
 *   train_resnet18 [--size 8192] [--batch 1] [--lr 0.01] [--weights FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>
#include <math.h>

#include "resnet18.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KB on Linux */
}

/* A user-defined image source: the slide stays uint8 in memory and each tile
 * region is normalized as it is read (x / 255 - mean) / std with ImageNet's
 * statistics, as torchvision's models expect. */
static int read_normalized(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                           void *dst, lscc_rt_error *err) {
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    if (want != LSCC_F32 && want != LSCC_F64) return lscc_rt_fail(err, LSCC_RT_E_ARG, "unsupported element type");
    const unsigned char *px = img->data;
    size_t k = 0;
    for (int64_t p = 0; p < img->n * img->c; p++)
        for (int64_t r = y0; r < y1; r++)
            for (int64_t q = x0; q < x1; q++, k++) {
                double v = (px[(size_t)((p * img->h + r) * img->w + q)] / 255.0 - mean[p % 3]) / sd[p % 3];
                if (want == LSCC_F32) ((float *)dst)[k] = (float)v;
                else ((double *)dst)[k] = v;
            }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the report in order with the progress lines */
    int64_t size = 8192, batch = 1;
    double lr = 0.01;
    const char *weights = RESNET18_WEIGHTS_FILE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--lr") && i + 1 < argc) lr = atof(argv[++i]);
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--size N] [--batch N] [--lr X] [--weights FILE]\n", argv[0]);
            return 2;
        }
    }
    if (size < 64 || batch < 1) {
        fprintf(stderr, "error: --size must be >= 64 and --batch >= 1\n");
        return 2;
    }
    double t0 = now();
    lscc_progress_state ps; /* the runtime's progress printer: tiles, rate, ETA, peak RSS */
    memset(&ps, 0, sizeof ps);
    lscc_rt_options opt = {batch, size, size, lscc_progress_print, &ps, 0};
    lscc_rt_error err = {0, ""};
    resnet18_ctx *net = resnet18_create(&opt, weights, &err);
    if (!net) {
        fprintf(stderr, "error: %s\n", err.msg);
        return err.code ? err.code : 1;
    }
    /* a synthetic slide: smooth color fields with noise, uint8 */
    size_t npix = (size_t)(batch * 3 * size * size);
    unsigned char *img = malloc(npix);
    float *dx = NULL;
    int64_t yd[8], od[8];
    resnet18_shape(net, 1, yd);
    int orank = resnet18_shape(net, 2, od);
    size_t on = 1;
    for (int i = 0; i < orank; i++) on *= (size_t)od[i];
    resnet18_real *out = calloc(on, sizeof *out), *dout = calloc(on, sizeof *dout);
    if (!img || !out || !dout) {
        fprintf(stderr, "error: out of memory\n");
        return 6;
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < npix; i++) {
        s = s * 1664525u + 1013904223u;
        size_t x = i % (size_t)size, y = i / (size_t)size % (size_t)size;
        img[i] = (unsigned char)(((x * 7 + y * 3) >> 6 & 127) + (s >> 25));
    }
    lscc_image x;
    lscc_image_memory(&x, img, LSCC_U8, batch, 3, size, size);
    x.read = read_normalized;
    printf("train_resnet18: %lld x 3 x %lld x %lld uint8 image (%.0f MB, normalized tile by tile), backbone output %lld x %lld x %lld x %lld, "
           "%lld classes\n", (long long)batch, (long long)size, (long long)size, (double)npix / 1e6, (long long)yd[0],
           (long long)yd[1], (long long)yd[2], (long long)yd[3], (long long)od[1]);
    printf("  tiles of %lld x %lld backbone outputs: %lld x %lld tiles; context (weights, gradients, arena) "
           "ready, peak RSS %.0f MB\n", (long long)resnet18_model()->out_tile[0], (long long)resnet18_model()->out_tile[1],
           (long long)((yd[2] + resnet18_model()->out_tile[0] - 1) / resnet18_model()->out_tile[0]),
           (long long)((yd[3] + resnet18_model()->out_tile[1] - 1) / resnet18_model()->out_tile[1]), peak_mb());
    double t1 = now();
    int rc = resnet18_forward(net, &x, out);
    if (rc) goto fail;
    /* loss: softmax cross-entropy against class 0 of each batch item */
    double loss = 0;
    int64_t nc = od[1];
    for (int64_t b = 0; b < batch; b++) {
        double mx = out[b * nc], z = 0;
        for (int64_t k = 1; k < nc; k++) mx = out[b * nc + k] > mx ? out[b * nc + k] : mx;
        for (int64_t k = 0; k < nc; k++) z += exp((double)out[b * nc + k] - mx);
        loss += -((double)out[b * nc] - mx - log(z)) / (double)batch;
        for (int64_t k = 0; k < nc; k++)
            dout[b * nc + k] = (resnet18_real)((exp((double)out[b * nc + k] - mx) / z - (k == 0)) / (double)batch);
    }
    double t2 = now();
    resnet18_zero_grad(net);
    if ((rc = resnet18_backward(net, &x, dout, NULL))) goto fail;
    double t3 = now();
    size_t np;
    lscc_param *p = resnet18_params(net, &np);
    double gnorm = 0;
    for (size_t k = 0; k < np; k++)
        for (size_t i = 0; i < p[k].count; i++) {
            resnet18_real g = ((resnet18_real *)p[k].grad)[i];
            gnorm += (double)g * (double)g;
            ((resnet18_real *)p[k].value)[i] -= (resnet18_real)lr * g;
        }
    printf("  loss %.6f, gradient norm %.6g over %zu parameter tensors\n", loss, sqrt(gnorm), np);
    printf("  forward %.1f s, backward %.1f s (tiles recomputed), total step %.1f s\n", t2 - t1, t3 - t2, t3 - t1);
    printf("  peak RSS %.0f MB\n", peak_mb());
    free(img);
    free(out);
    free(dout);
    free(dx);
    resnet18_destroy(net);
    return 0;
fail:
    fprintf(stderr, "error: %s\n", resnet18_error(net)->msg);
    resnet18_destroy(net);
    return rc;
}
