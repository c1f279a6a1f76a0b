/* Time of one optimizer step (runtime/optim.c) over ResNet-18's parameters
 * (torchvision's 62 tensors, 11,689,512 elements), float and double, SGD
 * with momentum and AdamW, with and without the finite-gradient check.
 *
 *   cmake --build B --target bench_optim && OMP_NUM_THREADS=2 B/runtime/bench_optim [steps]
 *
 * (B a Release build.) Prints the median and the fastest milliseconds per
 * step (the fastest is the better estimate on a loaded machine). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lscc_rt.h"

/* torchvision resnet18: (out, in, k) for the convolutions and the fc, in
 * parameter order; every conv but the fc is followed by a BatchNorm (2 x out). */
static const int convs[][3] = {{64, 3, 7},    {64, 64, 3},   {64, 64, 3},   {64, 64, 3},   {64, 64, 3},
                               {128, 64, 3},  {128, 128, 3}, {128, 64, 1},  {128, 128, 3}, {128, 128, 3},
                               {256, 128, 3}, {256, 256, 3}, {256, 128, 1}, {256, 256, 3}, {256, 256, 3},
                               {512, 256, 3}, {512, 512, 3}, {512, 256, 1}, {512, 512, 3}, {512, 512, 3}};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 15;
    if (steps < 1) steps = 1;
    lscc_param p[64];
    size_t np = 0, total = 0;
    memset(p, 0, sizeof p);
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        p[np++].count = (size_t)convs[i][0] * (size_t)convs[i][1] * (size_t)convs[i][2] * (size_t)convs[i][2];
        p[np++].count = (size_t)convs[i][0];
        p[np++].count = (size_t)convs[i][0];
    }
    p[np++].count = 1000 * 512;
    p[np++].count = 1000;
    for (size_t i = 0; i < np; i++) total += p[i].count;
    printf("%zu parameters, %zu elements\n", np, total);
    for (int esize = 4; esize <= 8; esize += 4) {
        srand(1);
        for (size_t i = 0; i < np; i++) {
            p[i].name = "p";
            p[i].value = malloc(p[i].count * (size_t)esize);
            p[i].grad = malloc(p[i].count * (size_t)esize);
            if (!p[i].value || !p[i].grad) return 1;
            for (size_t e = 0; e < p[i].count; e++) {
                double v = rand() / (double)RAND_MAX - 0.5, g = 1e-3 * (rand() / (double)RAND_MAX - 0.5);
                if (esize == 4) ((float *)p[i].value)[e] = (float)v, ((float *)p[i].grad)[e] = (float)g;
                else ((double *)p[i].value)[e] = v, ((double *)p[i].grad)[e] = g;
            }
        }
        for (int kind = LSCC_OPTIM_SGD; kind <= LSCC_OPTIM_ADAMW; kind++) {
            /* with and without the finite check, steps taken in turn so that
               both see the same machine load */
            lscc_optim *o[2];
            lscc_rt_error err;
            for (int check = 0; check < 2; check++) {
                lscc_optim_hparams hp;
                lscc_optim_defaults((lscc_optim_kind)kind, &hp);
                if (kind == LSCC_OPTIM_SGD) hp.momentum = 0.9, hp.weight_decay = 5e-4;
                hp.no_finite_check = !check;
                if (lscc_optim_create(&o[check], (lscc_optim_kind)kind, &hp, p, np, (lscc_dtype)esize, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
            }
            double t[2][256];
            int n = steps < 256 ? steps : 256;
            for (int s = -2; s < n; s++) /* two warm-up steps */
                for (int check = 0; check < 2; check++) {
                    double t0 = now();
                    if (lscc_optim_step(o[check], &err)) {
                        fprintf(stderr, "%s\n", err.msg);
                        return 1;
                    }
                    if (s >= 0) t[check][s] = now() - t0;
                }
            for (int check = 1; check >= 0; check--) {
                qsort(t[check], (size_t)n, sizeof *t[check], cmp);
                printf("%-6s %-5s finite check %-3s  %8.2f ms per step (median of %d), fastest %8.2f\n",
                       esize == 4 ? "float" : "double", kind == LSCC_OPTIM_SGD ? "SGD" : "AdamW", check ? "on" : "off",
                       1e3 * t[check][n / 2], n, 1e3 * t[check][0]);
                lscc_optim_destroy(o[check]);
            }
        }
        for (size_t i = 0; i < np; i++) {
            free(p[i].value);
            free(p[i].grad);
        }
    }
    return 0;
}
