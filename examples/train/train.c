/* Trains ResNet-18 from random weights, through the code lscc generated for
 * it, on a task that needs full resolution: is there a 16 x 16 checkerboard
 * of 2-pixel squares anywhere in the image? Negative images carry the same
 * number of flat patches of the checkerboard's mean colour, so an image
 * scaled down by two or more has no answer left in it.
 *
 * The example writes its data set itself, as tiled, deflate-compressed RGB
 * TIFF files, and streams each one through the TIFF source (uint8 on disk,
 * normalized to ImageNet statistics tile by tile: the image is never
 * converted to float as a whole). Each step is a forward sweep over the
 * tiles, softmax cross-entropy, a backward sweep (tiles recomputed) and an
 * optimizer step (SGD with momentum, or AdamW). The held-out images are
 * scored before and after training. The trained weights are saved for
 * `lscc export` and examples/saliency.
 *
 *   train --data DIR [--size 1024] [--train 64] [--test 16] [--steps 250]
 *         [--opt sgd|adamw] [--lr X] [--patterns 16] [--save FILE] [--progress | --no-progress]
 * --train is even (half the images of each label). Tile progress
 * (lscc_progress_print) is shown by default when an image has more than 4
 * tiles. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <tiffio.h>

#include "resnet18.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* A small deterministic generator (xorshift64*), so every run writes the
 * same data set and draws the same order. */
static uint64_t rnd_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static double rnd_unit(uint64_t *s) { return (double)(rnd_next(s) >> 11) * (1.0 / 9007199254740992.0); }

enum { PATCH = 16, TIFF_TILE = 256 };

/* Image k: smooth colour waves, plus `npat` 16 x 16 patches, checkerboards
 * (label 1) or flat (label 0) at random places, written to path. The
 * patches' places go to path.txt, for examples/saliency. */
static int write_image(const char *path, int64_t size, int label, int npat, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    double f[3][3];
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 3; k++) f[c][k] = 1 + 3 * rnd_unit(&s);
    int64_t py[64], px[64];
    if (npat > 64) npat = 64;
    for (int k = 0; k < npat; k++) {
        py[k] = (int64_t)(rnd_unit(&s) * (double)(size - PATCH));
        px[k] = (int64_t)(rnd_unit(&s) * (double)(size - PATCH));
    }
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)size);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)size);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, TIFF_TILE);
    TIFFSetField(t, TIFFTAG_TILELENGTH, TIFF_TILE);
    unsigned char *buf = malloc((size_t)TIFF_TILE * TIFF_TILE * 3);
    int st = buf ? 0 : -1;
    for (int64_t ty = 0; !st && ty < size; ty += TIFF_TILE)
        for (int64_t tx = 0; !st && tx < size; tx += TIFF_TILE) {
            for (int64_t r = 0; r < TIFF_TILE; r++)
                for (int64_t q = 0; q < TIFF_TILE; q++) {
                    int64_t y = ty + r, x = tx + q;
                    double v[3];
                    for (int c = 0; c < 3; c++) /* plus noise, uniform in [-5, 5] (standard deviation 3) */
                        v[c] = 128 + 40 * sin(2 * M_PI * (f[c][0] * (double)x + f[c][1] * (double)y) / (double)size +
                                              f[c][2]) + 10 * (rnd_unit(&s) - 0.5);
                    for (int k = 0; k < npat; k++)
                        if (y >= py[k] && y < py[k] + PATCH && x >= px[k] && x < px[k] + PATCH) {
                            int sq = (int)(((y - py[k]) / 2 + (x - px[k]) / 2) % 2);
                            for (int c = 0; c < 3; c++) v[c] = label ? (sq ? 188 : 68) : 128;
                        }
                    for (int c = 0; c < 3; c++) buf[(r * TIFF_TILE + q) * 3 + c] = (unsigned char)lround(v[c]);
                }
            if (TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, 0) < 0) st = -1;
        }
    free(buf);
    TIFFClose(t);
    char side[4200];
    snprintf(side, sizeof side, "%s.txt", path);
    FILE *f2 = fopen(side, "w");
    if (!f2) return -1;
    fprintf(f2, "label %d\nsize %lld\npatterns %d\n", label, (long long)size, npat);
    for (int k = 0; k < npat; k++) fprintf(f2, "patch %lld %lld %d %d\n", (long long)py[k], (long long)px[k], PATCH, PATCH);
    return fclose(f2) || st ? -1 : 0;
}

typedef struct {
    resnet18_ctx *net;
    lscc_progress_state ps;
} trainer;

static const double kMean[3] = {0.485, 0.456, 0.406}, kStd[3] = {0.229, 0.224, 0.225};

/* Forward (and, when train, loss gradient and backward) of one image file;
 * logits out[2]. */
static int run_image(trainer *tr, const char *path, int label, int train, resnet18_real out[2], double *loss,
                     lscc_rt_error *err) {
    lscc_image x;
    lscc_image_norm nm = {1.0 / 255.0, kMean, kStd};
    int rc = lscc_image_open_tiff(&x, path, NULL, &nm, err);
    if (rc) return rc;
    rc = resnet18_forward(tr->net, &x, out);
    if (!rc) {
        int64_t lab = label;
        resnet18_real dout[2];
        rc = lscc_loss_cross_entropy(sizeof(resnet18_real) == 4 ? LSCC_F32 : LSCC_F64, 1, 2, out, &lab, loss,
                                     train ? dout : NULL, err);
        if (!rc && train) {
            resnet18_zero_grad(tr->net);
            rc = resnet18_backward(tr->net, &x, dout, NULL);
        }
    }
    if (rc && !err->code) *err = *resnet18_error(tr->net);
    lscc_image_close(&x);
    return rc;
}

/* Accuracy and mean loss over the held-out images. */
static int evaluate(trainer *tr, const char *dir, int ntest, double *acc, double *loss, lscc_rt_error *err) {
    int right = 0;
    double sum = 0;
    for (int k = 0; k < ntest; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/test_%03d.tif", dir, k);
        resnet18_real out[2];
        double l;
        int rc = run_image(tr, path, k % 2, 0, out, &l, err);
        if (rc) return rc;
        right += (out[1] > out[0]) == (k % 2);
        sum += l;
    }
    *acc = (double)right / ntest;
    *loss = sum / ntest;
    return 0;
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s --data DIR [--size N] [--train N] [--test N] [--steps N] [--opt sgd|adamw] "
                    "[--lr X] [--patterns N] [--save FILE] [--progress | --no-progress]\n", argv0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = NULL, *save = NULL, *optname = "sgd";
    int64_t size = 1024;
    int ntrain = 64, ntest = 16, steps = 250, npat = 16, progress = -1;
    double lr = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--progress")) progress = 1;
        else if (!strcmp(a, "--no-progress")) progress = 0;
        else if (!v) {
            usage(argv[0]);
            return 2;
        } else if (!strcmp(a, "--data")) dir = v, i++;
        else if (!strcmp(a, "--save")) save = v, i++;
        else if (!strcmp(a, "--opt")) optname = v, i++;
        else if (!strcmp(a, "--size")) size = atoll(v), i++;
        else if (!strcmp(a, "--train")) ntrain = atoi(v), i++;
        else if (!strcmp(a, "--test")) ntest = atoi(v), i++;
        else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
        else if (!strcmp(a, "--patterns")) npat = atoi(v), i++;
        else if (!strcmp(a, "--lr")) lr = atof(v), i++;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    int adamw = !strcmp(optname, "adamw");
    if (!dir || size < 64 || size > 65536 || ntrain < 2 || ntrain % 2 || ntest < 2 || steps < 1 || npat < 1 || npat > 64 ||
        (!adamw && strcmp(optname, "sgd"))) {
        usage(argv[0]);
        return 2;
    }
    if (lr < 0) lr = adamw ? 1e-4 : 1e-3;

    /* the data set: written once, kept for later runs of the same size */
    mkdir(dir, 0777);
    double t0 = now();
    int written = 0;
    for (int set = 0; set < 2; set++)
        for (int k = 0; k < (set ? ntest : ntrain); k++) {
            char path[4096], side[4200];
            snprintf(path, sizeof path, "%s/%s_%03d.tif", dir, set ? "test" : "train", k);
            snprintf(side, sizeof side, "%s.txt", path);
            /* kept when its side file says it was written for this size and pattern count */
            FILE *sf = fopen(side, "r");
            long long have_size = -1;
            int have_pat = -1, lab = -1;
            if (sf) {
                if (fscanf(sf, "label %d size %lld patterns %d", &lab, &have_size, &have_pat) != 3) have_size = -1;
                fclose(sf);
            }
            if (have_size == size && have_pat == npat && lab == k % 2) continue;
            if (write_image(path, size, k % 2, npat, (uint64_t)(set * 100000 + k + 1))) {
                fprintf(stderr, "error: cannot write %s\n", path);
                return 5;
            }
            written++;
        }
    printf("train: data set in %s: %d training and %d held-out %lld x %lld RGB TIFF images "
           "(tiled %d x %d, deflate), half with %d checkerboards of %d x %d pixels (%d written in %.1f s)\n",
           dir, ntrain, ntest, (long long)size, (long long)size, TIFF_TILE, TIFF_TILE, npat, PATCH, PATCH, written,
           now() - t0);

    trainer tr;
    memset(&tr, 0, sizeof tr);
    /* the tile count decides the default: the runtime's plan for this size */
    const lscc_rt_model *m = resnet18_model();
    int64_t cells = (size + 31) / 32; /* ResNet-18's backbone output side */
    int64_t ntiles = ((cells + m->out_tile[0] - 1) / m->out_tile[0]) * ((cells + m->out_tile[1] - 1) / m->out_tile[1]);
    if (progress < 0) progress = ntiles > 4;
    lscc_rt_options opt = {1, size, size, progress ? lscc_progress_print : NULL, &tr.ps, 0};
    lscc_rt_error err = {0, ""};
    tr.net = resnet18_create(&opt, RESNET18_WEIGHTS_FILE, &err);
    if (!tr.net) {
        fprintf(stderr, "error: %s\n", err.msg);
        return err.code ? err.code : 1;
    }
    int64_t yd[8];
    resnet18_shape(tr.net, 1, yd);
    int64_t ty = (yd[2] + m->out_tile[0] - 1) / m->out_tile[0], tx = (yd[3] + m->out_tile[1] - 1) / m->out_tile[1];
    size_t np;
    lscc_param *p = resnet18_params(tr.net, &np);
    lscc_optim_hparams hp;
    lscc_optim_defaults(adamw ? LSCC_OPTIM_ADAMW : LSCC_OPTIM_SGD, &hp);
    hp.lr = lr;
    if (!adamw) hp.momentum = 0.9;
    else hp.weight_decay = 1e-4;
    lscc_optim *o = NULL;
    if (lscc_optim_create(&o, adamw ? LSCC_OPTIM_ADAMW : LSCC_OPTIM_SGD, &hp, p, np,
                          sizeof(resnet18_real) == 4 ? LSCC_F32 : LSCC_F64, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        resnet18_destroy(tr.net);
        return err.code;
    }
    printf("train: resnet18 from random weights, %zu parameter tensors; %lld x %lld tiles of %lld x %lld backbone "
           "outputs per image; %s, lr %g; context ready, peak RSS %.0f MB\n", np, (long long)ty, (long long)tx,
           (long long)m->out_tile[0], (long long)m->out_tile[1], adamw ? "AdamW" : "SGD momentum 0.9", lr, peak_mb());

    double acc0, loss0, acc1, loss1;
    int rc = evaluate(&tr, dir, ntest, &acc0, &loss0, &err);
    if (rc) goto fail;
    printf("held-out before training: accuracy %.3f, loss %.4f\n", acc0, loss0);

    /* an order that alternates the labels, shuffled within each class */
    int *order = malloc(sizeof *order * (size_t)ntrain);
    if (!order) {
        rc = LSCC_RT_E_NOMEM;
        snprintf(err.msg, sizeof err.msg, "out of memory");
        goto fail;
    }
    uint64_t s = 42;
    int half = ntrain / 2;
    for (int k = 0; k < 2 * half; k++) order[k] = k;
    double tstep = now(), win_loss = 0;
    int win_right = 0, win = 0;
    for (int step = 0; step < steps; step++) {
        int epoch_pos = step % (2 * half);
        if (epoch_pos == 0) /* shuffle each class's images, keep the alternation */
            for (int c = 0; c < 2; c++)
                for (int k = half - 1; k > 0; k--) {
                    int j = (int)(rnd_next(&s) % (uint64_t)(k + 1));
                    int a = order[2 * k + c];
                    order[2 * k + c] = order[2 * j + c];
                    order[2 * j + c] = a;
                }
        int img = order[epoch_pos];
        char path[4096];
        snprintf(path, sizeof path, "%s/train_%03d.tif", dir, img);
        resnet18_real out[2];
        double l;
        if ((rc = run_image(&tr, path, img % 2, 1, out, &l, &err))) break;
        if ((rc = lscc_optim_step(o, &err))) break;
        win_loss += l;
        win_right += (out[1] > out[0]) == (img % 2);
        win++;
        if (win == 20 || step == steps - 1) {
            printf("step %4d  loss %.4f  accuracy %.2f (last %d images)  %.2f s/step  elapsed %.0f s  peak RSS %.0f MB\n",
                   step + 1, win_loss / win, (double)win_right / win, win, (now() - tstep) / (step + 1),
                   now() - t0, peak_mb());
            win = win_right = 0;
            win_loss = 0;
        }
    }
    free(order);
    if (rc) goto fail;
    double train_s = now() - tstep;
    if ((rc = evaluate(&tr, dir, ntest, &acc1, &loss1, &err))) goto fail;
    printf("held-out after %d steps: accuracy %.3f, loss %.4f (before: %.3f, %.4f); training %.0f s, "
           "%.2f s per step, peak RSS %.0f MB\n", steps, acc1, loss1, acc0, loss0, train_s, train_s / steps, peak_mb());
    char def[4200];
    if (!save) {
        snprintf(def, sizeof def, "%s/trained.weights", dir);
        save = def;
    }
    if ((rc = resnet18_save_weights(tr.net, save))) {
        err = *resnet18_error(tr.net);
        goto fail;
    }
    printf("trained weights: %s (lscc export MODEL.onnx --weights %s -o trained.onnx)\n", save, save);
    lscc_optim_destroy(o);
    resnet18_destroy(tr.net);
    return 0;
fail:
    fprintf(stderr, "error: %s\n", err.msg[0] ? err.msg : resnet18_error(tr.net)->msg);
    lscc_optim_destroy(o);
    resnet18_destroy(tr.net);
    return rc;
}
